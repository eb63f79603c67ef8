"""Issue 19: a full disk ends predict and label merge in one line, no temp file left, inputs untouched.

In-process, the write path raises ``OSError(ENOSPC)`` once a byte budget is spent; where user
namespaces allow it, a real 64 KB tmpfs and ``/dev/full`` check the same end to end.
"""

from __future__ import annotations

import builtins
import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kwct_ml.cli import label as label_cli
from kwct_ml.cli import predict
from kwct_ml.io import atomic, transaction

from .test_label import ATTACK, _snapshot
from .test_predict import read
from .test_predict import run as _run_fixture
from .test_transaction import _sheet_for

run = _run_fixture
SRC = Path(__file__).resolve().parents[1] / "src"


class _FullDisk:
    """A binary file handle whose writes fail with ENOSPC once ``budget`` bytes are written."""

    def __init__(self, handle, budget: int):
        self._handle, self._budget = handle, budget

    def write(self, data):
        if len(data) > self._budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


def _full_when(module, monkeypatch, wanted, budget: int = 0) -> None:
    """``open`` in ``module`` gives a filling handle for files ``wanted(path)`` picks."""

    def fake_open(file, mode="r", *args, **kwargs):
        handle = builtins.open(file, mode, *args, **kwargs)
        return _FullDisk(handle, budget) if "b" in mode and wanted(Path(file)) else handle

    monkeypatch.setattr(module, "open", fake_open, raising=False)


def _temp_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.name.endswith(".tmp"))


@pytest.fixture
def articles(tmp_path, repo_dir) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(repo_dir / "data" / "raw", folder)
    return folder


def test_predict_on_a_full_disk_is_one_line_and_resumes_after(run, articles, tmp_path, monkeypatch):
    before = _snapshot(articles)
    out = tmp_path / "out.csv"
    _full_when(predict, monkeypatch, lambda path: path.name == "out.csv.partial", budget=20_000)
    code, err = run(articles, "-o", out)
    assert code == 1
    assert err.strip().splitlines()[-1] == (f"kwct_ml.predict: error: no space left on device writing "
                                            f"{out}.partial (free some space and rerun with --resume)")
    assert "Traceback" not in err and not out.exists()
    assert _temp_files(tmp_path) == [] and _snapshot(articles) == before
    monkeypatch.undo()  # space freed: the run resumes after its last complete work item
    code, err = run(articles, "-o", out, "--resume")
    assert code == 0 and "resuming after" in err
    code, _ = run(articles, "-o", tmp_path / "clean.csv")
    assert read(out).equals(read(tmp_path / "clean.csv"))


def test_predict_summary_on_a_full_disk_leaves_no_temp_file(run, articles, tmp_path, monkeypatch):
    summary = tmp_path / "summary.csv"
    _full_when(atomic, monkeypatch, lambda path: path.name.startswith(".summary.csv."))
    code, err = run(articles, "-o", tmp_path / "out.csv", "--summary", summary)
    assert code == 1
    assert err.strip().splitlines()[-1] == (f"kwct_ml.predict: error: no space left on device writing "
                                            f"{summary} (free some space and run it again)")
    assert _temp_files(tmp_path) == [] and not summary.exists()


@pytest.mark.parametrize("target", ["raw/mogadishu.txt", "raw/articles.csv", "labels/sentences.csv"])
def test_label_merge_on_a_full_disk_is_one_line_and_changes_nothing(tmp_path, data_copy, monkeypatch,
                                                                    capsys, target):
    sheet = _sheet_for(tmp_path, "mogadishu", ATTACK)
    before = _snapshot(data_copy)
    name = Path(target).name
    _full_when(atomic, monkeypatch, lambda path: path.name.startswith(f".{name}."))
    code = label_cli.main(["merge", str(sheet), "--annotator", "a", "--data-dir", str(data_copy)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines()[-1] == (f"kwct_ml.label: error: no space left on device writing "
                                            f"{data_copy / target} (free some space and run it again)")
    assert _snapshot(data_copy) == before  # nothing merged, nothing half-written
    assert _temp_files(data_copy) == [] and not (data_copy / transaction.JOURNAL_FILE).exists()


def _tmpfs_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _tmpfs_available(), reason="needs unshare and a tmpfs mount in a user namespace")
def test_predict_to_a_real_full_tmpfs_is_one_line(tmp_path, articles, model_dir):
    for i in range(8):  # about 300 KB of rows for a 64 KB disk
        for article in sorted(articles.glob("*.txt"))[:5]:
            shutil.copy(article, articles / f"copy{i}-{article.name}")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f'mount -t tmpfs -o size=64k tmpfs "{disk}" && "{sys.executable}" -m kwct_ml.predict '
              f'"{articles}" -o "{disk}/out.csv" --model "{model_dir}"; code=$?; ls -a "{disk}"; exit $code')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"kwct_ml.predict: error: no space left on device writing {disk}/out.csv.partial "
        "(free some space and rerun with --resume)")
    assert ".tmp" not in done.stdout and "out.csv\n" not in done.stdout  # the listing of the tmpfs


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_predict_to_a_full_standard_output_is_one_line(articles, model_dir):
    with open("/dev/full", "wb") as full:
        done = subprocess.run([sys.executable, "-m", "kwct_ml.predict", str(articles), "--model",
                               str(model_dir)], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == ("kwct_ml.predict: error: no space left on device "
                                                    "writing standard output (free some space and run "
                                                    "it again)")
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_full_disk_nowhere_named_is_still_one_line(capsys):
    from kwct_ml import errors

    @errors.cli
    def main(argv=None):
        if argv == ["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "somewhere.csv")
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    assert main(["full"]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "error: no space left on device writing somewhere.csv (free some space and run it again)")
    with pytest.raises(OSError):  # other system errors are not disguised as a full disk
        main(["io"])
