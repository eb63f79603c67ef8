"""The cue scanner on ANT text (issue 20): equal to ``finditer`` per column, and how much regex work
it does. Prints one JSON object: the CPU seconds of building a process's first scanner (median of
5), texts checked (the first ANT sentences and their whole articles), mismatches against
``cues.count_matches`` (exit 1 when any), and, on the sentences, regex calls on the first (cold
memo) and a second (warm) pass and how many sentences needed a column tried in context.
Works against older checkouts (copy it beside their ``src``): figures they lack are left out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from _common import shared_path
from stages import ant_articles


class _Counted:
    """A compiled regex that counts its ``match`` calls (what the scanner tries)."""

    def __init__(self, pattern):
        self.pattern, self.flags, self._compiled, self.calls = pattern.pattern, pattern.flags, pattern, 0

    def match(self, *args):
        self.calls += 1
        return self._compiled.match(*args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sentences", type=int, default=10_000)
    args = p.parse_args(argv)
    shared_path("ant", "ant_multisource_v2.1.csv.gz")
    from kwct_ml.pipeline import cue_scan
    from kwct_ml.pipeline.cue_scan import CueScanner
    from kwct_ml.pipeline.cues import CueFeatures, count_matches
    from kwct_ml.text.normalize import normalize

    cues = CueFeatures().fit()
    builds = []
    for _ in range(5):  # a process's first scanner: the regexes read from scratch
        for name in ("_index", "_read_source"):
            getattr(getattr(cue_scan, name, None), "cache_clear", lambda: None)()
        started = time.process_time()
        CueScanner(cues.patterns_, cues.starts_)
        builds.append(time.process_time() - started)
    articles, texts, _ = ant_articles(args.sentences)
    sentences = [normalize(t) for t in texts]
    checked = sentences + [normalize(a) for a in articles]
    scanner = CueScanner(cues.patterns_, cues.starts_)
    mismatches = sum(1 for text in checked if scanner.counts(text) != {
        j: n for j, pattern in enumerate(cues.patterns_) if (n := count_matches(pattern, text))})
    counted = [_Counted(pattern) for pattern in cues.patterns_]
    scanner = CueScanner(counted, cues.starts_)
    for text in sentences:  # the first pass learns every word (a cold memo)
        scanner.counts(text)
    cold_calls = sum(p.calls for p in counted)
    for pattern in counted:
        pattern.calls = 0
    in_context = getattr(scanner, "_counts_in_context", None)
    needing = []
    if in_context is not None:
        scanner._counts_in_context = lambda *a: needing.append(1) or in_context(*a)
    cells = sum(len(scanner.counts(text)) for text in sentences)
    out = {"sentences": len(sentences), "articles": len(articles), "texts_checked": len(checked),
           "mismatches": mismatches, "scanner_build_cpu_s": round(statistics.median(builds), 4),
           "non_zero_cells": cells, "regex_calls_cold": cold_calls,
           "regex_calls_warm": sum(p.calls for p in counted),
           "regex_calls_per_sentence": round(sum(p.calls for p in counted) / len(sentences), 3)}
    if in_context is not None:
        out["sentences_tried_in_context"] = len(needing)
    print(json.dumps(out))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
