"""Article-bootstrap intervals: the fast macro-F1 equals scikit-learn's, intervals hold the point."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from kwct_ml.training.bootstrap import _macro_f1, article_draws, macro_f1_interval, paired_difference
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


def test_draws_keep_the_sentences_of_an_article_together():
    docs = ["a", "a", "a", "b"]
    for rows in article_draws(docs, draws=200, seed=1):
        picked = [docs[i] for i in rows]
        assert picked.count("a") % 3 == 0  # never a part of article a
        assert len(rows) in (2, 4, 6)


def test_interval_is_over_articles_not_sentences():
    gold = ["condemnation"] * 4
    pred = ["condemnation"] * 3 + ["solidarity"]  # article a right (3 sentences), b wrong (1)
    result = macro_f1_interval("stance", gold, pred, ["a", "a", "a", "b"], draws=300, seed=2)
    assert result["accuracy"] == 0.75
    # article draws can only give aa (1.0), ab (0.75) or bb (0.0); a sentence bootstrap would give 0.5 too
    assert result["accuracy_ci"][0] == 0.0 and result["accuracy_ci"][1] == 1.0
    assert result["n_articles"] == 2


def test_paired_difference_of_equal_predictions_is_zero():
    gold = ["condemnation", "solidarity", "support", "neutral"] * 3
    docs = [d for d in "abc" for _ in range(4)]
    pred = ["condemnation"] * 12
    diff = paired_difference("stance", gold, pred, pred, docs, draws=100)
    assert diff["difference"] == 0 and diff["ci"] == (0.0, 0.0) and not diff["excludes_zero"]


def test_paired_difference_sees_a_better_system_in_every_article():
    rng = np.random.default_rng(0)
    gold = list(rng.choice(["condemnation", "solidarity", "neutral"], 60))
    docs = [f"d{i // 6}" for i in range(60)]
    worse = ["condemnation"] * 60
    diff = paired_difference("stance", gold, worse, gold, docs, draws=300)
    assert diff["b"] == 1.0 and diff["difference"] > 0.5
    assert diff["ci"][0] > 0 and diff["excludes_zero"]
    swapped = paired_difference("stance", gold, gold, worse, docs, draws=300)
    assert swapped["ci"][1] < 0 and swapped["excludes_zero"]
