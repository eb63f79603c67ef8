"""predict --scheduler (Dask) and Parquet output: same rows as one process, bad files, resume,
a tampered model refused on a worker, a killed worker retried without duplicate rows."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from kwct_ml.cli import predict
from kwct_ml.io import parquet

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
pytest.importorskip("pyarrow", reason="the dask extra is not installed")

KEYS = ["doc_id", "sent_id"]


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes shared by the tests that pass its tcp:// address."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR) as cl:
        yield cl


@pytest.fixture
def raw(tmp_path, repo_dir) -> Path:
    dst = tmp_path / "raw"
    shutil.copytree(repo_dir / "data" / "raw", dst)
    return dst


def run(model: Path, *args) -> int:
    return predict.main([*map(str, args), "--model", str(model)])


def frame(path: Path) -> pd.DataFrame:
    rows = list(parquet.read_rows(path)) if path.suffix != ".csv" else None
    df = pd.DataFrame(rows) if rows is not None else pd.read_csv(path)
    return df.sort_values(KEYS).reset_index(drop=True)


def test_parquet_output_has_the_csv_rows(model_dir, raw, tmp_path):
    assert run(model_dir, raw, "--output", tmp_path / "t.csv") == 0
    assert run(model_dir, raw, "--output", tmp_path / "t.parquet") == 0
    csv, pq = frame(tmp_path / "t.csv"), frame(tmp_path / "t.parquet")
    assert list(pq.columns) == list(csv.columns)
    pd.testing.assert_frame_equal(pq, csv, check_dtype=False)
    assert not list(tmp_path.glob("t.parquet.*"))  # no staging files left


def test_local_cluster_rows_equal_single_process(model_dir, raw, tmp_path):
    assert run(model_dir, raw, "--output", tmp_path / "one.parquet") == 0
    out = tmp_path / "dist"
    assert run(model_dir, raw, "--output", out, "--scheduler", "local:2", "--partition-size", "2",
               "--summary", tmp_path / "s.csv") == 0
    assert len(parquet.files(out)) == 3  # 5 articles, 2 per partition
    pd.testing.assert_frame_equal(frame(out), frame(tmp_path / "one.parquet"))
    assert run(model_dir, raw, "--output", tmp_path / "one.csv", "--summary", tmp_path / "s1.csv") == 0
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "s1.csv").read_bytes()


def test_bad_file_is_logged_and_the_rest_finishes(model_dir, raw, tmp_path, cluster):
    (raw / "zz_bad.txt").write_bytes(b"")
    out = tmp_path / "dist"
    code = run(model_dir, raw, "--output", out, "--scheduler", cluster.scheduler_address,
               "--partition-size", "2")
    assert code == 2
    records = [json.loads(line) for line in Path(f"{out}.errors.jsonl").read_text().splitlines()]
    assert [Path(r["input"]).name for r in records] == ["zz_bad.txt"]
    assert frame(out).doc_id.nunique() == len(list(raw.glob("*.txt"))) - 1


def test_resume_skips_done_partitions(model_dir, raw, tmp_path, cluster):
    out = tmp_path / "dist"
    args = [raw, "--output", out, "--scheduler", cluster.scheduler_address, "--partition-size", "2"]
    assert run(model_dir, *args) == 0
    first = sorted(parquet.files(out))
    removed = first[1]
    removed.unlink()
    kept = {p: p.stat().st_mtime_ns for p in first if p != removed}
    assert run(model_dir, *args) == 1  # without --resume an existing run is refused
    assert run(model_dir, *args, "--resume") == 0
    assert removed.exists()
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # done partitions were not redone
    assert not frame(out).duplicated(KEYS).any()


def test_tampered_model_is_refused_on_the_worker(model_dir, raw, tmp_path, cluster, capsys):
    bad = tmp_path / "model"
    shutil.copytree(model_dir, bad)
    with open(bad / "model.joblib", "ab") as handle:
        handle.write(b"\0")
    code = run(bad, raw, "--output", tmp_path / "dist", "--scheduler", cluster.scheduler_address)
    assert code == 1
    assert "sha256 does not match" in capsys.readouterr().err
    assert not parquet.files(tmp_path / "dist")


def test_killed_worker_is_retried_without_duplicate_rows(model_dir, raw, tmp_path, cluster):
    """A worker process is SIGKILLed when it starts its second partition: Dask re-runs that
    partition elsewhere; each partition's file is written once, whole."""
    marker = tmp_path / "killed"

    class KillOnce(distributed.WorkerPlugin):
        def __init__(self, marker: str):
            self.marker = marker

        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and "tag_partition" in str(key):
                try:
                    fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                os.kill(os.getpid(), signal.SIGKILL)

    with distributed.Client(cluster.scheduler_address) as client:
        before = set(client.run(os.getpid).values())
        client.register_plugin(KillOnce(str(marker)), name="kill-once")
        try:
            out = tmp_path / "dist"
            assert run(model_dir, raw, "--output", out, "--scheduler", cluster.scheduler_address,
                       "--partition-size", "1") == 0
        finally:
            client.unregister_worker_plugin("kill-once")
        assert int(marker.read_text()) in before  # a real worker process was killed
    assert run(model_dir, raw, "--output", tmp_path / "one.parquet") == 0
    got = frame(out)
    assert not got.duplicated(KEYS).any()
    pd.testing.assert_frame_equal(got, frame(tmp_path / "one.parquet"))


def test_predict_without_scheduler_does_not_import_dask():
    code = ("import sys, kwct_ml.cli.predict; "
            "print(sorted(m for m in ('dask', 'distributed', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_file_name_that_is_not_utf8_and_a_decoding_warning_reach_the_errors_file(model_dir, raw, tmp_path,
                                                                                     cluster):
    """Issue 19: a worker wrote its records as UTF-8 text, which a cp1256 file name cannot be."""
    (raw / os.fsdecode("خطأ".encode("cp1256") + b".txt")).write_bytes(b"")
    (raw / "zz_cp.txt").write_bytes((raw / "000_0ab1c133074eaba5.txt").read_text("utf-8").encode("cp1256"))
    out = tmp_path / "dist"
    code = run(model_dir, raw, "--output", out, "--scheduler", cluster.scheduler_address,
               "--partition-size", "2")
    assert code == 2  # the empty file; the warning does not count
    records = [json.loads(line) for line in Path(f"{out}.errors.jsonl").read_bytes().decode().splitlines()]
    assert sorted(Path(r["input"]).name for r in records) == ["\\xce\\xd8\\xc3.txt", "zz_cp.txt"]
    assert [r.get("level") for r in records if r["input"].endswith("zz_cp.txt")] == ["warning"]


# --------------------------------------------------------------------------- tables and Parquet inputs

@pytest.fixture(scope="module")
def sentences(repo_dir) -> pd.DataFrame:
    """The seed sentences (real Arabic): articles of 36, 8, 30, 32 and 14 consecutive rows."""
    frame = pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", keep_default_na=False)
    return frame[["doc_id", "sent_id", "text", "note"]]


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, row_group_size=7)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.fixture
def client_reads_nothing(monkeypatch):
    """Table readers that fail in this (client) process: the workers must do the reading."""
    from kwct_ml.io import slices, tables

    def refuse(*args, **kwargs):
        raise AssertionError("a table was read on the client")

    for module, name in [(tables, "records"), (tables, "header"), (slices, "plan"), (slices, "records"),
                         (parquet, "records"), (parquet, "column_names"), (parquet, "row_ranges")]:
        monkeypatch.setattr(module, name, refuse)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_big_table_is_cut_on_the_workers_without_splitting_an_article(
        model_dir, sentences, tmp_path, cluster, suffix, request):
    table = write_table(sentences, tmp_path / f"sentences{suffix}")
    one = tmp_path / "one.parquet"
    assert run(model_dir, table, "--article-column", "doc_id", "--output", one) == 0
    request.getfixturevalue("client_reads_nothing")
    out = tmp_path / "dist"
    assert run(model_dir, table, "--article-column", "doc_id", "--output", out,
               "--scheduler", cluster.scheduler_address, "--partition-size", "20") == 0
    parts = [pd.read_parquet(p) for p in parquet.files(out)]
    assert [len(p) for p in parts] == [36, 38, 32, 14]  # cut at 20+ rows, only between articles
    assert [sorted(set(p.doc_id)) for p in parts] == [
        ["000_0ab1c133074eaba5"], ["001_98ab70ee994ce0e9", "002_c6e343133ec51b8e"],
        ["003_f87deceac6bf3a27"], ["004_9c1e41bddcf48cae"]]
    got = frame(out)
    assert "note" in got.columns  # the table's own columns are carried
    pd.testing.assert_frame_equal(got, frame(one))


def test_resume_redoes_only_the_missing_piece_of_a_table(model_dir, sentences, tmp_path, cluster):
    table = write_table(sentences, tmp_path / "s.jsonl")
    out = tmp_path / "dist"
    args = [table, "--article-column", "doc_id", "--output", out, "--scheduler", cluster.scheduler_address,
            "--partition-size", "20"]
    assert run(model_dir, *args) == 0
    before = frame(out)
    files = parquet.files(out)
    files[2].unlink()
    kept = {p: p.stat().st_mtime_ns for p in files if p != files[2]}
    assert run(model_dir, *args, "--resume") == 0
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    pd.testing.assert_frame_equal(frame(out), before)


def test_an_article_table_with_line_breaks_in_cells_is_cut_by_bytes(model_dir, raw, tmp_path, cluster):
    articles = pd.DataFrame([{"doc_id": p.stem, "text": p.read_text(encoding="utf-8")}
                             for p in sorted(raw.glob("*.txt"))])
    table = write_table(articles, tmp_path / "articles.csv")
    assert run(model_dir, table, "--output", tmp_path / "one.parquet") == 0
    out = tmp_path / "dist"
    assert run(model_dir, table, "--output", out, "--scheduler", cluster.scheduler_address,
               "--partition-size", "2") == 0
    assert len(parquet.files(out)) == 3
    pd.testing.assert_frame_equal(frame(out), frame(tmp_path / "one.parquet"))


def test_parquet_input_gives_the_csv_input_rows(model_dir, sentences, tmp_path):
    csv_in = write_table(sentences, tmp_path / "s.csv")
    pq_in = write_table(sentences, tmp_path / "s.parquet")
    assert run(model_dir, csv_in, "--article-column", "doc_id", "--output", tmp_path / "a.csv") == 0
    assert run(model_dir, pq_in, "--article-column", "doc_id", "--output", tmp_path / "b.csv") == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert run(model_dir, pq_in, "--text-column", "body", "--output", tmp_path / "c.csv") == 1
    assert "no text column 'body'" in json.loads((tmp_path / "c.csv.errors.jsonl").read_text())["error"]


def test_a_broken_parquet_file_is_logged_and_the_rest_finishes(model_dir, sentences, tmp_path):
    good = write_table(sentences, tmp_path / "good.parquet")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-100])  # truncated: no footer
    assert run(model_dir, bad, good, "--article-column", "doc_id", "--output", tmp_path / "t.csv") == 2
    records = [json.loads(line) for line in (tmp_path / "t.csv.errors.jsonl").read_text().splitlines()]
    assert [(Path(r["input"]).name, r["error"].split(" (")[0]) for r in records] == [
        ("bad.parquet", "not a readable Parquet file")]
    assert len(pd.read_csv(tmp_path / "t.csv")) == len(sentences)


def test_a_parquet_dataset_directory_is_read_as_its_data_files(model_dir, sentences, tmp_path, cluster):
    dataset = tmp_path / "dataset"
    (dataset / "year=2019").mkdir(parents=True)
    files = [write_table(sentences.iloc[:44], dataset / "year=2019" / "part-0.parquet"),
             write_table(sentences.iloc[44:], dataset / "part-1.parquet")]
    for junk in (dataset / "_errors" / "x.parquet", dataset / ".part-2.parquet.tmp.parquet"):
        junk.parent.mkdir(exist_ok=True)
        junk.write_bytes(b"not parquet")  # hidden and underscore names are not data
    assert run(model_dir, *files, "--article-column", "doc_id", "--output", tmp_path / "one.parquet") == 0
    assert run(model_dir, dataset, "--article-column", "doc_id", "--output", tmp_path / "ds.parquet") == 0
    pd.testing.assert_frame_equal(frame(tmp_path / "ds.parquet"), frame(tmp_path / "one.parquet"))
    assert run(model_dir, dataset, "--article-column", "doc_id", "--output", tmp_path / "dist",
               "--scheduler", cluster.scheduler_address) == 0
    pd.testing.assert_frame_equal(frame(tmp_path / "dist"), frame(tmp_path / "one.parquet"))


def test_parquet_output_names_the_final_file_last(model_dir, raw, tmp_path, capsys):
    out = tmp_path / "t.parquet"
    assert run(model_dir, raw, "--output", out) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(f"-> {out}"), last
