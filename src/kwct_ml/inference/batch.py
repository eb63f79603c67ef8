"""Tagging many documents: cut sources into work items, tag them in worker processes, in order.

Work items have fixed sizes (not derived from ``--jobs``), so every ``--jobs`` value cuts the same
items and a checkpoint's item count means the same thing when a run is resumed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from kwct_ml import errors, lifeline
from kwct_ml.errors import DataError
from kwct_ml.inference.tagger import Span, Tagger
from kwct_ml.io.sources import (
    Document,
    ReadOptions,
    Skipped,
    Source,
    TextFile,
    error_record,
    unit_of,
)
from kwct_ml.text.segment import segment

FILES_PER_ITEM = 8
ARTICLE_ROWS_PER_ITEM = 8
SENTENCE_ROWS_PER_ITEM = 256
#: Work items tagged in one model call (issue 20: 8-article items paid the per-call cost per item).
#: Fixed, not derived from ``--jobs``, so every ``--jobs`` value makes the same calls.
ITEMS_PER_CALL = 8
#: Longer "sentences" are not prose (a file without line breaks or stops); they are logged, not
#: tagged, since character n-grams of megabytes of text take gigabytes of memory.
MAX_SENTENCE_CHARS = 20_000
LONG_HINT = "check that the input is prose; split very long lines"


@dataclass(frozen=True)
class Options:
    """What workers need to turn an item into rows (picklable)."""

    encoding: str | None
    explain: int
    min_confidence: float | None
    top_k: int = 0
    max_bytes: int | None = None  # per .txt article (``io/limits.py``)


@dataclass
class WorkItem:
    """Documents (or .txt files to read) tagged together, and errors met while reading them."""

    unit: str  # "article": whole articles, tagged with the model's article context
    entries: list[Document | TextFile] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


def work_items(sources: list[Source], opts: ReadOptions) -> Iterator[WorkItem]:
    """Cut the sources into work items, in input order (deterministic for --resume)."""
    files: WorkItem | None = None  # consecutive worker-read files share items
    for source in sources:
        reader = source.reader
        unit = unit_of(source, opts)
        if reader.in_worker:
            for entry in reader.read(source, opts):
                if files is None:
                    files = WorkItem(unit)
                files.entries.append(entry)
                if len(files.entries) == FILES_PER_ITEM:
                    yield files
                    files = None
            continue
        if files is not None:
            yield files
            files = None
        yield from _chunks(reader.read(source, opts), unit)
    if files is not None:
        yield files


def _chunks(entries: Iterator, unit: str) -> Iterator[WorkItem]:
    size = SENTENCE_ROWS_PER_ITEM if unit == "sentence" else ARTICLE_ROWS_PER_ITEM
    item = WorkItem(unit)
    for entry in entries:
        if isinstance(entry, Skipped):
            item.errors.append(entry.record)
            continue
        last = item.entries[-1] if item.entries else None
        # an item ends at its size, but never inside the rows of one article (its context needs them all)
        if len(item.entries) >= size and (entry.article is None or entry.article != last.article):
            yield item
            item = WorkItem(unit)
        item.entries.append(entry)
    if item.entries or item.errors:
        yield item


# --------------------------------------------------------------------------- tagging (workers)

_WORKER: dict = {}


def init_worker(tagger: Tagger, opts: Options, in_child: bool = True, parent: int | None = None) -> None:
    """Set up a worker; in a child process it leaves Ctrl-C / SIGTERM to ``parent`` (which tells the
    pool to stop) and exits when ``parent`` dies (a SIGKILLed run must not leave workers behind)."""
    _WORKER["tagger"], _WORKER["opts"] = tagger, opts
    if in_child:
        lifeline.become_worker(parent)


def _spans(doc: Document) -> list[Span]:
    if doc.sent_id is not None:
        return [Span(doc.doc_id, doc.sent_id, doc.offset, doc.offset + len(doc.text), doc.text)]
    return [Span.of(doc.doc_id, s) for s in segment(doc.text)]


def process(item: WorkItem, tagger: Tagger | None = None,
            opts: Options | None = None) -> tuple[list[dict], list[dict]]:
    """Turn one work item into (output rows, error records); the worker's tagger and options
    unless given."""
    return process_many([item], tagger, opts)[0]


@dataclass
class _Prepared:
    """An item's spans, ready to tag: with their table columns, article keys and read errors."""

    spans: list[Span]
    owners: list[dict]  # own table columns of each span
    groups: list  # the article (file, table row, or --article-column value) of each span
    grouped: bool  # whole articles: the model's article context applies
    errs: list[dict]


def _prepare(item: WorkItem, opts: Options) -> _Prepared:
    spans: list[Span] = []
    owners: list[dict] = []
    groups: list = []
    errs = list(item.errors)
    for k, entry in enumerate(item.entries):
        if isinstance(entry, TextFile):
            try:
                docs = entry.documents(item.unit, opts.encoding, notes=errs, max_bytes=opts.max_bytes)
            except DataError as exc:
                errs.append(error_record(exc, entry.path))
                continue
        else:
            docs = [entry]
        for doc in docs:
            new = _drop_long(_spans(doc), doc, errs)
            spans += new
            groups += [k if doc.article is None else ("article", doc.article)] * len(new)
            if doc.text_column and len(new) > 1:
                owners += [doc.columns] + [{**doc.columns, doc.text_column: ""}] * (len(new) - 1)
            else:
                owners += [doc.columns] * len(new)
    # whole articles (article unit, or sentence rows with --article-column) use the model's article
    # context; other sentence rows stand alone
    grouped = item.unit == "article" or any(isinstance(entry, Document) and entry.article is not None
                                            for entry in item.entries)
    return _Prepared(spans, owners, groups, grouped, errs)


def process_many(items: list[WorkItem], tagger: Tagger | None = None,
                 opts: Options | None = None) -> list[tuple[list[dict], list[dict]]]:
    """``process`` of each item, with one model call for all of them (per-call overhead is paid
    once per batch, repeated sentences are scored once). Article keys are kept apart per item, and
    items with and without article context are tagged in separate calls, so every row is what
    ``process`` of its own item gives (tests/test_predict_batching.py)."""
    tagger = tagger or _WORKER["tagger"]
    opts = opts or _WORKER["opts"]
    prepared = [_prepare(item, opts) for item in items]
    tags: list[list] = [[] for _ in items]
    for grouped in (True, False):
        members = [i for i, part in enumerate(prepared) if part.grouped == grouped and part.spans]
        if not members:
            continue
        spans = [span for i in members for span in prepared[i].spans]
        groups = [(i, key) for i in members for key in prepared[i].groups] if grouped else None
        tagged = tagger.tag_spans(spans, opts.explain, opts.min_confidence, groups=groups, top_k=opts.top_k)
        start = 0
        for i in members:
            end = start + len(prepared[i].spans)
            tags[i] = tagged[start:end]
            start = end
    out = []
    for part, item_tags in zip(prepared, tags, strict=True):
        rows = [{**own, **tag.as_row()} if own else tag.as_row()
                for own, tag in zip(part.owners, item_tags, strict=True)]
        out.append((rows, part.errs))
    return out


def _drop_long(spans: list[Span], doc: Document, errs: list[dict]) -> list[Span]:
    """``spans`` without those longer than MAX_SENTENCE_CHARS, each of which is logged in ``errs``."""
    if all(len(span.text) <= MAX_SENTENCE_CHARS for span in spans):
        return spans
    kept = []
    for span in spans:
        if len(span.text) <= MAX_SENTENCE_CHARS:
            kept.append(span)
        else:
            errs.append({"input": str(doc.path), "line": doc.line_of(span.start),
                         "fix": LONG_HINT,
                         "error": f"sentence {span.sent_id} of {span.doc_id} is {len(span.text):,} "
                                  f"characters long (over {MAX_SENTENCE_CHARS:,}); not tagged"})
    return kept


def _batches(items: Iterator[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    batch: list[WorkItem] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ordered_results(items: Iterator[WorkItem], jobs: int, tagger: Tagger, opts: Options) -> Iterator:
    """Results of ``process`` for each item, in item order. Items are tagged ``ITEMS_PER_CALL`` at
    a time (a fixed count, so every ``--jobs`` value makes the same model calls); with jobs > 1 at
    most 2*jobs batches are in flight."""
    if jobs == 1:
        init_worker(tagger, opts, in_child=False)
        for group in _batches(items, ITEMS_PER_CALL):
            yield from process_many(group)
        return
    from concurrent.futures import ProcessPoolExecutor

    # The executor's bookkeeping (starting its thread and workers, shutting down) is not safe to
    # interrupt on Python 3.11: a Ctrl-C there left it half-started ("cannot join thread before it
    # is started"). Signals are held there and arrive while waiting on results. Shutdown always
    # waits for the calls in flight: a manager thread still running at exit raced the interpreter's
    # own executor cleanup ("Bad file descriptor" traceback after "interrupted").
    with errors.signals_deferred():
        pool = ProcessPoolExecutor(jobs, initializer=init_worker,
                                   initargs=(tagger, opts, True, os.getpid()))
    window: deque = deque()
    try:
        for group in _batches(items, ITEMS_PER_CALL):
            with errors.signals_deferred():
                window.append(pool.submit(process_many, group))
            if len(window) >= 2 * jobs:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()
    finally:
        with errors.signals_deferred():
            pool.shutdown(wait=True, cancel_futures=True)
