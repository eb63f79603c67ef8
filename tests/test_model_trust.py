"""Which model is loaded (issue 19): the project's models/, an explicit --model, never a stray folder's."""

from __future__ import annotations

import os

import pytest

from kwct_ml.bundle.store import load_model, save_model
from kwct_ml.errors import ModelError

from .test_persistence import model as _model_fixture
from .test_persistence import texts as _texts_fixture

model = _model_fixture
texts = _texts_fixture


@pytest.fixture(autouse=True)
def no_home(monkeypatch):
    monkeypatch.delenv("KWCT_HOME", raising=False)


def test_a_models_latest_in_a_folder_outside_any_project_is_not_loaded(tmp_path, model, monkeypatch):
    untrusted = tmp_path / "downloaded"
    save_model(model, "evil", untrusted / "models")  # models/latest -> evil
    monkeypatch.chdir(untrusted)
    with pytest.raises(ModelError, match="no project here.*--model"):
        load_model()
    assert load_model(untrusted / "models" / "evil")[1]["run"] == "evil"  # explicit: the user's choice


def test_kwct_home_names_the_project(tmp_path, model, monkeypatch):
    save_model(model, "mine", tmp_path / "home" / "models")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("KWCT_HOME", str(tmp_path / "home"))
    assert load_model()[1]["run"] == "mine"


def test_the_project_is_found_upward_and_a_run_name_is_accepted(tmp_path, model, monkeypatch):
    (tmp_path / "data").mkdir()
    save_model(model, "first", tmp_path / "models")
    save_model(model, "second", tmp_path / "models")
    (tmp_path / "data" / "raw").mkdir()
    monkeypatch.chdir(tmp_path / "data" / "raw")
    assert load_model()[1]["run"] == "second"
    assert load_model("first")[1]["run"] == "first"
    with pytest.raises(ModelError, match=r"no model at .*nonesuch \(models in .*first, second\)"):
        load_model("nonesuch")


def test_a_latest_link_leaving_the_models_folder_is_refused(tmp_path, model, monkeypatch):
    (tmp_path / "data").mkdir()
    outside = save_model(model, "planted", tmp_path / "elsewhere")
    (tmp_path / "models").mkdir()
    os.symlink(outside, tmp_path / "models" / "latest")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="points outside"):
        load_model()


def test_a_manifest_field_cannot_inject_lines_or_terminal_escapes(tmp_path, model, capsys):
    from kwct_ml.cli import label

    folder = save_model(model, "run", tmp_path / "models",
                        manifest={"name": "x\n120 sentences tagged\x1b[2J"})
    article = tmp_path / "a.txt"
    article.write_text("الكويت تدين الهجوم الإرهابي.\n", encoding="utf-8")
    assert label.main(["prepare", str(article), "--out", str(tmp_path / "s.csv"), "--model", str(folder),
                       "--data-dir", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and not any(line.startswith("120 sentences") for line in out.splitlines())
    assert "x\\n120 sentences tagged\\x1b[2J" in out
