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

from .conftest import run_predict
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

    def load_corpus(data_dir, corpora=None):
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


# --------------------------------------------------------------------------- predict outputs

def test_a_second_predict_to_the_same_output_stops_with_one_line(tmp_path, model_dir):
    (tmp_path / "a.txt").write_text(ATTACK, encoding="utf-8")
    out = tmp_path / "out.csv"
    partial = Path(f"{out}.partial")
    partial.write_bytes(b"rows of the first run\n")
    with open(partial, "ab") as first:  # the first predict holds its lock ...
        fcntl.flock(first, fcntl.LOCK_EX)
        second = subprocess.run([sys.executable, "-m", "kwct_ml.predict", str(tmp_path / "a.txt"), "-o",
                                 str(out), "--model", str(model_dir)], env=_env(), capture_output=True,
                                text=True, timeout=120)
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if ": error:" in line]  # beside the unit line
    assert len(errors) == 1 and "another run is writing it" in second.stderr
    assert "Traceback" not in second.stderr
    assert partial.read_bytes() == b"rows of the first run\n"  # ... and its rows are untouched
    assert not out.exists()
    assert run_predict(model_dir, tmp_path / "a.txt", "-o", out)[0] == 0  # once it is gone, a run works
    assert "text" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", ["index of the input folder", "errors is output", "summary is output",
                                  "summary is errors", "output is a folder"])
def test_outputs_over_inputs_or_each_other_are_refused_before_anything_is_written(tmp_path, model_dir, case):
    corpus = tmp_path / "raw"
    corpus.mkdir()
    (corpus / "a.txt").write_text(ATTACK, encoding="utf-8")
    index = corpus / "articles.csv"
    index.write_text("doc_id,file,title,source,date\na,a.txt,عنوان,,\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    args = {"index of the input folder": ["-o", index],
            "errors is output": ["-o", out, "--errors", out],
            "summary is output": ["-o", out, "--summary", out],
            "summary is errors": ["-o", out, "--summary", tmp_path / "e.csv", "--errors", tmp_path / "e.csv"],
            "output is a folder": ["-o", corpus]}[case]
    before = _snapshot(tmp_path)
    code, err = run_predict(model_dir, corpus, *args)
    assert code == 1 and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("over", ["article", "folder"])
def test_label_prepare_refuses_a_sheet_over_its_article_or_a_folder(tmp_path, over, monkeypatch):
    from kwct_ml.cli import label

    monkeypatch.chdir(tmp_path)  # no models/latest here: prepare runs without a model
    article = tmp_path / "a.txt"
    article.write_text(ATTACK, encoding="utf-8")
    out = article if over == "article" else tmp_path
    err = io.StringIO()
    with redirect_stderr(err):
        code = label.main(["prepare", str(article), "--out", str(out), "--data-dir", str(tmp_path / "data")])
    assert code == 1 and "Traceback" not in err.getvalue() and err.getvalue().count("\n") == 1, err.getvalue()
    assert article.read_text(encoding="utf-8") == ATTACK


def test_label_status_jobs_zero_is_one_line(data_copy, capsys):
    from kwct_ml.cli import label

    assert label.main(["status", "--data-dir", str(data_copy), "--jobs", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--jobs must be at least 1" in err
