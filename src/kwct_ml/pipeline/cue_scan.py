"""Counting the matches of every cue column in one pass over a sentence's words (issue 20).

A cue pattern (``pipeline/cues.py``) can only match at a word start. Most of its alternatives (one
word: clitics, core, suffix) match there or not by that word alone; the others (a multi-word cue, a
rule looking at its neighbours) need the sentence. ``CueScanner`` reads each column's regex once
(``_requirement``) and, once per distinct word, records which columns match on the word alone and
which must be tried in the sentence at that word. A sentence none of whose words needs a try in
context is counted from that memo without a regex call; otherwise each word start tries only its
own columns, skipping a column inside its own last match. Both count what ``finditer`` counts per
column (tests/test_lexicon.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from itertools import compress
from re import _constants as sre  # the stdlib regex parser's op codes (Python >= 3.11)
from re import _parser

#: The words of a sentence. A cue match can only begin where one begins (every pattern starts with
#: ``(?<!\w)`` and a letter), and a match decided by the word alone ends inside it.
WORD = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"\w")
#: Letters of a core's head in ``CueFeatures.starts_`` (``cues.core_starts``; the scanner reads
#: which words a column may match from its regex instead).
HEAD = 3
#: Distinct words remembered; past this the memo starts again (bounded memory on huge runs).
MEMO_LIMIT = 1 << 20
#: Alternatives one column's regex may expand to before it is treated as opaque (tried everywhere).
MAX_PATHS = 4096
#: Texts one alternative's word part may consume before only its finite beginning is kept.
MAX_TEXTS = 4096

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_LOOKS = (sre.ASSERT, sre.ASSERT_NOT)
_BOUNDARIES = (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY, sre.AT_UNI_BOUNDARY, sre.AT_UNI_NON_BOUNDARY)
_WORD_CLASSES = (sre.CATEGORY_WORD, sre.CATEGORY_UNI_WORD)
#: Flags under which a literal in the pattern is not the text it matches (or ``\w`` differs).
_OPAQUE_FLAGS = re.IGNORECASE | re.ASCII | re.LOCALE
#: A word where no column matches (one shared memo value).
_NOTHING: tuple = ()


class _Opaque(Exception):
    """A regex this module does not read: its column is tried in context at every word."""


def _is_word(char: str) -> bool:
    return _WORD_CHAR.match(char) is not None


def _word_set(members) -> bool:
    """A character class holding word characters only."""
    for op, value in members:
        if op is sre.LITERAL and _is_word(chr(value)):
            continue
        if op is sre.RANGE and all(_is_word(chr(c)) for c in range(value[0], value[1] + 1)):
            continue
        if op is sre.CATEGORY and value in _WORD_CLASSES:
            continue
        return False
    return True


def _word_look(op, value) -> bool:
    """A lookaround at one character of a word-only class: ``(?!\\w)``, ``(?<!\\w)``. Inside a
    word and at its edges it sees the same in the sentence as in the word alone."""
    if op not in _LOOKS or len(value[1]) != 1:
        return False
    inner_op, inner = value[1][0]
    return (inner_op is sre.LITERAL and _is_word(chr(inner))) or (inner_op is sre.IN and _word_set(inner))


def _word_item(op, value) -> bool:
    """The item consumes word characters only (how many may vary) and looks at nothing else."""
    if op is sre.LITERAL:
        return _is_word(chr(value))
    if op is sre.IN:
        return _word_set(value)
    if op in _REPEATS:
        return all(_word_item(*item) for item in value[2])
    if op is sre.BRANCH:
        return all(_word_item(*item) for seq in value[1] for item in seq)
    if op is sre.SUBPATTERN:
        return not value[1] and not value[2] and all(_word_item(*item) for item in value[3])
    if op is sre.AT:
        return value in _BOUNDARIES
    return _word_look(op, value)


def _paths(items) -> list[list]:
    """The alternatives of a parsed sequence: its top-level branches and groups expanded."""
    paths: list[list] = [[]]
    for op, value in items:
        if op is sre.BRANCH:
            options = [path for seq in value[1] for path in _paths(seq)]
        elif op is sre.SUBPATTERN and not value[1] and not value[2]:
            options = _paths(value[3])
        else:
            options = [[(op, value)]]
        paths = [path + option for path in paths for option in options]
        if len(paths) > MAX_PATHS:
            raise _Opaque
    return paths


def _language(items) -> tuple[frozenset[str], bool]:
    """(strings, complete) of a run of word-only items: every text the items can consume when
    ``complete``; else the texts of their longest finite beginning (the rest may add anything)."""
    texts = {""}
    for op, value in items:
        if op in _LOOKS or op is sre.AT:
            continue  # zero width: leaving it out only admits more words
        options = _finite(op, value)
        if options is None:
            return frozenset(texts), False
        texts = {a + b for a in texts for b in options}
        if len(texts) > MAX_TEXTS:
            return frozenset({""}), False
    return frozenset(texts), True


def _finite(op, value) -> set[str] | None:
    """Every text one item can consume, or None when unbounded or not simple."""
    if op is sre.LITERAL:
        return {chr(value)}
    if op is sre.IN and all(member_op is sre.LITERAL for member_op, _ in value):
        return {chr(c) for _, c in value}
    if op in _REPEATS and value[1] <= 2:
        inner, complete = _language(value[2])
        if not complete:
            return None
        out, power = set(), {""}
        for n in range(value[1] + 1):
            if n >= value[0]:
                out |= power
            power = {a + b for a in power for b in inner}
        return out
    if op is sre.BRANCH:
        out = set()
        for seq in value[1]:
            inner, complete = _language(seq)
            if not complete:
                return None
            out |= inner
        return out
    if op is sre.SUBPATTERN and not value[1] and not value[2]:
        inner, complete = _language(value[3])
        return set(inner) if complete else None
    return None


#: What a word must be for an alternative that needs the sentence to match at its start:
#: (literal runs it holds, the texts the alternative may consume from the word start (the word
#: must begin with one), whether the word must be exactly one of them, the text the next word must
#: begin with ("" when unknown)).
Need = tuple[tuple[str, ...], frozenset[str], bool, str]


def _requirement(path) -> Need | None:
    """None when the alternative ``path`` matches at a word start or not by that word alone (and
    the match ends inside it); otherwise what the word must be for it to match there (``Need``)."""
    local, runs, run, whole, follow = True, [], "", False, ""
    cut = len(path)
    for i, (op, value) in enumerate(path):
        if op is sre.LITERAL and _is_word(chr(value)):
            run += chr(value)
        elif _word_look(op, value) or (op is sre.AT and value in _BOUNDARIES):
            continue
        elif op in _LOOKS or op is sre.AT:
            local = False  # zero width: a literal run goes on across it
        elif _word_item(op, value):
            if run:
                runs.append(run)
            run = ""
        else:  # may consume a character that ends the word
            local, cut = False, i
            if op is sre.LITERAL:  # a non-word character: the word ends right before it
                whole = True
                for next_op, next_value in path[i + 1:]:
                    if next_op is not sre.LITERAL or not _is_word(chr(next_value)):
                        break
                    follow += chr(next_value)
            break
    if local:
        return None
    if run:
        runs.append(run)
    texts, complete = _language(path[:cut])
    return tuple(runs), texts, whole and complete, follow


#: How a column's regex is read: (texts a word must begin with for one of its word-local
#: alternatives to match at its start, the needs of its other alternatives).
Reading = tuple[frozenset[str], tuple[Need, ...]]
#: A regex that is not read: any word may match it, and only in the sentence.
_ANYWHERE: Reading = (frozenset({""}), (((), frozenset({""}), False, ""),))


@functools.lru_cache(maxsize=8)
def _index(sources: tuple[tuple[str, int], ...]) -> dict[str, tuple[frozenset[int], tuple]]:
    """``CueScanner.by_text`` of the regexes with these (source, flags), built once per process
    (the topic and stance cue blocks hold the same patterns); never changed once built. Equal
    values are one object (tens of thousands of texts share a few hundred: fewer objects for the
    garbage collector to walk)."""
    columns: dict[str, set[int]] = {}
    needs: dict[str, list[tuple[int, Need]]] = {}
    for j, (source, flags) in enumerate(sources):
        local, column_needs = _read(source, flags)
        for text in local:
            columns.setdefault(text, set()).add(j)
        for item in [(j, need) for need in column_needs]:
            for text in item[1][1]:
                needs.setdefault(text, []).append(item)
    shared: dict = {}
    return {text: _shared(shared, (_shared(shared, frozenset(columns.get(text, ()))),
                                   _shared(shared, tuple(needs.get(text, ())))))
            for text in columns.keys() | needs.keys()}


def _shared(pool: dict, value):
    """One object per distinct ``value`` in ``pool``."""
    return pool.setdefault(value, value)


def _read(source, flags: int) -> Reading:
    """How one column's regex is read (``Reading``)."""
    if flags & _OPAQUE_FLAGS or not isinstance(source, str):
        return _ANYWHERE
    return _read_source(source, flags)


@functools.lru_cache(maxsize=256)
def _read_source(source: str, flags: int) -> Reading:
    """``_read`` of a regex's source (each task's cue block holds the same patterns: read once)."""
    try:
        paths = _paths(_parser.parse(source, flags))
    except _Opaque:
        return _ANYWHERE
    local: set[str] = set()
    needs = []
    for path in paths:
        need = _requirement(path)
        if need is None:  # the word begins with what the path consumes up to its last letter
            last = max((i for i, (op, _) in enumerate(path) if op is sre.LITERAL), default=-1)
            local |= _language(path[:last + 1])[0]
        else:
            needs.append(need)
    return frozenset(local), tuple(needs)


class CueScanner:
    """Per-column match counts of ``patterns`` (compiled cue regexes) in normalised text.

    Which words a column may match is read from its regex, so models pickled before
    ``CueFeatures.starts_`` existed, and regexes not built by ``cues.py``, are counted the same way;
    ``starts`` (each column's core heads, ``cues.core_starts``) is accepted from callers that still
    pass it and not used.
    """

    def __init__(self, patterns: Sequence[re.Pattern], starts: Sequence[frozenset[str] | None] | None = None):
        self.patterns = list(patterns)
        #: text -> (columns one of whose word-local alternatives may consume that text from a
        #: word start, (column, Need) of the alternatives that need the sentence and may): a
        #: word must be, or begin with, such a text for them to match at its start.
        self.by_text = _index(tuple((p.pattern, p.flags) for p in self.patterns))
        #: word -> (columns matching at its start by the word alone, columns to try in the
        #: sentence there, whether they must be tried whatever follows, the texts one of which
        #: the next word must begin with for them to be tried, the first columns less the
        #: second); ``_NOTHING`` when none. When no column is to be tried, the first is exact.
        self.memo: dict[str, tuple] = {}

    def _learn(self, word: str) -> tuple:
        """The memo entry of ``word`` (see ``memo``), remembered."""
        columns: set[int] = set()
        tries: set[int] = set()
        always, follows = False, set()
        by_text = self.by_text
        for i in range(len(word) + 1):
            found = by_text.get(word[:i])
            if found is None:
                continue
            columns |= found[0]
            for j, (runs, _, exact, follow) in found[1]:
                if (i == len(word) or not exact) and all(run in word for run in runs):
                    tries.add(j)
                    if follow:
                        follows.add(follow)
                    else:
                        always = True
        local = tuple(j for j in sorted(columns) if self.patterns[j].match(word))
        if local or tries:
            entry = (local, tuple(sorted(tries)), always, tuple(sorted(follows)),
                     tuple(j for j in local if j not in tries))
        else:
            entry = _NOTHING
        if len(self.memo) >= MEMO_LIMIT:
            self.memo.clear()
        self.memo[word] = entry
        return entry

    def counts(self, text: str) -> dict[int, int]:
        """{column: number of non-overlapping matches} of normalised ``text`` (zero counts left out)."""
        words = WORD.findall(text)
        entries = list(map(self.memo.get, words))
        if None in entries:
            entries = [self._learn(w) if e is None else e for w, e in zip(words, entries, strict=True)]
        found: dict[int, int] = {}
        last = len(words) - 1
        for k in compress(range(len(entries)), entries):  # words where some column may match
            local, tries, always, follows, _ = entries[k]
            if tries and (always or (k < last and words[k + 1].startswith(follows))):
                return self._counts_in_context(text, entries)
            for j in local:
                found[j] = found.get(j, 0) + 1
        return found

    def _counts_in_context(self, text: str, entries: list[tuple]) -> dict[int, int]:
        """``counts`` when a column must be tried in the sentence at some word (its match may run
        past the word, and a later word start inside it does not count for that column)."""
        patterns = self.patterns
        ends: dict[int, int] = {}
        found: dict[int, int] = {}
        for word, entry in zip(WORD.finditer(text), entries, strict=True):
            if not entry:
                continue
            p = word.start()
            _, tries, _, _, local = entry
            for j in local:
                if p >= ends.get(j, 0):
                    found[j] = found.get(j, 0) + 1
            for j in tries:
                if p < ends.get(j, 0):
                    continue
                match = patterns[j].match(text, p)
                if match:
                    found[j] = found.get(j, 0) + 1
                    ends[j] = match.end()
        return found
