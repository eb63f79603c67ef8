"""Merge a filled sheet into the corpus: check every row first, then write all or nothing.

``check_sheet`` lists every problem against the corpus; ``merge_sheet`` adds the articles to
``data/raw/`` and the sentences to ``data/labels/sentences.csv`` in one ``io.transaction``.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from kwct_ml.corpus import dataset
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, SENTENCE_COLUMNS, Problem
from kwct_ml.errors import ConfigError, DataError
from kwct_ml.io.csv_rows import csv_rows
from kwct_ml.io.encoding import read_text
from kwct_ml.io.transaction import Transaction, folder_lock
from kwct_ml.labelling.sheet import SAFE_ID, int_or_none, read_sheet, squash
from kwct_ml.schema import TASKS
from kwct_ml.text.segment import segment

#: Columns merge adds to the label file beside ``SENTENCE_COLUMNS``.
EXTRA_LABEL_COLUMNS = ("annotator", "date")
_ANNOTATOR = re.compile(r"^[\w.@-]+$")


@dataclass
class MergePlan:
    """What a clean sheet adds: articles (doc_id -> text, title) and sentence rows."""

    articles: dict[str, tuple[str, str]] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)


def check_sheet(sheet: str | Path,
                data_dir: str | Path = DEFAULT_DATA_DIR) -> tuple[MergePlan, list[Problem]]:
    """Every problem of a filled sheet against the corpus in ``data_dir``, and what it would add."""
    sheet, data_dir = Path(sheet), Path(data_dir)
    problems: list[Problem] = []
    plan = MergePlan()
    try:
        rows = read_sheet(sheet)
    except DataError as exc:
        return plan, [Problem(Path(exc.path or sheet), exc.line, exc.message, exc.fix or "check the path")]
    if not rows:
        return plan, [Problem(sheet, None, "the sheet has no rows", "prepare a sheet first")]
    by_doc: dict[str, list[tuple[int, dict]]] = {}
    seen: dict[tuple[str, int], int] = {}
    for line, row in rows:
        doc_id = row["doc_id"].strip()
        numbers = {k: int_or_none(row[k]) for k in ("sent_id", "start", "end")}
        if not doc_id:
            problems.append(Problem(sheet, line, "empty doc_id", "restore the doc_id prepare wrote"))
            continue
        if None in numbers.values():
            bad = ", ".join(k for k, v in numbers.items() if v is None)
            problems.append(Problem(sheet, line, f"{bad} not an integer", "restore the values prepare wrote"))
            continue
        key = (doc_id, numbers["sent_id"])
        if key in seen:
            problems.append(Problem(sheet, line, f"duplicate row {doc_id}/{key[1]} "
                                    f"(first at line {seen[key]})", "keep one row per sentence"))
            continue
        seen[key] = line
        for task, labels in TASKS.items():
            value = row[task].strip()
            names = ", ".join(labels)
            if not value:
                problems.append(Problem(sheet, line, f"empty {task}", f"fill it with one of {names}"))
            elif value not in labels:
                problems.append(Problem(sheet, line, f"unknown {task} {value!r}", f"use one of {names}"))
        by_doc.setdefault(doc_id, []).append((line, {**row, **numbers, "doc_id": doc_id}))

    existing, _, _ = dataset.scan(data_dir)
    existing_text = {squash(a.text): doc for doc, a in existing.items()}
    sheet_text: dict[str, str] = {}
    for doc_id, doc_rows in by_doc.items():
        first = doc_rows[0][0]
        if not SAFE_ID.match(doc_id):
            problems.append(Problem(sheet, first, f"doc_id {doc_id!r} cannot be a file name",
                                    "use letters, digits, _ and -"))
            continue
        files = {r["file"].strip() for _, r in doc_rows}
        if len(files) != 1 or not next(iter(files)):
            problems.append(Problem(sheet, first, f"rows of {doc_id} name {len(files)} different files",
                                    "every row of an article needs the same file path"))
            continue
        path = Path(files.pop())
        if not path.is_absolute():
            path = sheet.parent / path
        if doc_id in existing or (data_dir / "raw" / f"{doc_id}.txt").exists():
            problems.append(Problem(sheet, first, f"article {doc_id} is already in {data_dir / 'raw'}",
                                    "delete its rows from the sheet, or rename the article and "
                                    "prepare again"))
            continue
        if not path.is_file():
            problems.append(Problem(sheet, first, f"article file {path} not found",
                                    "put the article back there or correct the file column"))
            continue
        try:
            text = read_text(path)
        except DataError as exc:
            problems.append(Problem(sheet, first, f"cannot read {path}: {exc.message}",
                                    exc.fix or "fix the file"))
            continue
        twin = existing_text.get(squash(text))
        if twin is not None:
            problems.append(Problem(sheet, first, f"article {doc_id} has the same text as {twin} "
                                    "(already merged)", "delete its rows from the sheet"))
            continue
        sentences = {s.sent_id: s for s in segment(text)}
        doc_problems = len(problems)
        for line, row in doc_rows:
            sentence = sentences.get(row["sent_id"])
            if sentence is None or (sentence.start, sentence.end) != (row["start"], row["end"]):
                problems.append(Problem(sheet, line, f"{doc_id}/{row['sent_id']} "
                                        f"[{row['start']}:{row['end']}] is not a sentence of {path.name}",
                                        "do not edit sent_id/start/end; prepare the article again"))
            elif row["text"] != sentence.text:
                problems.append(Problem(sheet, line, f"text does not equal {path.name}[{row['start']}:"
                                        f"{row['end']}]", "do not edit the text column (use note); "
                                        "if the article changed, prepare it again"))
        missing = sorted(set(sentences) - {r["sent_id"] for _, r in doc_rows})
        if missing:
            shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
            problems.append(Problem(sheet, first, f"{doc_id}: {len(missing)} sentence(s) missing ({shown})",
                                    "label every sentence of an article, or delete all its rows to "
                                    "leave it out"))
        if len(problems) > doc_problems:
            continue
        if squash(text) in sheet_text:
            problems.append(Problem(sheet, first, f"article {doc_id} has the same text as "
                                    f"{sheet_text[squash(text)]} in this sheet", "keep one of them"))
            continue
        sheet_text[squash(text)] = doc_id
        plan.articles[doc_id] = (text, sentences[0].text[:200])
        for _, row in sorted(doc_rows, key=lambda item: item[1]["sent_id"]):
            plan.rows.append(dict(doc_id=doc_id, sent_id=row["sent_id"], start=row["start"], end=row["end"],
                                  text=row["text"], topic=row["topic"].strip(), stance=row["stance"].strip(),
                                  note=row.get("note", "").strip()))
    return plan, problems


def _csv_bytes(path: Path, columns: tuple[str, ...], new_rows: list[dict]) -> bytes:
    """``path``'s CSV with ``new_rows`` appended; missing ``columns`` are added to the header."""
    old_rows: list[dict] = []
    header = list(columns)
    newline = "\n"
    if path.is_file():
        text = path.read_bytes().decode("utf-8-sig")
        newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
        names, rows = csv_rows(text, path)
        header = names + [c for c in columns if c not in names]
        old_rows = [row for _, row in rows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator=newline, restval="")
    writer.writeheader()
    writer.writerows(old_rows)
    writer.writerows(new_rows)
    return out.getvalue().encode("utf-8")


@dataclass(frozen=True)
class MergeResult:
    articles: list[str]
    sentences: int
    earlier_problems: int


def merge_sheet(sheet: str | Path, data_dir: str | Path = DEFAULT_DATA_DIR, annotator: str | None = None,
                date: str | None = None) -> MergeResult:
    """Add a filled sheet to the corpus, all or nothing; raises ``MergeError`` listing the problems."""
    data_dir = Path(data_dir)
    annotator = (annotator or _default_annotator()).strip()
    if not _ANNOTATOR.match(annotator):
        raise ConfigError(f"--annotator {annotator!r}: use letters, digits, . _ - @ (no spaces)")
    date = date or dt.date.today().isoformat()
    with folder_lock(data_dir):  # one writer at a time; check and commit see the same corpus
        return _merge_locked(Path(sheet), data_dir, annotator, date)


def _merge_locked(sheet: Path, data_dir: Path, annotator: str, date: str) -> MergeResult:
    before = {str(p) for p in dataset.validate(data_dir)}
    plan, problems = check_sheet(sheet, data_dir)
    problems.sort(key=lambda p: (p.line or 0))
    if problems:
        raise MergeError(Path(sheet), problems)
    for row in plan.rows:
        row.update(source=f"label:{annotator}", annotator=annotator, date=date)
    raw, labels = data_dir / "raw", data_dir / "labels"
    index_rows = [dict(doc_id=d, file=f"{d}.txt", title=title, source="", date="")
                  for d, (_, title) in plan.articles.items()]
    transaction = Transaction(journal_dir=data_dir)
    try:
        for doc_id, (text, _) in plan.articles.items():
            transaction.stage(raw / f"{doc_id}.txt", text.encode("utf-8"))
        transaction.stage(raw / "articles.csv", _csv_bytes(raw / "articles.csv", dataset.ARTICLE_COLUMNS,
                                                           index_rows))
        columns = SENTENCE_COLUMNS + EXTRA_LABEL_COLUMNS
        transaction.stage(labels / "sentences.csv", _csv_bytes(labels / "sentences.csv", columns, plan.rows))
        transaction.commit()
        after = [p for p in dataset.validate(data_dir) if str(p) not in before]
        if after:
            raise MergeError(Path(sheet), after, after_merge=True)
    except BaseException:
        transaction.rollback()
        raise
    transaction.finish()
    return MergeResult(list(plan.articles), len(plan.rows), len(before))


class MergeError(DataError):
    """A sheet that cannot be merged; ``problems`` lists every finding."""

    def __init__(self, sheet: Path, problems: list[Problem], after_merge: bool = False):
        self.problems = problems
        what = "the merged corpus would not validate" if after_merge else "sheet has problems"
        super().__init__(f"{what} ({len(problems)}); nothing was merged", sheet,
                         fix="fix the lines listed above and merge again")


def _default_annotator() -> str:
    try:
        return re.sub(r"[^\w.@-]", "_", getpass.getuser()) or "unknown"
    except (KeyError, OSError):
        return "unknown"
