"""One writer at a time on data/, and a merge killed mid-commit is rolled back (issue 19).

Real processes and signals: a merge in a child process waits for the lock another process holds,
and a child SIGKILLed between two renames of its commit leaves a journal the next command rolls back.
"""

from __future__ import annotations

import fcntl
import io
import os
import signal
import subprocess
import sys
import textwrap
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from kwct_ml.cli import dataset as dataset_cli
from kwct_ml.config import TrainConfig
from kwct_ml.corpus import dataset
from kwct_ml.io import transaction
from kwct_ml.labelling import merge as labelling_merge
from kwct_ml.labelling import sheet as labelling_sheet
from kwct_ml.training import run

from .test_label import ATTACK, VISIT, _fill, _snapshot


def _sheet_for(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / f"articles-{name}"
    folder.mkdir()
    (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    sheet = tmp_path / f"{name}.csv"
    rows = labelling_sheet.sheet_rows(labelling_sheet.collect_articles([folder]))
    labelling_sheet.write_sheet(_fill(rows), str(sheet))
    return sheet


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_a_second_merge_waits_for_the_first_and_both_are_kept(tmp_path, data_copy):
    sheet_a, sheet_b = _sheet_for(tmp_path, "mogadishu", ATTACK), _sheet_for(tmp_path, "morocco", VISIT)
    with transaction.folder_lock(data_copy):  # this process is merging A
        before = _snapshot(data_copy)
        other = subprocess.Popen([sys.executable, "-m", "kwct_ml.label", "merge", str(sheet_b),
                                  "--annotator", "b", "--data-dir", str(data_copy)],
                                 env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with pytest.raises(subprocess.TimeoutExpired):
            other.wait(timeout=4)  # B is blocked on data/.lock ...
        assert _snapshot(data_copy) == before  # ... and has written nothing
        labelling_merge.merge_sheet(sheet_a, data_copy, "a")  # re-entrant in this process
    out, err = other.communicate(timeout=120)
    assert other.returncode == 0, err
    assert dataset.validate(data_copy) == []
    merged = set(dataset.load_corpus(data_copy)["doc_id"])
    assert {"mogadishu", "morocco"} <= merged


KILLER = textwrap.dedent("""
    import os, signal, sys
    from kwct_ml.io import transaction
    from kwct_ml.labelling import merge
    calls = []
    def replace_then_die(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the article is in place, articles.csv and sentences.csv are not
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace(src, dst)
    transaction._replace = replace_then_die
    merge.merge_sheet(sys.argv[1], sys.argv[2], "mona")
""")


def test_a_merge_killed_mid_commit_is_rolled_back_by_the_next_command(tmp_path, data_copy):
    sheet = _sheet_for(tmp_path, "mogadishu", ATTACK)
    before = _snapshot(data_copy)
    child = subprocess.run([sys.executable, "-c", KILLER, str(sheet), str(data_copy)], env=_env(),
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert (data_copy / "raw" / "mogadishu.txt").exists()  # half-committed
    assert (data_copy / transaction.JOURNAL_FILE).exists()
    err = io.StringIO()
    with redirect_stderr(err):
        assert dataset_cli.main(["check", "--data-dir", str(data_copy)]) == 0
    assert "rolled back an interrupted change" in err.getvalue()
    assert _snapshot(data_copy) == before  # no orphan article, no .tmp, no journal
    labelling_merge.merge_sheet(sheet, data_copy, "mona")  # and the sheet merges again
    assert dataset.validate(data_copy) == []


def test_train_reads_the_labels_and_their_hashes_under_a_shared_lock(data_copy, monkeypatch):
    seen = []

    def load_corpus(data_dir):
        with open(Path(data_dir) / transaction.LOCK_FILE, "rb") as other:
            with pytest.raises(BlockingIOError):  # a merge could not take the lock now
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(other, fcntl.LOCK_SH | fcntl.LOCK_NB)  # another reader could
        seen.append(data_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "load_corpus", load_corpus)
    with pytest.raises(KeyboardInterrupt):
        run.train(TrainConfig(), data_copy)
    assert seen
