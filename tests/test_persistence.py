"""Model folders: atomic save, latest symlink, checksum refusal, version warning, round trip."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from kwct_ml.config import TrainConfig
from kwct_ml.errors import ModelError
from kwct_ml.model import KwctModel, build_pipeline
from kwct_ml.persistence import ModelVersionWarning, load_model, save_model
from kwct_ml.segment import segment


@pytest.fixture(scope="module")
def texts(repo_dir) -> list[str]:
    return [s.text for p in sorted((repo_dir / "data" / "raw").glob("*.txt"))
            for s in segment(p.read_text(encoding="utf-8"))]


@pytest.fixture(scope="module")
def model(texts) -> KwctModel:
    train = texts[:30]
    return KwctModel({
        "topic": build_pipeline(TrainConfig(), "topic").fit(train, ["other", "ct_cooperation", "extremism"]
                                                            * 10),
        "stance": build_pipeline(TrainConfig(), "stance").fit(train, ["neutral", "support"] * 15)})


def test_round_trip_equal_predictions_and_scores(tmp_path, model, texts):
    folder = save_model(model, "run1", tmp_path, manifest={"config": {"C": 1.0}})
    loaded, manifest = load_model(folder)
    for task in ("topic", "stance"):
        assert loaded.classes(task) == model.classes(task)
        np.testing.assert_array_equal(loaded.predict_proba(task, texts[30:60]),
                                      model.predict_proba(task, texts[30:60]))
        assert loaded.predict(task, texts[30:60])[0] == model.predict(task, texts[30:60])[0]
        assert loaded.explain(task, texts[30:32], 3) == model.explain(task, texts[30:32], 3)
    assert manifest["config"] == {"C": 1.0}
    assert manifest["labels"]["stance"] == ["support", "neutral"]
    assert set(manifest["versions"]) >= {"python", "scikit-learn", "numpy", "kwct_ml"}
    assert (folder / "README.md").read_text(encoding="utf-8").startswith("# kwct_ml model")


def test_latest_symlink_moves_to_the_newest_complete_folder(tmp_path, model):
    save_model(model, "a", tmp_path)
    assert os.readlink(tmp_path / "latest") == "a"
    save_model(model, "b", tmp_path)
    assert os.readlink(tmp_path / "latest") == "b"
    assert load_model(tmp_path / "latest")[1]["run"] == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "latest"]  # no temp leftovers


def test_failed_save_leaves_nothing(tmp_path, model, monkeypatch):
    save_model(model, "good", tmp_path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("kwct_ml.persistence.atomic_write_text", boom)
    with pytest.raises(OSError):
        save_model(model, "bad", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good", "latest"]
    assert os.readlink(tmp_path / "latest") == "good"


def test_existing_run_name_refused(tmp_path, model):
    save_model(model, "same", tmp_path)
    with pytest.raises(ModelError, match="already exists"):
        save_model(model, "same", tmp_path)


def test_tampered_model_refused(tmp_path, model):
    folder = save_model(model, "run", tmp_path)
    with open(folder / "model.joblib", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="sha256 does not match") as info:
        load_model(folder)
    assert "\n" not in str(info.value) and "retrain" in str(info.value)


def test_missing_model_and_manifest(tmp_path, model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"no model at models/latest.*kwct_ml\.train"):
        load_model()
    folder = save_model(model, "run", tmp_path / "models")
    assert load_model()[1]["run"] == "run"  # default path: models/latest
    (folder / "manifest.json").unlink()
    with pytest.raises(ModelError, match="manifest.json is missing"):
        load_model(folder)


def test_sklearn_version_mismatch_warns(tmp_path, model):
    folder = save_model(model, "run", tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["versions"]["scikit-learn"] = "0.0.1"
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.warns(ModelVersionWarning, match="scikit-learn 0.0.1"):
        loaded, _ = load_model(folder)
    assert loaded.classes("topic")


def test_model_file_path_accepted(tmp_path, model):
    folder = save_model(model, "run", tmp_path)
    assert load_model(folder / "model.joblib")[1]["run"] == "run"
