"""Article-bootstrap intervals (training/bootstrap.py)."""

from __future__ import annotations

import numpy as np

from kwct_ml.training.bootstrap import article_draws, macro_f1_interval, paired_difference


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
    gold = ["condemnation", "solidarity", "support", "other"] * 3
    docs = [d for d in "abc" for _ in range(4)]
    pred = ["condemnation"] * 12
    diff = paired_difference("stance", gold, pred, pred, docs, draws=100)
    assert diff["difference"] == 0 and diff["ci"] == (0.0, 0.0) and not diff["excludes_zero"]


def test_paired_difference_sees_a_better_system_in_every_article():
    rng = np.random.default_rng(0)
    gold = list(rng.choice(["condemnation", "solidarity", "other"], 60))
    docs = [f"d{i // 6}" for i in range(60)]
    worse = ["condemnation"] * 60
    diff = paired_difference("stance", gold, worse, gold, docs, draws=300)
    assert diff["b"] == 1.0 and diff["difference"] > 0.5
    assert diff["ci"][0] > 0 and diff["excludes_zero"]
    swapped = paired_difference("stance", gold, gold, worse, docs, draws=300)
    assert swapped["ci"][1] < 0 and swapped["excludes_zero"]


def test_fast_macro_f1_equals_scikit_learn():
    from sklearn.metrics import f1_score

    from kwct_ml.training.bootstrap import _codes, _fast_macro

    rng = np.random.default_rng(3)
    labels = ["condemnation", "solidarity", "support", "other"]
    for _ in range(50):
        gold = rng.choice(labels, 15)
        pred = rng.choice(labels[:3] + ["neutral"], 15)  # "neutral" lies outside the scored labels
        expected = f1_score(gold, pred, labels=labels, average="macro", zero_division=0)
        assert abs(_fast_macro(_codes(gold, labels), _codes(pred, labels), len(labels)) - expected) < 1e-12
