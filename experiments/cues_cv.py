"""Grouped CV of the cue block (issue 17): no cues / a cue file at a given scale, same folds.

Real sentences = the seed/merged rows of data/labels/sentences.csv plus the ANT standoff labels of
data/labels/ant.csv resolved against the local ANT file; GroupKFold(5) by doc_id over them; the
authored sentences join every training fold and are never scored. Default config otherwise.
Prints one Markdown table row per variant: macro-F1 per task (out-of-fold, pooled) and the
majority baseline (the training fold's majority label). Never reads the dev set.

    .venv/bin/python experiments/cues_cv.py --ant /work/shared/data/ant/ant_multisource_v2.1.csv.gz \
        --variant none --variant new:packaged:ngram --variant old:/tmp/old_cues.toml:none
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from kwct_ml.config import load_config
from kwct_ml.corpus.dataset import load_corpus
from kwct_ml.corpus.standoff import read_standoff, resolve
from kwct_ml.pipeline.model import build_pipeline
from kwct_ml.schema import TASKS
from kwct_ml.training.fit import split_corpus
from kwct_ml.training.metrics import majority_label, score

REPO = Path(__file__).resolve().parents[1]


def real_and_authored(ant: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(real labelled sentences with doc_id, authored training-only sentences)."""
    corpus = load_corpus(REPO / "data")
    seed, authored = split_corpus(corpus, include_authored=True)
    resolution = resolve(read_standoff(REPO / "data" / "labels" / "ant.csv"), {"ant": ant})
    if resolution.absent:
        sys.exit(f"ANT not readable: {resolution.absent}")
    cols = ["doc_id", "text", "topic", "stance"]
    real = pd.concat([seed[cols], resolution.frame[cols]], ignore_index=True)
    return real, authored[cols]


def pipeline(config, task: str, variant: str):
    """The default pipeline of ``task`` with the cue block as ``variant`` says."""
    if variant == "none":
        config = config.__class__(**{**config.__dict__, "use_cues": False})
        return build_pipeline(config, task)
    _, path, scale = variant.split(":")
    pipe = build_pipeline(config, task)
    return pipe.set_params(features__cues__path=None if path == "packaged" else path,
                           features__cues__scale=scale)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ant", type=Path, required=True, help="the ANT corpus file (csv.gz)")
    ap.add_argument("--variant", action="append", required=True,
                    help="none | NAME:PATH|packaged:SCALE (SCALE: none, ngram)")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    config = load_config(REPO / "experiments" / "default.toml")
    real, authored = real_and_authored(args.ant)
    folds = list(GroupKFold(args.folds).split(real, groups=real["doc_id"]))
    print(f"{len(real)} real sentences in {real['doc_id'].nunique()} articles, "
          f"{len(authored)} authored (training only), GroupKFold({args.folds}) by doc_id", flush=True)
    rows = {}
    for task in TASKS:
        pred = np.empty(len(real), dtype=object)
        maj = np.empty(len(real), dtype=object)
        for train_idx, test_idx in folds:
            maj[test_idx] = majority_label(real[task].iloc[train_idx], task)
        rows.setdefault("majority", {})[task] = score(task, real[task], maj)["macro_f1"]
        for variant in args.variant:
            for train_idx, test_idx in folds:
                train = pd.concat([real.iloc[train_idx], authored], ignore_index=True)
                model = pipeline(config, task, variant).fit(train["text"].tolist(), train[task].tolist())
                pred[test_idx] = model.predict(real["text"].iloc[test_idx].tolist())
            rows.setdefault(variant, {})[task] = score(task, real[task], pred)["macro_f1"]
            print(f"  {task} {variant}: {rows[variant][task]:.3f}", flush=True)
    print("\n| variant | topic macro-F1 | stance macro-F1 |\n|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['topic']:.3f} | {r['stance']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
