"""Article-bootstrap intervals: how precise a macro-F1 is when sentences of an article move together.

Resampling sentences would treat the sentences of one article as independent, which they are not
(one article sets the topic of most of its sentences); resampling articles keeps them together.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kwct_ml.training.metrics import present_labels

DRAWS = 1000
LEVEL = 0.95


def article_draws(docs: Sequence, draws: int = DRAWS, seed: int = 13) -> list[np.ndarray]:
    """Row indices of ``draws`` resamples of the articles in ``docs`` (with replacement)."""
    docs = np.asarray(docs, dtype=object)
    articles = np.unique(docs)
    rows = {a: np.flatnonzero(docs == a) for a in articles}
    rng = np.random.default_rng(seed)
    return [np.concatenate([rows[a] for a in rng.choice(articles, len(articles))]) for _ in range(draws)]


def _macro_f1(gold: np.ndarray, pred: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over all ``n_labels`` label codes (as sklearn's with ``labels=``, zero_division=0)."""
    confusion = np.bincount(gold * n_labels + pred, minlength=n_labels * n_labels).reshape(n_labels, n_labels)
    tp = np.diag(confusion).astype(float)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(n_labels), where=denominator > 0)
    return float(f1.mean())


def macro_f1_interval(task: str, gold: Sequence[str], pred: Sequence[str], docs: Sequence,
                      draws: int = DRAWS, seed: int = 13) -> dict:
    """Point macro-F1 and its article-bootstrap percentile interval.

    Every draw is scored over the labels of the whole set: a draw that misses the one article where a
    label occurs must not average over fewer labels (that would inflate the interval).
    """
    labels = present_labels(task, gold, pred)
    code = {label: i for i, label in enumerate(labels)}
    g = np.array([code[x] for x in gold], dtype=np.int64)
    p = np.array([code[x] for x in pred], dtype=np.int64)
    values = np.array([_macro_f1(g[i], p[i], len(labels)) for i in article_draws(docs, draws, seed)])
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return {"macro_f1": _macro_f1(g, p, len(labels)), "low": float(low), "high": float(high),
            "level": LEVEL, "draws": draws, "n_articles": int(len(np.unique(np.asarray(docs, dtype=object))))}
