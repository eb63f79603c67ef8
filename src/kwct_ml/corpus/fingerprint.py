"""Fingerprints of the label files: which exact labels a model was trained on (sha256 per file).

Recorded in every manifest and run record, and compared by ``label status`` to reuse a run's
learning curve only when the labels have not changed since.
"""

from __future__ import annotations

from pathlib import Path

from kwct_ml.bundle.store import sha256_file
from kwct_ml.corpus.dataset import LABEL_FILES
from kwct_ml.corpus.standoff import STANDOFF_FILE


def label_file_hashes(data_dir: str | Path, include_authored: bool = True,
                      include_standoff: bool = False) -> dict[str, str]:
    """``{"labels/<file>": sha256}`` of the label files present in ``data_dir`` that a run trains on."""
    out = {}
    for name in (*LABEL_FILES, STANDOFF_FILE):
        path = Path(data_dir) / "labels" / name
        if not path.is_file() or (name == "authored.csv" and not include_authored) or (
                name == STANDOFF_FILE and not include_standoff):
            continue
        out[f"labels/{name}"] = sha256_file(path)
    return out
