"""The table of training runs (``python -m kwct_ml.report runs``): one row per run folder, newest first.

Read from each run's run.json (config, label-file fingerprints, headline scores) and metrics.json;
a folder without them (a killed or foreign run) is skipped and named.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from kwct_ml.errors import DataError
from kwct_ml.schema import TASKS

RUN_RECORD = "run.json"
METRICS = "metrics.json"


def read_json(path: Path) -> dict:
    """A run file as a dict; DataError naming the file when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError("is missing (not a finished run folder)", path) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable ({str(exc).splitlines()[0]})", path) from None


def config_diff(config: dict, reference: dict) -> dict[str, tuple]:
    """Settings whose value differs from ``reference``: key -> (reference value, this value); no name.

    A setting one side does not record (a run from before the setting existed) is not a difference.
    """
    keys = [k for k in reference if k in config and k != "name"]
    return {k: (reference.get(k), config.get(k)) for k in keys if reference.get(k) != config.get(k)}


def format_diff(diff: dict[str, tuple]) -> str:
    return "; ".join(f"{k}={new!r}" for k, (_, new) in diff.items()) or "(default)"


def fingerprint(label_files: dict[str, str]) -> str:
    """12 hex digits naming the exact label files a run trained on (sha256 of their sha256s)."""
    text = "\n".join(f"{name} {digest}" for name, digest in sorted(label_files.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def run_row(folder: Path, reference: dict) -> dict:
    """One table row for the run folder ``folder``."""
    record = read_json(folder / RUN_RECORD)
    row = {"run": record.get("run", folder.name), "created": record.get("created", ""),
           "config_diff": format_diff(config_diff(record.get("config", {}), reference)),
           "data": fingerprint(record.get("data", {}).get("label_files", {}))}
    eval_set = (record.get("data") or {}).get("eval_set") or {}
    for task in TASKS:
        model = (record.get("metrics", {}).get(task) or {}).get("model", {})
        # runs before grouped CV recorded "loao_macro_f1"; later ones "cv_macro_f1"
        row[f"{task}_cv_f1"] = model.get("cv_macro_f1", model.get("loao_macro_f1"))
        row[f"{task}_eval_f1"] = model.get("eval_macro_f1")
    row["eval_set"] = f"{eval_set.get('path')} ({(eval_set.get('sha256') or '?')[:12]})" if eval_set else ""
    return row


def runs_table(runs_dir: str | Path, reference: dict) -> tuple[pd.DataFrame, list[str]]:
    """(rows newest first, problems with folders that were skipped)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise DataError("is not a folder", runs_dir, fix="pass --runs-dir, or train a model first")
    rows, problems = [], []
    for folder in sorted(runs_dir.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            rows.append(run_row(folder, reference))
        except DataError as exc:
            problems.append(str(exc))
    columns = ["run", "created", "config_diff", "data",
               *(f"{t}_{kind}_f1" for kind in ("cv", "eval") for t in TASKS), "eval_set"]
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values(["created", "run"], ascending=False, kind="stable").reset_index(drop=True)
    return frame, problems


def format_runs(frame: pd.DataFrame) -> str:
    """The terminal table (scores to 3 places, empty where a run has no eval set)."""
    if frame.empty:
        return "no runs"
    shown = frame.drop(columns=["eval_set"]).copy()
    shown["created"] = shown["created"].str.slice(0, 16)
    for column in shown.columns:
        if column.endswith("_f1"):
            shown[column] = [f"{v:.3f}" if pd.notna(v) else "" for v in shown[column]]
    return shown.to_string(index=False)
