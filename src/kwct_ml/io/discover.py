"""Which files in a folder are articles, and their doc_ids (``label prepare``, ``dataset check``)."""

from __future__ import annotations

from pathlib import Path


def txt_files(folder: str | Path) -> list[Path]:
    """The ``*.txt`` entries directly in ``folder``, sorted by path (subfolders are not read)."""
    return sorted(Path(folder).glob("*.txt"))


def doc_id(path: str | Path) -> str:
    """An article file's doc_id: its name without the suffix."""
    return Path(path).stem
