"""Bounds on reading one input: regular files only (a FIFO would block, a device never end), and
at most a per-article byte limit, so memory per input stays bounded whatever is named."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kwct_ml.errors import ConfigError, DataError

#: Bytes of one article (a .txt file or standard input) beyond which it is refused. The longest
#: seed article is under 10 KB; 20 MB is a book, and tags in about 300 MB of memory per worker.
MAX_ARTICLE_BYTES = 20_000_000
#: Environment variable overriding MAX_ARTICLE_BYTES (``--max-article-bytes`` overrides both).
ENV = "KWCT_MAX_ARTICLE_BYTES"
NOT_REGULAR = "not a regular file (a FIFO, device or socket)"
NOT_REGULAR_HINT = "save the text to a file and pass that"
_CHUNK = 1 << 20


def max_article_bytes(given: int | None = None) -> int:
    """The per-article byte limit: ``given``, else ``$KWCT_MAX_ARTICLE_BYTES``, else the default."""
    if given is not None:
        value, where = given, "--max-article-bytes"
    else:
        raw = os.environ.get(ENV, "").strip()
        if not raw:
            return MAX_ARTICLE_BYTES
        where = ENV
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            raise ConfigError(f"{ENV}={raw!r}: give a number of bytes") from None
    if value < 1:
        raise ConfigError(f"{where} must be at least 1 byte")
    return value


def too_large(what: str | Path, limit: int, size: int | None = None) -> DataError:
    said = f"is {size:,} bytes" if size is not None else "is longer"
    return DataError(f"{said}, over the limit of {limit:,} bytes per article; not read", what,
                     fix=f"split it into articles, or raise --max-article-bytes (or {ENV})")


def is_regular(path: str | Path) -> bool:
    """Whether ``path`` (links followed) is a regular file; False when absent or unreadable."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def read_file(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path`` (opened without blocking), at most ``limit``;
    ``DataError`` for a FIFO, device or socket, or a longer file; ``OSError`` as ``open`` raises it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DataError(NOT_REGULAR, path, fix=NOT_REGULAR_HINT)
        if limit is not None and st.st_size > limit:
            raise too_large(path, limit, st.st_size)
        data = handle.read() if limit is None else handle.read(limit + 1)  # it may have grown
    if limit is not None and len(data) > limit:
        raise too_large(path, limit)
    return data


def read_stream(stream, what: str, limit: int) -> bytes:
    """At most ``limit`` bytes of a binary ``stream`` (standard input), read in chunks; a longer
    stream (``/dev/zero`` never ends) is a ``DataError`` once ``limit`` is passed."""
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise too_large(what, limit)
    return b"".join(chunks)
