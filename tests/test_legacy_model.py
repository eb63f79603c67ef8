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
