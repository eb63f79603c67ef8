"""Atomic writes: a temp file beside the target, renamed over it, with the old file's mode."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from pathlib import Path

from kwct_ml.errors import writing


def _target_mode(path: Path) -> int:
    """Permission bits for a replacement of ``path``: the old file's, else 0666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def temp_beside(path: Path) -> Path:
    """An empty temp file beside ``path`` with the mode ``path`` will have (old file's, else umask)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _target_mode(path))  # mkstemp makes 0600; a plain open() would respect the umask
    return Path(tmp)


def stage_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` durably to a temp file beside ``path`` (to be renamed over it later); a full
    disk is a ``DiskFullError`` naming ``path``, with the temp file removed."""
    tmp = temp_beside(path)
    try:
        with writing(path), open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """A temp path beside ``path`` to write by any means (e.g. a Parquet writer); on success it is
    synced and renamed over ``path``, on error it vanishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(path)
    try:
        with writing(path):  # a full disk: one line naming the target, and no temp file left
            yield tmp
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", **kwargs):
    """Open a temp file beside ``path``; on success it replaces ``path``, on error it vanishes."""
    kw = {} if "b" in mode else {"encoding": encoding, **kwargs}
    with atomic_path(path) as tmp, open(tmp, mode, **kw) as handle:
        yield handle


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (temp file + rename)."""
    with atomic_open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def lock_output(path: Path, what: str):
    """Take an exclusive lock on ``path`` (created empty if absent, never truncated here) and return
    its open handle; closing it releases the lock. Another process holding it: one-line error."""
    from kwct_ml.errors import ConfigError

    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        handle = open(path, "ab")  # noqa: SIM115 (held until the caller closes it)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ConfigError(f"{what}: another run is writing it ({path} is locked); wait for it to "
                              "finish or choose another output") from None
        try:  # the holder may have renamed the file away just before we locked it: lock the new one
            if os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
                return handle
        except FileNotFoundError:
            pass
        handle.close()
