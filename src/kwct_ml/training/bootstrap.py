"""Article-bootstrap intervals: resample whole articles (their sentences stay together) with replacement.

Sentences of one article are not independent, so a sentence bootstrap would give too narrow an
interval. Every draw scores over the labels of the whole set (``present_labels``): a draw that
misses the one article where a label occurs must not average over fewer labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score

from kwct_ml.training.metrics import present_labels

DRAWS = 2000
SEED = 13


def article_draws(docs: Sequence, draws: int = DRAWS, seed: int = SEED) -> list[np.ndarray]:
    """Row indices of ``draws`` article-bootstrap samples of the rows grouped by ``docs``."""
    docs = np.asarray(docs, dtype=object)
    articles = list(dict.fromkeys(docs.tolist()))
    rows = [np.flatnonzero(docs == a) for a in articles]
    rng = np.random.default_rng(seed)
    return [np.concatenate([rows[i] for i in rng.integers(0, len(articles), len(articles))])
            for _ in range(draws)]


def _macro(gold: np.ndarray, pred: np.ndarray, labels: list[str]) -> float:
    return float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0))


def _codes(values: np.ndarray, labels: list[str]) -> np.ndarray:
    """Integer codes of ``values`` in ``labels`` (len(labels) for a label outside them)."""
    index = {label: i for i, label in enumerate(labels)}
    return np.array([index.get(v, len(labels)) for v in values], dtype=int)


def _fast_macro(gold: np.ndarray, pred: np.ndarray, n: int) -> float:
    """Macro-F1 over the first ``n`` codes, 2tp / (2tp + fp + fn) with 0/0 = 0 (as scikit-learn's
    ``zero_division=0``); thousands of draws need it faster than ``f1_score``."""
    tp = np.bincount(gold[gold == pred], minlength=n + 1)[:n]
    gold_n = np.bincount(gold, minlength=n + 1)[:n]
    pred_n = np.bincount(pred, minlength=n + 1)[:n]
    denominator = gold_n + pred_n
    f1 = np.divide(2 * tp, denominator, out=np.zeros(n), where=denominator > 0)
    return float(f1.mean()) if n else 0.0


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def macro_f1_interval(task: str, gold: Sequence[str], pred: Sequence[str], docs: Sequence,
                      draws: int = DRAWS, seed: int = SEED) -> dict:
    """Macro-F1 and accuracy with their article-bootstrap 95% percentile intervals."""
    gold, pred = np.asarray(gold, dtype=object), np.asarray(pred, dtype=object)
    labels = present_labels(task, gold, pred)
    samples = article_draws(docs, draws, seed)
    g, p = _codes(gold, labels), _codes(pred, labels)
    f1 = np.array([_fast_macro(g[i], p[i], len(labels)) for i in samples])
    acc = np.array([float(np.mean(gold[i] == pred[i])) for i in samples])
    return {"macro_f1": _macro(gold, pred, labels), "macro_f1_ci": _interval(f1),
            "accuracy": float(np.mean(gold == pred)), "accuracy_ci": _interval(acc),
            "draws": draws, "seed": seed, "n_articles": len(set(np.asarray(docs, dtype=object).tolist()))}


def paired_difference(task: str, gold: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str],
                      docs: Sequence, draws: int = DRAWS, seed: int = SEED) -> dict:
    """Macro-F1 of B minus A with the paired article-bootstrap 95% interval (same draws for both).

    ``excludes_zero`` says whether the interval lies entirely on one side of 0.
    """
    gold = np.asarray(gold, dtype=object)
    pred_a, pred_b = np.asarray(pred_a, dtype=object), np.asarray(pred_b, dtype=object)
    labels = present_labels(task, gold, pred_a, pred_b)
    g, a, b = (_codes(x, labels) for x in (gold, pred_a, pred_b))
    n = len(labels)
    diffs = np.array([_fast_macro(g[i], b[i], n) - _fast_macro(g[i], a[i], n)
                      for i in article_draws(docs, draws, seed)])
    low, high = _interval(diffs)
    a, b = _macro(gold, pred_a, labels), _macro(gold, pred_b, labels)
    return {"a": a, "b": b, "difference": b - a, "ci": (low, high),
            "excludes_zero": bool(low > 0 or high < 0), "draws": draws, "seed": seed}
