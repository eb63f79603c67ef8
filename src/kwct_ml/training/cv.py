"""Honest evaluation: article-grouped CV with baselines in the same folds, and the eval set.

Folds hold whole articles: article-grouped K-fold over every real labelled article, or
leave-one-article-out (each article its own fold). Only sentences of real articles are scored;
authored sentences (source ``authored``) are added
to every training fold and never scored. Baselines run in exactly the same folds: the majority
label of the training fold, and a word-unigram TF-IDF with the same classifier.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import GroupKFold

from kwct_ml import lifeline
from kwct_ml.config import TrainConfig
from kwct_ml.errors import DataError
from kwct_ml.pipeline.model import KwctModel, build_pipeline, build_word_baseline
from kwct_ml.schema import TASKS
from kwct_ml.training.bootstrap import macro_f1_interval
from kwct_ml.training.fit import sample_weights, split_corpus
from kwct_ml.training.metrics import majority_label, score

SYSTEMS = {"model": "model", "word_baseline": "word-unigram baseline", "majority": "majority baseline"}
"""The systems every fold compares, in report order, with the name tables show for each."""


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


def run_jobs(jobs: list[tuple], n_jobs: int, bar) -> list:
    """``predict_systems(*job)`` for every job (in ``n_jobs`` processes), ticking ``bar``; in order."""
    if n_jobs == 1 or len(jobs) < 2:
        results = []
        for job in jobs:
            results.append(predict_systems(*job))
            if bar is not None:
                bar.update(1)
        return results
    results = []
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    parent = os.getpid()
    for result in parallel(delayed(_worker_job)(parent, *job) for job in jobs):
        results.append(result)
        if bar is not None:
            bar.update(1)
    return results


def _worker_job(parent: int, *job):
    """``predict_systems(*job)`` in a pool worker that exits when ``parent`` dies (loky keeps idle
    workers for minutes, and a SIGKILLed train cannot stop them)."""
    lifeline.die_with_parent(parent)
    return predict_systems(*job)


def predict_systems(config: TrainConfig, task: str, train: pd.DataFrame, test_texts: list[str],
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


def article_ids(evaluated: pd.DataFrame) -> list[str]:
    """The sorted article ids of ``evaluated``; at least two, or leave-one-article-out is impossible."""
    docs = sorted(evaluated["doc_id"].unique())
    if len(docs) < 2:
        raise DataError(f"leave-one-article-out needs at least 2 labelled articles, found {len(docs)}",
                        fix="label more articles in data/labels/sentences.csv")
    return docs


# --------------------------------------------------------------------------- cross-validation

def grouped_folds(docs: Sequence[str], n_splits: int, seed: int) -> list[list[str]]:
    """Article ids split into ``n_splits`` held-out groups (shuffled by ``seed``, fixed per seed)."""
    docs = sorted(docs)
    n_splits = min(n_splits, len(docs))
    splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [sorted(docs[i] for i in test) for _, test in splitter.split(docs, groups=docs)]


def main_folds(evaluated: pd.DataFrame, config: TrainConfig) -> list[list[str]]:
    """The folds of the main CV: ``cv_folds``-fold grouped by article, or one article per fold (0)."""
    docs = article_ids(evaluated)
    if config.cv_folds and len(docs) > config.cv_folds:
        return grouped_folds(docs, config.cv_folds, config.seed)
    return [[doc] for doc in docs]


def cv_name(folds: list[list[str]]) -> str:
    """How a fold list is described in tables: 'LOAO' or '5-fold grouped'."""
    return "LOAO" if all(len(f) == 1 for f in folds) else f"{len(folds)}-fold grouped"


def cross_validate(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS),
                   progress: Callable | None = None, n_jobs: int = 1,
                   folds: list[list[str]] | None = None,
                   systems: Sequence[str] = tuple(SYSTEMS)) -> tuple[dict, pd.DataFrame]:
    """Out-of-fold predictions of every system over ``folds`` (lists of held-out article ids).

    Default folds: ``main_folds`` (grouped K-fold, or leave-one-article-out). Every held-out article is
    predicted by systems trained on all other real articles plus the authored sentences; only the
    held-out articles are scored. Returns (metrics per task/system with article-bootstrap intervals,
    predictions). ``systems``: a subset of ``SYSTEMS`` (e.g. the model alone when comparing configs).
    ``progress(n_steps)`` may return a tqdm-like object (``update``/``close``).
    """
    systems = tuple(s for s in SYSTEMS if s in systems)
    evaluated, extra = split_corpus(corpus, config.include_authored)
    folds = main_folds(evaluated, config) if folds is None else folds
    held = evaluated["doc_id"].isin({doc for fold in folds for doc in fold}).to_numpy()
    keep = [c for c in ("doc_id", "sent_id", "text") if c in evaluated]
    out = evaluated.loc[held, keep].reset_index(drop=True)
    scored = evaluated[held].reset_index(drop=True)
    for task in tasks:
        out[f"{task}_gold"] = scored[task].to_numpy()
        for system in systems:
            out[f"{task}_{system}"] = ""
            out[f"{task}_{system}_conf"] = np.nan
    jobs, where = [], []
    for fold in folds:
        test = scored["doc_id"].isin(fold).to_numpy()
        train = pd.concat([evaluated[~evaluated["doc_id"].isin(fold)], extra], ignore_index=True)
        for task in tasks:
            jobs.append((config, task, train, scored.loc[test, "text"].tolist(), systems,
                         scored.loc[test, "doc_id"].tolist()))
            where.append((task, test))
    bar = progress(len(jobs)) if progress else None
    for (task, test), result in zip(where, run_jobs(jobs, n_jobs, bar), strict=True):
        for system, (labels, conf) in result.items():
            out.loc[test, f"{task}_{system}"] = labels
            out.loc[test, f"{task}_{system}_conf"] = conf
    if bar is not None:
        bar.close()
    metrics = {task: {system: score(task, out[f"{task}_gold"], out[f"{task}_{system}"],
                                    out[f"{task}_{system}_conf"] if system != "majority" else None)
                      for system in systems} for task in tasks}
    docs = out["doc_id"].tolist()
    for task in tasks:
        for system in systems:
            metrics[task][system]["interval"] = macro_f1_interval(
                task, out[f"{task}_gold"], out[f"{task}_{system}"], docs, seed=config.seed)
    return metrics, out


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
        docs = eval_set["doc_id"].tolist() if groups is not None else list(range(len(gold)))
        result["tasks"][task] = {
            "model": score(task, gold, pred, conf),
            "word_baseline": score(task, gold, base_pred, base_conf),
            "majority": {**score(task, gold, [majority] * len(gold)), "label": majority},
        }
        for system, predicted in (("model", pred), ("word_baseline", base_pred),
                                  ("majority", [majority] * len(gold))):
            result["tasks"][task][system]["interval"] = macro_f1_interval(task, gold, predicted, docs,
                                                                         seed=config.seed)
    return result

