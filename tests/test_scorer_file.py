"""scorer.npz (issue 20): saved beside the pickle with its sha256, loaded without pickles, checked."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from kwct_ml.bundle.manifest import MANIFEST_FILE, SCORER_FILE, validate
from kwct_ml.bundle.store import load_model, load_scorer, save_model, sha256_file
from kwct_ml.errors import ModelError
from kwct_ml.pipeline.compiled import LAYOUT, CompiledScorer


@pytest.fixture(scope="module")
def saved(tmp_path_factory, fit_seed_model):
    return save_model(fit_seed_model(), "seed", tmp_path_factory.mktemp("models"))


def _manifest(folder):
    return json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))


def _rewrite(folder, manifest) -> None:
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")


def test_the_scorer_is_saved_with_its_checksum_and_loads_as_plain_arrays(saved, seed_articles):
    manifest = _manifest(saved)
    assert manifest["scorer"] == {"file": SCORER_FILE, "sha256": sha256_file(saved / SCORER_FILE),
                                  "layout": LAYOUT}
    assert manifest["format_version"] == 2  # an added file: older kwct_ml read model.joblib as before
    with np.load(saved / SCORER_FILE, allow_pickle=False) as arrays:
        assert all(arrays[key].dtype != object for key in arrays.files)
    scorer, loaded_manifest = load_scorer(saved)
    model, _ = load_model(saved)
    assert isinstance(scorer, CompiledScorer) and loaded_manifest == manifest
    assert scorer.context == model.context == {"topic": 0.5} and scorer.temperature == model.temperature
    texts, groups = seed_articles
    expected, got = model.predict_tasks(texts, groups), scorer.predict_tasks(texts, groups)
    for task in ("topic", "stance"):
        assert got[task][0] == expected[task][0]
        np.testing.assert_allclose(got[task][1], expected[task][1], rtol=0, atol=1e-9)
    card = (saved / "README.md").read_text(encoding="utf-8")
    assert f"`{SCORER_FILE}`: sha256 `{manifest['scorer']['sha256']}`" in card


def test_a_changed_scorer_is_refused_in_one_line(saved, tmp_path):
    folder = shutil.copytree(saved, tmp_path / "m")
    data = bytearray((folder / SCORER_FILE).read_bytes())
    data[len(data) // 2] ^= 1
    (folder / SCORER_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="scorer.npz: sha256 does not match manifest.json") as caught:
        load_scorer(folder)
    assert "\n" not in str(caught.value)
    load_model(folder)  # the pickle is still checked and loaded on its own
    pickled = shutil.copytree(saved, tmp_path / "p")
    data = bytearray((pickled / "model.joblib").read_bytes())
    data[len(data) // 2] ^= 1
    (pickled / "model.joblib").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="model.joblib: sha256 does not match"):
        load_scorer(pickled)  # the scorer does not load the pickle, yet a changed folder is refused


def test_models_without_a_scorer_load_as_before(saved, tmp_path, fit_seed_model):
    older = shutil.copytree(saved, tmp_path / "older")  # saved before scorer.npz existed
    manifest = _manifest(older)
    del manifest["scorer"]
    _rewrite(older, manifest)
    (older / SCORER_FILE).unlink()
    assert load_scorer(older) is None
    load_model(older)
    words = save_model(fit_seed_model(ngram_max=3, word_ngrams=True), "words", tmp_path / "models")
    entry = _manifest(words)["scorer"]
    assert entry["file"] is None and "'word'" in entry["why"] and not (words / SCORER_FILE).exists()
    assert load_scorer(words) is None
    assert f"no `{SCORER_FILE}`: not compiled" in (words / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("entry", ["scorer.npz", {"sha256": "0" * 64}, {"file": "../model.joblib"},
                                   {"file": SCORER_FILE, "sha256": "abc", "layout": 1},
                                   {"file": SCORER_FILE, "sha256": "0" * 64, "layout": "1"}])
def test_the_manifest_check_refuses_a_bad_scorer_entry(saved, entry):
    manifest = {**_manifest(saved), "scorer": entry}
    with pytest.raises(ModelError, match="scorer"):
        validate(manifest, "m/manifest.json")
