"""One reader for the project's own CSV files: header check, then (line, row) per record."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from kwct_ml.errors import DataError

Rows = Iterator[tuple[int, dict]]


def csv_rows(text: str, path: str | Path, required: tuple[str, ...] = (), *, delimiter: str = ",",
             strip_names: bool = False, fix: str | None = None) -> tuple[list[str], Rows]:
    """(header, rows) of CSV ``text``; a row is (line where the record ends, ``csv.DictReader``'s dict).

    Records are split the csv module's way (``newline=""``): a line break inside quotes, or a
    U+2028 anywhere, stays in its cell. A header missing a ``required`` column raises ``DataError``
    (line 1, ``fix`` or "the header needs ..."); ``strip_names`` trims spaces around column names.
    """
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = list(reader.fieldnames or [])
    if strip_names:
        header = [(name or "").strip() for name in header]
        reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", path, 1,
                        fix=fix or f"the header needs {', '.join(required)}")
    return header, ((reader.line_num, row) for row in reader)
