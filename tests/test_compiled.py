"""The compiled scorer (issue 20): a model's arrays score as its pipelines do, without scikit-learn."""

from __future__ import annotations

import io

import numpy as np
import pytest

from kwct_ml.errors import ModelError
from kwct_ml.pipeline import scoring
from kwct_ml.pipeline.compiled import CompiledScorer, NotCompiled, compile_arrays

CONFIGS = {"default (cues, topic context, temperature)": {},
           "no cues, stance context, priors": dict(ngram_max=3, prior_smoothing=0.2, use_cues=False,
                                                   topic_context=0.0, stance_context=0.3,
                                                   stance_context_temperature=0.8)}


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair(request, fit_seed_model):
    """(KwctModel, its CompiledScorer read back from an .npz as saved, without pickles)."""
    model = fit_seed_model(**CONFIGS[request.param])
    buffer = io.BytesIO()
    np.savez(buffer, **compile_arrays(model))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        arrays = dict(saved)
    return model, CompiledScorer(arrays, model.context, model.temperature)


def _assert_same(expected: dict, got: dict) -> None:
    assert list(got) == list(expected)
    for task in expected:
        assert got[task][0] == expected[task][0]
        np.testing.assert_allclose(got[task][1], expected[task][1], rtol=0, atol=1e-9)


def test_predict_tasks_equals_the_model_on_real_text(pair, seed_articles, seed_labels):
    model, compiled = pair
    texts, groups = seed_articles  # the seed articles' sentences, a block of them repeated
    assert compiled.tasks == model.tasks and compiled.context == model.context
    assert compiled.temperature == model.temperature
    for task in model.tasks:
        assert compiled.classes(task) == model.classes(task)
    _assert_same(model.predict_tasks(texts, groups), compiled.predict_tasks(texts, groups))
    _assert_same(model.predict_tasks(texts), compiled.predict_tasks(texts))
    labelled = seed_labels.text.tolist()
    _assert_same(model.predict_tasks(labelled, None, ["stance"]),
                 compiled.predict_tasks(labelled, None, ["stance"]))
    for task in model.tasks:
        np.testing.assert_allclose(compiled.predict_proba(task, texts, groups),
                                   model.predict_proba(task, texts, groups), rtol=0, atol=1e-9)


def test_empty_repeated_and_unknown_tasks(pair, arabic_sentences):
    model, compiled = pair
    empty = compiled.predict_tasks([])
    assert list(empty) == ["topic", "stance"]
    assert all(labels == [] and len(scores) == 0 for labels, scores in empty.values())
    assert compiled.predict_proba("topic", []).shape == (0, len(model.classes("topic")))
    same = [arabic_sentences["condemnation"]] * 5 + [arabic_sentences["furniture"], ""]
    _assert_same(model.predict_tasks(same, [0] * 7), compiled.predict_tasks(same, [0] * 7))
    with pytest.raises(ValueError, match="unknown task"):
        compiled.predict_tasks(same, None, ["sentiment"])
    with pytest.raises(TypeError):
        compiled.predict_tasks(arabic_sentences["support"])
    with pytest.raises(ModelError, match="cannot explain"):
        compiled.explain("topic", same, 3)


def test_more_sentences_than_one_score_chunk(pair, seed_articles, monkeypatch):
    model, compiled = pair
    texts, _ = seed_articles
    many = [f"{text} {i}" for i in range(-(-(scoring.SCORE_CHUNK + 50) // len(texts))) for text in texts]
    assert len(set(many)) > scoring.SCORE_CHUNK
    groups = [i // 40 for i in range(len(many))]
    _assert_same(model.predict_tasks(many, groups), compiled.predict_tasks(many, groups))
    monkeypatch.setattr(scoring, "SCORE_CHUNK", 7)  # and in chunks of 7: the same scores
    _assert_same(model.predict_tasks(many[:60], groups[:60]), compiled.predict_tasks(many[:60], groups[:60]))


@pytest.mark.parametrize("config, why", [(dict(word_ngrams=True), "'word'"),
                                         (dict(classifier="logreg", calibration="none"), "sigmoid")])
def test_models_without_a_compiled_form_say_why(fit_seed_model, config, why):
    with pytest.raises(NotCompiled, match=why):
        compile_arrays(fit_seed_model(ngram_max=3, **config))
