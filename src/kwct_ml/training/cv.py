"""Honest evaluation: leave-one-article-out CV, baselines in the same folds, metrics, learning curve.

Only sentences of real articles are scored; authored sentences (source ``authored``) are added
to every training fold and never scored. Baselines run in exactly the same folds: the majority
label of the training fold, and a word-unigram TF-IDF with the same classifier.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import AUTHORED
from kwct_ml.errors import DataError
from kwct_ml.pipeline.model import KwctModel, build_pipeline, build_word_baseline
from kwct_ml.schema import TASKS, labels_for

SYSTEMS = ("model", "word_baseline", "majority")
SYSTEM_TITLES = {"model": "char n-gram model (this config)", "word_baseline": "word-unigram TF-IDF baseline",
                 "majority": "majority-class baseline"}


# --------------------------------------------------------------------------- data

def split_corpus(corpus: pd.DataFrame, include_authored: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evaluated sentences of real articles, authored training-only sentences)."""
    authored = corpus["source"].eq(AUTHORED) if "source" in corpus else pd.Series(False, corpus.index)
    evaluated = corpus[~authored].reset_index(drop=True)
    extra = corpus[authored].reset_index(drop=True) if include_authored else corpus.iloc[0:0]
    return evaluated, extra.reset_index(drop=True)


def majority_label(labels: Sequence[str], task: str) -> str:
    """The most frequent label; ties go to the earlier label in schema order."""
    counts = pd.Series(list(labels)).value_counts()
    best = counts.max()
    tied = set(counts[counts == best].index)
    return next(label for label in labels_for(task) if label in tied)


# --------------------------------------------------------------------------- metrics

def present_labels(task: str, *columns: Sequence[str]) -> list[str]:
    """Schema-ordered labels that occur in any of ``columns`` (gold or predicted)."""
    seen = set().union(*(set(c) for c in columns))
    return [label for label in labels_for(task) if label in seen]


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-label confidence: mean |accuracy - confidence| over equal-width bins."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if not len(confidence):
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / len(confidence))


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict]:
    """Per-bin (mean confidence, accuracy, count) for a reliability diagram."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(mask.sum()),
                        "confidence": float(confidence[mask].mean()),
                        "accuracy": float(correct[mask].mean())})
    return out


def score(task: str, gold: Sequence[str], pred: Sequence[str],
          confidence: Sequence[float] | None = None) -> dict:
    """Macro-F1 (over labels in gold or predicted), accuracy, per-class P/R/F1/support, confusion."""
    gold, pred = list(gold), list(pred)
    if not gold:
        return {"n": 0, "macro_f1": 0.0, "accuracy": 0.0, "labels": [], "per_class": [], "confusion": []}
    labels = present_labels(task, gold, pred)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    result = {
        "n": len(gold),
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(gold, pred)),
        "labels": labels,
        "per_class": [{"label": lab, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                       "support": int(s[i])} for i, lab in enumerate(labels)],
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),
    }
    if confidence is not None:
        conf = np.asarray(confidence, float)
        correct = np.asarray(gold) == np.asarray(pred)
        result["mean_confidence"] = float(conf.mean())
        result["ece"] = expected_calibration_error(conf, correct)
        result["reliability"] = reliability(conf, correct)
    return result


# --------------------------------------------------------------------------- fitting helpers

def sample_weights(train: pd.DataFrame, config: TrainConfig) -> dict:
    """Fit parameters giving real-article sentences ``config.real_weight`` (authored ones 1); {} at 1."""
    if config.real_weight == 1.0 or "source" not in train:
        return {}
    real = ~train["source"].eq(AUTHORED).to_numpy()
    return {"clf__sample_weight": np.where(real, config.real_weight, 1.0)}


def _fit_predict(config: TrainConfig, task: str, train: pd.DataFrame, test_texts: list[str],
                 builder: Callable = build_pipeline, groups: Sequence | None = None, *,
                 context: bool = False) -> tuple[list[str], np.ndarray]:
    """Fit ``builder``'s pipeline on ``train`` and predict ``test_texts``; ``context``: with the
    config's article context (by ``groups``), as the model has and the baselines have not."""
    pipe = builder(config, task).fit(train["text"].tolist(), train[task].tolist(),
                                     **sample_weights(train, config))
    model = KwctModel({task: pipe}, config.context() if context else None,
                      config.context_temperature() if context else None)
    return model.predict(task, test_texts, groups)


def fit_model(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS)) -> KwctModel:
    """The final model: every task pipeline fitted on all of ``corpus`` (authored per config)."""
    evaluated, extra = split_corpus(corpus, config.include_authored)
    train = pd.concat([evaluated, extra], ignore_index=True)
    texts = train["text"].tolist()
    weights = sample_weights(train, config)
    return KwctModel({task: build_pipeline(config, task).fit(texts, train[task].tolist(), **weights)
                      for task in tasks}, config.context(), config.context_temperature())


def _run(jobs: list[tuple], n_jobs: int, bar) -> list:
    """Run ``_job(*args)`` for every job (in ``n_jobs`` processes), ticking ``bar``; results in order."""
    if n_jobs == 1 or len(jobs) < 2:
        results = []
        for job in jobs:
            results.append(_job(*job))
            if bar is not None:
                bar.update(1)
        return results
    results = []
    for result in Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_job)(*job) for job in jobs):
        results.append(result)
        if bar is not None:
            bar.update(1)
    return results


def _job(config: TrainConfig, task: str, train: pd.DataFrame, test_texts: list[str],
         systems: tuple[str, ...], groups: Sequence | None = None):
    """Predictions of each of ``systems`` for ``test_texts`` after fitting on ``train``.

    ``groups`` names the article of each test text (the model's article context uses it).
    """
    out = {}
    for system in systems:
        if system == "majority":
            label = majority_label(train[task], task)
            prior = float(train[task].eq(label).mean())
            out[system] = ([label] * len(test_texts), np.full(len(test_texts), prior))
        else:
            builder = build_pipeline if system == "model" else build_word_baseline
            out[system] = _fit_predict(config, task, train, test_texts, builder, groups,
                                       context=system == "model")
    return out


def _check_groups(evaluated: pd.DataFrame) -> list[str]:
    docs = sorted(evaluated["doc_id"].unique())
    if len(docs) < 2:
        raise DataError(f"leave-one-article-out needs at least 2 labelled articles, found {len(docs)}",
                        fix="label more articles in data/labels/sentences.csv")
    return docs


# --------------------------------------------------------------------------- cross-validation

def cross_validate(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS),
                   progress: Callable | None = None, n_jobs: int = 1) -> tuple[dict, pd.DataFrame]:
    """Leave-one-article-out over the evaluated sentences: (metrics per task/system, predictions).

    ``progress(n_steps)`` may return a tqdm-like object (``update``/``close``) to show the folds.
    The predictions frame has one row per evaluated sentence with gold, predicted and confidence
    of every system for every task (out-of-fold).
    """
    evaluated, extra = split_corpus(corpus, config.include_authored)
    docs = _check_groups(evaluated)
    keep = [c for c in ("doc_id", "sent_id", "text") if c in evaluated]
    out = evaluated[keep].copy()
    for task in tasks:
        out[f"{task}_gold"] = evaluated[task].to_numpy()
        for system in SYSTEMS:
            out[f"{task}_{system}"] = ""
            out[f"{task}_{system}_conf"] = np.nan
    jobs, where = [], []
    for doc in docs:
        test = evaluated["doc_id"].eq(doc).to_numpy()
        train = pd.concat([evaluated[~test], extra], ignore_index=True)
        for task in tasks:
            jobs.append((config, task, train, evaluated.loc[test, "text"].tolist(), SYSTEMS,
                         [doc] * int(test.sum())))
            where.append((task, test))
    bar = progress(len(jobs)) if progress else None
    for (task, test), result in zip(where, _run(jobs, n_jobs, bar), strict=True):
        for system, (labels, conf) in result.items():
            out.loc[test, f"{task}_{system}"] = labels
            out.loc[test, f"{task}_{system}_conf"] = conf
    if bar is not None:
        bar.close()
    metrics = {task: {system: score(task, out[f"{task}_gold"], out[f"{task}_{system}"],
                                    out[f"{task}_{system}_conf"] if system != "majority" else None)
                      for system in SYSTEMS} for task in tasks}
    return metrics, out


def learning_curve(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS),
                   progress: Callable | None = None, n_jobs: int = 1) -> dict:
    """Out-of-fold macro-F1 against the number k of training articles (1..n-1).

    For every held-out article, up to ``learning_curve_repeats`` random sets of k other articles
    (seeded; all sets when fewer exist) are used for training (plus authored sentences); run r
    pools the r-th set of every held-out article into one out-of-fold prediction and is scored
    like the main CV (so k = n-1 reproduces the LOAO score). Reported: mean and standard
    deviation over runs, with the majority baseline.
    """
    evaluated, extra = split_corpus(corpus, config.include_authored)
    docs = _check_groups(evaluated)
    rng = np.random.default_rng(config.seed)
    ks = list(range(1, len(docs)))
    n_runs = {}
    plan = []  # (held, k, r, combo): the r-th training set of k articles for held-out article ``held``
    for held in docs:
        others = [d for d in docs if d != held]
        for k in ks:
            combos = list(itertools.combinations(others, k))
            if len(combos) > config.learning_curve_repeats:
                picked = rng.choice(len(combos), size=config.learning_curve_repeats, replace=False)
                combos = [combos[i] for i in sorted(picked)]
            n_runs[k] = len(combos)
            plan += [(held, k, r, combo) for r, combo in enumerate(combos)]
    # One fit per distinct training set, predicting every held-out article that uses it: the same
    # predictions as one fit per (held-out article, set), with fewer fits.
    served: dict[tuple, list[str]] = {}
    for held, _, _, combo in plan:
        served.setdefault(combo, []).append(held)
    jobs, rows = [], []
    for combo, helds in served.items():
        test = evaluated["doc_id"].isin(helds).to_numpy()
        train = pd.concat([evaluated[evaluated["doc_id"].isin(combo)], extra], ignore_index=True)
        for task in tasks:
            jobs.append((config, task, train, evaluated.loc[test, "text"].tolist(), ("model", "majority"),
                         evaluated.loc[test, "doc_id"].tolist()))
            rows.append((task, combo, np.flatnonzero(test)))
    bar = progress(len(jobs)) if progress else None
    fitted = {}
    for (task, combo, index), result in zip(rows, _run(jobs, n_jobs, bar), strict=True):
        for system, (labels, _) in result.items():
            fitted[task, combo, system] = pd.Series(labels, index=index, dtype=object)
    preds = {(task, k, r, system): np.empty(len(evaluated), dtype=object)
             for task in tasks for k in ks for r in range(n_runs[k]) for system in ("model", "majority")}
    for held, k, r, combo in plan:
        test = np.flatnonzero(evaluated["doc_id"].eq(held).to_numpy())
        for task in tasks:
            for system in ("model", "majority"):
                preds[task, k, r, system][test] = fitted[task, combo, system].loc[test].to_numpy()
    if bar is not None:
        bar.close()
    result: dict = {"k": ks, "n_articles": len(docs), "tasks": {}}
    for task in tasks:
        gold = evaluated[task].to_numpy()
        curve = {"mean": [], "std": [], "runs": [], "majority_mean": []}
        for k in ks:
            f1s = [score(task, gold, preds[task, k, r, "model"])["macro_f1"] for r in range(n_runs[k])]
            base = [score(task, gold, preds[task, k, r, "majority"])["macro_f1"] for r in range(n_runs[k])]
            curve["mean"].append(float(np.mean(f1s)))
            curve["std"].append(float(np.std(f1s)))
            curve["runs"].append(n_runs[k])
            curve["majority_mean"].append(float(np.mean(base)))
        result["tasks"][task] = curve
    return result


# --------------------------------------------------------------------------- held-out set

def evaluate_external(corpus: pd.DataFrame, eval_set: pd.DataFrame, config: TrainConfig,
                      model: KwctModel, tasks: Sequence[str] = tuple(TASKS)) -> dict:
    """Score the final ``model`` (trained on all project data) on an external labelled set.

    Baselines: the majority label of the training labels, and the word-unigram model trained on
    the same data. Only aggregate scores are returned: no sentence of the set is kept.
    """
    evaluated, extra = split_corpus(corpus, config.include_authored)
    train = pd.concat([evaluated, extra], ignore_index=True)
    texts = eval_set["text"].astype(str).tolist()
    # sentences of one article share its context; a set without article ids is scored row by row
    groups = eval_set["doc_id"].tolist() if eval_set.attrs.get("articles_known", True) else None
    result: dict = {"n": len(eval_set), "n_docs": int(eval_set["doc_id"].nunique()), "tasks": {}}
    for task in tasks:
        gold = eval_set[task].tolist()
        pred, conf = model.predict(task, texts, groups)
        base_pred, base_conf = _fit_predict(config, task, train, texts, build_word_baseline)
        majority = majority_label(train[task], task)
        result["tasks"][task] = {
            "model": score(task, gold, pred, conf),
            "word_baseline": score(task, gold, base_pred, base_conf),
            "majority": {**score(task, gold, [majority] * len(gold)), "label": majority},
        }
    return result
