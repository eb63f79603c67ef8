"""Article-bootstrap intervals: the fast macro-F1 equals scikit-learn's, intervals hold the point."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from kwct_ml.training.bootstrap import _macro_f1, article_draws, macro_f1_interval
from kwct_ml.training.metrics import present_labels


def test_fast_macro_f1_equals_sklearn_over_the_set_labels():
    rng = np.random.default_rng(0)
    labels = ["terror_attack", "ct_cooperation", "extremism", "other"]
    gold = rng.choice(labels, 300)
    pred = np.where(rng.random(300) < 0.7, gold, rng.choice(labels, 300))
    present = present_labels("topic", gold, pred)
    code = {label: i for i, label in enumerate(present)}
    for index in article_draws(np.arange(300) // 10, draws=20):
        expected = f1_score(gold[index], pred[index], labels=present, average="macro", zero_division=0)
        got = _macro_f1(np.array([code[x] for x in gold[index]]), np.array([code[x] for x in pred[index]]),
                        len(present))
        assert got == expected or abs(got - expected) < 1e-12


def test_interval_contains_the_point_and_resamples_whole_articles():
    gold = ["neutral"] * 6 + ["condemnation"] * 6
    pred = ["neutral"] * 6 + ["condemnation"] * 3 + ["neutral"] * 3
    docs = ["a"] * 6 + ["b"] * 3 + ["c"] * 3
    result = macro_f1_interval("stance", gold, pred, docs, draws=200)
    assert result["low"] <= result["macro_f1"] <= result["high"] and result["n_articles"] == 3
    assert result["low"] < result["high"]  # articles differ, so the draws differ
    for index in article_draws(docs, draws=50):
        chosen = [docs[i] for i in index]
        for doc in set(chosen):  # an article is drawn whole or not at all (possibly several times)
            assert chosen.count(doc) % docs.count(doc) == 0
