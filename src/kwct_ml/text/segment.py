"""Split an article into sentences with character offsets into the raw text.

Rules (see docs/segmentation.md): every line is at least one sentence (headlines, bylines and
page furniture included); bullets (• ● ▪ ◦ ‣) start a new sentence; within a line a sentence
ends at ``. ! ? ؟ ؛`` (and ``…``) followed by white space or the end of the line, with closing
quotes and brackets kept on the sentence they close. Not boundaries: the Arabic comma ``،``,
decimal numbers (3.5), one-letter or listed abbreviations (``د.``, ``Dr.``) and ``..``
(an ellipsis joins clauses in Arabic headlines). Spans with no letter or digit are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kwct_ml.text.charsets import ARABIC_MARKS, BULLETS, LINE_BREAKS

# A line: a run of characters between line breaks (those of str.splitlines).
_LINE = re.compile(f"[^{LINE_BREAKS}]+")
_BULLET = re.compile(f"[{BULLETS}]")
# Possessive runs that start at the run's first mark keep long runs of dots linear.
_MARKS = r".!?\u061f\u061b\u2026\u06d4"
_TERMINATOR = re.compile(rf"(?<![{_MARKS}])[{_MARKS}]++[\"'\u00bb\u201d\u2019)\]}}\u201c]*+(?=\s|$)")
# The word (letters, digits, Arabic marks) right before a dot; searched in a short window.
_WORD_BEFORE = re.compile(rf"[\w{ARABIC_MARKS}]+$")
_HAS_CONTENT = re.compile(r"[^\W_]")  # a letter or digit
_WORD_CHAR = re.compile(r"\w")
_LEADING_JUNK = f" \t\u00a0{BULLETS}*-\u2013\u2014"

#: Words that end in a dot without ending a sentence (besides any single letter).
ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "prof", "st", "no", "vs", "etc", "inc", "ltd", "jr", "sr",
    "ص", "م", "هـ", "ه", "د", "أ", "ش", "ج", "ق", "ت", "س", "ب", "ع", "ك",
})


_MARK = re.compile(f"[{ARABIC_MARKS}]")
_WINDOW = 2 * max(map(len, ABBREVIATIONS)) + 8  # room for an abbreviation written with marks


@dataclass(frozen=True)
class Sentence:
    """One sentence: ``raw[start:end] == text``; ``sent_id`` counts from 0 within the article."""

    sent_id: int
    start: int
    end: int
    text: str


def _ends_sentence(piece: str, match: re.Match) -> bool:
    marks = match.group().rstrip("\"'\u00bb\u201d\u2019)]}\u201c")
    if marks in ("..",) or (len(marks) >= 2 and set(marks) == {"."} and match.end() < len(piece)):
        return False  # '..' / '...' inside a line joins clauses
    if marks == ".":
        window = max(0, match.start() - _WINDOW)
        before = _WORD_BEFORE.search(piece, window, match.start())
        if before and (before.start() > window or window == 0):  # else longer than any abbreviation
            word = _MARK.sub("", before.group()).lower()
            if len(word) == 1 and not word.isdigit() or word in ABBREVIATIONS:
                return False
    return True


def _trim(raw: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (raw[start].isspace() or raw[start] in _LEADING_JUNK):
        start += 1
    while end > start and raw[end - 1].isspace():
        end -= 1
    return start, end


def _pieces(raw: str):
    """Yield (start, end) of each line part between bullets."""
    for line in _LINE.finditer(raw):
        start = line.start()
        for bullet in _BULLET.finditer(raw, line.start(), line.end()):
            yield start, bullet.start()
            start = bullet.end()
        yield start, line.end()


def segment(raw: str) -> list[Sentence]:
    """Split ``raw`` into sentences; offsets index ``raw`` itself (no copy is normalised)."""
    spans: list[tuple[int, int]] = []
    for p_start, p_end in _pieces(raw):
        piece = raw[p_start:p_end]
        cut = 0
        for match in _TERMINATOR.finditer(piece):
            if _ends_sentence(piece, match):
                spans.append((p_start + cut, p_start + match.end()))
                cut = match.end()
        spans.append((p_start + cut, p_end))
    sentences: list[Sentence] = []
    for start, end in spans:
        start, end = _trim(raw, start, end)
        text = raw[start:end]
        if end > start and _HAS_CONTENT.search(text):
            sentences.append(Sentence(len(sentences), start, end, text))
    return sentences


def segment_lines(raw: str) -> list[Sentence]:
    """Each line of ``raw`` (same line breaks as ``segment``) as one sentence, trimmed of white
    space; lines without a word character are dropped. The sentence unit of ``predict``."""
    sentences: list[Sentence] = []
    for line in _LINE.finditer(raw):
        start, end = line.start(), line.end()
        while start < end and raw[start].isspace():
            start += 1
        while end > start and raw[end - 1].isspace():
            end -= 1
        if _WORD_CHAR.search(raw, start, end):
            sentences.append(Sentence(len(sentences), start, end, raw[start:end]))
    return sentences
