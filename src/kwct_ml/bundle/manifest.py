"""The model bundle's manifest.json: the one check of its entries, before any pickle is opened.

A manifest names the model file and its sha256, the bundle format, the labels per task, and the
article-context settings (weights and sharpening temperatures, settings rather than pickled code).
"""

from __future__ import annotations

import re
from pathlib import Path

from kwct_ml.bundle.formats import SUPPORTED, format_of
from kwct_ml.errors import ModelError
from kwct_ml.pipeline.context import context_problem
from kwct_ml.schema import TASKS

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
TRAIN_HINT = "train one with `python -m kwct_ml.train` (or `make run`)"
TAMPER_HINT = ("re-train with `python -m kwct_ml.train` or re-download the model folder from a "
               "trusted source (see docs/security.md)")
_SHA256 = re.compile("[0-9a-f]{64}")


def validate(manifest, path: str | Path) -> int:
    """The bundle format version of ``manifest`` (read from ``path``); ``ModelError`` if an entry is bad.

    Checked: it is a mapping with a sha256, names ``model.joblib`` in its own folder, has a format this
    kwct_ml reads, and its article-context settings name tasks of the model (its ``labels``) with
    weights and temperatures in range. Manifests saved before an entry existed lack it: that is fine.
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
    if problem:
        raise ModelError(f"{path}: {problem}; {TRAIN_HINT}")
    return version
