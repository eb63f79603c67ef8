"""User-facing errors: one line, no traceback, a hint of what to do."""

from __future__ import annotations

import contextlib
import errno
import functools
import signal
import sys
import threading
from pathlib import Path


class KwctError(Exception):
    """An error caused by the user's input or setup; the CLI prints it as one line."""

    exit_code = 1


class DataError(KwctError):
    """Bad input data; names the file (and line when known) and the fix."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 fix: str | None = None):
        self.message, self.path, self.line, self.fix = message, path, line, fix
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}" + (f" ({fix})" if fix else ""))


class ConfigError(KwctError):
    """A bad configuration value; the message names the key."""


class ModelError(KwctError):
    """A missing, incomplete or tampered model folder."""


#: errno values meaning the disk (or the user's quota) is full.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(DataError):
    """No space left on the device while writing ``path``: one line instead of a traceback."""

    def __init__(self, path: str | Path, fix: str = "free some space and run it again"):
        self.target = path
        super().__init__(f"no space left on device writing {path}", fix=fix)


@contextlib.contextmanager
def writing(path: str | Path, fix: str | None = None):
    """Inside, a full disk (ENOSPC, EDQUOT) raises ``DiskFullError`` naming ``path`` (the OSError
    of a failed write does not say which file it was)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in NO_SPACE:
            raise
        raise (DiskFullError(path, fix) if fix else DiskFullError(path)) from None


# Line breaks and control characters (ANSI escapes start with ESC) from untrusted input: shown escaped.
_BREAKS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f, *range(0x80, 0xa0)) if c != 0x09}
_BREAKS.update({ord(c): repr(c)[1:-1] for c in "\n\r\u2028\u2029"})
# Undecodable bytes of file names (kept by Python as U+DC80-U+DCFF) as \xNN; other lone surrogates escaped.
_BREAKS.update({c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)})
_BREAKS.update({0xDC00 + b: f"\\x{b:02x}" for b in range(0x80, 0x100)})


def one_line(message: str) -> str:
    """``message`` with line breaks and control characters from the input (file names, column names,
    manifest fields) shown escaped, so it stays one line and cannot drive the terminal; undecodable
    bytes of file names are shown as ``\\xNN``."""
    return message.translate(_BREAKS)


def _program(func) -> str:
    """The command the user ran (``kwct_ml.train`` for ``kwct_ml.cli.train``), also under ``python -m``."""
    module = func.__module__
    if module == "__main__":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        module = spec.name if spec is not None else Path(sys.argv[0]).stem
    return f"kwct_ml.{module.rsplit('.', 1)[-1]}"


def cli(func):
    """Wrap a CLI ``main`` so user errors print one line and return an exit code."""

    @functools.wraps(func)
    def wrapper(argv=None):
        prog = _program(func)
        try:
            return func(argv)
        except KwctError as exc:
            print(one_line(f"{prog}: error: {exc}"), file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `... | head`
            return 0
        except OSError as exc:  # a full disk met where no ``writing`` block names the file
            if exc.errno not in NO_SPACE:
                raise
            print(one_line(f"{prog}: error: {DiskFullError(exc.filename or 'its output')}"), file=sys.stderr)
            return 1

    return wrapper


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Inside, SIGTERM raises KeyboardInterrupt (main thread only), so a kill cleans up like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
