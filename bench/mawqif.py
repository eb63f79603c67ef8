"""Mawqif stance benchmark: the project's training code path vs fastText, train -> test.

Settings (per-target or joint model, C, word n-grams, class weights; fastText epochs and word
n-grams) are chosen by 3-fold cross-validation on the TRAIN split only; the test split is scored
once. Prints one JSON object and appends a row to experiments/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from _common import fasttext_predict, fasttext_train, record, shared_path
from kwct_ml.config import TrainConfig
from kwct_ml.model import build_pipeline

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
            model = fasttext_train(x_train, y_train, **FASTTEXT, **params)
            pred[in_test.to_numpy()] = fasttext_predict(model, x_test)
    return pred


def cv_score(kind: str, setting: dict, train: pd.DataFrame, folds) -> float:
    """Stanceeval F1 of out-of-fold predictions on the training split."""
    pred = np.empty(len(train), dtype=object)
    for fit_idx, held_idx in folds:
        held = train.iloc[held_idx]
        pred[held_idx] = fit_predict(kind, setting, train.iloc[fit_idx], held)
    return stanceeval_f1(train.target, train.stance, pred)


def grid(kind: str) -> list[dict]:
    if kind == "kwct":
        base = dict(fast_vectorizer=True, analyzer="char_wb", ngram_min=2, ngram_max=5, sublinear_tf=True,
                    classifier="linear_svc", calibration="sigmoid")
        return [dict(base, per_target=p, C=c, word_ngrams=w, class_weight=cw)
                for p, c, w, cw in itertools.product([True, False], [0.3, 1.0, 3.0], [False, True],
                                                     ["balanced", "none"])]
    return [dict(per_target=p, epoch=e, wordNgrams=w)
            for p, e, w in itertools.product([True, False], [10, 25, 50], [1, 2])]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="processes for the CV grid")
    args = parser.parse_args(argv)
    folder = shared_path("mawqif")
    started = time.perf_counter()
    read = dict(encoding="utf-8-sig", keep_default_na=False)
    train = pd.read_csv(folder / "train.csv", **read)[["text", "target", "stance"]].reset_index(drop=True)
    test = pd.read_csv(folder / "test.csv", **read)[["text", "target", "stance"]].reset_index(drop=True)

    strata = train.target + "/" + train.stance
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(train, strata))
    chosen, cv_table = {}, {}
    for kind in ("kwct", "fasttext"):
        settings = grid(kind)
        scores = Parallel(n_jobs=args.jobs)(delayed(cv_score)(kind, s, train, folds) for s in settings)
        best = int(np.argmax(scores))
        chosen[kind] = settings[best]
        cv_table[kind] = round(float(scores[best]), 4)

    result = {}
    for kind, prefix in (("kwct", ""), ("fasttext", "fasttext_")):
        pred = fit_predict(kind, chosen[kind], train, test)
        result[f"{prefix}macro_f1"] = round(macro_f1(test.stance, pred), 4)
        result[f"{prefix}stanceeval_f1"] = round(stanceeval_f1(test.target, test.stance, pred), 4)
    majority = test.target.map(train.groupby("target").stance.agg(lambda s: s.value_counts().index[0]))
    result["majority_macro_f1"] = round(macro_f1(test.stance, majority), 4)
    result["majority_stanceeval_f1"] = round(stanceeval_f1(test.target, test.stance, majority), 4)
    result["cv_stanceeval_f1"] = cv_table["kwct"]
    result["fasttext_cv_stanceeval_f1"] = cv_table["fasttext"]
    result["setting"] = {k: v for k, v in chosen["kwct"].items()
                         if k in ("per_target", "C", "word_ngrams", "class_weight")}
    result["fasttext_setting"] = chosen["fasttext"]
    result["seconds"] = round(time.perf_counter() - started, 1)
    score, gap = result["stanceeval_f1"], result["stanceeval_f1"] - result["fasttext_stanceeval_f1"]
    note = (f"stanceeval>=0.75: {'met' if score >= 0.75 else f'MISSED by {0.75 - score:.3f}'}; "
            f"fastText+0.05: {'met' if gap >= 0.05 else 'MISSED'} (+{gap:.3f})")
    record("Mawqif stance (bench/mawqif.py)",
           ["stanceeval_f1", "macro_f1", "fasttext_stanceeval_f1", "fasttext_macro_f1",
            "majority_stanceeval_f1", "cv_stanceeval_f1", "setting", "fasttext_setting", "seconds"],
           result, note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
