"""Shown outputs in README.md, docs/predict.md and docs/labelling.md come from the current code
(docs/regenerate.py, ``make docs``; issue 17)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture
def regen(load_script):
    return load_script("docs/regenerate.py")


def test_check_mode_names_a_stale_block_and_changes_nothing(regen, tmp_path, monkeypatch, capsys):
    doc = tmp_path / "doc.md"
    text = ("intro\n<!-- BEGIN generated: demo -->\n```\nold output\n```\n<!-- END generated -->\n"
            "<!-- BEGIN generated: same -->\nkept\n<!-- END generated -->\n")
    doc.write_text(text, encoding="utf-8")
    monkeypatch.setattr(regen, "DOCS", [doc])
    monkeypatch.setattr(regen, "REPO", tmp_path)
    monkeypatch.setattr(regen, "generate", lambda: {"demo": "```\nnew output\n```\n", "same": "kept\n"})
    assert regen.main(["--check"]) == 1
    assert "doc.md: out of date: demo (run: make docs)" in capsys.readouterr().err
    assert doc.read_text(encoding="utf-8") == text
    assert regen.main([]) == 0
    assert doc.read_text(encoding="utf-8") == text.replace("old output", "new output")
    assert regen.main(["--check"]) == 0


def test_outputs_are_normalised(regen, tmp_path):
    project = regen.Project(tmp_path / "p")
    shown = project.normalise(f"model:  {tmp_path}/p/models/20261203-124046-default\ntime:   12.3 s (train)")
    assert shown == "model:  /tmp/kwct-demo/models/<run>\ntime:   N.N s (train)"


@pytest.mark.slow
def test_docs_show_the_output_of_the_current_code(repo_dir):
    done = subprocess.run([sys.executable, str(repo_dir / "docs" / "regenerate.py"), "--check"],
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
