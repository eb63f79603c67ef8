"""The run record (run.json): one JSON per training run, from which experiment tables are generated.

It holds what reproduces and identifies the run (resolved config, command line, code commit,
sha256 of the label files and of the eval set) and its headline scores; the full scores stay
in metrics.json beside it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import kwct_ml
from kwct_ml.bundle.store import sha256_file
from kwct_ml.reporting.headline import headline

RECORD_VERSION = 1


def git_commit() -> dict | None:
    """``{"commit", "dirty"}`` of the git checkout kwct_ml runs from; None when not run from one.

    ``dirty`` means files under src/ differ from the commit (edited or new, not ignored). An
    installed copy (not a checkout) gets None even inside some other repository.
    """
    package = Path(kwct_ml.__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel")).resolve()
        if top / "src" / "kwct_ml" != package:
            return None
        return {"commit": git("rev-parse", "HEAD"),
                "dirty": bool(git("status", "--porcelain", "--", ":(top)src"))}
    except (OSError, subprocess.SubprocessError):
        return None


def run_record(results: dict) -> dict:
    """The record of a finished run from its results (the dict saved as metrics.json)."""
    data, external = results["data"], results.get("eval_set")
    eval_set = None
    if external:  # identified when it was read (older results: hashed now, if still there)
        path = Path(external["path"])
        eval_set = {"path": external["path"],
                    "sha256": external.get("sha256") or (sha256_file(path) if path.is_file() else None),
                    "size": external.get("size"), "n": external["n"], "n_docs": external["n_docs"]}
    return {
        "record_version": RECORD_VERSION,
        "run": results["run"],
        "created": results["created"],
        "command": results["command"],
        "code": git_commit(),
        "kwct_ml": kwct_ml.__version__,
        "config": results["config"],
        "data": {"label_files": data["label_files"], "n_evaluated": data["n_evaluated"],
                 "n_articles": data["n_articles"], "n_authored": data["n_authored"], "eval_set": eval_set},
        "metrics": headline(results),
    }
