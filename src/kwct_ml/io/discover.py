"""Which files in a folder are articles, their doc_ids, and how their names are shown.

A folder is walked without following links to folders (a link could loop, or lead outside the
input); what is not read is returned with the reason, so callers log it instead of staying silent.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import NamedTuple


class Unread(NamedTuple):
    """An entry of an input folder that was not read, and why."""

    path: Path
    error: str
    fix: str | None


def txt_files(folder: str | Path) -> list[Path]:
    """The ``*.txt`` entries directly in ``folder``, sorted by path (subfolders are not read)."""
    return sorted(Path(folder).glob("*.txt"))


def walk_files(folder: str | Path, suffixes) -> tuple[list[Path], list[Unread]]:
    """Files under ``folder`` (recursively) whose suffix (lower case) is in ``suffixes``, sorted,
    and the entries not read: unreadable folders, links to folders (not followed), broken or
    looping links."""
    files: list[Path] = []
    unread: list[Unread] = []

    def not_listed(exc: OSError) -> None:
        unread.append(Unread(Path(exc.filename), f"cannot read this folder: {exc.strerror}",
                             "check its permissions"))

    for root, dirs, names in os.walk(folder, onerror=not_listed):  # links to folders are not walked
        for name in dirs:
            path = Path(root, name)
            if path.is_symlink():
                unread.append(Unread(path, "a symbolic link to a folder, not followed (it could loop or "
                                     "lead outside the input folder)",
                                     "pass the folder it points to as an INPUT of its own"))
        for name in names:
            path = Path(root, name)
            if path.suffix.lower() not in suffixes:
                continue
            if path.is_file():
                files.append(path)
            elif path.is_symlink():
                unread.append(Unread(path, link_problem(path), "fix or remove the link"))
    return sorted(files), sorted(unread)


def link_problem(path: Path) -> str:
    """Why the symbolic link ``path`` does not lead to a file."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops (it leads back to itself)"
        return f"a symbolic link that cannot be followed ({exc.strerror})"
    return "a symbolic link to something that is not a file"


def doc_id(path: str | Path) -> str:
    """An article file's doc_id: its name without the suffix."""
    return Path(path).stem


def display_name(name: str | os.PathLike) -> str:
    """``name`` as text that is valid UTF-8: the bytes of a name in another encoding (Python keeps
    them as surrogates, e.g. a cp1256 name from a Windows archive) are shown as ``\\xNN``."""
    text = os.fspath(name)
    if text.isascii():
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is not an undecodable byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def undecodable(name: str | os.PathLike) -> bool:
    """Whether a file name holds bytes that are not UTF-8 (see ``display_name``)."""
    return display_name(name) != os.fspath(name)
