"""Counting the matches of every cue column in one pass over a sentence's word starts (issue 20).

A cue pattern (``pipeline/cues.py``) can only match at a word start, and only where one of its
cores begins within ``MAX_PREFIX`` letters (after the clitics). ``CueScanner`` looks up, once per
word start, which columns have a core head in the next letters (a dict keyed by those letters,
filled as words are met), and tries only those columns' regexes there, skipping a column inside
its own last match. That is what ``finditer`` counts per column (tests/test_lexicon.py), without
trying every column at every word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: A match can only begin where a word begins (every pattern starts with ``(?<!\w)`` and a letter).
WORD_START = re.compile(r"(?<!\w)\w")
#: Longest clitic prefix before a core ('وبال', 'فلل'): a core starts within this many characters.
MAX_PREFIX = 4
#: Cores are recognised by their first letters before the regex is tried.
HEAD = 3
#: Letters after a word start that decide which columns may match there.
WINDOW = MAX_PREFIX + HEAD
#: Distinct windows remembered; past this the memo starts again (bounded memory on huge runs).
MEMO_LIMIT = 1 << 20


class CueScanner:
    """Per-column match counts of ``patterns`` (compiled cue regexes) in normalised text.

    ``starts[j]`` is the set of ``HEAD``-letter core heads of column j (``cues.core_starts``), or
    None when column j must be tried at every word start. Built from a fitted ``CueFeatures``'
    ``patterns_``/``starts_``, so models pickled before the scanner existed use it unchanged.
    """

    def __init__(self, patterns: Sequence[re.Pattern], starts: Sequence[frozenset[str] | None]):
        self.patterns = list(patterns)
        self.always = tuple(j for j, heads in enumerate(starts) if heads is None)
        by_head: dict[str, set[int]] = {}
        for j, heads in enumerate(starts):
            for head in heads or ():
                by_head.setdefault(head, set()).add(j)
        self.by_head = {head: frozenset(columns) for head, columns in by_head.items()}
        self.memo: dict[str, tuple[int, ...]] = {}

    def _columns(self, window: str) -> tuple[int, ...]:
        """Columns a core of which may begin at offset 0..MAX_PREFIX of ``window`` (sorted)."""
        columns = set(self.always)
        for i in range(MAX_PREFIX + 1):
            columns |= self.by_head.get(window[i:i + HEAD], frozenset())
        found = tuple(sorted(columns))
        if len(self.memo) >= MEMO_LIMIT:
            self.memo.clear()
        self.memo[window] = found
        return found

    def counts(self, text: str) -> dict[int, int]:
        """{column: number of non-overlapping matches} of normalised ``text`` (zero counts left out)."""
        memo, patterns = self.memo, self.patterns
        ends: dict[int, int] = {}
        found: dict[int, int] = {}
        for word in WORD_START.finditer(text):
            p = word.start()
            window = text[p:p + WINDOW]
            columns = memo.get(window)
            if columns is None:
                columns = self._columns(window)
            for j in columns:
                if p < ends.get(j, 0):
                    continue
                match = patterns[j].match(text, p)
                if match:
                    found[j] = found.get(j, 0) + 1
                    ends[j] = match.end()
        return found
