"""Learning curve: out-of-fold macro-F1 against the number of training articles, beside the majority."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from kwct_ml.config import TrainConfig
from kwct_ml.schema import TASKS
from kwct_ml.training.cv import article_ids, main_folds, run_jobs
from kwct_ml.training.fit import split_corpus
from kwct_ml.training.metrics import score

#: Training-set sizes (articles) of the curve when folds have many training articles.
GRID = (5, 10, 25, 50, 100, 200, 400, 800, 1600)


def curve_sizes(n_train: int) -> list[int]:
    """Sizes k of the curve: every k up to 12 training articles, then ``GRID`` and the full size."""
    if n_train <= 12:
        return list(range(1, n_train + 1))
    return [k for k in GRID if k < n_train] + [n_train]


def learning_curve(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS),
                   progress: Callable | None = None, n_jobs: int = 1) -> dict:
    """Out-of-fold macro-F1 against the number k of real training articles, in the main CV's folds.

    For every held-out fold (``cv.main_folds``: article-grouped K-fold, or one article per fold), up
    to ``learning_curve_repeats`` random sets of k of its training articles (seeded; every set when
    fewer exist) are used for training, plus the authored sentences; run r pools the r-th set of
    every fold into one out-of-fold prediction, scored like the main CV (so the largest k, every
    training article, reproduces the CV score). Reported: mean and sd over runs, with the majority.
    """
    evaluated, extra = split_corpus(corpus, config.include_authored)
    docs = article_ids(evaluated)
    folds = main_folds(evaluated, config)
    rng = np.random.default_rng(config.seed)
    others_of = [[d for d in docs if d not in set(fold)] for fold in folds]
    ks = curve_sizes(min(len(o) for o in others_of))
    n_runs = {}
    plan = []  # (fold index, k, r, combo): the r-th training set of k articles for that fold
    for f, others in enumerate(others_of):
        for k in ks:
            if math.comb(len(others), k) <= config.learning_curve_repeats:
                combos = list(itertools.combinations(others, k))
            else:
                combos = [tuple(sorted(rng.choice(others, size=k, replace=False)))
                          for _ in range(config.learning_curve_repeats)]
            n_runs[k] = min(n_runs.get(k, len(combos)), len(combos))
            plan += [(f, k, r, combo) for r, combo in enumerate(combos)]
    plan = [(folds[f], k, r, combo) for f, k, r, combo in plan if r < n_runs[k]]
    # One fit per distinct training set, predicting every held-out article that uses it: the same
    # predictions as one fit per (held-out article, set), with fewer fits.
    served: dict[tuple, list[str]] = {}
    for held, _, _, combo in plan:
        served.setdefault(combo, []).extend(held)
    jobs, rows = [], []
    for combo, helds in served.items():
        test = evaluated["doc_id"].isin(helds).to_numpy()
        train = pd.concat([evaluated[evaluated["doc_id"].isin(combo)], extra], ignore_index=True)
        jobs.append((config, tuple(tasks), train, evaluated.loc[test, "text"].tolist(), ("model", "majority"),
                     evaluated.loc[test, "doc_id"].tolist()))
        rows.append((combo, np.flatnonzero(test)))
    bar = progress(len(jobs)) if progress else None
    fitted = {}
    for (combo, index), result in zip(rows, run_jobs(jobs, n_jobs, bar), strict=True):
        for task, systems in result.items():
            for system, (labels, _) in systems.items():
                fitted[task, combo, system] = pd.Series(labels, index=index, dtype=object)
    preds = {(task, k, r, system): np.empty(len(evaluated), dtype=object)
             for task in tasks for k in ks for r in range(n_runs[k]) for system in ("model", "majority")}
    for held, k, r, combo in plan:
        test = np.flatnonzero(evaluated["doc_id"].isin(held).to_numpy())
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
