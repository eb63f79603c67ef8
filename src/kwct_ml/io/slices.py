"""Record-aligned slices of one big CSV/TSV/JSONL table, so several workers can read it.

``plan`` parses the table once (on a worker) and returns byte ranges that start and end on record
boundaries (quoted line breaks inside a cell are respected), each holding about ``size`` records
and never cutting the rows of one ``--article-column`` article apart (``batch._chunks``' rule).
``records`` reads one slice (header + its byte range) with the same parser as a whole table, its
line numbers and record indexes those of the whole file.
"""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from kwct_ml.errors import DataError
from kwct_ml.io import tables
from kwct_ml.io.encoding import judge_file


@dataclass(frozen=True)
class Slice:
    """Records of a table starting in bytes [start, end): their first line and record index."""

    start: int
    end: int
    line: int  # the file line the slice starts at (1-based)
    index: int  # records before it (the table reader numbers rows from 0)
    header_end: int  # bytes of the header record (0 for JSON lines)
    codec: str
    errors: str = "strict"  # as decided for the whole file (``encoding.judge_file``)


class _Lines:
    """Decoded lines of a binary file from its current position (split as ``newline=''`` text mode
    splits them), with ``pos``, the byte offset after the last line handed out; stops at ``end``."""

    def __init__(self, handle, codec: str, pos: int = 0, end: int | None = None, errors: str = "strict"):
        self.handle, self.pos, self.end, self.errors = handle, pos, end, errors
        self.codec = "utf-8" if codec == "utf-8-sig" else codec
        self.bom = codec == "utf-8-sig" and pos == 0
        self.lines = 0
        self._parts: deque[bytes] = deque()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.end is not None and self.pos >= self.end:
            raise StopIteration
        if not self._parts:
            raw = self.handle.readline()
            if not raw:
                raise StopIteration
            self._parts.extend(raw.splitlines(keepends=True))
        part = self._parts.popleft()
        self.pos += len(part)
        self.lines += 1
        text = part.decode(self.codec, self.errors)
        if self.bom:
            text, self.bom = text.removeprefix("\ufeff"), False
        return text


def _decision(path: str, encoding: str | None):
    """The file's decoding (as a whole-table read decides it), or None when it cannot be cut at
    line-break bytes (UTF-16/32)."""
    decision = judge_file(path, encoding)
    return None if codecs.lookup(decision.codec).name.startswith(("utf-16", "utf-32")) else decision


def _header_end(path: str, fmt: str, codec: str, errors: str) -> int:
    if fmt == "jsonl":
        return 0
    with open(path, "rb") as handle:
        lines = _Lines(handle, codec, errors=errors)
        next(csv.reader(lines, delimiter="\t" if fmt == "tsv" else ","), None)
        return lines.pos


def plan(path: str, fmt: str, encoding: str | None, size: int,
         article_column: str | None = None) -> list[Slice] | None:
    """Slices of about ``size`` records (one article's rows never split), or None when the table
    is better read whole: it fits in one slice, is UTF-16, or is unreadable (reading it whole
    reports why, once)."""
    try:
        decision = _decision(path, encoding)
        if decision is None:
            return None
        codec, errors = decision.codec, decision.errors
        header_end = _header_end(path, fmt, codec, errors)
        cuts: list[tuple[int, int, int]] = []  # (byte, line, index) where each slice starts
        with open(path, "rb") as handle:
            handle.seek(header_end)
            body = _Lines(handle, codec, header_end, errors=errors)
            stream = _HeaderFirst(path, codec, errors, header_end, body)
            head = len(stream.head)
            start, start_line = header_end, head + 1  # where the next record begins
            index = in_slice = 0
            last = None
            for _, record in tables.records(stream, path, fmt):
                if not isinstance(record, DataError):
                    article = str(record.get(article_column) or "") if article_column else None
                    if not cuts:
                        cuts.append((header_end, head + 1, 0))
                    elif in_slice >= size and (article is None or article != last):
                        cuts.append((start, start_line, index))
                        in_slice = 0
                    in_slice += 1
                    index += 1
                    last = article
                start, start_line = body.pos, head + body.lines + 1
            end = body.pos
    except (DataError, OSError, UnicodeDecodeError, csv.Error, ValueError):
        return None
    if len(cuts) < 2:
        return None
    bounds = [c[0] for c in cuts[1:]] + [end]
    return [Slice(byte, bound, line, index, header_end, codec, errors)
            for (byte, line, index), bound in zip(cuts, bounds, strict=True)]


class _HeaderFirst:
    """Lines of the header record, then those of ``body`` (a ``_Lines`` positioned after it)."""

    def __init__(self, path: str, codec: str, errors: str, header_end: int, body: _Lines):
        self.head: list[str] = []
        if header_end:
            with open(path, "rb") as handle:
                self.head = list(_Lines(handle, codec, 0, header_end, errors))
        self.body = body

    def __iter__(self):
        yield from self.head
        yield from self.body


def records(path: str, fmt: str, piece: Slice) -> Iterator[tuple[int, dict | DataError]]:
    """(line, record) of the records of ``piece``, as ``tables.records`` gives them for the whole
    file (lines are the file's)."""
    with open(path, "rb") as handle:
        handle.seek(piece.start)
        body = _Lines(handle, piece.codec, piece.start, piece.end, piece.errors)
        source = _HeaderFirst(path, piece.codec, piece.errors, piece.header_end, body)
        shift = piece.line - 1 - len(source.head)
        try:
            for line, record in tables.records(source, path, fmt):
                if isinstance(record, DataError):
                    record = DataError(record.message, record.path, record.line + shift, record.fix)
                yield line + shift, record
        except DataError as exc:
            line = exc.line + shift if exc.line is not None else None
            raise DataError(exc.message, exc.path, line, exc.fix) from None
