"""Stacked scoring (issue 20): both tasks in one pass give what each task's pipeline gives."""

from __future__ import annotations

import numpy as np
import pytest

from kwct_ml.pipeline.stacked import StackedScorer


@pytest.mark.parametrize("config", [dict(topic_context=0.5, topic_context_temperature=0.7),
                                    dict(ngram_max=3, prior_smoothing=0.2, use_cues=False)])
def test_predict_tasks_equals_each_pipeline_on_real_articles(fit_seed_model, seed_articles, config):
    model = fit_seed_model(**config)
    texts, groups = seed_articles
    scorer = StackedScorer.build(model.pipelines)
    assert scorer is not None and len(scorer.features) == 1  # one vectorisation for both tasks
    raw = scorer.predict_proba(texts)
    both = model.predict_tasks(texts, groups)
    for task in ("topic", "stance"):
        np.testing.assert_allclose(raw[task], model.pipelines[task].predict_proba(texts), rtol=0, atol=1e-9)
        labels, scores = model.predict(task, texts, groups)
        assert both[task][0] == labels
        np.testing.assert_allclose(both[task][1], scores, rtol=0, atol=1e-9)


def test_models_it_cannot_stack_fall_back_to_each_pipeline(fit_seed_model, seed_articles):
    model = fit_seed_model(ngram_max=3, classifier="logreg", calibration="none")
    texts, groups = seed_articles
    assert StackedScorer.build(model.pipelines) is None
    both = model.predict_tasks(texts[:20], groups[:20], ["stance"])
    assert list(both) == ["stance"]
    assert both["stance"][0] == model.predict("stance", texts[:20], groups[:20])[0]


def test_numpy_sigmoid_equals_scipy_expit():
    from scipy.special import expit

    from kwct_ml.pipeline.stacked import sigmoid

    x = np.concatenate([np.linspace(-800, 800, 4001), [0.0, -0.0, 1e-300, -1e-300, 36.7, -36.7, 710, -745]])
    np.testing.assert_allclose(sigmoid(x), expit(x), rtol=0, atol=1e-12)
    grid = x.reshape(-1, 1)[:4000].reshape(800, 5)  # 2-D, as the stacked scores are
    np.testing.assert_allclose(sigmoid(grid), expit(grid), rtol=0, atol=1e-12)
