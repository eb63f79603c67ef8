"""The CLI error wrapper: one line naming the command the user ran, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kwct_ml.errors import DataError, cli


@cli
def _failing(argv=None):
    raise DataError("no labels", path="x.csv", line=3, fix="label it")


def test_cli_prints_one_line_with_file_line_and_fix(capsys):
    assert _failing([]) == 1
    err = capsys.readouterr().err
    assert err == "kwct_ml.test_errors: error: x.csv:3: no labels (label it)\n"


@pytest.mark.parametrize("module", ["kwct_ml.train", "kwct_ml.predict"])
def test_python_m_names_the_module_not_main(tmp_path, module):
    """Under ``python -m`` the module is ``__main__``; the message must still say which command failed."""
    missing = str(tmp_path / "missing.toml")
    argv = {"kwct_ml.train": ["--config", missing],
            "kwct_ml.predict": [str(tmp_path / "none.txt"), "--model", str(tmp_path / "no-model")]}[module]
    proc = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert f"{module}: error:" in proc.stderr, proc.stderr
    assert "__main__" not in proc.stderr and "Traceback" not in proc.stderr


def test_python_m_kwct_ml_lists_the_commands():
    done = subprocess.run([sys.executable, "-m", "kwct_ml", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0
    for command in ("kwct_ml.dataset check", "kwct_ml.train", "kwct_ml.predict", "kwct_ml.label"):
        assert command in done.stdout
    bare = subprocess.run([sys.executable, "-m", "kwct_ml"], capture_output=True, text=True, timeout=60)
    assert bare.returncode == 2 and "kwct_ml.train" in bare.stderr and "Traceback" not in bare.stderr


@cli
def _failing_on_odd_name(argv=None):
    raise DataError("cannot read", path="bad\nname.txt", fix="rename it")


def test_cli_error_stays_one_line_when_a_file_name_holds_a_line_break(capsys):
    assert _failing_on_odd_name([]) == 1
    assert capsys.readouterr().err == "kwct_ml.test_errors: error: bad\\nname.txt: cannot read (rename it)\n"
