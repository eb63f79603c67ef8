"""Learning curve: out-of-fold macro-F1 against the number of training articles, beside the majority."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from kwct_ml.config import TrainConfig
from kwct_ml.schema import TASKS
from kwct_ml.training.cv import article_ids, run_jobs
from kwct_ml.training.fit import split_corpus
from kwct_ml.training.metrics import score


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
    docs = article_ids(evaluated)
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
    for (task, combo, index), result in zip(rows, run_jobs(jobs, n_jobs, bar), strict=True):
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
