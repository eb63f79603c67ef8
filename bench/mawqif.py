"""Mawqif stance benchmark: the project's training code path vs fastText, train -> test.

Settings (per-target or joint model, classifier and C, analyzer and n-gram range, word n-grams,
cue features; fastText per-target/joint, epochs, word n-grams, learning rate) are chosen by 3-fold
cross-validation on the TRAIN split only (stanceeval F1 of out-of-fold predictions); the test split
is scored once. Prints one JSON object (with every CV score, ``cv_table``) and appends a row to
experiments/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from _common import fasttext_predict, fasttext_train, record, require_fasttext, shared_path
from kwct_ml.config import TrainConfig
from kwct_ml.pipeline.model import build_pipeline

LABELS = ["Favor", "Against", "None"]
FASTTEXT = dict(minn=2, maxn=5, dim=100, lr=0.5, bucket=200_000, thread=1, seed=0)


def stanceeval_f1(targets, gold, pred) -> float:
    """StanceEval 2024: per target the mean of F1(Favor) and F1(Against), then the mean over targets."""
    frame = pd.DataFrame({"target": targets, "gold": gold, "pred": pred})
    scores = [f1_score(g.gold, g.pred, labels=["Favor", "Against"], average="macro", zero_division=0)
              for _, g in frame.groupby("target")]
    return float(np.mean(scores))


def macro_f1(gold, pred) -> float:
    return float(f1_score(gold, pred, labels=LABELS, average="macro", zero_division=0))


def fit_predict(kind: str, setting: dict, train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Train on ``train`` (one model per target, or one joint model) and label ``test``."""
    if setting["per_target"]:
        groups = [(t, train.target == t, test.target == t) for t in sorted(train.target.unique())]
    else:
        groups = [("all", train.target == train.target, test.target == test.target)]
    pred = np.empty(len(test), dtype=object)
    for _, in_train, in_test in groups:
        if not in_test.any():
            continue
        x_train, y_train = train.text[in_train].tolist(), train.stance[in_train].tolist()
        x_test = test.text[in_test].tolist()
        if kind == "kwct":
            config = TrainConfig(**{k: v for k, v in setting.items() if k != "per_target"})
            model = build_pipeline(config, "stance").fit(x_train, y_train)
            pred[in_test.to_numpy()] = model.predict(x_test)
        else:
            params = {k: v for k, v in setting.items() if k != "per_target"}
            model = fasttext_train(x_train, y_train, **{**FASTTEXT, **params})
            pred[in_test.to_numpy()] = fasttext_predict(model, x_test)
    return pred


def cv_score(kind: str, setting: dict, train: pd.DataFrame, folds) -> float:
    """Stanceeval F1 of out-of-fold predictions on the training split."""
    pred = np.empty(len(train), dtype=object)
    for fit_idx, held_idx in folds:
        held = train.iloc[held_idx]
        pred[held_idx] = fit_predict(kind, setting, train.iloc[fit_idx], held)
    return stanceeval_f1(train.target, train.stance, pred)


BASE = dict(fast_vectorizer=True, analyzer="char_wb", ngram_min=2, ngram_max=5, sublinear_tf=True,
            word_ngrams=True, use_cues=False, class_weight="balanced")
CLASSIFIERS = [dict(classifier="linear_svc", calibration="sigmoid", C=c) for c in (0.1, 0.3, 1.0)] + \
              [dict(classifier="logreg", calibration="none", C=c) for c in (3.0, 10.0, 30.0)]
FEATURES = [dict(analyzer=a, ngram_min=lo, ngram_max=hi, word_ngrams=w, use_cues=u)
            for (a, lo, hi), w, u in itertools.product(
                [("char_wb", 2, 5), ("char_wb", 1, 6), ("char", 2, 5), ("char", 1, 6)], [True, False],
                [False, True])]
#: What ``label`` shows of a setting: these keys and any key not in BASE.
KEYS = ("per_target", "classifier", "C", "analyzer", "ngram_min", "ngram_max", "word_ngrams", "use_cues")


def label(setting: dict) -> str:
    return json.dumps({k: v for k, v in setting.items() if k in KEYS or k not in BASE})


def kwct_stages() -> list:
    """Two CV stages: classifier, C and per-target/joint with char_wb 2-5 + words; then, for the
    best of those, the analyzer and n-gram range, word n-grams and cue features."""
    first = [dict(BASE, per_target=p, **c) for p, c in itertools.product([True, False], CLASSIFIERS)]
    return [lambda _: first, lambda best: [dict(best, **f) for f in FEATURES]]


def fasttext_grid() -> list[dict]:
    return [dict(per_target=p, epoch=e, wordNgrams=w, lr=lr)
            for p, e, w, lr in itertools.product([True, False], [10, 25, 50], [1, 2], [0.1, 0.5])]


def search(kind: str, stages, train: pd.DataFrame, folds, jobs: int) -> tuple[dict, float, dict]:
    """(best setting, its CV score, every CV score by setting label), stage by stage."""
    table, best = {}, None
    for stage in stages:
        todo = [s for s in stage(best) if label(s) not in table]
        scores = Parallel(n_jobs=jobs)(delayed(cv_score)(kind, s, train, folds) for s in todo)
        for setting, score in zip(todo, scores, strict=True):
            table[label(setting)] = (round(float(score), 4), setting)
            print(f"cv {kind} {score:.4f} {label(setting)}", file=sys.stderr, flush=True)
        best = max(table.values(), key=lambda item: item[0])[1]
    return best, table[label(best)][0], {k: v[0] for k, v in table.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="processes for the CV grid")
    parser.add_argument("--no-record", action="store_true", help="print the JSON only")
    args = parser.parse_args(argv)
    folder = shared_path("mawqif")
    require_fasttext()
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 1)
    read = dict(encoding="utf-8-sig", keep_default_na=False)
    train = pd.read_csv(folder / "train.csv", **read)[["text", "target", "stance"]].reset_index(drop=True)
    test = pd.read_csv(folder / "test.csv", **read)[["text", "target", "stance"]].reset_index(drop=True)

    strata = train.target + "/" + train.stance
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(train, strata))
    chosen, cv_best, cv_table = {}, {}, {}
    for kind, stages in (("kwct", kwct_stages()), ("fasttext", [lambda _: fasttext_grid()])):
        chosen[kind], cv_best[kind], cv_table[kind] = search(kind, stages, train, folds, args.jobs)

    result = {}
    for kind, prefix in (("kwct", ""), ("fasttext", "fasttext_")):
        pred = fit_predict(kind, chosen[kind], train, test)
        result[f"{prefix}macro_f1"] = round(macro_f1(test.stance, pred), 4)
        result[f"{prefix}stanceeval_f1"] = round(stanceeval_f1(test.target, test.stance, pred), 4)
    majority = test.target.map(train.groupby("target").stance.agg(lambda s: s.value_counts().index[0]))
    result["majority_macro_f1"] = round(macro_f1(test.stance, majority), 4)
    result["majority_stanceeval_f1"] = round(stanceeval_f1(test.target, test.stance, majority), 4)
    result["cv_stanceeval_f1"] = cv_best["kwct"]
    result["fasttext_cv_stanceeval_f1"] = cv_best["fasttext"]
    result["setting"] = json.loads(label(chosen["kwct"]))
    result["fasttext_setting"] = chosen["fasttext"]
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_at_start"] = load_at_start
    result["cv_table"] = cv_table
    score, gap = result["stanceeval_f1"], result["stanceeval_f1"] - result["fasttext_stanceeval_f1"]
    note = (f"stanceeval>=0.75: {'met' if score >= 0.75 else f'MISSED by {0.75 - score:.3f}'}; "
            f"fastText+0.05: {'met' if gap >= 0.05 else 'MISSED'} (+{gap:.3f})")
    if args.no_record:
        print(json.dumps(result))
        return 0
    record("Mawqif stance (bench/mawqif.py)",
           ["stanceeval_f1", "macro_f1", "fasttext_stanceeval_f1", "fasttext_macro_f1",
            "majority_stanceeval_f1", "cv_stanceeval_f1", "setting", "fasttext_setting", "seconds"],
           result, note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
