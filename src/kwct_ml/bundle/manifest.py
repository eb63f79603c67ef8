"""The model bundle's manifest.json: the one check of its entries, before any pickle is opened.

A manifest names the model file and its sha256, the bundle format, the labels per task, the
article-context settings (weights and sharpening temperatures, settings rather than pickled code),
and each evaluation set the model was scored on (path, sha256, size: two versions of a set differ).
"""

from __future__ import annotations

import re
from pathlib import Path

from kwct_ml.bundle.formats import SUPPORTED, format_of
from kwct_ml.errors import ModelError
from kwct_ml.pipeline.context import context_problem
from kwct_ml.schema import TASKS

MODEL_FILE = "model.joblib"
#: The compiled scorer's arrays (pipeline/compiled.py), when the model has a compiled form.
SCORER_FILE = "scorer.npz"
MANIFEST_FILE = "manifest.json"
TRAIN_HINT = "train one with `python -m kwct_ml.train` (or `make run`)"
TAMPER_HINT = ("re-train with `python -m kwct_ml.train` or re-download the model folder from a "
               "trusted source (see docs/security.md)")
_SHA256 = re.compile("[0-9a-f]{64}")


def validate(manifest, path: str | Path) -> int:
    """The bundle format version of ``manifest`` (read from ``path``); ``ModelError`` if an entry is bad.

    Checked: it is a mapping with a sha256, names ``model.joblib`` in its own folder, has a format this
    kwct_ml reads, its article-context settings name tasks of the model (its ``labels``) with
    weights and temperatures in range, and its ``eval_sets`` are identified by path, sha256 and size.
    Manifests saved before an entry existed lack it: that is fine.
    """
    if not isinstance(manifest, dict) or not _SHA256.fullmatch(str(manifest.get("sha256", ""))):
        raise ModelError(f"{path}: no valid sha256 entry (not a kwct_ml manifest); {TAMPER_HINT}")
    named = manifest.get("model_file", MODEL_FILE)
    if named != MODEL_FILE:
        raise ModelError(f"{path}: names the model file {named!r}; a kwct_ml manifest always "
                         f"names {MODEL_FILE} in its own folder, so this one was edited: refusing to "
                         f"load it; {TAMPER_HINT}")
    version = format_of(manifest)
    if version is None:
        raise ModelError(f"{path}: format_version {manifest.get('format_version')!r} "
                         f"is not one this kwct_ml reads ({', '.join(map(str, SUPPORTED))}); "
                         "upgrade kwct_ml or re-train the model")
    labels = manifest.get("labels")
    tasks = [t for t in labels if t in TASKS] if isinstance(labels, dict) else list(TASKS)
    problem = context_problem(manifest.get("context", {}), manifest.get("context_temperature", {}), tasks)
    problem = problem or eval_sets_problem(manifest.get("eval_sets", []))
    problem = problem or scorer_problem(manifest.get("scorer"))
    if problem:
        raise ModelError(f"{path}: {problem}; {TRAIN_HINT}")
    return version


def scorer_problem(entry) -> str | None:
    """What is wrong with a manifest's ``scorer`` entry, or None. It is absent (saved before the
    compiled scorer), ``{"file": null, "why": ...}`` (no compiled form) or ``{"file": "scorer.npz",
    "sha256": 64 hex, "layout": int}``."""
    if entry is None:
        return None
    if not isinstance(entry, dict) or "file" not in entry:
        return "scorer is not a record of file, sha256 and layout"
    if entry["file"] is None:
        return None
    if entry["file"] != SCORER_FILE:
        return f"scorer names the file {entry['file']!r}, not {SCORER_FILE} in its own folder"
    if not _SHA256.fullmatch(str(entry.get("sha256", ""))) or type(entry.get("layout")) is not int:
        return "scorer needs sha256 (64 hex) and layout (an integer)"
    return None


def eval_set_entry(identity: dict, n: int, n_docs: int) -> dict:
    """The manifest's record of one evaluation set: its identity (path, sha256, size) and its size in
    sentences and articles."""
    return {"path": str(identity["path"]), "sha256": identity["sha256"], "size": int(identity["size"]),
            "n": int(n), "n_docs": int(n_docs)}


def eval_sets_problem(entries) -> str | None:
    """What is wrong with a manifest's ``eval_sets`` (a list of ``eval_set_entry`` records), or None."""
    if not isinstance(entries, list):
        return "eval_sets is not a list"
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and _SHA256.fullmatch(str(entry.get("sha256", "")))
                and type(entry.get("size")) is int and entry["size"] >= 0):
            return f"eval_sets[{i}] is not a record of path, sha256 (64 hex) and size (bytes)"
    return None
