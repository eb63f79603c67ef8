"""Fingerprints of the label files: which exact labels a model was trained on (sha256 per file).

Recorded in every manifest and run record, and compared by ``label status`` to reuse a run's
learning curve only when the labels have not changed since.
"""

from __future__ import annotations

from pathlib import Path

from kwct_ml.bundle.store import sha256_file
from kwct_ml.corpus.dataset import LABEL_FILES


def label_file_hashes(data_dir: str | Path, include_authored: bool = True) -> dict[str, str]:
    """``{"labels/<file>": sha256}`` of the label files present in ``data_dir`` that a run trains on."""
    out = {}
    for name in LABEL_FILES:
        path = Path(data_dir) / "labels" / name
        if path.is_file() and (include_authored or name != "authored.csv"):
            out[f"labels/{name}"] = sha256_file(path)
    return out
