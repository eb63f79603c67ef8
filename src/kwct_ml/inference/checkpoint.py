"""Resume checkpoints of ``predict``: ``OUT.partial.ckpt`` records how much of ``OUT.partial`` is complete.

Its first line fingerprints the run (inputs, options, model); each later line says that the first
``items`` work items are written and flushed, at these output and errors-file offsets.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from kwct_ml.errors import ConfigError
from kwct_ml.io.sources import Source

CHECKPOINT_VERSION = 1


def fingerprint(sources: list[Source], options: dict) -> str:
    """Hash of inputs (paths, sizes, mtimes) and options: a resumed run must match its start."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    for source in sources:
        stat = None
        if source.is_file:
            try:
                st = os.stat(source.path)
                stat = (st.st_size, st.st_mtime_ns)
            except OSError:
                stat = None
        digest.update(json.dumps([source.kind, source.path, source.doc_id, stat]).encode())
    return digest.hexdigest()


def start(handle, fingerprint: str) -> None:
    """Write the header line of a new checkpoint file."""
    handle.write(json.dumps({"version": CHECKPOINT_VERSION, "fingerprint": fingerprint}) + "\n")


def mark(handle, items: int, out, err_handle, rows: int, n_errors: int) -> None:
    """Record that the first ``items`` work items are completely written (and flushed)."""
    handle.write(json.dumps({"items": items, "out": out.tell(),
                             "errors": err_handle.tell() if err_handle else 0,
                             "rows": rows, "n_errors": n_errors}) + "\n")
    handle.flush()


def last(ckpt: Path, fingerprint: str, out_size: int, err_size: int) -> dict:
    """The last checkpoint whose offsets exist on disk; ConfigError if made by another run."""
    lines = ckpt.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0])
    except (IndexError, ValueError):
        raise ConfigError(f"{ckpt} is unreadable; rerun without --resume") from None
    if header.get("version") != CHECKPOINT_VERSION or header.get("fingerprint") != fingerprint:
        raise ConfigError(f"{ckpt} was made with other inputs, options or model; "
                          "rerun without --resume to start again")
    best = None
    for line in lines[1:]:
        try:
            point = json.loads(line)
        except ValueError:
            break  # a line cut by the interruption
        if point["out"] <= out_size and point["errors"] <= err_size:
            best = point
    if best is None:
        raise ConfigError(f"{ckpt} has no usable checkpoint; rerun without --resume")
    return best


def finish(partial: Path, final: Path) -> None:
    """Make ``partial`` durable and rename it to ``final`` (which so only ever exists complete)."""
    with open(partial, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, final)
