"""Inputs of ``predict``: which reader handles each INPUT, and the documents it yields.

``READERS`` maps a suffix (``-`` is standard input) to its reader; adding an input format is one
reader class and one entry. A directory stands for the files inside it, recursively, whose reader
reads folders (``.txt``); a directory without such files is a dataset of the files whose reader
reads datasets (``.parquet``). A big table can be cut into pieces (``Reader.plan``) that separate
workers read (``--scheduler``). Readers yield ``Document`` (text in hand), ``TextFile`` (read where it is
tagged, in a worker process) and ``Skipped`` (a record for the errors log).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from kwct_ml.errors import DataError
from kwct_ml.io import limits, parquet, slices, tables
from kwct_ml.io.discover import display_name, walk_files
from kwct_ml.io.encoding import (
    ENCODING_HINT,
    HTML_HINT,
    check_not_html,
    decode,
    html_evidence,
    judge_file,
    open_decided,
    read_text,
)
from kwct_ml.text.segment import segment, segment_lines

#: Column names (compared case-insensitively, in this order) taken as a table's doc_id column
#: when ``--id-column`` is not given.
ID_COLUMNS = ("doc_id", "docid", "id", "docno", "doc_no", "article_id", "articleid", "document_id",
              "news_id")
#: Rows of a table read to decide its unit when ``--unit`` is not given.
UNIT_SAMPLE_ROWS = 20


def id_column_of(columns, opts: ReadOptions | None = None) -> str | None:
    """The table column giving doc_id: ``--id-column``, else the obvious one among ``columns``
    (see ``ID_COLUMNS``); with ``--article-column`` only a ``doc_id`` column (an ``id`` column
    there usually numbers sentences, and the article value is the better doc_id)."""
    if opts is not None and opts.id_column:
        return opts.id_column
    by_name = {str(col).strip().lower(): col for col in columns}
    names = ("doc_id",) if opts is not None and opts.article_column else ID_COLUMNS
    return next((by_name[name] for name in names if name in by_name), None)


@dataclass(frozen=True)
class ReadOptions:
    """How to read inputs (the reading options of ``predict``)."""

    unit: str | None  # "article", "sentence", or None for each reader's default
    text_column: str
    id_column: str | None
    encoding: str | None
    #: Result columns: an own table column with one of these names is renamed ``input_NAME``.
    reserved: frozenset[str] = frozenset()
    #: Sentence tables: rows sharing this column's value are one article, in row order.
    article_column: str | None = None
    #: Bytes per article (.txt file, standard input); None: ``limits.max_article_bytes()``.
    max_bytes: int | None = None


@dataclass(frozen=True)
class Document:
    """One text to tag: an article to segment (``sent_id`` None) or one sentence as it is.

    A sentence starts at ``offset`` in its source. ``columns`` are a table row's own columns
    (output names); ``text_column`` names the article text among them, written on sentence 0 only.
    ``line`` is the table row's line, where errors about the document are logged.
    """

    doc_id: str
    text: str
    path: str = "<stdin>"
    line: int | None = None
    sent_id: int | None = None
    offset: int = 0
    columns: dict = field(default_factory=dict)
    text_column: str | None = None
    article: str | None = None  # a sentence row's article (``--article-column``): its context group

    def line_of(self, start: int) -> int | None:
        """The line to log a problem with the sentence starting at ``start`` (of ``text``) at."""
        if self.line is not None:
            return self.line
        return self.text.count("\n", 0, start) + 1 if self.sent_id is None else None


@dataclass(frozen=True)
class TextFile:
    """A .txt article, read and decoded where it is tagged (in a worker process)."""

    path: str
    doc_id: str

    def documents(self, unit: str, encoding: str | None = None,
                  notes: list[dict] | None = None, max_bytes: int | None = None) -> list[Document]:
        """The article, or with unit ``sentence`` each non-blank line; ``DataError`` if unreadable,
        not a regular file, or over ``max_bytes`` (default ``limits.max_article_bytes()``). How it
        was decoded, when the user should know, is appended to ``notes`` (warning records)."""
        found: list[str] = []
        text = read_text(self.path, encoding, notes=found, max_bytes=limits.max_article_bytes(max_bytes))
        if notes is not None:
            notes += [warning_record(self.path, note) for note in found]
        if unit == "sentence":
            return line_documents(text, self.doc_id, self.path, numbered=True)
        return [Document(self.doc_id, text, self.path)]


@dataclass(frozen=True)
class Skipped:
    """An input or table row that is not tagged, or a warning about one: its record for the errors log."""

    record: dict


Entry = Document | TextFile | Skipped


def error_record(exc: DataError, path: str | Path | None = None) -> dict:
    """The errors-log record of ``exc`` (``path`` when the error names none)."""
    return {"input": str(exc.path if exc.path is not None else path), "line": exc.line,
            "error": exc.message, "fix": exc.fix}


def warning_record(path: str | Path, note: str, line: int | None = None) -> dict:
    """The errors-log record of a warning: the input was read, but the user should know how."""
    return {"input": str(path), "line": line, "error": note, "fix": None, "level": "warning"}


def line_documents(text: str, doc_id: str, path: str, numbered: bool) -> list[Document]:
    """Each non-blank line of ``text`` (``segment_lines``: the line breaks of ``segment``) as one
    sentence; ``numbered``: errors about it name its line."""
    docs = []
    line, counted = 1, 0
    for sentence in segment_lines(text):
        if numbered:
            line += text.count("\n", counted, sentence.start)
            counted = sentence.start
        docs.append(Document(doc_id, sentence.text, path, line if numbered else None,
                             sentence.sent_id, sentence.start))
    return docs


# --------------------------------------------------------------------------- readers

@dataclass(frozen=True)
class Source:
    """One input to read with ``reader``: a file, standard input, or an input refused early."""

    reader: Reader
    path: str = ""
    doc_id: str = ""
    error: dict | None = None
    stream: object = field(default=None, compare=False)  # standard input (bytes)
    #: The unit decided for this input (``Reader.decide_unit``); None: ``--unit`` or the default.
    unit: str | None = None
    #: Only this piece of the table (``Reader.plan``: a byte or row range with its first index).
    piece: slices.Slice | parquet.RowRange | None = None

    @property
    def kind(self) -> str:
        return self.reader.kind

    @property
    def is_file(self) -> bool:
        return self.reader.kind in ("txt", "table")


class Reader:
    """Reads one kind of input into entries; ``default_unit`` applies without ``--unit``."""

    kind = ""
    default_unit = "article"
    from_folders = False  # a directory INPUT includes these files
    dataset = False  # a directory INPUT without from_folders files is a dataset of these files
    in_worker = False  # entries are TextFile, read in the worker

    def columns(self, source: Source, opts: ReadOptions) -> list[str]:
        """Own columns this input adds to the output (before any other row is read)."""
        return []

    def decide_unit(self, source: Source, opts: ReadOptions) -> tuple[str, str]:
        """(unit, why) for ``source``: ``--unit`` when given, else this reader's default."""
        if opts.unit:
            return opts.unit, f"--unit {opts.unit}"
        return self.default_unit, "default"

    def read(self, source: Source, opts: ReadOptions) -> Iterator[Entry]:
        raise NotImplementedError

    def plan(self, source: Source, opts: ReadOptions, size: int) -> list[Source]:
        """``source`` cut into pieces of about ``size`` rows that can be read apart (here: whole)."""
        return [source]


def unit_of(source: Source, opts: ReadOptions) -> str:
    """The unit ``source`` is read in: ``--unit``, the decided one, else its reader's default."""
    return opts.unit or source.unit or source.reader.default_unit


class TextReader(Reader):
    """``.txt``: one article per file (``--unit sentence``: one sentence per non-blank line)."""

    kind = "txt"
    from_folders = True
    in_worker = True

    def read(self, source: Source, opts: ReadOptions) -> Iterator[Entry]:
        yield TextFile(source.path, source.doc_id)


class StdinReader(Reader):
    """``-``: one article read from standard input (``--unit sentence``: one per line)."""

    kind = "stdin"

    def read(self, source: Source, opts: ReadOptions) -> Iterator[Entry]:
        try:
            data = limits.read_stream(source.stream, "<stdin>", limits.max_article_bytes(opts.max_bytes))
            text, decision = decode(data, "<stdin>", opts.encoding)
            if not text.strip():
                raise DataError("is empty", "<stdin>", fix="pipe some text in")
            check_not_html(text, "<stdin>")
        except DataError as exc:
            yield Skipped(error_record(exc))
            return
        if decision.note:
            yield Skipped(warning_record("<stdin>", decision.note))
        if unit_of(source, opts) == "sentence":
            yield from line_documents(text, "stdin", "<stdin>", numbered=False)
        else:
            yield Document("stdin", text)


class TableReader(Reader):
    """``.csv``/``.tsv``/``.jsonl``: each row's text column is one article or one sentence (decided
    from the first rows unless ``--unit`` says); the row's own columns are kept in the output."""

    kind = "table"
    default_unit = "sentence"

    def __init__(self, fmt: str):
        self.fmt = fmt

    def columns(self, source: Source, opts: ReadOptions) -> list[str]:
        header = tables.header(source.path, self.fmt, opts.encoding) or []
        return list(_renamed(header, opts.reserved).values())

    def decide_unit(self, source: Source, opts: ReadOptions) -> tuple[str, str]:
        """Article when at least half of the first non-empty text cells hold several sentences
        (a table of whole articles tagged row by row would give one tag per article, silently)."""
        if opts.unit:
            return opts.unit, f"--unit {opts.unit}"
        if opts.article_column:
            return "sentence", "--article-column"
        texts = self._sample(source, opts)
        if not texts:
            return self.default_unit, "no text cells to judge by"
        several = sum(len(segment(text)) > 1 for text in texts)
        unit = "article" if 2 * several >= len(texts) else "sentence"
        other = "sentence" if unit == "article" else "article"
        return unit, (f"{several} of the first {len(texts)} {opts.text_column!r} cells hold several "
                      f"sentences; --unit {other} to override")

    def _sample(self, source: Source, opts: ReadOptions) -> list[str]:
        """The first UNIT_SAMPLE_ROWS non-empty text cells (none when unreadable: ``read`` says why)."""
        texts: list[str] = []
        handle = None
        try:
            handle, rows, _ = self._records(source, opts)
            for _, record in rows:
                if isinstance(record, DataError):
                    continue
                text = record.get(opts.text_column)
                if text is not None and str(text).strip():
                    texts.append(str(text))
                    if len(texts) == UNIT_SAMPLE_ROWS:
                        break
        except (DataError, OSError, UnicodeDecodeError, csv.Error):
            pass
        finally:
            if handle is not None:
                handle.close()
        return texts

    def count(self, source: Source, opts: ReadOptions) -> int:
        """Records of the table (for a progress bar); 1 when unreadable (reading it is one error)."""
        handle = None
        try:
            handle, rows, _ = self._records(source, opts)
            return sum(1 for _ in rows)
        except (DataError, OSError, UnicodeDecodeError, csv.Error):
            return 1
        finally:
            if handle is not None:
                handle.close()

    def _records(self, source: Source, opts: ReadOptions):
        """(handle to close or None, its (line, record) pairs, the encoding note to log or None):
        the table, or its piece (the first piece logs the note)."""
        if source.piece is not None:
            note = judge_file(source.path, opts.encoding).note if source.piece.index == 0 else None
            return None, slices.records(source.path, self.fmt, source.piece), note
        handle, decision = open_decided(source.path, opts.encoding)
        return handle, tables.records(handle, source.path, self.fmt), decision.note

    def _has_columns(self, source: Source, opts: ReadOptions) -> bool:
        names = tables.header(source.path, self.fmt, opts.encoding) or []
        return all(col in names for col in (opts.text_column, opts.id_column, opts.article_column) if col)

    def plan(self, source: Source, opts: ReadOptions, size: int) -> list[Source]:
        """Byte ranges of about ``size`` records, an article's rows never apart (``io/slices``);
        whole when the table lacks a named column (reading it says so once)."""
        if not self._has_columns(source, opts):
            return [source]
        pieces = slices.plan(source.path, self.fmt, opts.encoding, size, opts.article_column)
        return [replace(source, piece=piece) for piece in pieces] if pieces else [source]

    def read(self, source: Source, opts: ReadOptions) -> Iterator[Entry]:
        path = source.path
        unit = unit_of(source, opts)
        stem = source.doc_id or Path(path).stem
        handle = None
        line = 0
        try:
            handle, rows, note = self._records(source, opts)
            if note:
                yield Skipped(warning_record(path, note))
            mapping: dict[str, str] | None = None
            id_col = None
            index = source.piece.index if source.piece is not None else 0
            for line, record in rows:
                if isinstance(record, DataError):
                    yield Skipped(error_record(record))
                    continue
                if mapping is None:  # first record: check the columns once
                    if opts.text_column not in record:
                        raise DataError(f"no text column {opts.text_column!r} (columns: "
                                        f"{', '.join(map(str, record))})", path,
                                        1 if self.fmt in ("csv", "tsv") else line,
                                        fix="pass --text-column NAME")
                    if opts.id_column and opts.id_column not in record:
                        raise DataError(f"no id column {opts.id_column!r}", path, line,
                                        fix="pass --id-column NAME or leave it out")
                    if opts.article_column and opts.article_column not in record:
                        raise DataError(f"no article column {opts.article_column!r}", path, line,
                                        fix="pass --article-column NAME of a column the table has")
                    id_col = id_column_of(record, opts)
                    mapping = _renamed(list(record), opts.reserved)
                text = record.get(opts.text_column)
                if text is None or (isinstance(text, str) and not text.strip()):
                    yield Skipped({"input": path, "line": line, "fix": None,
                                   "error": f"empty or missing {opts.text_column!r}; row skipped"})
                    index += 1
                    continue
                if not isinstance(text, str):  # a JSON list, number or boolean is not a text
                    yield Skipped({"input": path, "line": line, "fix": "write the text as a JSON string",
                                   "error": f"{opts.text_column!r} is a JSON {_json_type(text)}, not a "
                                            "string; row skipped"})
                    index += 1
                    continue
                if html_evidence(text):
                    yield Skipped({"input": path, "line": line, "fix": HTML_HINT,
                                   "error": f"{opts.text_column!r} looks like an HTML page, not plain "
                                            "text; row skipped"})
                    index += 1
                    continue
                cols = {mapping.get(k, k): v for k, v in record.items()}
                own_id = record.get(id_col) if id_col else None
                own_id = "" if own_id is None else str(own_id)
                if unit == "sentence":
                    article = str(record.get(opts.article_column) or "") if opts.article_column else None
                    yield Document(own_id or article or stem, text, path, line, sent_id=index, columns=cols,
                                   article=article)
                else:
                    # the whole article is not repeated on every sentence row: that is quadratic
                    yield Document(own_id or f"{stem}:{index}", text, path, line, columns=cols,
                                   text_column=mapping[opts.text_column])
                index += 1
        except DataError as exc:
            yield Skipped(error_record(exc, path))
        except UnicodeDecodeError as exc:
            yield Skipped({"input": path, "line": line + 1 if line else None, "fix": ENCODING_HINT,
                           "error": f"undecodable bytes ({exc.reason}); rest of the table skipped"})
        except csv.Error as exc:
            yield Skipped({"input": path, "line": line or None, "fix": None,
                           "error": f"malformed CSV ({exc}); rest of the table skipped"})
        except OSError as exc:
            yield Skipped({"input": path, "line": None, "fix": None, "error": f"cannot read: {exc.strerror}"})
        finally:
            if handle is not None:
                handle.close()


def _json_type(value) -> str:
    return {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}.get(
        type(value), type(value).__name__)


class ParquetReader(TableReader):
    """``.parquet`` (a file, or each file of a dataset directory): rows as in a CSV/TSV/JSONL table,
    ``line`` being the row number; big files are cut into row ranges. Needs pyarrow."""

    dataset = True

    def __init__(self):
        super().__init__("parquet")

    def columns(self, source: Source, opts: ReadOptions) -> list[str]:
        return list(_renamed(parquet.column_names(source.path), opts.reserved).values())

    def _records(self, source: Source, opts: ReadOptions):
        return None, parquet.records(source.path, source.piece), None

    def count(self, source: Source, opts: ReadOptions) -> int:
        return max(parquet.count_rows(source.path) if parquet.column_names(source.path) else 1, 1)

    def _has_columns(self, source: Source, opts: ReadOptions) -> bool:
        names = parquet.column_names(source.path)
        return all(col in names for col in (opts.text_column, opts.id_column, opts.article_column) if col)

    def plan(self, source: Source, opts: ReadOptions, size: int) -> list[Source]:
        """Row ranges of about ``size`` rows, an article's rows never apart."""
        if not self._has_columns(source, opts):
            return [source]
        pieces = parquet.row_ranges(source.path, size, opts.article_column)
        return [replace(source, piece=piece) for piece in pieces] if pieces else [source]


class _Refused(Reader):
    """An INPUT refused while discovering (missing, unsupported, empty folder)."""

    kind = "error"

    def read(self, source: Source, opts: ReadOptions) -> Iterator[Entry]:
        yield Skipped(source.error)


#: Suffix (lower case) -> reader; ``-`` is standard input.
READERS: dict[str, Reader] = {
    ".txt": TextReader(),
    ".csv": TableReader("csv"),
    ".tsv": TableReader("tsv"),
    ".jsonl": TableReader("jsonl"),
    ".parquet": ParquetReader(),
    "-": StdinReader(),
}
_REFUSED = _Refused()


def _renamed(columns: list[str], reserved: set[str] | frozenset[str]) -> dict[str, str]:
    """Own column -> output name; a name that clashes with a reserved column gets ``input_``."""
    taken = set(columns) | set(reserved)
    mapping = {}
    for col in columns:
        new = col
        while new in reserved or (new != col and new in taken):
            new = f"input_{new}"
        mapping[col] = new
        taken.add(new)
    return mapping


# --------------------------------------------------------------------------- discovery

def _refused(arg: str, error: str, fix: str | None) -> Source:
    return Source(_REFUSED, arg, error={"input": arg, "line": None, "error": error, "fix": fix})


def discover(inputs: list[str], stdin=None) -> tuple[list[Source], dict[str, str]]:
    """Expand INPUT arguments into sources (directories recursively) and known titles.

    A .txt file's doc_id is its stem, or its path relative to the directory INPUT without the
    suffix; titles come from an ``articles.csv`` beside the files.
    """
    sources: list[Source] = []
    titles: dict[str, str] = {}
    title_cache: dict[Path, dict[str, str]] = {}
    in_folders = [suffix for suffix, reader in READERS.items() if reader.from_folders]
    in_datasets = [suffix for suffix, reader in READERS.items() if reader.dataset]
    file_suffixes = ", ".join(s for s in READERS if s != "-")

    def add_file(path: Path, doc_id: str) -> None:
        if not limits.is_regular(path):  # opening a FIFO blocks; a device such as /dev/zero never ends
            sources.append(_refused(str(path), limits.NOT_REGULAR, limits.NOT_REGULAR_HINT))
            return
        reader = READERS[path.suffix.lower()]
        sources.append(Source(reader, str(path), doc_id))
        if reader.from_folders:
            folder = path.parent
            if folder not in title_cache:
                title_cache[folder] = _read_titles(folder / "articles.csv")
            title = title_cache[folder].get(path.stem)
            if title:
                titles[doc_id] = title

    for arg in inputs:
        path = Path(arg)
        if arg == "-":
            sources.append(Source(READERS["-"], "-", "stdin", stream=stdin))
        elif path.is_dir():
            files, unread = walk_files(path, in_folders)
            if not files:  # a dataset: its data files (names starting with . or _ are not data)
                files, unread = walk_files(path, in_datasets)
                files = [p for p in files
                         if not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)]
            sources += [_refused(str(entry.path), entry.error, entry.fix) for entry in unread]
            if not files:
                kinds = "/".join(in_folders + in_datasets)
                sources.append(_refused(arg, f"directory has no {kinds} files",
                                        f"point at a folder of {'/'.join(in_folders)} articles or a "
                                        f"{'/'.join(in_datasets)} dataset"))
            for file in files:
                add_file(file, display_name(file.relative_to(path).with_suffix("").as_posix()))
        elif not path.exists():
            sources.append(_refused(arg, "no such file or directory", None))
        elif path.suffix.lower() in READERS:
            add_file(path, display_name(path.stem))
        else:
            sources.append(_refused(arg, f"unsupported input type {path.suffix!r}",
                                    f"pass {file_suffixes} files or a directory"))
    return sources, titles


def _read_titles(path: Path) -> dict[str, str]:
    """doc_id -> title from an ``articles.csv`` beside the articles (optional metadata)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return {row["doc_id"]: row.get("title") or "" for row in csv.DictReader(handle)
                    if row.get("doc_id")}
    except (OSError, UnicodeDecodeError, KeyError, csv.Error):
        return {}
