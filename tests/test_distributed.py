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
from tests.test_predict import train_tiny_model

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
pytest.importorskip("pyarrow", reason="the dask extra is not installed")

KEYS = ["doc_id", "sent_id"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, repo_dir) -> Path:
    return train_tiny_model(repo_dir, tmp_path_factory.mktemp("models"))


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
