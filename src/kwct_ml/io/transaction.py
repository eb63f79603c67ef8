"""All-or-nothing replacement of several files: stage each, rename them all, undo on failure."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from kwct_ml.io.atomic import atomic_write_bytes, stage_bytes

# os.replace, looked up through this name so a test can make a commit fail midway.
_replace = os.replace


class Transaction:
    """Stage new file contents as temp files (with the mode ``atomic_open`` gives), then rename
    them all in ``commit``; ``rollback`` restores every target and removes folders it created."""

    def __init__(self) -> None:
        self.staged: list[tuple[Path, Path]] = []
        self.backups: dict[Path, bytes | None] = {}
        self.done: list[Path] = []
        self.made_dirs: list[Path] = []

    def stage(self, target: Path, data: bytes) -> None:
        missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            self.made_dirs.append(folder)
        self.staged.append((stage_bytes(target, data), target))
        self.backups[target] = target.read_bytes() if target.exists() else None

    def commit(self) -> None:
        for tmp, target in self.staged:
            _replace(tmp, target)
            self.done.append(target)

    def rollback(self) -> None:
        for target in reversed(self.done):
            original = self.backups[target]
            if original is None:
                with contextlib.suppress(OSError):
                    target.unlink()
            else:
                atomic_write_bytes(target, original)
        for tmp, _ in self.staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for folder in reversed(self.made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
