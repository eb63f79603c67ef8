"""Parquet files: predict rows written with a fixed schema (atomically) and read back, and
Parquet inputs read as table records (whole, or a row range of a big file).

Every file of a run gets the same schema (contract columns typed, own table columns as strings,
explanations as JSON text, as in CSV), so the files of a partitioned run form one dataset.
Needs pyarrow (the ``dask`` extra); it is imported only when a Parquet file is written or read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kwct_ml.errors import ConfigError, DataError
from kwct_ml.io.atomic import atomic_path
from kwct_ml.io.tables import _cell as cell  # the CSV cell rule: JSON lists, true/false

SUFFIX = ".parquet"
INSTALL_HINT = 'pip install "kwct_ml[dask]"'
#: Rows per row group (and per write): bounds the writer's memory.
BATCH_ROWS = 50_000
_INTS = {"sent_id", "start", "end"}
_FLOATS = {"topic_score", "stance_score"}
_BOOLS = {"uncertain"}
_TYPED = _INTS | _FLOATS | _BOOLS


def pyarrow():
    """The pyarrow module, or a one-line ConfigError saying how to install it."""
    try:
        import pyarrow as pa
        import pyarrow.parquet  # noqa: F401 - registers pa.parquet
    except ImportError:
        raise ConfigError(f"Parquet needs pyarrow: {INSTALL_HINT}") from None
    return pa


def schema(columns: list[str]):
    """The Arrow schema of rows with ``columns`` (contract types; everything else a string)."""
    pa = pyarrow()
    fields = []
    for col in columns:
        kind = (pa.int64() if col in _INTS else pa.float64() if col in _FLOATS
                else pa.bool_() if col in _BOOLS else pa.string())
        fields.append(pa.field(col, kind))
    return pa.schema(fields)


def _value(col: str, value):
    if value is None or (value == "" and col in _TYPED):
        return None
    if col in _INTS:
        return int(value)
    if col in _FLOATS:
        return float(value)
    if col in _BOOLS:
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return cell(value)


def _batches(rows: Iterable[dict], columns: list[str]) -> Iterator[dict[str, list]]:
    batch: dict[str, list] = {col: [] for col in columns}
    n = 0
    for row in rows:
        for col in columns:
            batch[col].append(_value(col, row.get(col)))
        n += 1
        if n == BATCH_ROWS:
            yield batch
            batch, n = {col: [] for col in columns}, 0
    if n:
        yield batch


def write_rows(path: str | Path, rows: Iterable[dict], columns: list[str]) -> int:
    """Write ``rows`` to the Parquet file ``path`` atomically (temp file + rename); the row count.

    An interrupted write leaves a hidden ``.NAME.*.tmp`` file that Parquet dataset readers skip.
    """
    pa = pyarrow()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sch = schema(columns)
    n = 0
    with atomic_path(path) as tmp, pa.parquet.ParquetWriter(str(tmp), sch) as writer:
        for batch in _batches(rows, columns):
            writer.write_table(pa.Table.from_pydict(batch, schema=sch))
            n += len(batch[columns[0]])
        if n == 0:
            writer.write_table(sch.empty_table())
    return n


def files(path: str | Path) -> list[Path]:
    """The Parquet file ``path``, or the ``*.parquet`` files of a dataset directory in name order
    (hidden temp files excluded)."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.glob(f"*{SUFFIX}") if not p.name.startswith((".", "_")))


def count_rows(path: str | Path) -> int:
    """Rows in a Parquet file or dataset directory (from the file footers)."""
    pa = pyarrow()
    return sum(pa.parquet.ParquetFile(str(file)).metadata.num_rows for file in files(path))


def read_rows(path: str | Path, columns: list[str] | None = None) -> Iterator[dict]:
    """Rows of a Parquet file, or of every file of a dataset directory in name order."""
    pa = pyarrow()
    for file in files(path):
        parquet_file = pa.parquet.ParquetFile(str(file))
        for batch in parquet_file.iter_batches(columns=columns):
            yield from batch.to_pylist()


# --------------------------------------------------------------------------- Parquet inputs

#: Rows decoded at a time when reading an input (bounds memory whatever the row-group size).
READ_BATCH_ROWS = 1024
UNREADABLE_HINT = "check that it is a complete Parquet file (re-export it)"


@dataclass(frozen=True)
class RowRange:
    """Rows [start, end) of a Parquet input (0-based): one piece of a big file."""

    start: int
    end: int

    @property
    def index(self) -> int:
        """Rows before the piece (the table reader numbers rows from 0)."""
        return self.start


def _open_input(path: str | Path):
    pa = pyarrow()
    try:
        return pa.parquet.ParquetFile(str(path))
    except (OSError, ValueError, pa.lib.ArrowException) as exc:
        raise DataError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", path,
                        fix=UNREADABLE_HINT) from None


def column_names(path: str | Path) -> list[str]:
    """Column names of a Parquet input (from its footer); none when unreadable (reading says why)."""
    try:
        return list(_open_input(path).schema_arrow.names)
    except DataError:
        return []


def _plain(value):
    """A cell as a JSON value (so every output format can hold it): dates as ISO text, bytes
    decoded, other non-JSON types as their text."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def records(path: str | Path, piece: RowRange | None = None) -> Iterator[tuple[int, dict]]:
    """(row number from 1, record) of a Parquet input, or of ``piece``; reads only the row
    groups the piece overlaps. An unreadable file raises ``DataError``."""
    pa = pyarrow()
    handle = _open_input(path)
    meta = handle.metadata
    first, end = (piece.start, piece.end) if piece is not None else (0, meta.num_rows)
    row = 0
    try:
        for group in range(meta.num_row_groups):
            n = meta.row_group(group).num_rows
            if row >= end:
                break
            if row + n > first:
                at = row
                for batch in handle.iter_batches(batch_size=READ_BATCH_ROWS, row_groups=[group]):
                    lo, hi = max(first - at, 0), min(end - at, batch.num_rows)
                    for k, record in enumerate(batch.slice(lo, max(hi - lo, 0)).to_pylist()):
                        yield at + lo + k + 1, {key: _plain(v) for key, v in record.items()}
                    at += batch.num_rows
            row += n
    except (OSError, ValueError, pa.lib.ArrowException) as exc:
        raise DataError(f"unreadable Parquet data ({str(exc).splitlines()[0]}); rest of the file "
                        "skipped", path, fix=UNREADABLE_HINT) from None


def row_ranges(path: str | Path, size: int, article_column: str | None = None) -> list[RowRange] | None:
    """Row ranges of about ``size`` rows, never cutting between two rows of one ``article_column``
    value (``batch._chunks``' rule); None when the file fits in one range or is unreadable."""
    try:
        handle = _open_input(path)
        n = handle.metadata.num_rows
        if n <= size:
            return None
        if not article_column:
            return [RowRange(a, min(a + size, n)) for a in range(0, n, size)]
        values = [str(v or "") for v in handle.read(columns=[article_column]).column(0).to_pylist()]
    except (DataError, OSError, ValueError, KeyError):
        return None
    starts = [0]
    for i in range(1, n):
        if i - starts[-1] >= size and values[i] != values[i - 1]:
            starts.append(i)
    if len(starts) < 2:
        return None
    return [RowRange(a, b) for a, b in zip(starts, starts[1:] + [n], strict=True)]
