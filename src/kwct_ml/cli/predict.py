"""``python -m kwct_ml.predict``: tag the sentences of articles, tables or stdin with a trained model.

Streams: inputs are cut into small work items (a few articles or a few hundred table rows), tagged
in order (in ``--jobs`` processes), and each item's rows are appended and flushed to
``OUT.partial`` with a checkpoint line in ``OUT.partial.ckpt``. When every item is done the file
is renamed to ``OUT``, so ``OUT`` only ever exists complete; ``--resume`` continues an interrupted
``OUT.partial`` after its last checkpoint. See docs/predict.md for the column contract.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import warnings
from collections import deque
from pathlib import Path

from kwct_ml import errors
from kwct_ml.errors import ConfigError
from kwct_ml.inference import batch, checkpoint
from kwct_ml.inference.tagger import (
    EXPLAIN_COLUMNS,
    SENTENCE_COLUMNS,
    TOP_COLUMNS,
    UNCERTAIN_COLUMN,
    SummaryBuilder,
    Tagger,
    summary_columns,
)
from kwct_ml.io import limits, parquet
from kwct_ml.io.atomic import atomic_open, lock_output
from kwct_ml.io.discover import display_name
from kwct_ml.io.sources import ID_COLUMNS, ReadOptions, Source, discover, id_column_of
from kwct_ml.io.tables import FORMATS, RowFormatter, format_of, read_rows

PROG = "kwct_ml.predict"
#: Bad-input lines printed on stderr before the rest go to the errors file only.
MAX_STDERR_ERRORS = 50


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as a one-line ConfigError (exit code 1)."""

    def error(self, message):
        raise ConfigError(f"{message} (see python -m {PROG} --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=f"python -m {PROG}", description="Tag every sentence with a topic and a stance.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help=".txt file, directory (all .txt inside, recursively; without any, all "
                        ".parquet: a dataset), .csv/.tsv/.jsonl/.parquet table with a text column, "
                        "or - for standard input")
    p.add_argument("--output", "-o", default="-", metavar="OUT",
                   help="OUT.csv, OUT.tsv, OUT.jsonl or OUT.parquet (default: CSV on standard output); "
                        "with --scheduler, a Parquet dataset directory")
    p.add_argument("--format", choices=sorted(set(FORMATS.values())),
                   help="output format when OUT has no known extension or is standard output")
    p.add_argument("--model", metavar="DIR", help="model folder (default: models/latest)")
    p.add_argument("--unit", choices=("article", "sentence"),
                   help="article: segment each text into sentences; sentence: each table row or "
                        "text line is one sentence (default: article for .txt and stdin; for a "
                        "table, article when half or more of its first 20 text cells hold several "
                        "sentences, else sentence)")
    p.add_argument("--text-column", default="text", metavar="COL",
                   help="text column of tables (default: %(default)s)")
    p.add_argument("--id-column", metavar="COL",
                   help="table column giving doc_id (default: the first of "
                        f"{', '.join(ID_COLUMNS)} the table has, any case)")
    p.add_argument("--article-column", metavar="COL",
                   help="sentence tables: rows sharing COL's value are one article, in row order (keep "
                        "them consecutive), so the topic's article context applies as for articles; "
                        "doc_id is that value unless --id-column is given (default: each row alone)")
    p.add_argument("--encoding", metavar="ENC",
                   help="force the input encoding (default: BOM, else UTF-8, else Windows-1256)")
    p.add_argument("--max-article-bytes", type=int, metavar="N",
                   help="skip (and log) a .txt article or standard input longer than N bytes (default: "
                        f"${limits.ENV}, else {limits.MAX_ARTICLE_BYTES:,})")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                   help="tagging processes (default: %(default)s)")
    p.add_argument("--explain", type=int, default=0, metavar="K",
                   help="add topic_explain/stance_explain: the K n-grams that pushed each label most "
                        "(default: %(default)s, none)")
    p.add_argument("--top-k", type=int, default=0, metavar="K",
                   help="add topic_top/stance_top: the K most probable labels and their calibrated "
                        "probabilities (label:prob|... in CSV/TSV, [[label, prob], ...] in JSONL; "
                        "default: %(default)s, none)")
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
    p.add_argument("--scheduler", metavar="ADDR",
                   help="run on Dask: local:N (N worker processes here) or tcp://HOST:PORT "
                        "(docs/scale.md; needs the dask extra)")
    p.add_argument("--partition-size", type=int, default=256, metavar="N",
                   help="with --scheduler: .txt files, or rows of a table, per partition (a "
                        "table's --article-column article is never cut apart; default %(default)s)")
    return p


# --------------------------------------------------------------------------- output

class ErrorLog:
    """Reports skipped inputs (``count``) and warnings about read ones (``level: warning``, e.g. how
    a file was decoded): one line on stderr (the first MAX_STDERR_ERRORS of each) and a JSON line.
    Undecodable bytes of file names are shown as ``\\xNN``."""

    def __init__(self, handle=None, count: int = 0):
        self.handle, self.count, self.warnings = handle, count, 0

    def add(self, record: dict) -> None:
        record = {**record, "input": display_name(record["input"])}
        warning = record.get("level") == "warning"
        if warning:
            self.warnings += 1
        else:
            self.count += 1
        shown = self.warnings if warning else self.count
        if shown <= MAX_STDERR_ERRORS:
            where = record["input"] + (f":{record['line']}" if record.get("line") else "")
            fix = f" ({record['fix']})" if record.get("fix") else ""
            what = "warning:" if warning else "skipped"
            print(errors.one_line(f"{PROG}: {what} {where}: {record['error']}{fix}"), file=sys.stderr)
        elif shown == MAX_STDERR_ERRORS + 1:
            print(f"{PROG}: more {'warnings' if warning else 'inputs skipped'}; see the errors file",
                  file=sys.stderr)
        if self.handle is not None:
            self.handle.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


# --------------------------------------------------------------------------- main

def _decide_units(sources: list[Source], opts: ReadOptions) -> list[Source]:
    """Fix the unit of every input and say it (and a table's doc_id column) in one stderr line."""
    decided, parts = [], []
    plain: dict[tuple[str, str], int] = {}  # (unit, why) -> number of non-table inputs
    for source in sources:
        if source.error is not None:
            decided.append(source)
            continue
        unit, why = source.reader.decide_unit(source, opts)
        decided.append(dataclasses.replace(source, unit=unit))
        if source.kind != "table":
            plain[(unit, why)] = plain.get((unit, why), 0) + 1
            continue
        header = source.reader.columns(source, ReadOptions(
            None, opts.text_column, None, opts.encoding))
        id_col = id_column_of(header, opts)
        ids = f"doc_id from column {id_col!r}" if id_col else \
            f"doc_id from --article-column {opts.article_column!r}" if opts.article_column else \
            "no id column found (doc_id is FILE:ROW; --id-column COL)" if unit == "article" else \
            "no id column found (doc_id is the file name; --id-column COL)"
        parts.append(f"{Path(source.path).name}: {unit} per row ({why}); {ids}")
    for (unit, why), n in plain.items():
        parts.insert(0, f"{n} text input{'s' if n > 1 else ''}: {unit} ({why})")
    if parts:
        print(errors.one_line(f"{PROG}: unit: " + "; ".join(parts)), file=sys.stderr)
    return decided


def _refuse_overwriting_inputs(args, sources: list[Source], to_stdout: bool) -> None:
    """An output file that is also an input (or the ``articles.csv`` of the titles) would replace the
    user's data when the run ends; two outputs naming one file would mix their rows."""
    inputs = {os.path.realpath(s.path) for s in sources if s.is_file}
    inputs |= {os.path.realpath(Path(s.path).parent / "articles.csv") for s in sources
               if s.is_file and s.reader.from_folders}
    outputs = [("--output", None if to_stdout else args.output), ("--summary", args.summary),
               ("--errors", args.errors or (None if to_stdout else f"{args.output}.errors.jsonl"))]
    seen: dict[str, str] = {}
    for option, path in outputs:
        if not path:
            continue
        if os.path.isdir(path):
            raise ConfigError(f"{option} {path} is a folder; give a file name inside it")
        real = os.path.realpath(path)
        if real in inputs:
            raise ConfigError(f"{option} {path} is also an input and would be overwritten; "
                              "write to another file")
        if real in seen:
            raise ConfigError(f"{option} {path} is also {seen[real]}; give each output its own file")
        seen[real] = option


def _summary_path_ok(args) -> str | None:
    if not args.summary:
        return None
    if args.summary == "-":
        raise ConfigError("--summary needs a file name (.csv, .tsv or .jsonl)")
    return format_of(args.summary, None, "--summary")


def _load_tagger(model: str | None, compiled: bool = False) -> Tagger:
    """Load the model (its compiled scorer if ``compiled`` and it has one); a version warning is
    printed as one line (it is advice, not a traceback)."""
    from kwct_ml.bundle.store import ModelVersionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ModelVersionWarning)
        tagger = Tagger.load(model, compiled)
    for warning in caught:
        if issubclass(warning.category, ModelVersionWarning):
            print(f"{PROG}: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return tagger


@errors.cli
def main(argv=None) -> int:
    """Tag INPUTs; exit 0 when all went well, 2 when some inputs were skipped, 1 on usage errors
    or when nothing at all could be tagged."""
    args = build_parser().parse_args(argv)
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    if args.explain < 0:
        raise ConfigError("--explain must be 0 or more")
    if args.top_k < 0:
        raise ConfigError("--top-k must be 0 or more")
    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise ConfigError("--min-confidence must be between 0 and 1")
    if args.inputs.count("-") > 1:
        raise ConfigError("standard input (-) can be given only once")
    to_stdout = args.output in ("-", "")
    parquet_out = Path(args.output).suffix.lower() == parquet.SUFFIX
    if args.scheduler and (to_stdout or "-" in args.inputs):
        raise ConfigError("--scheduler needs --output DIR and file inputs (not standard input/output)")
    fmt = "jsonl" if parquet_out or args.scheduler else format_of(args.output, args.format, "--output")
    summary_fmt = _summary_path_ok(args)
    if args.resume and (to_stdout or "-" in args.inputs):
        raise ConfigError("--resume needs --output FILE and file inputs (not standard input/output)")

    result_columns = list(SENTENCE_COLUMNS)
    if args.min_confidence is not None:
        result_columns.append(UNCERTAIN_COLUMN)
    if args.explain:
        result_columns += list(EXPLAIN_COLUMNS)
    if args.top_k:
        result_columns += list(TOP_COLUMNS)
    if args.article_column and args.unit == "article":
        raise ConfigError("--article-column groups sentence rows; it does not go with --unit article")
    max_bytes = limits.max_article_bytes(args.max_article_bytes)
    read_opts = ReadOptions(args.unit, args.text_column, args.id_column, args.encoding,
                            frozenset(result_columns), args.article_column, max_bytes)
    if args.scheduler:
        from kwct_ml.inference import distributed  # Dask is imported only with --scheduler

        return distributed.run(args, read_opts, result_columns, summary_fmt, ErrorLog)
    tagger = _load_tagger(args.model, compiled=not args.explain)  # only --explain needs the pipelines
    sources, titles = discover(args.inputs, getattr(sys.stdin, "buffer", sys.stdin))
    _refuse_overwriting_inputs(args, sources, to_stdout)
    sources = _decide_units(sources, read_opts)

    own_columns: list[str] = []
    for source in sources:
        for col in source.reader.columns(source, read_opts):
            if col not in own_columns:
                own_columns.append(col)
    formatter = RowFormatter(fmt, own_columns + result_columns, spreadsheet=args.bom)

    with errors.sigterm_as_interrupt():
        if parquet_out:
            return _run_parquet(args, read_opts, tagger, sources, titles, formatter, summary_fmt)
        return _run(args, read_opts, tagger, sources, titles, formatter, to_stdout, summary_fmt)


def _run_parquet(args, read_opts, tagger, sources, titles, formatter, summary_fmt) -> int:
    """OUT.parquet: the run streams JSON lines to OUT.parquet.rows.jsonl (resumable as usual), then
    converts them to OUT.parquet atomically."""
    staged = argparse.Namespace(**{**vars(args), "output": f"{args.output}.rows.jsonl",
                                   "errors": args.errors or f"{args.output}.errors.jsonl",
                                   "shown_output": args.output})
    if args.resume and Path(args.output).exists() and not Path(f"{staged.output}.partial").exists():
        print(f"{PROG}: {args.output} is already complete; nothing to resume", file=sys.stderr)
        return 0
    code = _run(staged, read_opts, tagger, sources, titles, formatter, False, summary_fmt)
    parquet.write_rows(args.output, read_rows(staged.output, "jsonl"), formatter.columns)
    Path(staged.output).unlink()
    return code


def _run(args, read_opts: ReadOptions, tagger: Tagger, sources: list[Source], titles: dict[str, str],
         formatter: RowFormatter, to_stdout: bool, summary_fmt: str | None) -> int:
    builder = SummaryBuilder(titles) if args.summary else None
    out_path = Path(args.output)
    partial = Path(f"{args.output}.partial")
    ckpt = Path(f"{args.output}.partial.ckpt")
    errors_path = Path(args.errors) if args.errors else (None if to_stdout else
                                                         Path(f"{args.output}.errors.jsonl"))
    errors_partial = Path(f"{errors_path}.partial") if errors_path else None
    fingerprint = checkpoint.fingerprint(sources, {
        "args": [args.unit, [s.unit for s in sources], args.text_column, args.id_column,
                 args.encoding, args.explain, args.top_k, args.min_confidence, args.bom, formatter.fmt,
                 formatter.columns],
        "items": [batch.FILES_PER_ITEM, batch.ARTICLE_ROWS_PER_ITEM, batch.SENTENCE_ROWS_PER_ITEM],
        "model": hashlib.sha256(json.dumps(tagger.manifest, sort_keys=True, default=str)
                                .encode()).hexdigest()})

    lock = None if to_stdout else lock_output(partial, f"--output {out_path}")
    try:
        return _tag(args, read_opts, tagger, sources, formatter, to_stdout, summary_fmt, builder, out_path,
                    partial, ckpt, errors_path, errors_partial, fingerprint)
    finally:
        if lock is not None:
            lock.close()


def _tag(args, read_opts, tagger, sources, formatter, to_stdout, summary_fmt, builder, out_path, partial,
         ckpt, errors_path, errors_partial, fingerprint) -> int:
    """The run proper, holding the lock on ``OUT.partial`` (so a second run to OUT stops first)."""
    skip = n_rows = n_errors = 0
    resuming = False
    if args.resume:
        if partial.exists() and ckpt.exists():
            err_size = errors_partial.stat().st_size if errors_partial and errors_partial.exists() else 0
            point = checkpoint.last(ckpt, fingerprint, partial.stat().st_size, err_size)
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
    # the bar counts input documents (.txt files, table rows, stdin): their total is known
    bar = tqdm(total=_count_documents(sources, read_opts) if show else None, unit=" doc", desc=PROG,
               disable=not show, file=sys.stderr)
    sizes: deque[int] = deque()
    done = skip
    # a full disk ends the run in one line naming the file; the checkpoint keeps what is complete
    fix = None if to_stdout else "free some space and rerun with --resume"
    out_name = "standard output" if to_stdout else partial
    try:
        if not resuming and not to_stdout:  # standard output gets its header with the first rows
            with errors.writing(out_name, fix):
                out.write(formatter.header(args.bom))
                out.flush()
            if ckpt_handle:
                with errors.writing(ckpt, fix):
                    checkpoint.start(ckpt_handle, fingerprint)
                    checkpoint.mark(ckpt_handle, 0, out, err_handle, 0, 0)
        items = _sized(batch.work_items(sources, read_opts), skip, sizes, bar)
        worker_opts = batch.Options(args.encoding, args.explain, args.min_confidence, args.top_k,
                                    read_opts.max_bytes)
        for rows, errs in batch.ordered_results(items, args.jobs, tagger, worker_opts):
            with errors.writing(out_name, fix):
                if to_stdout and rows and not n_rows:
                    out.write(formatter.header(args.bom))
                out.write(formatter.rows(rows))
                out.flush()
            with errors.writing(errors_partial or "standard error", fix):
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
                with errors.writing(ckpt, fix):
                    checkpoint.mark(ckpt_handle, done, out, err_handle, n_rows, log.count)
            bar.update(sizes.popleft())
            bar.set_postfix_str(f"{n_rows} sentences", refresh=False)
    except KeyboardInterrupt:
        if ckpt_handle:
            print(f"{PROG}: interrupted; {n_rows} complete rows are in {partial}; rerun with "
                  "--resume to continue", file=sys.stderr)
        raise
    finally:
        bar.close()
        # every write was flushed above; a close can fail only re-flushing what a full disk refused
        for handle in (None if to_stdout else out, ckpt_handle, err_handle):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()

    if n_rows == 0 and log.count:
        return _nothing_tagged(partial, ckpt, to_stdout, errors_partial, errors_path, log)
    if n_rows == 0 and to_stdout:  # inputs without any sentence: the header alone, as for a file
        out.write(formatter.header(args.bom))
        out.flush()
    if builder is not None:
        summary_formatter = RowFormatter(summary_fmt, summary_columns(), spreadsheet=args.bom)
        with atomic_open(args.summary, "wb") as handle:
            handle.write(summary_formatter.header(args.bom))
            for summary in builder.summaries():
                handle.write(summary_formatter.rows([summary.as_row()]))
    if not to_stdout:
        with errors.writing(out_path, fix):
            checkpoint.finish(partial, out_path)
        ckpt.unlink(missing_ok=True)
    if errors_path:
        if log.count or log.warnings or errors_partial.stat().st_size:  # (warnings before a resume)
            with errors.writing(errors_path, fix):
                checkpoint.finish(errors_partial, errors_path)
        else:
            errors_partial.unlink(missing_ok=True)
            errors_path.unlink(missing_ok=True)  # a stale log of an earlier run would mislead
    where = "standard output" if to_stdout else getattr(args, "shown_output", str(out_path))
    skipped = f"; {log.count} inputs skipped" if log.count else ""
    skipped += f"; {log.warnings} warnings" if log.warnings else ""
    skipped += f" (see {errors_path})" if skipped and errors_path else ""
    print(errors.one_line(f"{PROG}: {n_rows} sentences tagged -> {where}{skipped}"), file=sys.stderr)
    return 2 if log.count else 0


def _nothing_tagged(partial: Path, ckpt: Path, to_stdout: bool, errors_partial: Path | None,
                    errors_path: Path | None, log: ErrorLog) -> int:
    """Every input was skipped: leave no output file (a header-only file looks like a result)."""
    if not to_stdout:
        partial.unlink(missing_ok=True)
        ckpt.unlink(missing_ok=True)
    if errors_path and log.count:
        checkpoint.finish(errors_partial, errors_path)
    elif errors_partial:
        errors_partial.unlink(missing_ok=True)
    where = f" (see {errors_path})" if errors_path and log.count else ""
    print(f"{PROG}: nothing was tagged; {log.count} inputs skipped{where}; no output written",
          file=sys.stderr)
    return 1


def _sized(items, skip: int, sizes: deque, bar):
    """Work items after the first ``skip`` (done before a resume, counted on ``bar`` at once); the
    number of documents of each item yielded is appended to ``sizes``."""
    for i, item in enumerate(items):
        n = len(item.entries) + len(item.errors)
        if i < skip:
            bar.update(n)
            continue
        sizes.append(n)
        yield item


def _count_documents(sources: list[Source], opts: ReadOptions) -> int:
    """Documents the run will go through: one per input file or stdin, one per table record."""
    total = 0
    for source in sources:
        if source.kind != "table":
            total += 1
            continue
        total += source.reader.count(source, opts)
    return total


class _TextSink:
    """Byte writes onto a text stream."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()


if __name__ == "__main__":
    sys.exit(main())
