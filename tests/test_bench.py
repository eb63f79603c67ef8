"""Every benchmark skips cleanly (exit 0, one JSON note, results log untouched) without ../shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPTS = ["mawqif.py", "ant_topic.py", "throughput.py", "predict_speed.py", "normalize_speed.py",
           "cue_scan.py"]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_skips_without_shared(script, repo_dir, tmp_path):
    results = repo_dir / "experiments" / "benchmarks.md"
    before = results.read_bytes() if results.exists() else None
    env = {**os.environ, "KWCT_SHARED": str(tmp_path / "absent")}
    done = subprocess.run([sys.executable, str(repo_dir / "bench" / script)], cwd=repo_dir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "absent" in json.loads(done.stdout)["skipped"]
    assert "skipping" in done.stderr and "Traceback" not in done.stderr
    assert (results.read_bytes() if results.exists() else None) == before


@pytest.mark.slow
@pytest.mark.parametrize("script", ["mawqif.py", "ant_topic.py", "throughput.py"])
def test_bench_without_fasttext_stops_in_one_line_before_any_work(script, repo_dir, tmp_path):
    shared = tmp_path / "shared"
    (shared / "data" / "mawqif").mkdir(parents=True)
    (shared / "data" / "ant").mkdir(parents=True)
    (shared / "data" / "ant" / "ant_multisource_v2.1.csv.gz").write_bytes(b"")  # never read
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "fasttext.py").write_text("raise ImportError('blocked for the test')\n", encoding="utf-8")
    env = {**os.environ, "KWCT_SHARED": str(shared), "PYTHONPATH": str(blocker)}
    done = subprocess.run([sys.executable, str(repo_dir / "bench" / script)], cwd=repo_dir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "pip install -e '.[bench]'" in done.stderr
