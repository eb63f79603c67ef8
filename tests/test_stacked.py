"""Stacked scoring (issue 20): both tasks in one pass give what each task's pipeline gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kwct_ml.config import TrainConfig
from kwct_ml.pipeline.model import KwctModel, build_pipeline
from kwct_ml.pipeline.stacked import StackedScorer
from kwct_ml.text.segment import segment


@pytest.fixture(scope="module")
def labelled(repo_dir) -> pd.DataFrame:
    return pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def seed_articles(repo_dir) -> tuple[list[str], list[int]]:
    """Every sentence of the seed articles in data/raw, with its article (repeats included)."""
    texts, groups = [], []
    for k, path in enumerate(sorted((repo_dir / "data" / "raw").glob("*.txt"))):
        sentences = [s.text for s in segment(path.read_text(encoding="utf-8"))]
        texts += sentences
        groups += [k] * len(sentences)
    return texts + texts[:7], groups + [99] * 7  # a repeated block: scored once, placed twice


def _model(labelled, **config) -> KwctModel:
    cfg = TrainConfig(**config)
    pipes = {t: build_pipeline(cfg, t).fit(labelled.text.tolist(), labelled[t].tolist())
             for t in ("topic", "stance")}
    return KwctModel(pipes, cfg.context(), cfg.context_temperature())


@pytest.mark.parametrize("config", [dict(topic_context=0.5, topic_context_temperature=0.7),
                                    dict(ngram_max=3, prior_smoothing=0.2, use_cues=False)])
def test_predict_tasks_equals_each_pipeline_on_real_articles(labelled, seed_articles, config):
    model = _model(labelled, **config)
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


def test_models_it_cannot_stack_fall_back_to_each_pipeline(labelled, seed_articles):
    model = _model(labelled, ngram_max=3, classifier="logreg", calibration="none")
    texts, groups = seed_articles
    assert StackedScorer.build(model.pipelines) is None
    both = model.predict_tasks(texts[:20], groups[:20], ["stance"])
    assert list(both) == ["stance"]
    assert both["stance"][0] == model.predict("stance", texts[:20], groups[:20])[0]
