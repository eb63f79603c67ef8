"""All-or-nothing replacement of several files, under a folder lock, with a journal that survives a kill.

``folder_lock`` serialises writers of one folder (``data/.lock``, exclusive for a merge, shared for a
reader such as train). ``Transaction`` stages each new file and a backup of each old one, writes a
journal, renames them all in ``commit``; ``finish`` deletes the journal (the commit point). A process
killed in between leaves the journal, and the next ``folder_lock`` on that folder rolls it back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from pathlib import Path

from kwct_ml.io.atomic import atomic_write_bytes, atomic_write_text, stage_bytes

# os.replace, looked up through this name so a test can make a commit fail midway.
_replace = os.replace

LOCK_FILE = ".lock"
JOURNAL_FILE = ".transaction.json"

#: Folders this process holds a lock on (resolved path -> depth), so nested calls do not deadlock.
_held: dict[Path, int] = {}


@contextlib.contextmanager
def folder_lock(folder: str | Path, shared: bool = False):
    """Hold ``folder/.lock`` (exclusive, or ``shared`` for readers) while the block runs; waits for
    another process's lock. An interrupted transaction found in the folder is rolled back first."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _held or not folder.is_dir():
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]
        return
    try:
        handle = open(folder / LOCK_FILE, "a+b")  # noqa: SIM115 (held for the whole block)
    except OSError:  # a read-only corpus: nobody can write it, so there is nothing to lock out
        handle = None
    try:
        if handle is not None:
            if (folder / JOURNAL_FILE).exists():
                fcntl.flock(handle, fcntl.LOCK_EX)
                recover(folder)
            fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        _held[key] = 1
        yield
    finally:
        _held.pop(key, None)
        if handle is not None:
            handle.close()  # closing releases the lock


def recover(folder: str | Path) -> int:
    """Roll back a transaction that a killed process left in ``folder`` (call under its exclusive
    lock); returns how many files were restored or removed and says so on stderr."""
    folder = Path(folder)
    journal = folder / JOURNAL_FILE
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        entries = record["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0
    restored = 0
    for entry in entries:
        target = folder / entry["target"]
        tmp = folder / entry["tmp"]
        backup = folder / entry["backup"] if entry["backup"] else None
        if backup is not None and backup.exists():
            os.replace(backup, target)
            restored += 1
        elif backup is None and target.exists() and not tmp.exists():
            target.unlink()  # the new file had been renamed in: it did not exist before
            restored += 1
        with contextlib.suppress(OSError):
            tmp.unlink()
    for folder_name in reversed(record.get("made_dirs", [])):
        with contextlib.suppress(OSError):
            (folder / folder_name).rmdir()
    journal.unlink()
    print(f"kwct_ml: rolled back an interrupted change to {folder} ({restored} file(s) restored); "
          "run the interrupted command again", file=sys.stderr)
    return restored


class Transaction:
    """Stage new file contents as temp files (with the mode ``atomic_open`` gives), then rename
    them all in ``commit``; ``rollback`` restores every target and removes folders it created.

    With ``journal_dir`` (the locked folder holding every target), old contents are kept as backup
    files and listed in a journal before ``commit``, so a kill at any point can be rolled back."""

    def __init__(self, journal_dir: str | Path | None = None) -> None:
        self.staged: list[tuple[Path, Path]] = []
        self.backups: dict[Path, bytes | None] = {}
        self.backup_files: dict[Path, Path | None] = {}
        self.done: list[Path] = []
        self.made_dirs: list[Path] = []
        self.journal_dir = Path(journal_dir) if journal_dir is not None else None

    def stage(self, target: Path, data: bytes) -> None:
        missing = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            self.made_dirs.append(folder)
        self.staged.append((stage_bytes(target, data), target))
        self.backups[target] = target.read_bytes() if target.exists() else None
        if self.journal_dir is not None:
            old = self.backups[target]
            self.backup_files[target] = None if old is None else stage_bytes(target, old)

    def _journal(self) -> None:
        base = self.journal_dir
        entries = [{"target": os.path.relpath(target, base), "tmp": os.path.relpath(tmp, base),
                    "backup": None if self.backup_files[target] is None
                    else os.path.relpath(self.backup_files[target], base)}
                   for tmp, target in self.staged]
        made = [os.path.relpath(d, base) for d in self.made_dirs]
        atomic_write_text(base / JOURNAL_FILE, json.dumps({"entries": entries, "made_dirs": made}))

    def commit(self) -> None:
        if self.journal_dir is not None:
            self._journal()
        for tmp, target in self.staged:
            _replace(tmp, target)
            self.done.append(target)

    def finish(self) -> None:
        """The commit point: drop the journal and the backups; the new files stay."""
        if self.journal_dir is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.journal_dir / JOURNAL_FILE).unlink()
        self._drop_backups()

    def _drop_backups(self) -> None:
        for backup in self.backup_files.values():
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()

    def rollback(self) -> None:
        """Restore every target; a backup file is renamed back (no space needed on a full disk)."""
        for target in reversed(self.done):
            original, backup = self.backups[target], self.backup_files.get(target)
            if original is None:
                with contextlib.suppress(OSError):
                    target.unlink()
            elif backup is not None and backup.exists():
                os.replace(backup, target)
            else:
                atomic_write_bytes(target, original)
        for tmp, _ in self.staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        for folder in reversed(self.made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
        if self.journal_dir is not None:
            with contextlib.suppress(FileNotFoundError):
                (self.journal_dir / JOURNAL_FILE).unlink()
        self._drop_backups()
