"""Issue 19: loading ``models/latest`` while another process (train) moves it never refuses a valid model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kwct_ml.bundle import store
from kwct_ml.bundle.store import load_model, point_latest, save_model
from kwct_ml.config import TrainConfig
from kwct_ml.errors import ModelError
from kwct_ml.pipeline.model import KwctModel, build_pipeline

from .test_persistence import model as _model_fixture
from .test_persistence import texts as _texts_fixture

model = _model_fixture
texts = _texts_fixture

SRC = Path(__file__).resolve().parents[1] / "src"
FLIPPER = """
import sys
from kwct_ml.bundle.store import point_latest
print("FLIPPING", flush=True)
while True:
    point_latest(sys.argv[1], "a")
    point_latest(sys.argv[1], "b")
"""
LOADS = 30


def test_loads_while_another_process_flips_latest_are_never_refused(tmp_path, model, texts, monkeypatch):
    read_manifest = store._read_manifest

    def slow_read_manifest(folder):  # widens the race window between the manifest and the model file
        found = read_manifest(folder)
        time.sleep(0.005)
        return found

    monkeypatch.setattr(store, "_read_manifest", slow_read_manifest)
    other = KwctModel({  # another valid model: other bytes, so a mixed read would fail its sha256
        "topic": model.pipelines["topic"],
        "stance": build_pipeline(TrainConfig(), "stance").fit(texts[:30], ["support", "neutral"] * 15)})
    save_model(model, "a", tmp_path)
    save_model(other, "b", tmp_path)
    flipper = subprocess.Popen([sys.executable, "-c", FLIPPER, str(tmp_path)], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    refused, runs = [], []
    try:
        assert flipper.stdout.readline().strip() == "FLIPPING"
        end = time.monotonic() + 60
        while len(runs) + len(refused) < LOADS and time.monotonic() < end:
            try:
                runs.append(load_model(tmp_path / "latest")[1]["run"])
            except ModelError as exc:
                refused.append(str(exc))
    finally:
        flipper.kill()
        flipper.wait()
    assert refused == []
    assert len(runs) == LOADS and set(runs) == {"a", "b"}  # the link did move under the loads


def test_a_latest_that_moves_to_a_broken_run_is_still_refused(tmp_path, model):
    save_model(model, "a", tmp_path)
    (tmp_path / "a" / "model.joblib").write_bytes(b"tampered")
    point_latest(tmp_path, "a")
    with pytest.raises(ModelError, match="sha256 does not match"):
        load_model(tmp_path / "latest")
