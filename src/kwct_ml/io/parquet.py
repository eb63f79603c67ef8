"""Parquet files of predict rows: a fixed schema per column list, written atomically, read back.

Every file of a run gets the same schema (contract columns typed, own table columns as strings,
explanations as JSON text, as in CSV), so the files of a partitioned run form one dataset.
Needs pyarrow (the ``dask`` extra); it is imported only when a Parquet file is written or read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from kwct_ml.errors import ConfigError
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
