"""Where predict's time goes (issue 20): sentences/s of each scoring stage on ANT sentences.

Prints a markdown table (CPU seconds, one process) for docs/benchmarks.md: the per-task pipeline
path against ``KwctModel.predict_tasks`` (stacked scoring), in one batch and in 8-article items as
``python -m kwct_ml.predict`` calls them. fastText is timed by bench/throughput.py in its own run.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import sys
import time

import numpy as np

from _common import shared_path
from kwct_ml.inference.batch import ARTICLE_ROWS_PER_ITEM


def ant_sentences(limit: int) -> tuple[list[str], list[int]]:
    """The first ``limit``-odd sentences of the ANT articles and the article of each."""
    from kwct_ml.text.segment import segment

    csv.field_size_limit(10**9)
    texts, groups = [], []
    with gzip.open(shared_path("ant", "ant_multisource_v2.1.csv.gz"), "rt", encoding="utf-8") as handle:
        for k, row in enumerate(csv.DictReader(handle)):
            sentences = [s.text for s in segment(row["text"])]
            texts += sentences
            groups += [k] * len(sentences)
            if len(texts) >= limit:
                break
    return texts, groups


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: models/latest)")
    p.add_argument("--sentences", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    from kwct_ml.bundle.store import load_model

    model, _ = load_model(args.model)
    texts, groups = ant_sentences(args.sentences)
    keys = np.asarray(groups) // ARTICLE_ROWS_PER_ITEM
    items = np.split(np.arange(len(texts)), np.flatnonzero(np.diff(keys)) + 1)
    pieces = [([texts[i] for i in ix], [groups[i] for i in ix]) for ix in items]
    model.predict_tasks(texts[:500], groups[:500])  # warm the word cache and the scorer

    def per_task(parts):
        for t, g in parts:
            for task in model.tasks:
                model.predict(task, t, g)

    def stacked(parts):
        for t, g in parts:
            model.predict_tasks(t, g)

    char = model.pipelines["topic"][0].transformer_list[0][1]
    stages = [("char TF-IDF transform, one batch (warm word cache)", lambda: char.transform(texts)),
              ("per-task pipelines, one batch", lambda: per_task([(texts, groups)])),
              ("per-task pipelines, 8-article items", lambda: per_task(pieces)),
              ("stacked predict_tasks, one batch", lambda: stacked([(texts, groups)])),
              ("stacked predict_tasks, 8-article items", lambda: stacked(pieces))]
    print(f"{len(texts)} ANT sentences, {len(pieces)} items; CPU seconds, median of {args.rounds} rounds\n")
    print("| stage (both tasks, article context, calibrated) | sentences/s |\n|---|---|")
    for name, run in stages:
        times = []
        for _ in range(args.rounds):
            started = time.process_time()
            run()
            times.append(time.process_time() - started)
        print(f"| {name} | {len(texts) / float(np.median(times)):,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
