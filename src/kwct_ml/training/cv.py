"""Honest evaluation: leave-one-article-out CV with baselines in the same folds, and the eval set.

Only sentences of real articles are scored; authored sentences (source ``authored``) are added
to every training fold and never scored. Baselines run in exactly the same folds: the majority
label of the training fold, and a word-unigram TF-IDF with the same classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from kwct_ml.config import TrainConfig
from kwct_ml.errors import DataError
from kwct_ml.pipeline.model import KwctModel, build_pipeline, build_word_baseline
from kwct_ml.schema import TASKS
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
    for result in parallel(delayed(predict_systems)(*job) for job in jobs):
        results.append(result)
        if bar is not None:
            bar.update(1)
    return results


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

def cross_validate(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS),
                   progress: Callable | None = None, n_jobs: int = 1) -> tuple[dict, pd.DataFrame]:
    """Leave-one-article-out over the evaluated sentences: (metrics per task/system, predictions).

    ``progress(n_steps)`` may return a tqdm-like object (``update``/``close``) to show the folds.
    The predictions frame has one row per evaluated sentence with gold, predicted and confidence
    of every system for every task (out-of-fold).
    """
    evaluated, extra = split_corpus(corpus, config.include_authored)
    docs = article_ids(evaluated)
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
            jobs.append((config, task, train, evaluated.loc[test, "text"].tolist(), tuple(SYSTEMS),
                         [doc] * int(test.sum())))
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
                      for system in SYSTEMS} for task in tasks}
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
        result["tasks"][task] = {
            "model": score(task, gold, pred, conf),
            "word_baseline": score(task, gold, base_pred, base_conf),
            "majority": {**score(task, gold, [majority] * len(gold)), "label": majority},
        }
    return result

