"""``python -m kwct_ml.predict``: tag the sentences of articles, tables or stdin with a trained model.

Streams: inputs are cut into small work items (a few articles or a few hundred table rows), tagged
in order (in ``--jobs`` processes), and each item's rows are appended and flushed to
``OUT.partial`` with a checkpoint line in ``OUT.partial.ckpt``. When every item is done the file
is renamed to ``OUT``, so ``OUT`` only ever exists complete; ``--resume`` continues an interrupted
``OUT.partial`` after its last checkpoint. See docs/predict.md for the column contract.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import signal
import sys
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kwct_ml import errors
from kwct_ml.errors import ConfigError, DataError
from kwct_ml.inference.tagger import (
    EXPLAIN_COLUMNS,
    SENTENCE_COLUMNS,
    UNCERTAIN_COLUMN,
    SummaryBuilder,
    Tagger,
    summary_columns,
)
from kwct_ml.io.encoding import HTML_HINT, check_not_html, decode_bytes, html_evidence, open_text, read_text
from kwct_ml.io.files import atomic_open
from kwct_ml.text.segment import segment

PROG = "kwct_ml.predict"
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")
#: Work-item sizes. Fixed (not derived from --jobs) so every --jobs value cuts the same items.
FILES_PER_ITEM = 8
ARTICLE_ROWS_PER_ITEM = 8
SENTENCE_ROWS_PER_ITEM = 256
#: Bad-input lines printed on stderr before the rest go to the errors file only.
MAX_STDERR_ERRORS = 50
#: Longer "sentences" are not prose (a file without line breaks or stops); they are logged, not
#: tagged, since character n-grams of megabytes of text take gigabytes of memory.
MAX_SENTENCE_CHARS = 20_000
LONG_HINT = "check that the input is prose; split very long lines"
CSV_FIELD_LIMIT = 1 << 30  # the csv module's default (128 KB) is smaller than some articles
CHECKPOINT_VERSION = 1
_CONTENT = re.compile(r"\w")
_LINE = re.compile(r"[^\r\n]+")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a one-line ConfigError (exit code 1)."""

    def error(self, message):
        raise ConfigError(f"{message} (see python -m {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m {PROG}", description="Tag every sentence with a topic and a stance.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help=".txt file, directory (all .txt inside, recursively), .csv/.tsv/.jsonl table "
                        "with a text column, or - for standard input")
    p.add_argument("--output", "-o", default="-", metavar="OUT",
                   help="OUT.csv, OUT.tsv or OUT.jsonl (default: CSV on standard output)")
    p.add_argument("--format", choices=sorted(set(FORMATS.values())),
                   help="output format when OUT has no known extension or is standard output")
    p.add_argument("--model", metavar="DIR", help="model folder (default: models/latest)")
    p.add_argument("--unit", choices=("article", "sentence"),
                   help="article: segment each text into sentences (default for .txt and stdin); "
                        "sentence: each table row or text line is one sentence (default for tables)")
    p.add_argument("--text-column", default="text", metavar="COL", help="text column of tables")
    p.add_argument("--id-column", metavar="COL",
                   help="table column giving doc_id (default: doc_id when the table has one)")
    p.add_argument("--encoding", metavar="ENC",
                   help="force the input encoding (default: BOM, else UTF-8, else Windows-1256)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="tagging processes")
    p.add_argument("--explain", type=int, default=0, metavar="K",
                   help="add topic_explain/stance_explain: the K n-grams that pushed each label most")
    p.add_argument("--min-confidence", type=float, metavar="X",
                   help="add uncertain=true where topic_score or stance_score is below X")
    p.add_argument("--summary", metavar="FILE", help="one row per article (.csv, .tsv or .jsonl)")
    p.add_argument("--errors", metavar="FILE",
                   help="bad-input log (default OUT.errors.jsonl; none for standard output)")
    p.add_argument("--bom", action="store_true", help="start CSV/TSV output with a BOM (for Excel)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from OUT.partial (same inputs and options)")
    return p


# --------------------------------------------------------------------------- inputs and items

@dataclass(frozen=True)
class Options:
    """What workers need to turn an item into rows (picklable)."""

    unit: str | None
    text_column: str
    id_column: str | None
    encoding: str | None
    explain: int
    min_confidence: float | None


@dataclass
class Source:
    kind: str  # "txt", "table", "stdin" or "error"
    path: str = ""
    doc_id: str = ""
    error: dict | None = None


@dataclass
class FilesItem:
    """Up to FILES_PER_ITEM .txt files, read, segmented and tagged in the worker."""

    files: list[tuple[str, str]]  # (path, doc_id)
    unit: str


@dataclass
class RowsItem:
    """Table rows or stdin text already read in the main process."""

    unit: str
    # (own columns, doc_id, sent_id or None, text, line offset of text start or 0)
    records: list[tuple[dict, str, int | None, str, int]]
    errors: list[dict] = field(default_factory=list)
    where: list[tuple[str, int | None]] = field(default_factory=list)  # (path, line) of each table record
    text_key: str | None = None  # article unit of a table: own text column, kept on sentence 0 only


@dataclass
class ErrorItem:
    errors: list[dict]


def error_record(exc: DataError, path: str | Path | None = None) -> dict:
    return {"input": str(exc.path if exc.path is not None else path), "line": exc.line,
            "error": exc.message, "fix": exc.fix}


def _discover(inputs: list[str]) -> tuple[list[Source], dict[str, str]]:
    """Expand INPUT arguments into sources (directories recursively) and known titles."""
    sources: list[Source] = []
    titles: dict[str, str] = {}
    title_cache: dict[Path, dict[str, str]] = {}

    def add_txt(path: Path, doc_id: str) -> None:
        sources.append(Source("txt", str(path), doc_id))
        folder = path.parent
        if folder not in title_cache:
            title_cache[folder] = _read_titles(folder / "articles.csv")
        title = title_cache[folder].get(path.stem)
        if title:
            titles[doc_id] = title

    for arg in inputs:
        path = Path(arg)
        if arg == "-":
            sources.append(Source("stdin", "-", "stdin"))
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".txt" and p.is_file())
            if not files:
                sources.append(Source("error", arg, error={
                    "input": arg, "line": None, "error": "directory has no .txt files",
                    "fix": "point at a folder of .txt articles"}))
            for file in files:
                add_txt(file, file.relative_to(path).with_suffix("").as_posix())
        elif not path.exists():
            sources.append(Source("error", arg, error={
                "input": arg, "line": None, "error": "no such file or directory", "fix": None}))
        elif path.suffix.lower() == ".txt":
            add_txt(path, path.stem)
        elif path.suffix.lower() in TABLE_SUFFIXES:
            sources.append(Source("table", arg))
        else:
            sources.append(Source("error", arg, error={
                "input": arg, "line": None, "error": f"unsupported input type {path.suffix!r}",
                "fix": "pass .txt, .csv, .tsv, .jsonl files or a directory"}))
    return sources, titles


def _read_titles(path: Path) -> dict[str, str]:
    """doc_id -> title from an ``articles.csv`` beside the articles (optional metadata)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return {row["doc_id"]: row.get("title") or "" for row in csv.DictReader(handle)
                    if row.get("doc_id")}
    except (OSError, UnicodeDecodeError, KeyError, csv.Error):
        return {}


def _table_header(path: str, opts: Options) -> list[str] | None:
    """A table's own column names (CSV/TSV header, or keys of a JSONL file's first record)."""
    try:
        with open_text(path, opts.encoding) as handle:
            if path.lower().endswith(".jsonl"):
                for line in handle:
                    if line.strip():
                        record = json.loads(line)
                        return list(record) if isinstance(record, dict) else None
                return None
            delimiter = "\t" if path.lower().endswith(".tsv") else ","
            return next(csv.reader(handle, delimiter=delimiter), None)
    except (DataError, OSError, UnicodeDecodeError, ValueError, csv.Error):
        return None


def _renamed(columns: list[str], result_columns: set[str]) -> dict[str, str]:
    """Own column -> output name; a name that clashes with a result column gets ``input_``."""
    taken = set(columns) | result_columns
    mapping = {}
    for col in columns:
        new = col
        while new in result_columns or (new != col and new in taken):
            new = f"input_{new}"
        mapping[col] = new
        taken.add(new)
    return mapping


def _line_spans(text: str, doc_id: str) -> list[tuple[str, int, int, int, str]]:
    """Each non-blank line of ``text`` as one sentence, with offsets into ``text``."""
    spans = []
    for m in _LINE.finditer(text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if _CONTENT.search(text, start, end):
            spans.append((doc_id, len(spans), start, end, text[start:end]))
    return spans


def _table_rows(path: str, opts: Options, unit: str, result_columns: set[str]) -> Iterator:
    """Yield ("row", cols, doc_id, sent_id, text, line) and ("error", record) for one table."""
    stem = Path(path).stem
    is_jsonl = path.lower().endswith(".jsonl")
    handle = None
    line = 0
    try:
        handle = open_text(path, opts.encoding)
        if is_jsonl:
            records = _jsonl_records(handle, path)
        else:
            records = _csv_records(handle, path, "\t" if path.lower().endswith(".tsv") else ",")
        mapping: dict[str, str] | None = None
        id_col = None
        index = 0
        for line, record in records:
            if isinstance(record, DataError):
                yield ("error", error_record(record))
                continue
            if mapping is None:  # first record: check the columns once
                if opts.text_column not in record:
                    raise DataError(f"no text column {opts.text_column!r} (columns: "
                                    f"{', '.join(map(str, record))})", path, line if is_jsonl else 1,
                                    fix="pass --text-column NAME")
                if opts.id_column and opts.id_column not in record:
                    raise DataError(f"no id column {opts.id_column!r}", path, line,
                                    fix="pass --id-column NAME or leave it out")
                id_col = opts.id_column or ("doc_id" if "doc_id" in record else None)
                mapping = _renamed(list(record), result_columns)
            text = record.get(opts.text_column)
            if text is None or (isinstance(text, str) and not text.strip()):
                yield ("error", {"input": path, "line": line, "fix": None,
                                 "error": f"empty or missing {opts.text_column!r}; row skipped"})
                index += 1
                continue
            text = text if isinstance(text, str) else str(text)
            if html_evidence(text):
                yield ("error", {"input": path, "line": line, "fix": HTML_HINT,
                                 "error": f"{opts.text_column!r} looks like an HTML page, not plain text; "
                                          "row skipped"})
                index += 1
                continue
            cols = {mapping.get(k, k): v for k, v in record.items()}
            own_id = record.get(id_col) if id_col else None
            own_id = "" if own_id is None else str(own_id)
            if unit == "sentence":
                yield ("row", cols, own_id or stem, index, text, line)
            else:
                # the whole article is not repeated on every sentence row: that is quadratic
                yield ("row", cols, own_id or f"{stem}:{index}", None, text, line, mapping[opts.text_column])
            index += 1
    except DataError as exc:
        yield ("error", error_record(exc, path))
    except UnicodeDecodeError as exc:
        yield ("error", {"input": path, "line": line + 1 if line else None, "fix":
                         "re-save it as UTF-8 or pass --encoding",
                         "error": f"undecodable bytes ({exc.reason}); rest of the table skipped"})
    except csv.Error as exc:
        yield ("error", {"input": path, "line": line or None, "fix": None,
                         "error": f"malformed CSV ({exc}); rest of the table skipped"})
    except OSError as exc:
        yield ("error", {"input": path, "line": None, "fix": None,
                         "error": f"cannot read: {exc.strerror}"})
    finally:
        if handle is not None:
            handle.close()


def _csv_records(handle, path: str, delimiter: str):
    """(line, record) of a CSV/TSV; a quoting error stops the table with its line (strict: an
    unclosed quote would otherwise swallow every later row into one cell, silently)."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))  # whole articles in a cell
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise DataError("is empty (no header row)", path, fix="remove it or add rows")
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            values = values + [""] * (len(header) - len(values))
            yield reader.line_num, dict(zip(header, values, strict=False))
    except csv.Error as exc:
        raise DataError(f"malformed CSV ({exc}); rest of the table skipped", path, reader.line_num,
                        fix="check the quotes up to this line, or save the table again from a "
                            "spreadsheet") from None


def _jsonl_records(handle, path: str):
    seen = False
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            yield number, DataError(f"not JSON ({exc.msg}); row skipped", path, number)
            continue
        if not isinstance(record, dict):
            yield number, DataError("not a JSON object; row skipped", path, number)
            continue
        seen = True
        yield number, record
    if not seen:
        raise DataError("has no JSON records", path, fix="remove it or add rows")


def _items(sources: list[Source], opts: Options, result_columns: set[str], stdin) -> Iterator:
    """Cut the sources into work items, in input order (deterministic for --resume)."""
    pending: list[tuple[str, str]] = []
    for source in sources:
        if source.kind == "txt":
            pending.append((source.path, source.doc_id))
            if len(pending) == FILES_PER_ITEM:
                yield FilesItem(pending, opts.unit or "article")
                pending = []
            continue
        if pending:
            yield FilesItem(pending, opts.unit or "article")
            pending = []
        if source.kind == "error":
            yield ErrorItem([source.error])
        elif source.kind == "stdin":
            yield from _stdin_items(stdin, opts)
        else:
            yield from _table_items(source.path, opts, result_columns)
    if pending:
        yield FilesItem(pending, opts.unit or "article")


def _stdin_items(stdin, opts: Options) -> Iterator:
    data = stdin.read()
    try:
        text = decode_bytes(data, "<stdin>", opts.encoding)
        if not text.strip():
            raise DataError("is empty", "<stdin>", fix="pipe some text in")
        check_not_html(text, "<stdin>")
    except DataError as exc:
        yield ErrorItem([error_record(exc)])
        return
    if opts.unit == "sentence":
        spans = _line_spans(text, "stdin")
        for i in range(0, len(spans), SENTENCE_ROWS_PER_ITEM):
            chunk = spans[i:i + SENTENCE_ROWS_PER_ITEM]
            yield RowsItem("sentence", [({}, d, s, t, start) for d, s, start, _, t in chunk])
    else:
        yield RowsItem("article", [({}, "stdin", None, text, 0)])


def _table_items(path: str, opts: Options, result_columns: set[str]) -> Iterator:
    unit = opts.unit or "sentence"
    size = SENTENCE_ROWS_PER_ITEM if unit == "sentence" else ARTICLE_ROWS_PER_ITEM
    item = RowsItem(unit, [])
    for entry in _table_rows(path, opts, unit, result_columns):
        if entry[0] == "error":
            item.errors.append(entry[1])
        else:
            item.records.append(entry[1:5] + (0,))
            item.where.append((path, entry[5]))
            item.text_key = entry[6] if len(entry) > 6 else None
        if len(item.records) == size:
            yield item
            item = RowsItem(unit, [])
    if item.records or item.errors:
        yield item


# --------------------------------------------------------------------------- tagging (workers)

_WORKER: dict = {}


def _init_worker(tagger: Tagger, opts: Options, in_child: bool = True) -> None:
    _WORKER["tagger"], _WORKER["opts"] = tagger, opts
    if in_child:  # the parent handles Ctrl-C / SIGTERM and tells the pool to stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _process(item) -> tuple[list[dict], list[dict]]:
    """Turn one work item into (output rows, error records)."""
    tagger: Tagger = _WORKER["tagger"]
    opts: Options = _WORKER["opts"]
    if isinstance(item, ErrorItem):
        return [], item.errors
    spans: list[tuple[str, int, int, int, str]] = []
    owners: list[dict] = []  # own table columns of each span
    groups: list[int] = []  # the article (file or table row) of each span, for article context
    errs: list[dict] = []
    if isinstance(item, FilesItem):
        for k, (path, doc_id) in enumerate(item.files):
            try:
                text = read_text(path, opts.encoding)
            except DataError as exc:
                errs.append(error_record(exc, path))
                continue
            new = _line_spans(text, doc_id) if item.unit == "sentence" else \
                [(doc_id, s.sent_id, s.start, s.end, s.text) for s in segment(text)]
            new = _drop_long(new, path, errs, text=text)
            spans += new
            owners += [{}] * len(new)
            groups += [k] * len(new)
    else:
        errs = list(item.errors)
        for i, (cols, doc_id, sent_id, text, offset) in enumerate(item.records):
            if item.unit == "sentence":
                new = [(doc_id, sent_id, offset, offset + len(text), text)]
            else:
                new = [(doc_id, s.sent_id, s.start, s.end, s.text) for s in segment(text)]
            where, line = item.where[i] if item.where else ("<stdin>", None)
            new = _drop_long(new, where, errs, text=text if item.unit == "article" else None, line=line)
            spans += new
            groups += [i] * len(new)
            if item.text_key and len(new) > 1:
                owners += [cols] + [{**cols, item.text_key: ""}] * (len(new) - 1)
            else:
                owners += [cols] * len(new)
    # whole articles (article unit) use the model's article context; sentence rows stand alone
    tags = tagger.tag_spans(spans, opts.explain, opts.min_confidence,
                            groups=groups if item.unit == "article" else None)
    rows = [{**own, **tag.as_row()} if own else tag.as_row() for own, tag in zip(owners, tags,
                                                                               strict=True)]
    return rows, errs


def _drop_long(spans: list, path: str, errs: list[dict], text: str | None = None,
               line: int | None = None) -> list:
    """``spans`` without those longer than MAX_SENTENCE_CHARS, each of which is logged in ``errs``.

    The logged line is ``line`` (a table row) or the span's line in ``text`` (an article).
    """
    if all(len(span[4]) <= MAX_SENTENCE_CHARS for span in spans):
        return spans
    kept = []
    for span in spans:
        if len(span[4]) <= MAX_SENTENCE_CHARS:
            kept.append(span)
        else:
            at = line if line is not None else text.count("\n", 0, span[2]) + 1 if text is not None else None
            errs.append({"input": str(path), "line": at, "fix": LONG_HINT,
                         "error": f"sentence {span[1]} of {span[0]} is {len(span[4]):,} characters long "
                                  f"(over {MAX_SENTENCE_CHARS:,}); not tagged"})
    return kept


def _ordered_results(items: Iterator, jobs: int, tagger: Tagger, opts: Options) -> Iterator:
    """Results of ``_process`` in item order; with jobs > 1 at most 2*jobs items in flight."""
    if jobs == 1:
        _init_worker(tagger, opts, in_child=False)
        for item in items:
            yield _process(item)
        return
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(tagger, opts))
    window: deque = deque()
    try:
        for item in items:
            window.append(pool.submit(_process, item))
            if len(window) >= 2 * jobs:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=not window, cancel_futures=True)


# --------------------------------------------------------------------------- output

def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict | tuple):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class RowFormatter:
    """Formats rows as CSV/TSV (fixed header) or JSON lines; returns UTF-8 bytes."""

    def __init__(self, fmt: str, columns: list[str]):
        self.fmt, self.columns = fmt, columns

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
            writer = csv.writer(buf, delimiter="\t" if self.fmt == "tsv" else ",", lineterminator="\n")
            for row in rows:
                writer.writerow([_cell(row.get(col)) for col in self.columns])
        return buf.getvalue().encode("utf-8")


def read_rows(path: str | Path, fmt: str) -> Iterator[dict]:
    """Read back rows written by ``RowFormatter`` (used to rebuild a summary on --resume)."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        if fmt == "jsonl":
            for line in handle:
                if line.strip():
                    yield json.loads(line)
        else:
            yield from csv.DictReader(handle, delimiter="\t" if fmt == "tsv" else ",")


def _format_of(path: str, forced: str | None, what: str) -> str:
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


class ErrorLog:
    """Reports skipped inputs: one line on stderr (first MAX_STDERR_ERRORS) and a JSON line."""

    def __init__(self, handle=None, count: int = 0):
        self.handle, self.count = handle, count

    def add(self, record: dict) -> None:
        self.count += 1
        if self.count <= MAX_STDERR_ERRORS:
            where = record["input"] + (f":{record['line']}" if record.get("line") else "")
            fix = f" ({record['fix']})" if record.get("fix") else ""
            print(errors.one_line(f"{PROG}: skipped {where}: {record['error']}{fix}"), file=sys.stderr)
        elif self.count == MAX_STDERR_ERRORS + 1:
            print(f"{PROG}: more inputs skipped; see the errors file", file=sys.stderr)
        if self.handle is not None:
            self.handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


# --------------------------------------------------------------------------- resume support

def _fingerprint(sources: list[Source], options: dict) -> str:
    """Hash of inputs (paths, sizes, mtimes) and options: a resumed run must match its start."""
    digest = hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode())
    for source in sources:
        stat = None
        if source.kind in ("txt", "table"):
            try:
                st = os.stat(source.path)
                stat = (st.st_size, st.st_mtime_ns)
            except OSError:
                stat = None
        digest.update(json.dumps([source.kind, source.path, source.doc_id, stat]).encode())
    return digest.hexdigest()


def _last_checkpoint(ckpt: Path, fingerprint: str, out_size: int, err_size: int) -> dict:
    """The last checkpoint whose offsets exist on disk; ConfigError if made by another run."""
    lines = ckpt.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0])
    except (IndexError, ValueError):
        raise ConfigError(f"{ckpt} is unreadable; rerun without --resume") from None
    if header.get("version") != CHECKPOINT_VERSION or header.get("fingerprint") != fingerprint:
        raise ConfigError(f"{ckpt} was made with other inputs, options or model; "
                          "rerun without --resume to start again")
    best = None
    for line in lines[1:]:
        try:
            point = json.loads(line)
        except ValueError:
            break  # a line cut by the interruption
        if point["out"] <= out_size and point["errors"] <= err_size:
            best = point
    if best is None:
        raise ConfigError(f"{ckpt} has no usable checkpoint; rerun without --resume")
    return best


# --------------------------------------------------------------------------- main

def _refuse_overwriting_inputs(args, sources: list[Source], to_stdout: bool) -> None:
    """An output file that is also an input would replace the user's data when the run ends."""
    inputs = {os.path.realpath(s.path) for s in sources if s.kind in ("txt", "table")}
    outputs = [("--output", None if to_stdout else args.output), ("--summary", args.summary),
               ("--errors", args.errors or (None if to_stdout else f"{args.output}.errors.jsonl"))]
    for option, path in outputs:
        if path and os.path.realpath(path) in inputs:
            raise ConfigError(f"{option} {path} is also an input and would be overwritten; "
                              "write to another file")


def _summary_path_ok(args) -> str | None:
    if not args.summary:
        return None
    if args.summary == "-":
        raise ConfigError("--summary needs a file name (.csv, .tsv or .jsonl)")
    return _format_of(args.summary, None, "--summary")


def _load_tagger(model: str | None) -> Tagger:
    """Load the model; a version warning is printed as one line (it is advice, not a traceback)."""
    from kwct_ml.bundle.store import ModelVersionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ModelVersionWarning)
        tagger = Tagger.load(model)
    for warning in caught:
        if issubclass(warning.category, ModelVersionWarning):
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return tagger


@errors.cli
def main(argv=None) -> int:
    """Tag INPUTs; exit 0 when all went well, 2 when some inputs were skipped, 1 on usage errors."""
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    if args.explain < 0:
        raise ConfigError("--explain must be 0 or more")
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise ConfigError("--min-confidence must be between 0 and 1")
    if args.inputs.count("-") > 1:
        raise ConfigError("standard input (-) can be given only once")
    to_stdout = args.output in ("-", "")
    fmt = _format_of(args.output, args.format, "--output")
    summary_fmt = _summary_path_ok(args)
    if args.resume and (to_stdout or "-" in args.inputs):
        raise ConfigError("--resume needs --output FILE and file inputs (not standard input/output)")

    opts = Options(args.unit, args.text_column, args.id_column, args.encoding, args.explain,
                   args.min_confidence)
    tagger = _load_tagger(args.model)
    sources, titles = _discover(args.inputs)
    _refuse_overwriting_inputs(args, sources, to_stdout)

    result_columns = list(SENTENCE_COLUMNS)
    if args.min_confidence is not None:
        result_columns.append(UNCERTAIN_COLUMN)
    if args.explain:
        result_columns += list(EXPLAIN_COLUMNS)
    own_columns: list[str] = []
    for source in sources:
        if source.kind == "table":
            header = _table_header(source.path, opts) or []
            for col in _renamed(header, set(result_columns)).values():
                if col not in own_columns:
                    own_columns.append(col)
    formatter = RowFormatter(fmt, own_columns + result_columns)

    with errors.sigterm_as_interrupt():
        return _run(args, opts, tagger, sources, titles, formatter, set(result_columns), to_stdout,
                    summary_fmt)


def _run(args, opts, tagger, sources, titles, formatter, result_columns, to_stdout,
         summary_fmt) -> int:
    builder = SummaryBuilder(titles) if args.summary else None
    out_path = Path(args.output)
    partial = Path(f"{args.output}.partial")
    ckpt = Path(f"{args.output}.partial.ckpt")
    errors_path = Path(args.errors) if args.errors else (None if to_stdout else
                                                         Path(f"{args.output}.errors.jsonl"))
    errors_partial = Path(f"{errors_path}.partial") if errors_path else None
    fingerprint = _fingerprint(sources, {
        "args": [args.unit, args.text_column, args.id_column, args.encoding, args.explain,
                 args.min_confidence, args.bom, formatter.fmt, formatter.columns],
        "items": [FILES_PER_ITEM, ARTICLE_ROWS_PER_ITEM, SENTENCE_ROWS_PER_ITEM],
        "model": hashlib.sha256(json.dumps(tagger.manifest, sort_keys=True, default=str)
                                .encode()).hexdigest()})

    skip = n_rows = n_errors = 0
    resuming = False
    if args.resume:
        if partial.exists() and ckpt.exists():
            err_size = errors_partial.stat().st_size if errors_partial and errors_partial.exists() else 0
            point = _last_checkpoint(ckpt, fingerprint, partial.stat().st_size, err_size)
            skip, n_rows, n_errors = point["items"], point["rows"], point["n_errors"]
            os.truncate(partial, point["out"])
            if errors_partial:
                if errors_partial.exists():
                    os.truncate(errors_partial, point["errors"])
                else:
                    errors_partial.touch()
            resuming = True
            if builder is not None:
                for row in read_rows(partial, formatter.fmt):
                    builder.add(row)
            print(f"{PROG}: resuming after {skip} work items ({n_rows} rows) in {partial}",
                  file=sys.stderr)
        elif out_path.exists():
            print(f"{PROG}: {out_path} is already complete; nothing to resume", file=sys.stderr)
            return 0
        else:
            print(f"{PROG}: no {partial} to resume; starting afresh", file=sys.stderr)

    if to_stdout:
        out = getattr(sys.stdout, "buffer", None)
        if out is None:  # a text-only stream (e.g. some test harnesses)
            out = _TextSink(sys.stdout)
        ckpt_handle = None
    else:
        partial.parent.mkdir(parents=True, exist_ok=True)
        out = open(partial, "ab" if resuming else "wb")
        ckpt_handle = open(ckpt, "a" if resuming else "w", encoding="utf-8")
    err_handle = None
    if errors_partial:
        errors_partial.parent.mkdir(parents=True, exist_ok=True)
        err_handle = open(errors_partial, "ab" if resuming else "wb")
    log = ErrorLog(err_handle, n_errors)

    show = args.progress if args.progress is not None else sys.stderr.isatty()
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked after this
    bar = tqdm(total=None, unit=" sent", desc=PROG, disable=not show, file=sys.stderr,
               initial=n_rows)
    done = skip
    try:
        if not resuming:
            out.write(formatter.header(args.bom))
            out.flush()
            if ckpt_handle:
                ckpt_handle.write(json.dumps({"version": CHECKPOINT_VERSION,
                                              "fingerprint": fingerprint}) + "\n")
                _checkpoint(ckpt_handle, 0, out, err_handle, 0, 0)
        items = _items(sources, opts, result_columns, getattr(sys.stdin, "buffer", sys.stdin))
        items = (item for i, item in enumerate(items) if i >= skip)
        for rows, errs in _ordered_results(items, args.jobs, tagger, opts):
            out.write(formatter.rows(rows))
            out.flush()
            for record in errs:
                log.add(record)
            if err_handle:
                err_handle.flush()
            if builder is not None:
                for row in rows:
                    builder.add(row)
            done += 1
            n_rows += len(rows)
            if ckpt_handle:
                _checkpoint(ckpt_handle, done, out, err_handle, n_rows, log.count)
            bar.update(len(rows))
    except KeyboardInterrupt:
        if ckpt_handle:
            print(f"{PROG}: interrupted; {n_rows} complete rows are in {partial}; rerun with "
                  "--resume to continue", file=sys.stderr)
        raise
    finally:
        bar.close()
        if not to_stdout:
            out.close()
        if ckpt_handle:
            ckpt_handle.close()
        if err_handle:
            err_handle.close()

    if builder is not None:
        summary_formatter = RowFormatter(summary_fmt, summary_columns())
        with atomic_open(args.summary, "wb") as handle:
            handle.write(summary_formatter.header(args.bom))
            for summary in builder.summaries():
                handle.write(summary_formatter.rows([summary.as_row()]))
    if not to_stdout:
        _fsync(partial)
        os.replace(partial, out_path)
        ckpt.unlink(missing_ok=True)
    if errors_path:
        if log.count:
            _fsync(errors_partial)
            os.replace(errors_partial, errors_path)
        else:
            errors_partial.unlink(missing_ok=True)
            errors_path.unlink(missing_ok=True)  # a stale log of an earlier run would mislead
    where = "standard output" if to_stdout else str(out_path)
    skipped = f"; {log.count} inputs skipped" + (f" (see {errors_path})" if errors_path else "") \
        if log.count else ""
    print(f"{PROG}: {n_rows} sentences tagged -> {where}{skipped}", file=sys.stderr)
    return 2 if log.count else 0


class _TextSink:
    """Byte writes onto a text stream."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()


def _checkpoint(handle, items: int, out, err_handle, rows: int, n_errors: int) -> None:
    """Record that the first ``items`` work items are completely written (and flushed)."""
    handle.write(json.dumps({"items": items, "out": out.tell(),
                             "errors": err_handle.tell() if err_handle else 0,
                             "rows": rows, "n_errors": n_errors}) + "\n")
    handle.flush()


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


if __name__ == "__main__":
    sys.exit(main())
