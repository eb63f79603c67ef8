"""Honest evaluation: article-grouped CV with baselines in the same folds, and the eval set.

Folds hold whole articles: article-grouped K-fold over every real labelled article, or
leave-one-article-out (each article its own fold). Only sentences of real articles are scored;
authored sentences (source ``authored``) are added
to every training fold and never scored. Baselines run in exactly the same folds: the majority
label of the training fold, and a word-unigram TF-IDF with the same classifier.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from kwct_ml.config import TrainConfig
from kwct_ml.errors import DataError
from kwct_ml.pipeline.model import KwctModel, build_pipeline, build_word_baseline
from kwct_ml.schema import TASKS
from kwct_ml.training.bootstrap import macro_f1_interval
from kwct_ml.training.fit import fit_pipelines, split_corpus
from kwct_ml.training.metrics import majority_label, score
from kwct_ml.training.pool import ordered_map

SYSTEMS = {"model": "model", "word_baseline": "word-unigram baseline", "majority": "majority baseline"}
"""The systems every fold compares, in report order, with the name tables show for each."""


def _fit_predict(config: TrainConfig, task: str, train: pd.DataFrame, test_texts: list[str],
                 builder: Callable = build_pipeline, groups: Sequence | None = None, *,
                 context: bool = False, fitted: dict | None = None) -> tuple[list[str], np.ndarray]:
    """Fit ``builder``'s pipeline on ``train`` and predict ``test_texts``; ``context``: with the
    config's article context (by ``groups``), as the model has and the baselines have not.
    ``fitted``: ``fit_pipelines(builder, config, train, ...)`` already run (tasks sharing features)."""
    pipe = (fitted if fitted is not None else fit_pipelines(builder, config, train, (task,)))[task]
    model = KwctModel({task: pipe}, config.context() if context else None,
                      config.context_temperature() if context else None)
    return model.predict(task, test_texts, groups)


def run_jobs(jobs: list[tuple], n_jobs: int, bar) -> list:
    """``predict_systems(*job)`` for every job (in ``n_jobs`` processes), ticking ``bar``; in order."""
    tick = None if bar is None else functools.partial(bar.update, 1)
    return ordered_map(predict_systems, jobs, n_jobs, tick)


def predict_systems(config: TrainConfig, tasks: Sequence[str], train: pd.DataFrame, test_texts: list[str],
                    systems: tuple[str, ...], groups: Sequence | None = None) -> dict[str, dict]:
    """task -> system -> predictions (labels, scores) of ``test_texts`` after fitting on ``train``.

    Each fitted system's feature block is fitted once for all ``tasks`` (``fit_pipelines``).
    ``groups`` names the article of each test text (the model's article context uses it).
    """
    out: dict[str, dict] = {task: {} for task in tasks}
    for system in systems:
        if system == "majority":
            for task in tasks:
                label = majority_label(train[task], task)
                prior = float(train[task].eq(label).mean())
                out[task][system] = ([label] * len(test_texts), np.full(len(test_texts), prior))
            continue
        builder = build_pipeline if system == "model" else build_word_baseline
        fitted = fit_pipelines(builder, config, train, tasks)
        for task in tasks:
            out[task][system] = _fit_predict(config, task, train, test_texts, builder, groups,
                                             context=system == "model", fitted=fitted)
    return out


def job_systems(systems: Sequence[str]) -> list[tuple[str, ...]]:
    """``systems`` split into jobs: one per fitted system (they share nothing), the majority
    baseline (no fit) with the first; so a fold's two fits can run in two processes."""
    fitted = [(system,) for system in systems if system != "majority"] or [()]
    if "majority" in systems:
        fitted[0] += ("majority",)
    return fitted


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
    plan = CVPlan(corpus, config, tasks, folds, systems)
    bar = progress(len(plan.jobs)) if progress else None
    results = run_jobs(plan.jobs, n_jobs, bar)
    if bar is not None:
        bar.close()
    return plan.finish(results)


class CVPlan:
    """A cross-validation as jobs (``predict_systems`` arguments) and the scoring of their results,
    so a run can put the jobs of several stages in one pool (``cross_validate`` runs one plan)."""

    def __init__(self, corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS),
                 folds: list[list[str]] | None = None, systems: Sequence[str] = tuple(SYSTEMS)):
        self.config, self.tasks = config, tuple(tasks)
        self.systems = systems = tuple(s for s in SYSTEMS if s in systems)
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
        self.out, self.jobs, self.where = out, [], []
        for fold in folds:
            test = scored["doc_id"].isin(fold).to_numpy()
            train = pd.concat([evaluated[~evaluated["doc_id"].isin(fold)], extra], ignore_index=True)
            for part in job_systems(systems):
                self.jobs.append((config, self.tasks, train, scored.loc[test, "text"].tolist(), part,
                                  scored.loc[test, "doc_id"].tolist()))
                self.where.append(test)

    def calls(self) -> list[tuple]:
        """The jobs as ``(predict_systems, *arguments)`` (for ``pool.timed_call``)."""
        return [(predict_systems, *job) for job in self.jobs]

    def finish(self, results: list) -> tuple[dict, pd.DataFrame]:
        """(metrics, predictions) from ``predict_systems(*job)`` of every job, in job order."""
        out, tasks, systems = self.out, self.tasks, self.systems
        for test, result in zip(self.where, results, strict=True):
            for task, systems_of in result.items():
                for system, (labels, conf) in systems_of.items():
                    out.loc[test, f"{task}_{system}"] = labels
                    out.loc[test, f"{task}_{system}_conf"] = conf
        metrics = {task: {system: score(task, out[f"{task}_gold"], out[f"{task}_{system}"],
                                        out[f"{task}_{system}_conf"] if system != "majority" else None)
                          for system in systems} for task in tasks}
        docs = out["doc_id"].tolist()
        for task in tasks:
            for system in systems:
                metrics[task][system]["interval"] = macro_f1_interval(
                    task, out[f"{task}_gold"], out[f"{task}_{system}"], docs, seed=self.config.seed)
        return metrics, out


# --------------------------------------------------------------------------- held-out set

def evaluate_external(corpus: pd.DataFrame, eval_set: pd.DataFrame, config: TrainConfig,
                      model: KwctModel, tasks: Sequence[str] = tuple(TASKS),
                      model_predictions: dict | None = None, baseline: dict | None = None) -> dict:
    """Score the final ``model`` (trained on all project data) on an external labelled set.

    Baselines: the majority label of the training labels, and the word-unigram model trained on
    the same data. Only aggregate scores are returned: no sentence of the set is kept.
    ``model_predictions``: task -> (labels, scores) of ``model.predict`` on this set with its article
    groups, when already computed (the run's eval-set review predicts the same); ``baseline``: the
    word baseline's ``fit_pipelines`` on the training data, when already fitted.
    """
    evaluated, extra = split_corpus(corpus, config.include_authored)
    train = pd.concat([evaluated, extra], ignore_index=True)
    texts = eval_set["text"].astype(str).tolist()
    # sentences of one article share its context; a set without article ids is scored row by row
    groups = eval_set["doc_id"].tolist() if eval_set.attrs.get("articles_known", True) else None
    result: dict = {"n": len(eval_set), "n_docs": int(eval_set["doc_id"].nunique()), "tasks": {}}
    if baseline is None:
        baseline = fit_pipelines(build_word_baseline, config, train, tasks)
    for task in tasks:
        gold = eval_set[task].tolist()
        pred, conf = (model_predictions[task] if model_predictions is not None
                      else model.predict(task, texts, groups))
        base_pred, base_conf = _fit_predict(config, task, train, texts, build_word_baseline, fitted=baseline)
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

