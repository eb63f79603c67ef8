"""Issue 19: pool workers die with their parent (real processes, real SIGKILL, /proc to watch)."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kwct_ml.inference import batch

from .test_train import FAST

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

SRC = Path(__file__).resolve().parents[1] / "src"
#: Seconds allowed for orphaned workers to go (they check every lifeline.POLL_SECONDS).
GONE_WITHIN = 5.0


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of ``pid`` from /proc, None when it no longer exists."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid:
                found.add(int(entry.name))
    return found


def _alive(pids) -> set[int]:
    """The pids still running (a zombie waiting for a reaper has exited)."""
    return {pid for pid in pids if (stat := _stat(pid)) is not None and stat[0] != "Z"}


def _wait_until(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _two_or_more(pids: set[int]) -> set[int] | None:
    return pids if len(pids) >= 2 else None


def _start(script: str, args: list[str], tmp_path: Path) -> subprocess.Popen:
    path = tmp_path / "child.py"
    path.write_text(script, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen([sys.executable, str(path), *args], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_and_check(parent: subprocess.Popen, workers: set[int]) -> None:
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    end = time.monotonic() + GONE_WITHIN
    while _alive(workers) and time.monotonic() < end:
        time.sleep(0.1)
    left = _alive(workers)
    for pid in left:  # do not leak them into the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {sorted(left)} outlived their SIGKILLed parent by {GONE_WITHIN} s"


def _kill_when_two_workers_are_busy(parent: subprocess.Popen, marks: Path, what: str) -> None:
    """Wait until two children of ``parent`` have marked themselves busy in ``marks``, SIGKILL
    ``parent`` and check they die (``_kill_and_check``); the parent never outlives the test."""
    try:
        workers = _wait_until(lambda: _two_or_more({int(p.name) for p in marks.iterdir()}), 60, what)
        assert all(_stat(pid)[1] == parent.pid for pid in workers)
        _kill_and_check(parent, workers)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


# Tags with a `process_many` that marks its worker and stalls, so the workers are busy when the parent dies.
PREDICT_CHILD = """
import os, sys, time
from pathlib import Path
from kwct_ml.cli import predict
from kwct_ml.inference import batch

def stall(items, tagger=None, opts=None):
    (Path(sys.argv[1]) / str(os.getpid())).touch()
    time.sleep(120)

batch.process_many = stall
sys.exit(predict.main(sys.argv[2:]))
"""


def test_predict_workers_die_with_a_sigkilled_parent_and_release_the_output(tmp_path, model_dir,
                                                                            repo_dir):
    articles = tmp_path / "in"
    articles.mkdir()
    source = sorted((repo_dir / "data" / "raw").glob("*.txt"))[0]
    for i in range(2 * batch.ITEMS_PER_CALL * batch.FILES_PER_ITEM):  # two batches: one per worker
        shutil.copy(source, articles / f"a{i:02d}.txt")
    marks = tmp_path / "marks"
    marks.mkdir()
    out = tmp_path / "out.csv"
    parent = _start(PREDICT_CHILD, [str(marks), str(articles), "-o", str(out), "--jobs", "2",
                                    "--model", str(model_dir)], tmp_path)
    _kill_when_two_workers_are_busy(parent, marks, "two busy workers")
    with open(f"{out}.partial", "ab") as handle:  # the workers had inherited its lock
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


# Trains with --jobs 2; each cross-validation fit marks its worker and stalls, so the workers are busy
# when train dies (training/pool.py shuts its workers down after each stage).
TRAIN_CHILD = """
import os, sys, time
from pathlib import Path
from kwct_ml.cli import train
from kwct_ml.training import cv

def stall(*job):
    (Path(sys.argv[1]) / str(os.getpid())).touch()
    time.sleep(120)

cv.predict_systems = stall
sys.exit(train.main(sys.argv[2:]))
"""


def test_train_cv_workers_die_with_a_sigkilled_train(tmp_path, small_data):
    config = tmp_path / "fast.toml"
    config.write_text(FAST.to_toml(), encoding="utf-8")
    marks = tmp_path / "marks"
    marks.mkdir()
    parent = _start(TRAIN_CHILD, [str(marks), "--config", str(config), "--data-dir", str(small_data),
                                  "--models-dir", str(tmp_path / "models"), "--runs-dir",
                                  str(tmp_path / "runs"), "--no-report", "--jobs", "2"], tmp_path)
    _kill_when_two_workers_are_busy(parent, marks, "two busy cross-validation workers")
