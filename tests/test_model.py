"""Pipelines and KwctModel: contract of DEVELOPERS.md, tiny classes, explain, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from kwct_ml.config import TrainConfig
from kwct_ml.pipeline.model import KwctModel, build_pipeline, build_word_baseline
from kwct_ml.text import normalize
from kwct_ml.text.segment import segment


@pytest.fixture(scope="module")
def sentences(repo_dir) -> list[str]:
    return [s.text for p in sorted((repo_dir / "data" / "raw").glob("*.txt"))
            for s in segment(p.read_text(encoding="utf-8"))]


def _labels(n: int) -> list[str]:
    """Synthetic topic labels with a big, a middle and a tiny (2 examples) class."""
    return ["ct_cooperation" if i % 3 else "other" for i in range(n - 2)] + ["humanitarian"] * 2


@pytest.fixture(scope="module")
def model(sentences) -> KwctModel:
    texts = sentences[:40]
    pipes = {"topic": build_pipeline(TrainConfig(), "topic").fit(texts, _labels(40)),
             "stance": build_pipeline(TrainConfig(), "stance").fit(texts, ["neutral", "support"] * 20)}
    return KwctModel(pipes)


def test_pipeline_shape_and_named_preprocessor():
    pipe = build_pipeline(TrainConfig(), "topic")
    assert isinstance(pipe, Pipeline)
    assert [name for name, _ in pipe.steps] == ["features", "clf"]
    char = dict(pipe.named_steps["features"].transformer_list)["char"]
    assert char.preprocessor is normalize.normalize
    keep = build_pipeline(TrainConfig(normalizer="normalize_keep_teh_marbuta"), "topic")
    keep_char = dict(keep["features"].transformer_list)["char"]
    assert keep_char.preprocessor is normalize.normalize_keep_teh_marbuta


def test_word_ngrams_adds_a_block():
    blocks = dict(build_pipeline(TrainConfig(word_ngrams=True, use_cues=False), "stance")["features"]
                  .transformer_list)
    assert set(blocks) == {"char", "word"}
    assert blocks["word"].ngram_range == (1, 2)
    baseline = dict(build_word_baseline(TrainConfig(), "topic")["features"].transformer_list)
    assert baseline["word"].ngram_range == (1, 1)


def test_unknown_task_rejected():
    with pytest.raises(ValueError, match="unknown task"):
        build_pipeline(TrainConfig(), "mood")


def test_contract(model, sentences):
    texts = sentences[50:55]
    assert model.classes("topic") == ["ct_cooperation", "humanitarian", "other"]  # schema order
    proba = model.predict_proba("topic", texts)
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    labels, scores = model.predict("topic", texts)
    assert labels == [model.classes("topic")[i] for i in proba.argmax(axis=1)]
    np.testing.assert_allclose(scores, proba.max(axis=1))
    assert model.predict_proba("stance", []).shape == (0, 2)
    with pytest.raises(TypeError):
        model.predict("topic", "a single string")


def test_explain_returns_features_of_the_text(model, sentences):
    texts = sentences[51:54]
    assert model.explain("topic", texts, 4) == model.explain("topic", texts, 4)
    explained = model.explain("topic", texts, 4)
    assert len(explained) == 3
    for text, items in zip(texts, explained, strict=True):
        assert 1 <= len(items) <= 4
        contributions = [c for _, c in items]
        assert contributions == sorted(contributions, reverse=True)
        padded = f" {normalize.normalize(text)} "
        for name, _ in items:
            assert name in padded or name.startswith("cue:")  # char_wb n-grams of this very sentence
    assert model.explain("topic", texts, 0) == [[], [], []]
    assert model.explain("topic", ["zzzz"], 3) == [[]]  # no known feature: nothing to show


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", "temperature"])
@pytest.mark.parametrize("labels", [
    ["other", "ct_cooperation", "humanitarian", "humanitarian", "other", "other"],  # singleton class
    ["other", "ct_cooperation", "humanitarian"],  # every class seen once
    ["other"] * 4,  # one class
])
def test_tiny_classes_fit_without_warnings(sentences, calibration, labels):
    pipe = build_pipeline(TrainConfig(calibration=calibration), "topic").fit(sentences[:len(labels)], labels)
    model = KwctModel({"topic": pipe})
    proba = model.predict_proba("topic", sentences[60:62])
    assert proba.shape == (2, len(set(labels)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    model.explain("topic", sentences[60:62], 3)


@pytest.mark.parametrize(("classifier", "calibration"), [
    ("logreg", "none"), ("sgd", "none"), ("complement_nb", "sigmoid"), ("logreg", "sigmoid")])
def test_other_classifiers(sentences, classifier, calibration):
    config = TrainConfig(classifier=classifier, calibration=calibration)
    model = KwctModel({"topic": build_pipeline(config, "topic").fit(sentences[:30], _labels(30))})
    assert model.predict_proba("topic", sentences[40:42]).shape == (2, 3)
    assert model.explain("topic", sentences[40:42], 2)[0]


def test_model_pickles_and_predicts_the_same(model, sentences):
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba("topic", sentences[:8]),
                                  model.predict_proba("topic", sentences[:8]))


def test_prior_smoothing_mixes_in_the_training_prior(sentences):
    texts, labels = sentences[:40], _labels(40)
    plain = build_pipeline(TrainConfig(), "topic").fit(texts, labels)
    smooth = build_pipeline(TrainConfig(prior_smoothing=0.5), "topic").fit(texts, labels)
    classes = list(smooth[-1].classes_)
    prior = np.array([labels.count(c) / len(labels) for c in classes])
    p, q = plain.predict_proba(sentences[50:55]), smooth.predict_proba(sentences[50:55])
    np.testing.assert_allclose(q, 0.5 * p + 0.5 * prior)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    assert pickle.loads(pickle.dumps(smooth)).predict_proba(sentences[50:52]).tolist() == q[:2].tolist()
