"""Model folders: atomic save, latest symlink, checksum refusal, version warning, round trip."""

from __future__ import annotations

import hashlib
import json
import os

import joblib
import numpy as np
import pytest

from kwct_ml.bundle.manifest import eval_set_entry
from kwct_ml.bundle.store import ModelVersionWarning, load_model, save_model, sha256_file
from kwct_ml.config import TrainConfig
from kwct_ml.errors import ModelError
from kwct_ml.pipeline.model import KwctModel, build_pipeline
from kwct_ml.text.segment import segment


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

    monkeypatch.setattr("kwct_ml.bundle.store.atomic_write_text", boom)
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
    assert "\n" not in str(info.value) and "re-train" in str(info.value)


def test_missing_model_and_manifest(tmp_path, model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KWCT_HOME", raising=False)
    (tmp_path / "data").mkdir()  # a project: its models/latest is the default
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
    with pytest.warns(ModelVersionWarning, match=r"scikit-learn 0\.0\.1.*re-train") as record:
        loaded, _ = load_model(folder)
    assert loaded.classes("topic")
    assert len(record) == 1 and "\n" not in str(record[0].message)


def test_model_file_path_accepted(tmp_path, model):
    folder = save_model(model, "run", tmp_path)
    assert load_model(folder / "model.joblib")[1]["run"] == "run"


# --- tampering (issue 8) -------------------------------------------------------------------------

@pytest.fixture
def never_unpickle(monkeypatch):
    """Fail the test if joblib.load runs: a refused model must never be unpickled."""

    def load(*args, **kwargs):
        raise AssertionError("joblib.load was called on a refused model")

    monkeypatch.setattr(joblib, "load", load)


def _edit_manifest(folder, **changes):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _refused(folder, match: str) -> str:
    with pytest.raises(ModelError, match=match) as info:
        load_model(folder)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_one_changed_byte_is_refused_before_unpickling(tmp_path, model, never_unpickle, where):
    folder = save_model(model, "run", tmp_path)
    data = bytearray((folder / "model.joblib").read_bytes())
    i = int(where * len(data)) if isinstance(where, float) else where
    data[i] ^= 0x01
    (folder / "model.joblib").write_bytes(bytes(data))
    message = _refused(folder, "sha256 does not match")
    assert "re-train" in message and "trusted source" in message


@pytest.mark.parametrize("named", ["other.joblib", "../x.joblib", "/tmp/x.joblib", "sub/model.joblib"])
def test_manifest_naming_another_file_is_refused(tmp_path, model, never_unpickle, named):
    folder = save_model(model, "run", tmp_path)
    # the other file holds a valid model whose checksum matches: only the name gives it away
    target = folder / named if not named.startswith("/") else tmp_path / "abs.joblib"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((folder / "model.joblib").read_bytes())
    _edit_manifest(folder, model_file=str(target) if named.startswith("/") else named)
    assert "trusted source" in _refused(folder, "names the model file")


@pytest.mark.parametrize("text, match", [
    ("{not json", "unreadable"),
    ("[1, 2]", "no valid sha256"),
    ('{"run": "x"}', "no valid sha256"),
    ('{"sha256": "abc"}', "no valid sha256"),
    ('{"sha256": null}', "no valid sha256"),
    ("\udcff", "unreadable"),
])
def test_invalid_manifest_is_refused(tmp_path, model, never_unpickle, text, match):
    folder = save_model(model, "run", tmp_path)
    raw = text.encode("utf-8", errors="surrogateescape")
    (folder / "manifest.json").write_bytes(raw)
    _refused(folder, match)


def test_missing_model_file_is_refused(tmp_path, model, never_unpickle):
    folder = save_model(model, "run", tmp_path)
    (folder / "model.joblib").unlink()
    _refused(folder, "model.joblib is missing")


def test_model_and_manifest_edited_together_is_loaded_only_if_it_unpickles(tmp_path, model):
    """What the checksum cannot catch: a consistent edit. Garbage still ends in one clear error."""
    folder = save_model(model, "run", tmp_path)
    garbage = b"not a pickle at all"
    (folder / "model.joblib").write_bytes(garbage)
    _edit_manifest(folder, sha256=hashlib.sha256(garbage).hexdigest())
    assert "re-train" in _refused(folder, "cannot load")


def test_other_sklearn_version_that_fails_to_unpickle_is_one_error(tmp_path, model, monkeypatch):
    folder = save_model(model, "run", tmp_path)
    _edit_manifest(folder, versions={"scikit-learn": "0.0.1"})

    def load(*args, **kwargs):
        raise AttributeError("Can't get attribute '_OldThing' on <module 'sklearn.svm'>\nmore")

    monkeypatch.setattr(joblib, "load", load)
    with pytest.warns(ModelVersionWarning):
        message = _refused(folder, "cannot load")
    assert "0.0.1" in message and "re-train" in message


def test_the_bytes_unpickled_are_the_bytes_checked(tmp_path, model, monkeypatch):
    folder = save_model(model, "run", tmp_path)
    seen = []
    real = joblib.load

    def load(source, *args, **kwargs):
        seen.append(source)
        (folder / "model.joblib").write_bytes(b"swapped after the check")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(joblib, "load", load)
    assert load_model(folder)[0].classes("topic")
    assert not isinstance(seen[0], str | os.PathLike)  # an in-memory copy, not the path


def test_stale_temp_folder_of_another_save_is_left_alone(tmp_path, model):
    stale = tmp_path / ".tmp-run-999-abcd"
    stale.mkdir()
    (stale / "model.joblib").write_bytes(b"half")
    save_model(model, "run", tmp_path)
    assert (stale / "model.joblib").read_bytes() == b"half"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-run-999-abcd", "latest", "run"]


def test_concurrent_saves_of_one_name_give_one_complete_folder(tmp_path, model):
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_):
        try:
            return save_model(model, "same", tmp_path)
        except ModelError as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, range(4)))
    assert sum(isinstance(r, os.PathLike) for r in results) >= 1
    assert all(isinstance(r, os.PathLike) or "same" in str(r) for r in results)
    assert load_model(tmp_path / "latest")[1]["run"] == "same"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "same"]


def test_eval_set_records_round_trip_and_older_manifests_without_them_load(tmp_path, model, texts):
    tsv = tmp_path / "dev.tsv"
    tsv.write_text(f"doc\tidx\ttext\ttopic\tstance\nd1\t0\t{texts[0]}\tother\tneutral\n", encoding="utf-8")
    identity = {"path": str(tsv), "sha256": sha256_file(tsv), "size": tsv.stat().st_size}
    entry = eval_set_entry(identity, 1, 1)
    folder = save_model(model, "run", tmp_path / "models", manifest={"eval_sets": [entry]})
    assert load_model(folder)[1]["eval_sets"] == [{**identity, "n": 1, "n_docs": 1}]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["eval_sets"]  # a model saved before eval sets were recorded
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    loaded, manifest = load_model(folder)
    assert "eval_sets" not in manifest and loaded.classes("topic") == model.classes("topic")


@pytest.mark.parametrize("entries", [{"path": "x"}, [{"path": "dev.tsv", "sha256": "abc", "size": 3}],
                                     [{"path": "dev.tsv", "sha256": "ab" * 32, "size": "3"}],
                                     [{"sha256": "ab" * 32, "size": 3}]])
def test_a_malformed_eval_set_record_is_refused_before_unpickling(tmp_path, model, never_unpickle, entries):
    folder = save_model(model, "run", tmp_path)
    _edit_manifest(folder, eval_sets=entries)
    _refused(folder, r"eval_sets(\[0\])? is not")
