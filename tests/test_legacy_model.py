"""A model folder saved by kwct_ml before the re-layout (no format_version) still loads and predicts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kwct_ml.bundle.store import load_model

from .conftest import REPO

LEGACY = REPO / "tests" / "fixtures" / "legacy-v0"


def test_legacy_model_loads_with_the_same_predictions():
    model, manifest = load_model(LEGACY)
    assert "format_version" not in manifest
    expected = pd.read_csv(LEGACY / "expected.csv", dtype=str, keep_default_na=False)
    docs = pd.read_csv(REPO / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    groups = dict(zip(docs["text"], docs["doc_id"], strict=False))
    for task, rows in expected.groupby("task", sort=False):
        texts = list(rows["text"])
        labels, scores = model.predict(task, texts, groups=[groups[t] for t in texts])
        assert labels == list(rows["label"])
        np.testing.assert_allclose(scores, rows["score"].astype(float), rtol=0, atol=1e-12)


def test_format_1_estimators_from_before_the_options_get_them_on_load(tmp_path):
    """Prior smoothing and the cue pre-filter came later: their absence is filled in by the format-1
    loader (bundle/formats.py), not by getattr shims inside the estimators."""
    import json

    from kwct_ml.bundle.store import save_model
    from kwct_ml.config import TrainConfig
    from kwct_ml.pipeline.model import KwctModel, build_pipeline

    docs = pd.read_csv(REPO / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    texts = docs["text"].tolist()
    model = KwctModel({"topic": build_pipeline(TrainConfig(), "topic").fit(texts, docs["topic"].tolist())})
    expected = model.predict_proba("topic", texts)
    pipe = model.pipelines["topic"]
    del pipe[-1].prior_smoothing
    del dict(pipe[0].transformer_list)["cues"].starts_
    folder = save_model(model, "old", tmp_path)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["format_version"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    loaded, _ = load_model(folder)
    np.testing.assert_allclose(loaded.predict_proba("topic", texts), expected, rtol=0, atol=1e-12)
    cues = dict(loaded.pipelines["topic"][0].transformer_list)["cues"]
    assert loaded.pipelines["topic"][-1].prior_smoothing == 0.0
    assert cues.starts_ == [None] * len(cues.patterns_)
