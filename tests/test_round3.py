"""Round 3's article-context mixings (experiments/tuneset/round3.py): the table's numbers rest on them."""

from __future__ import annotations

import numpy as np
import pytest

from kwct_ml.pipeline.context import article_context

CLASSES = ["terror_attack", "regional_politics", "other"]


@pytest.fixture(scope="module")
def round3(load_script):
    return load_script("experiments/tuneset/round3.py")


@pytest.fixture
def proba():
    rng = np.random.default_rng(0)
    p = rng.random((7, 3)) + 0.05
    return p / p.sum(axis=1, keepdims=True)


GROUPS = ["a", "a", "a", "b", "b", "b", "b"]


def test_mean_is_the_package_article_context_and_weight_zero_is_identity(round3, proba):
    assert np.allclose(round3.mix(proba, GROUPS, CLASSES, "mean", 0.5), article_context(proba, GROUPS, 0.5))
    for kind in ("mean", "keep_other", "weighted", "log", "window"):
        assert round3.mix(proba, GROUPS, CLASSES, kind, 0.0) is proba


@pytest.mark.parametrize("kind", ["mean", "keep_other", "weighted", "log", "window"])
def test_every_mixing_gives_distributions_that_move_towards_the_article(round3, proba, kind):
    mixed = round3.mix(proba, GROUPS, CLASSES, kind, 0.5)
    assert mixed.shape == proba.shape and np.allclose(mixed.sum(axis=1), 1) and (mixed >= 0).all()
    assert not np.allclose(mixed, proba)


def test_keep_other_keeps_the_sentence_own_other_probability(round3, proba):
    mixed = round3.mix(proba, GROUPS, CLASSES, "keep_other", 0.7)
    assert np.allclose(mixed[:, 2], proba[:, 2])
    content = article_context(proba, GROUPS, 0.7)[:, :2]
    assert np.allclose(mixed[:, 0] / mixed[:, 1], content[:, 0] / content[:, 1])


def test_window_covering_the_whole_article_equals_the_article_mean(round3, proba):
    short = ["a", "a", "a", "b", "b", "c", "c"]  # at most 3 sentences: a +-2 window covers each article
    assert np.allclose(round3.mix(proba, short, CLASSES, "window", 0.5), article_context(proba, short, 0.5))
    long = ["a"] * 7  # the first and last sentences are 6 apart: their windows differ
    assert not np.allclose(round3.mix(proba, long, CLASSES, "window", 0.5), article_context(proba, long, 0.5))


def test_weighted_mean_equals_the_plain_mean_when_confidences_are_equal(round3):
    p = np.array([[0.6, 0.3, 0.1], [0.1, 0.6, 0.3], [0.3, 0.1, 0.6]])
    one = ["a"] * 3
    assert np.allclose(round3.mix(p, one, CLASSES, "weighted", 0.5), article_context(p, one, 0.5))
    q = np.array([[0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.3, 0.1, 0.6]])
    assert not np.allclose(round3.mix(q, one, CLASSES, "weighted", 0.5), article_context(q, one, 0.5))


def test_the_default_candidate_is_the_shipped_config(round3):
    from kwct_ml.config import TrainConfig

    pipeline, topic, stance = round3.DEFAULT
    config = TrainConfig()
    assert round3.PIPELINES[pipeline][1] == {}
    assert round3.MIXINGS[topic][1:] == ("mean", config.topic_context)
    assert round3.MIXINGS[stance][1:] == ("mean", config.stance_context)
