"""CSV, TSV and JSON-lines tables: one reader of records and one writer of rows for all three.

Reading is strict where silence would lose data (an unclosed CSV quote stops the table at its
line); the writer's cells round-trip through ``read_rows``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

from kwct_ml.errors import ConfigError, DataError
from kwct_ml.io import cells
from kwct_ml.io.encoding import open_text

#: File suffix -> table format.
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
CSV_FIELD_LIMIT = 1 << 30  # the csv module's default (128 KB) is smaller than some articles


def format_of(path: str, forced: str | None, what: str) -> str:
    """The table format of output ``path`` (``-`` is standard output: CSV unless ``forced``)."""
    if forced and path in ("-", ""):
        return forced
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS:
        if forced and forced != FORMATS[suffix]:
            raise ConfigError(f"--format {forced} contradicts {what} {path!r}")
        return FORMATS[suffix]
    if path in ("-", ""):
        return "csv"
    if forced:
        return forced
    raise ConfigError(f"{what} {path!r} has no known extension; use .csv, .tsv or .jsonl "
                      "(or --format)")


def _delimiter(fmt: str) -> str:
    return "\t" if fmt == "tsv" else ","


def records(handle, path: str, fmt: str) -> Iterator[tuple[int, dict | DataError]]:
    """(line, record) of each record of an open table; a bad JSON line is a ``DataError`` item.

    A whole-table problem (empty, malformed CSV) raises ``DataError`` with its line.
    """
    if fmt == "jsonl":
        return _jsonl_records(handle, path)
    return _csv_records(handle, path, _delimiter(fmt))


def _csv_records(handle, path: str, delimiter: str):
    """(line, record) of a CSV/TSV; a quoting error stops the table at the line where its record
    starts (strict: an unclosed quote would otherwise swallow every later row into one cell, silently).
    A column name given twice is an error (one of the two columns would be lost)."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))  # whole articles in a cell
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    start = 1
    try:
        header = next(reader, None)
        if not header:
            raise DataError("is empty (no header row)", path, fix="remove it or add rows")
        twice = next((i for i, name in enumerate(header) if name and name in header[:i]), None)
        if twice is not None:
            name = header[twice]
            raise DataError(f"column {name!r} is named twice in the header (columns "
                            f"{header.index(name) + 1} and {twice + 1})", path, 1, fix="rename one of them")
        start = reader.line_num + 1
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            values = values + [""] * (len(header) - len(values))
            yield reader.line_num, dict(zip(header, values, strict=False))
            start = reader.line_num + 1
    except csv.Error as exc:
        if delimiter == "\t":
            raise DataError(f"malformed TSV ({exc}) in the row starting here: a cell that starts "
                            "with a double quote is read as quoted up to the next lone quote; rest "
                            "of the table skipped", path, start,
                            fix="in a TSV, start such a cell with another character, or quote the "
                                "whole cell and double the quotes inside it (\"\"\"عاجل\"\" ...\")") from None
        raise DataError(f"malformed CSV ({exc}); rest of the table skipped", path, reader.line_num,
                        fix="check the quotes up to this line, or save the table again from a "
                            "spreadsheet") from None


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON: read as null, so the row's columns are copied out as valid JSON."""
    return None


class _KeyTwice(ValueError):
    """A JSON object naming one key twice (``json.loads`` would keep the last value, silently)."""


def _object(pairs: list[tuple[str, object]]) -> dict:
    record = dict(pairs)
    if len(record) < len(pairs):
        seen: set[str] = set()
        raise _KeyTwice(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return record


def _surrogate(value) -> bool:
    """Whether a parsed JSON value holds a lone surrogate (an escape such as \\ud83d): not text."""
    if isinstance(value, str):
        if value.isascii():
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_surrogate(k) or _surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_surrogate(v) for v in value)
    return False


def _jsonl_records(handle, path: str):
    seen = False
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=_no_constant, object_pairs_hook=_object)
        except _KeyTwice as exc:
            yield number, DataError(f"names the key {exc.args[0]!r} twice; row skipped", path, number,
                                    fix="keep one of them")
            continue
        except ValueError as exc:
            yield number, DataError(f"not JSON ({exc.msg}); row skipped", path, number)
            continue
        if not isinstance(record, dict):
            yield number, DataError("not a JSON object; row skipped", path, number)
            continue
        if _surrogate(record):
            yield number, DataError("holds a lone surrogate escape (such as \\ud83d, half of an emoji), "
                                    "not text; row skipped", path, number,
                                    fix="write the character itself, or both halves of its escape")
            continue
        seen = True
        yield number, record
    if not seen:
        raise DataError("has no JSON records", path, fix="remove it or add rows")


def header(path: str, fmt: str, encoding: str | None = None) -> list[str] | None:
    """A table's column names (CSV/TSV header, or keys of a JSONL file's first record); None
    when unreadable (reading it for real reports why)."""
    try:
        with open_text(path, encoding) as handle:
            if fmt == "jsonl":
                for line in handle:
                    if line.strip():
                        record = json.loads(line, parse_constant=_no_constant)
                        return list(record) if isinstance(record, dict) else None
                return None
            return next(csv.reader(handle, delimiter=_delimiter(fmt)), None)
    except (DataError, OSError, UnicodeDecodeError, ValueError, csv.Error):
        return None


#: Cell values the csv writer turns into the text ``_cell`` would give (``str``); exact types, so
#: ``bool`` (a subclass of int) still becomes true/false. Skipping ``_cell`` for them is a tenth of
#: predict's time on big inputs (issue 20).
_AS_IS = frozenset({str, int, float})


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "cell"):  # a value with its own cell text (inference.tagger.TopLabels)
        return value.cell()
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class RowFormatter:
    """Formats rows as CSV/TSV (fixed header) or JSON lines; returns UTF-8 bytes. ``spreadsheet``
    (output meant for Excel, e.g. ``--bom``): CSV/TSV cells that would run as formulas are neutralised."""

    def __init__(self, fmt: str, columns: list[str], spreadsheet: bool = False):
        self.fmt, self.columns, self.spreadsheet = fmt, columns, spreadsheet

    def header(self, bom: bool = False) -> bytes:
        if self.fmt == "jsonl":
            return b""
        return ("\ufeff" if bom else "").encode() + self.rows([dict(zip(self.columns, self.columns,
                                                                           strict=True))])

    def rows(self, rows: list[dict]) -> bytes:
        buf = io.StringIO()
        if self.fmt == "jsonl":
            for row in rows:
                buf.write(json.dumps(row, ensure_ascii=False))
                buf.write("\n")
        else:
            writer = csv.writer(buf, delimiter=_delimiter(self.fmt), lineterminator="\n")
            for row in rows:
                values = [v if type(v) in _AS_IS else _cell(v) for v in map(row.get, self.columns)]
                writer.writerow([cells.neutralise(v) for v in values] if self.spreadsheet else values)
        return buf.getvalue().encode("utf-8")


def read_rows(path: str | Path, fmt: str) -> Iterator[dict]:
    """Read back rows written by ``RowFormatter`` (used to rebuild a summary on --resume)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        if fmt == "jsonl":
            for line in handle:
                if line.strip():
                    yield json.loads(line)
        else:
            yield from csv.DictReader(handle, delimiter=_delimiter(fmt))
