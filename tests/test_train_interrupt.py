"""Ctrl-C in train's parallel stages (CV, learning curve): one line, exit 130, no worker left (issue 17).

A real ``python -m kwct_ml.train`` child gets a real SIGINT as soon as it names the stage. It runs as a
minimal install does: without psutil and without ``pgrep`` on PATH (joblib's process pool needed one of
them to kill its workers; without them Ctrl-C printed a UserWarning and an AttributeError traceback
and the run hung on a worker that was never killed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kwct_ml.config import TrainConfig

FAST_CURVE = TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none", learning_curve=True,
                         cv_folds=0, provenance="Fast settings for tests, chosen for speed.")


def _processes(session: int) -> list[tuple[int, int, str]]:
    """(pid, parent pid, command line) of the live (not zombie) processes of ``session``, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session and fields[0] != "Z":
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append((int(stat.parent.name), int(fields[1]), cmdline[:160]))
        except (OSError, IndexError, ValueError):  # the process ended while we looked
            continue
    return found


def _session_alive(session: int) -> list[str]:
    return [cmdline for _, _, cmdline in _processes(session)]


def _wait_for_workers(pid: int, n: int, seconds: float = 60.0) -> None:
    """Until the run of ``pid`` has ``n`` workers: processes of its session other than itself, its
    resource trackers and a fork server (its child that forks the workers)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        workers = [p for p, pp, cmd in _processes(pid)
                   if p != pid and "resource_tracker" not in cmd and not (pp == pid and "forkserver" in cmd)]
        if len(workers) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {n} workers after {seconds} s: {_session_alive(pid)}")


def _wait_gone(session: int, seconds: float = 10.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (alive := _session_alive(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("stage, to_group, workers_up", [("learning curve", True, False),
                                                        ("CV folds", False, True)],
                         ids=["ctrl-c-to-the-group-as-the-curve-starts", "sigint-to-train-workers-up"])
def test_ctrl_c_in_a_parallel_stage_ends_in_one_line(tmp_path, small_data, stage, to_group, workers_up):
    config = tmp_path / "fast.toml"
    config.write_text(FAST_CURVE.to_toml(), encoding="utf-8")
    hidden = tmp_path / "no-psutil"
    hidden.mkdir()
    (hidden / "psutil.py").write_text("raise ImportError('hidden by the test: a minimal install')\n")
    (tmp_path / "empty-bin").mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin"),
           "PYTHONPATH": os.pathsep.join([str(hidden), *filter(None, [os.environ.get("PYTHONPATH")])])}
    argv = [sys.executable, "-m", "kwct_ml.train", "--config", str(config), "--data-dir", str(small_data),
            "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs"), "--no-report",
            "--jobs", "2"]
    # its own session, like a terminal's job: a group signal reaches the workers too, as Ctrl-C does
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        before = []
        for line in proc.stderr:
            before.append(line)
            if line.startswith(f"kwct_ml.train: {stage}"):  # e.g. 'CV folds + final model: 7 fits'
                break
        assert before and before[-1].startswith(f"kwct_ml.train: {stage}"), "".join(before)
        if workers_up:
            _wait_for_workers(proc.pid, 2)
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        _, after = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, "".join(before) + after
    assert after == "kwct_ml.train: interrupted\n", after  # no warning, no traceback from any process
    assert _wait_gone(proc.pid) == []  # no worker (or helper process) of the run is left
    assert not [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
