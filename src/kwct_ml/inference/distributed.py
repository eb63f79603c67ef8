"""``predict --scheduler``: tag partitions of the inputs on a Dask cluster into a Parquet dataset.

The client only lists the inputs and cuts them into partitions of paths: ``.txt`` files in groups
of ``--partition-size``, and each table (CSV/TSV/JSONL/Parquet) in pieces of about
``--partition-size`` rows (byte or row ranges that a worker plans by parsing the table once, never
cutting an ``--article-column`` article apart). Workers read their partition's files, load
the model once per process (``bundle.store.load_model``, so the sha256 is checked where it is
unpickled), tag, and write ``OUT/part-NNNNN.parquet`` atomically, after the partition's errors
file. A partition whose Parquet file exists is done: ``--resume`` skips it, and a retried task
(a worker died) replaces the file instead of adding rows. docs/scale.md.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from kwct_ml.errors import ConfigError, ModelError
from kwct_ml.inference import batch, checkpoint
from kwct_ml.io import parquet
from kwct_ml.io.atomic import atomic_open, atomic_write_text
from kwct_ml.io.sources import ReadOptions, Source, discover

PROG = "kwct_ml.predict"
INSTALL_HINT = 'pip install "kwct_ml[dask]"'
RUN_FILE = "_run.json"
ERRORS_DIR = "_errors"


@dataclass(frozen=True)
class Job:
    """What every task needs besides its partition (small: the model travels as a path)."""

    model_path: str
    model_sha256: str
    read_opts: ReadOptions
    opts: batch.Options
    out_dir: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    """Sources tagged together into ``part-<index>.parquet``."""

    index: int
    sources: tuple[Source, ...]

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}"


def partitions(sources: list[Source], size: int) -> list[Partition]:
    """Cut sources into partitions: consecutive ``.txt`` files ``size`` at a time, each other
    input (a table, or a piece of one: ``plan_table``) on its own, in input order."""
    parts: list[Partition] = []
    group: list[Source] = []
    for source in sources:
        if source.reader.in_worker:
            group.append(source)
            if len(group) == size:
                parts.append(Partition(len(parts), tuple(group)))
                group = []
            continue
        if group:
            parts.append(Partition(len(parts), tuple(group)))
            group = []
        parts.append(Partition(len(parts), (source,)))
    if group:
        parts.append(Partition(len(parts), tuple(group)))
    return parts


# --------------------------------------------------------------------------- on the workers

#: (model folder, sha256, compiled) -> Tagger: each worker process loads a model once.
_TAGGERS: dict = {}


def worker_tagger(path: str, sha256: str, compiled: bool = False):
    """The model at ``path`` loaded (sha256-checked) once per process, its compiled scorer if
    ``compiled`` and it has one (as predict loads it); refused when its manifest names another
    sha256 than the client saw."""
    key = (path, sha256, compiled)
    if key not in _TAGGERS:
        from kwct_ml.inference.tagger import Tagger

        tagger = Tagger.load(path, compiled)
        if tagger.manifest.get("sha256") != sha256:
            raise ModelError(f"{path}: the model on this worker is not the one the client "
                             "checked (its manifest sha256 differs); give every worker the same "
                             "model folder")
        _TAGGERS[key] = tagger
    return _TAGGERS[key]


def plan_table(source: Source, read_opts: ReadOptions, size: int) -> tuple[list[Source], list[str], str]:
    """On a worker: a table's unit decided from its first rows (as a plain run decides it), the
    table cut into pieces of about ``size`` rows, and its own output columns; with why the unit."""
    unit, why = source.reader.decide_unit(source, read_opts)
    source = replace(source, unit=unit)
    return source.reader.plan(source, read_opts, size), source.reader.columns(source, read_opts), why


def tag_partition(part: Partition, job: Job) -> dict:
    """Read, tag and write one partition; returns its row and error counts."""
    tagger = worker_tagger(job.model_path, job.model_sha256, compiled=not job.opts.explain)
    out = Path(job.out_dir)
    rows: list[dict] = []
    errs: list[dict] = []
    for item in batch.work_items(list(part.sources), job.read_opts):
        item_rows, item_errs = batch.process(item, tagger, job.opts)
        rows += item_rows
        errs += item_errs
    err_file = out / ERRORS_DIR / f"{part.name}.jsonl"
    with atomic_open(err_file, "w") as handle:
        for record in errs:
            handle.write(json.dumps(record) + "\n")  # escaped: a file name may hold undecodable bytes
    parquet.write_rows(out / f"{part.name}{parquet.SUFFIX}", rows, list(job.columns))
    return {"index": part.index, "rows": len(rows), "errors": len(errs)}


# --------------------------------------------------------------------------- on the client

def _dask():
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"--scheduler needs Dask: {INSTALL_HINT}") from None
    return distributed


def connect(address: str):
    """(Client, cluster or None) for ``local:N`` or a scheduler address."""
    distributed = _dask()
    if address.startswith("local:"):
        try:
            n = int(address.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"--scheduler {address}: use local:N with N >= 1 worker processes")
        import logging

        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=logging.ERROR)
        return distributed.Client(cluster), cluster
    try:
        client = distributed.Client(address, timeout="30s")
    except OSError as exc:
        raise ConfigError(f"--scheduler {address}: cannot connect ({exc}); start `dask scheduler` "
                          "there (docs/scale.md)") from None
    return client, None


def run(args, read_opts: ReadOptions, result_columns: list[str], summary_fmt: str | None,
        error_log) -> int:
    """The ``--scheduler`` run of ``cli.predict.main``: exit 0, or 2 when inputs were skipped."""
    from kwct_ml.bundle.store import _model_folder, read_manifest

    if args.partition_size < 1:
        raise ConfigError("--partition-size must be at least 1")
    out = Path(args.output)
    if out.suffix.lower() in (".csv", ".tsv", ".jsonl"):
        raise ConfigError(f"--scheduler writes a Parquet dataset directory, not {out.suffix}; "
                          f"pass --output {out.with_suffix('')}")
    parquet.pyarrow()
    _dask()
    model_path = str(_model_folder(args.model).resolve())
    sha = read_manifest(model_path)["sha256"]
    sources, titles = discover(args.inputs)
    if out.exists() and any(out.iterdir()) and not args.resume:  # before starting a cluster
        _prepare(out, "", False)
    client, cluster = connect(args.scheduler)
    try:
        sources, own_columns = _plan(client, sources, read_opts, args.partition_size)
        columns = tuple(own_columns + result_columns)
        parts = partitions(sources, args.partition_size)
        fingerprint = checkpoint.fingerprint(sources, {
            "args": [args.unit, args.text_column, args.id_column, args.encoding, args.explain,
                     args.min_confidence, args.article_column, args.partition_size, list(columns)],
            "model": sha})
        done = _prepare(out, fingerprint, args.resume)
        todo = [p for p in parts if p.index not in done]
        if args.resume:
            print(f"{PROG}: resuming: {len(parts) - len(todo)} of {len(parts)} partitions are done",
                  file=sys.stderr)
        job = Job(model_path, sha, read_opts, batch.Options(args.encoding, args.explain,
                                                            args.min_confidence,
                                                            max_bytes=read_opts.max_bytes),
                  str(out.resolve()), columns)
        if todo:
            _submit(args, client, todo, job)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

    errors_path = Path(args.errors) if args.errors else Path(f"{out}.errors.jsonl")
    log = _merge_errors(out, parts, errors_path, error_log)
    n_rows = parquet.count_rows(out)
    if summary_fmt:
        _write_summary(args, out, titles, summary_fmt, columns)
    skipped = f"; {log.count} inputs skipped (see {errors_path})" if log.count else ""
    print(f"{PROG}: {n_rows} sentences tagged in {len(parts)} partitions -> {out}/{skipped}",
          file=sys.stderr)
    return 2 if log.count else 0


def _prepare(out: Path, fingerprint: str, resume: bool) -> set[int]:
    """Indexes of the partitions already written (with --resume), after checking the run matches."""
    run_file = out / RUN_FILE
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise ConfigError(f"--output {out} already holds a run; pass --resume to finish it, or "
                              "choose another directory")
        try:
            saved = json.loads(run_file.read_text(encoding="utf-8"))["fingerprint"]
        except (OSError, ValueError, KeyError):
            raise ConfigError(f"{out} is not a predict --scheduler output; choose another "
                              "directory") from None
        if saved != fingerprint:
            raise ConfigError(f"{out} was written with other inputs, options or model; rerun "
                              "without --resume into another directory")
        return {int(p.stem.split("-")[1]) for p in out.glob(f"part-*{parquet.SUFFIX}")}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_file, json.dumps({"fingerprint": fingerprint}) + "\n")
    return set()


def _plan(client, sources: list[Source], read_opts: ReadOptions,
          size: int) -> tuple[list[Source], list[str]]:
    """Sources with each table replaced by its pieces (planned on the workers, which read the
    tables), and the own columns of all inputs in input order; prints each table's unit."""
    tables = [k for k, source in enumerate(sources)
              if source.error is None and not source.reader.in_worker]
    futures = client.map(plan_table, [sources[k] for k in tables], read_opts=read_opts, size=size,
                         pure=False)
    planned = dict(zip(tables, client.gather(futures), strict=True))
    expanded: list[Source] = []
    own: list[str] = []
    for k, source in enumerate(sources):
        if k not in planned:
            expanded.append(source)
            continue
        pieces, columns, why = planned[k]
        expanded += pieces
        own += [col for col in columns if col not in own]
        print(f"{PROG}: unit: {Path(source.path).name}: {pieces[0].unit} per row ({why}); "
              f"{len(pieces)} partition{'s' if len(pieces) > 1 else ''}", file=sys.stderr)
    return expanded, own


def _submit(args, client, todo: list[Partition], job: Job) -> None:
    """Run ``tag_partition`` on the cluster for ``todo``, with a progress bar over partitions."""
    distributed = _dask()
    from tqdm import tqdm

    if not str(args.scheduler).startswith("local:"):
        print(f"{PROG}: dashboard: {client.dashboard_link}", file=sys.stderr)
    futures = [client.submit(tag_partition, part, job, pure=False) for part in todo]
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    with tqdm(total=len(todo), unit=" partition", desc=PROG, disable=not show,
              file=sys.stderr) as bar:
        for future in distributed.as_completed(futures):
            future.result()  # a task's error (e.g. a refused model) is raised here
            bar.update(1)


def _merge_errors(out: Path, parts: list[Partition], errors_path: Path, error_log):
    """Merge the partitions' error files into ``errors_path`` (in partition order), reporting
    each through ``error_log``; returns the log."""
    records = []
    for part in parts:
        file = out / ERRORS_DIR / f"{part.name}.jsonl"
        if file.exists():
            records += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()
                        if line.strip()]
    if not records:
        errors_path.unlink(missing_ok=True)
        return error_log(None)
    with atomic_open(errors_path, "wb") as handle:
        log = error_log(handle)
        for record in records:
            log.add(record)
    return log


def _write_summary(args, out: Path, titles: dict[str, str], summary_fmt: str,
                   job_columns: tuple[str, ...]) -> None:
    """``--summary`` over all partitions (read back from the dataset, in partition order)."""
    from kwct_ml.inference.tagger import SummaryBuilder, summary_columns
    from kwct_ml.io.tables import RowFormatter

    builder = SummaryBuilder(titles)
    wanted = ["doc_id", "sent_id", "text", "topic", "topic_score", "stance", "stance_score"]
    if "title" in job_columns:
        wanted.append("title")
    for row in parquet.read_rows(out, wanted):
        builder.add(row)
    formatter = RowFormatter(summary_fmt, summary_columns())
    with atomic_open(args.summary, "wb") as handle:
        handle.write(formatter.header(args.bom))
        for summary in builder.summaries():
            handle.write(formatter.rows([summary.as_row()]))
