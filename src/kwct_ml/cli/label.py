"""Labelling workflow: prepare a sheet with model suggestions, merge it, measure agreement.

``python -m kwct_ml.label prepare ARTICLES... --out SHEET.csv`` segments new articles and
writes a spreadsheet (UTF-8 with BOM) with the model's suggestions; the annotator fills the
``topic`` and ``stance`` columns; ``merge SHEET.csv`` checks the whole sheet and only then adds the
articles to ``data/raw/`` and the sentences to ``data/labels/sentences.csv``; ``agreement A B``
compares two annotators; ``status`` counts what is labelled and estimates what 5 more articles
would add. See docs/labelling.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import io
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kwct_ml import errors
from kwct_ml.corpus import dataset
from kwct_ml.corpus.dataset import AUTHORED, DEFAULT_DATA_DIR, SENTENCE_COLUMNS, Problem
from kwct_ml.errors import ConfigError, DataError, KwctError
from kwct_ml.io.files import atomic_open, read_text
from kwct_ml.io.transaction import Transaction
from kwct_ml.schema import TASKS
from kwct_ml.text.segment import segment

#: Columns of a labelling sheet. ``file`` is the absolute path of the article the rows come
#: from (a relative path is read relative to the sheet's folder); merge reads the text from it.
SHEET_COLUMNS = ("doc_id", "sent_id", "start", "end", "text", "suggested_topic", "topic_score",
                 "suggested_stance", "stance_score", "topic", "stance", "note", "file")
#: Columns merge needs in a filled sheet (the suggestion columns are optional).
REQUIRED_SHEET_COLUMNS = ("doc_id", "sent_id", "start", "end", "text", "topic", "stance", "file")
EXTRA_LABEL_COLUMNS = ("annotator", "date")
ORDER_RULE = ("Rows are ordered with the most informative first: articles by the model's mean "
              "uncertainty (1 - the lower of the topic and stance scores), most uncertain first, "
              "then within each article the least confident sentences first. Every sentence of an "
              "article must be labelled before it can be merged, so the article ranking decides what "
              "to label first when time is short, and the hardest sentences come while attention is "
              "fresh; sort by doc_id, sent_id to read an article in order")
_SAFE_ID = re.compile(r"^[^\s/\\:*?\"<>|.\x00-\x1f][^/\\:*?\"<>|\x00-\x1f]*$")
_ANNOTATOR = re.compile(r"^[\w.@-]+$")


def _log(message: str) -> None:
    print(f"kwct_ml.label: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# prepare


@dataclass(frozen=True)
class NewArticle:
    doc_id: str
    path: Path
    text: str


def collect_articles(paths: list[str | Path], encoding: str | None = None) -> list[NewArticle]:
    """Read the ``.txt`` files named or inside the folders named; bad files are logged and skipped."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(path.glob("*.txt"))
            if not found:
                _log(f"{path}: no .txt files in this folder, skipped")
            files += found
        else:
            files.append(path)
    articles: list[NewArticle] = []
    seen: dict[str, Path] = {}
    for path in files:
        doc_id = path.stem
        if doc_id in seen:
            _log(f"{path}: skipped, same doc_id {doc_id!r} as {seen[doc_id]} (rename one file)")
            continue
        if not _SAFE_ID.match(doc_id):
            _log(f"{path}: skipped, the file name cannot be a doc_id (rename it: letters, digits, _ -)")
            continue
        try:
            text = read_text(path, encoding)
        except DataError as exc:
            _log(f"skipped {exc}")
            continue
        seen[doc_id] = path
        articles.append(NewArticle(doc_id, path.resolve(), text))
    if not articles:
        raise DataError("no readable article among the inputs", ", ".join(map(str, paths)) or None,
                        fix="pass .txt files or folders holding them")
    return articles


def drop_merged(articles: list[NewArticle], data_dir: str | Path) -> list[NewArticle]:
    """Leave out (and log) articles whose doc_id or text is already in the corpus at ``data_dir``."""
    if not (Path(data_dir) / "raw").is_dir():
        return articles
    existing, _, _ = dataset.scan(data_dir)
    texts = {_squash(a.text): doc for doc, a in existing.items()}
    kept = []
    for article in articles:
        twin = article.doc_id if article.doc_id in existing else texts.get(_squash(article.text))
        if twin is not None:
            _log(f"{article.path}: skipped, already in the corpus as {twin} (rename the file if it is "
                 "a different article)")
        else:
            kept.append(article)
    if not kept:
        raise DataError("every article given is already in the corpus", data_dir,
                        fix="pass new articles")
    return kept


def suggest(model, texts: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
    """The model's (labels, scores) per task for the sentences of one article (its article
    context applies, as in ``predict --unit article``)."""
    return {task: model.predict(task, texts, [0] * len(texts)) for task in TASKS}


def sheet_rows(articles: list[NewArticle], model=None, prefill: bool = False) -> list[dict]:
    """Sheet rows for ``articles``, most informative first when a model gives scores."""
    if prefill and model is None:
        raise ConfigError("--prefill needs a model (pass --model DIR or train one first)")
    blocks: list[tuple[float, int, list[dict]]] = []
    for rank, article in enumerate(articles):
        sentences = segment(article.text)
        if not sentences:
            _log(f"{article.path}: no sentence found, skipped")
            continue
        rows = [dict(doc_id=article.doc_id, sent_id=s.sent_id, start=s.start, end=s.end, text=s.text,
                     suggested_topic="", topic_score="", suggested_stance="", stance_score="",
                     topic="", stance="", note="", file=str(article.path)) for s in sentences]
        uncertainty = 0.0
        if model is not None:
            found = suggest(model, [s.text for s in sentences])
            confidence = np.minimum(np.asarray(found["topic"][1], float),
                                    np.asarray(found["stance"][1], float))
            for i, row in enumerate(rows):
                for task in TASKS:
                    label, score = found[task][0][i], float(found[task][1][i])
                    row[f"suggested_{task}"], row[f"{task}_score"] = label, f"{score:.3f}"
                    if prefill:
                        row[task] = label
            order = sorted(range(len(rows)), key=lambda i: (confidence[i], i))
            rows = [rows[i] for i in order]
            uncertainty = float(np.mean(1.0 - confidence))
        blocks.append((-uncertainty, rank, rows))
    blocks.sort(key=lambda block: block[:2])
    return [row for _, _, rows in blocks for row in rows]


def write_sheet(rows: list[dict], out: str) -> None:
    """Write the sheet as UTF-8 with BOM (so LibreOffice and Excel show Arabic), or to stdout."""
    if out == "-":
        writer = csv.DictWriter(sys.stdout, fieldnames=SHEET_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    with atomic_open(out, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def _load_model(path: str | None):
    """(model, description) or (None, reason) when no model is available and none was asked for."""
    try:
        from kwct_ml.bundle.store import load_model
    except ImportError:
        if path is not None:
            raise ConfigError("this install cannot load models (kwct_ml.bundle.store is missing)") from None
        return None, "model loading is not available in this install"
    try:
        model, manifest = load_model(path)
    except KwctError as exc:
        if path is not None:
            raise
        return None, str(exc)
    return model, str(manifest.get("name") or manifest.get("run") or path or "models/latest")


# ---------------------------------------------------------------------------------------------
# reading sheets


def read_sheet(path: str | Path,
               required: tuple[str, ...] = REQUIRED_SHEET_COLUMNS) -> list[tuple[int, dict]]:
    """(line, row) of a sheet saved by any spreadsheet: UTF-8/UTF-16/cp1256, comma/semicolon/tab."""
    if str(path) == "-":
        text, path = sys.stdin.read(), "<stdin>"
    else:
        text = read_text(path)
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=delimiter)
    fields = [(name or "").strip() for name in reader.fieldnames or []]
    reader.fieldnames = fields
    missing = [c for c in required if c not in fields]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", path, 1,
                        fix="use a sheet written by `python -m kwct_ml.label prepare` and keep its header")
    rows = []
    for row in reader:
        row = {k: (v or "") for k, v in row.items() if k}
        if any(v.strip() for v in row.values()):
            rows.append((reader.line_num, row))
    return rows


# ---------------------------------------------------------------------------------------------
# merge


@dataclass
class MergePlan:
    """What a clean sheet adds: articles (doc_id -> text, title) and sentence rows."""

    articles: dict[str, tuple[str, str]] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)


def _int(value: str) -> int | None:
    try:
        return int(value.strip())
    except ValueError:
        return None


def _squash(text: str) -> str:
    return " ".join(text.split())


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
        numbers = {k: _int(row[k]) for k in ("sent_id", "start", "end")}
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
    existing_text = {_squash(a.text): doc for doc, a in existing.items()}
    sheet_text: dict[str, str] = {}
    for doc_id, doc_rows in by_doc.items():
        first = doc_rows[0][0]
        if not _SAFE_ID.match(doc_id):
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
        twin = existing_text.get(_squash(text))
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
        if _squash(text) in sheet_text:
            problems.append(Problem(sheet, first, f"article {doc_id} has the same text as "
                                    f"{sheet_text[_squash(text)]} in this sheet", "keep one of them"))
            continue
        sheet_text[_squash(text)] = doc_id
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
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = list(reader.fieldnames or []) + [c for c in columns if c not in (reader.fieldnames or [])]
        old_rows = list(reader)
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
    transaction = Transaction()
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


# ---------------------------------------------------------------------------------------------
# agreement


@dataclass
class TaskAgreement:
    task: str
    n: int
    agree: int
    kappa: float | None
    confusion: pd.DataFrame
    unlabelled: int


@dataclass
class Agreement:
    aligned: int
    only_a: list[tuple[str, int]]
    only_b: list[tuple[str, int]]
    text_differs: list[tuple[str, int]]
    tasks: list[TaskAgreement]


def _keyed(path: str | Path) -> dict[tuple[str, int], tuple[int, dict]]:
    keyed: dict[tuple[str, int], tuple[int, dict]] = {}
    for line, row in read_sheet(path, ("doc_id", "sent_id", "text", "topic", "stance")):
        sent_id = _int(row["sent_id"])
        if sent_id is None:
            raise DataError("sent_id is not an integer", path, line, fix="restore the value prepare wrote")
        key = (row["doc_id"].strip(), sent_id)
        if key in keyed:
            raise DataError(f"duplicate row {key[0]}/{key[1]} (first at line {keyed[key][0]})", path, line,
                            fix="keep one row per sentence")
        for task, labels in TASKS.items():
            value = row[task].strip()
            if value and value not in labels:
                raise DataError(f"unknown {task} {value!r}", path, line,
                                fix=f"use one of {', '.join(labels)}")
        keyed[key] = (line, row)
    return keyed


def agreement(sheet_a: str | Path, sheet_b: str | Path) -> Agreement:
    """Raw agreement, Cohen's kappa and confusion per task, rows aligned by (doc_id, sent_id)."""
    from sklearn.metrics import cohen_kappa_score

    a, b = _keyed(sheet_a), _keyed(sheet_b)
    common = sorted(a.keys() & b.keys())
    tasks = []
    for task, labels in TASKS.items():
        pairs = [(a[k][1][task].strip(), b[k][1][task].strip()) for k in common]
        both = [(x, y) for x, y in pairs if x and y]
        ya, yb = [x for x, _ in both], [y for _, y in both]
        used = [label for label in labels if label in set(ya) | set(yb)]
        kappa = None
        if len(used) > 1:
            kappa = float(cohen_kappa_score(ya, yb, labels=used))
        confusion = pd.crosstab(pd.Categorical(ya, categories=used), pd.Categorical(yb, categories=used),
                                rownames=["A \\ B"], colnames=[""], dropna=False)
        tasks.append(TaskAgreement(task, len(both), sum(x == y for x, y in both), kappa, confusion,
                                   len(pairs) - len(both)))
    differs = [k for k in common if a[k][1]["text"] != b[k][1]["text"]]
    return Agreement(len(common), sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys()), differs, tasks)


def _keys(keys: list[tuple[str, int]], limit: int = 10) -> str:
    shown = ", ".join(f"{d}/{s}" for d, s in keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def format_agreement(result: Agreement, name_a: str, name_b: str) -> str:
    lines = [f"A = {name_a}", f"B = {name_b}",
             f"{result.aligned} rows in both sheets (matched by doc_id, sent_id)"]
    if result.only_a:
        lines.append(f"{len(result.only_a)} row(s) only in A: {_keys(result.only_a)}")
    if result.only_b:
        lines.append(f"{len(result.only_b)} row(s) only in B: {_keys(result.only_b)}")
    if result.text_differs:
        lines.append(f"warning: {len(result.text_differs)} matched row(s) have different text "
                     f"(sheets from different segmentations?): {_keys(result.text_differs)}")
    for t in result.tasks:
        lines.append("")
        if not t.n:
            lines.append(f"{t.task}: no row labelled in both sheets")
            continue
        kappa = f"{t.kappa:.3f}" if t.kappa is not None else "undefined (one label only)"
        lines.append(f"{t.task}: {t.n} rows labelled in both; raw agreement {t.agree / t.n:.3f} "
                     f"({t.agree}/{t.n}); Cohen's kappa {kappa}")
        if t.unlabelled:
            lines.append(f"  ({t.unlabelled} matched row(s) left out: {t.task} empty in A or B)")
        lines.append(f"{t.task} confusion (rows: A, columns: B):")
        lines.append(t.confusion.to_string())
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# status


@dataclass(frozen=True)
class CurvePoint:
    """Out-of-fold macro-F1 with k training articles: mean and sd over runs, majority baseline."""

    k: int
    macro_f1: float
    std: float
    runs: int
    majority: float


@dataclass(frozen=True)
class GainEstimate:
    task: str
    points: list[CurvePoint]
    current: int
    predicted_now: float
    predicted_next: float
    gain: float
    gain_se: float | None
    gain_range: tuple[float, float] | None = None


def fit_log_curve(points: list[tuple[int, float]], current: int, extra: int = 5) -> tuple[float, float, float,
                                                                                         float | None]:
    """Fit F1 = a + b ln(n) and return (F1 at current, at current+extra, gain, standard error of gain).

    The standard error comes from the least-squares slope; it is None with fewer than 3 points.
    """
    x = np.log(np.array([n for n, _ in points], float))
    y = np.array([f for _, f in points], float)
    if len(set(x)) < 2:
        raise ValueError("need at least two training sizes to fit a curve")
    b, a = np.polyfit(x, y, 1)
    now, nxt = a + b * math.log(current), a + b * math.log(current + extra)
    now, nxt = min(now, 1.0), min(nxt, 1.0)
    se = None
    if len(x) > 2:
        residual = y - (a + b * x)
        sxx = float(((x - x.mean()) ** 2).sum())
        se_b = math.sqrt(float((residual ** 2).sum()) / (len(x) - 2) / sxx)
        se = se_b * (math.log(current + extra) - math.log(current))
    return float(now), float(nxt), float(nxt - now), se


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="learning curve fits", unit="fit", file=sys.stderr, leave=False,
                disable=None)


def _curve_points(curve: dict) -> tuple[int, dict[str, list[CurvePoint]]]:
    points = {task: [CurvePoint(*row) for row in zip(curve["k"], c["mean"], c["std"], c["runs"],
                                                      c["majority_mean"], strict=True)]
              for task, c in curve["tasks"].items()}
    return int(curve["n_articles"]), points


def learning_points(frame: pd.DataFrame, config=None,
                    n_jobs: int = 1) -> tuple[int, dict[str, list[CurvePoint]]]:
    """(number of articles, curve per task) from ``evaluate.learning_curve`` (leave-one-article-out,
    the project pipeline and config)."""
    from kwct_ml.config import TrainConfig
    from kwct_ml.training.cv import learning_curve

    return _curve_points(learning_curve(frame, config or TrainConfig(), progress=_progress, n_jobs=n_jobs))


def cached_points(data_dir: str | Path, model: str | Path | None = None):
    """The learning curve the last training run measured, if it was trained on exactly the label
    files now in ``data_dir`` (same sha256); else None. Saves recomputing it."""
    import json

    from kwct_ml.bundle.store import read_manifest, sha256_file

    try:
        manifest = read_manifest(model)
        data, config = manifest["data"], manifest["config"]
        current = {}
        for name in dataset.LABEL_FILES:
            path = Path(data_dir) / "labels" / name
            if path.is_file() and (config.get("include_authored", True) or name != "authored.csv"):
                current[f"labels/{name}"] = sha256_file(path)
        if current != data["label_files"]:
            return None
        metrics = json.loads((Path(manifest["report"]) / "metrics.json").read_text(encoding="utf-8"))
        curve = metrics["learning_curve"]
        return (manifest.get("run", "?"), *_curve_points(curve)) if curve else None
    except (KwctError, OSError, KeyError, TypeError, ValueError):
        return None


def estimate_gain(current: int, curves: dict[str, list[CurvePoint]], extra: int = 5) -> list[GainEstimate]:
    """Extrapolate each task's curve from ``current`` articles to ``current + extra`` (log fit)."""
    estimates = []
    for task, points in curves.items():
        pairs = [(p.k, p.macro_f1) for p in points]
        now, nxt, gain, se = fit_log_curve(pairs, current, extra)
        spread = None
        if len(pairs) >= 3:  # refit leaving each curve point out: how much one point moves the gain
            gains = [fit_log_curve(pairs[:i] + pairs[i + 1:], current, extra)[2] for i in range(len(pairs))]
            spread = (min(gains), max(gains))
        estimates.append(GainEstimate(task, points, current, now, nxt, gain, se, spread))
    return estimates


def corpus_counts(frame: pd.DataFrame) -> str:
    """Articles and sentences per source, label counts per source."""
    lines = []
    real = frame[frame["source"] != AUTHORED]
    lines.append(f"{real['doc_id'].nunique()} articles, {len(real)} labelled sentences"
                 + (f" (+ {int((frame['source'] == AUTHORED).sum())} authored sentences, training only)"
                    if (frame["source"] == AUTHORED).any() else ""))
    per = frame.groupby("source").agg(articles=("doc_id", "nunique"), sentences=("text", "size"))
    if (frame["source"] == AUTHORED).any():
        per.loc[AUTHORED, "articles"] = 0
    lines += ["", "Per source:", per.to_string()]
    for task, labels in TASKS.items():
        table = pd.crosstab(frame[task], frame["source"]).reindex(labels, fill_value=0)
        table["total"] = table.sum(axis=1)
        lines += ["", f"Sentences per {task}:", table.to_string()]
    return "\n".join(lines)


def format_estimates(estimates: list[GainEstimate], extra: int = 5) -> str:
    first = estimates[0]
    lines = ["Learning curve: macro-F1 of held-out articles (leave-one-article-out) when training on k "
             "other articles; mean ± sd over random article sets, majority-class baseline beside it:"]
    table = pd.DataFrame(index=pd.Index([p.k for p in first.points], name="k"))
    for e in estimates:
        table[f"{e.task} macro-F1"] = [f"{p.macro_f1:.3f}" + (f" ± {p.std:.3f}" if p.runs > 1 else "")
                                       for p in e.points]
        table[f"{e.task} majority"] = [f"{p.majority:.3f}" for p in e.points]
    table["runs"] = [p.runs for p in first.points]
    lines += [table.to_string(), ""]
    for e in estimates:
        se = "(uncertainty unknown: fewer than 3 curve points)"
        if e.gain_se is not None and e.gain_range is not None:
            se = (f"(slope standard error ± {e.gain_se:.3f}; refits leaving one point out: "
                  f"{e.gain_range[0]:+.3f} to {e.gain_range[1]:+.3f})")
        lines.append(f"{e.task}: {e.current} -> {e.current + extra} articles: macro-F1 "
                     f"{e.predicted_now:.3f} -> {e.predicted_next:.3f}, gain {e.gain:+.3f} {se}")
    lines.append(f"This is an extrapolation, not a measurement: a + b*ln(k) fitted to {len(first.points)} "
                 f"points measured with at most {first.current - 1} training articles, extended to "
                 f"{first.current + extra}. Both ranges only say how well the curve fits these points; "
                 "new articles unlike the current ones can add more or less.")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# CLI


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kwct_ml.label", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    data_help = "folder holding raw/ and labels/ (default: %(default)s)"

    prep = sub.add_parser("prepare", help="segment new articles into a sheet with model suggestions",
                          description="Segment new articles and write a labelling sheet. " + ORDER_RULE + ".")
    prep.add_argument("articles", nargs="+", help=".txt files or folders of them (doc_id = file name stem)")
    prep.add_argument("--out", required=True, help="sheet to write (CSV, UTF-8 with BOM); - for stdout")
    prep.add_argument("--model", help="model folder (default: models/latest if it exists)")
    prep.add_argument("--prefill", action="store_true", help="fill topic/stance with the suggestions")
    prep.add_argument("--encoding", help="encoding of the articles (default: detect UTF-8/UTF-16/cp1256)")
    prep.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                      help="corpus to check for articles already merged, which are skipped "
                      "(default: %(default)s)")

    merge = sub.add_parser("merge", help="check a filled sheet and add it to the corpus (all or nothing)")
    merge.add_argument("sheet", help="the filled sheet (CSV from prepare; - for stdin)")
    merge.add_argument("--annotator", help="who labelled it (default: your login name)")
    merge.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help=data_help)

    agree = sub.add_parser("agreement", help="agreement between two annotators' sheets")
    agree.add_argument("sheet_a")
    agree.add_argument("sheet_b")

    status = sub.add_parser("status", help="what is labelled, and what 5 more articles would add")
    status.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help=data_help)
    status.add_argument("--no-curve", action="store_true", help="skip the learning-curve estimate")
    status.add_argument("--config", help="training config TOML for the curve (default: the built-in "
                        "defaults, same as experiments/default.toml)")
    status.add_argument("--model", help="model folder whose training run's curve may be reused when it "
                        "was trained on the current labels (default: models/latest)")
    status.add_argument("--fresh", action="store_true", help="measure the curve even if a run has it")
    status.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the curve fits (default: %(default)s)")
    return parser


def _prepare(args) -> int:
    articles = drop_merged(collect_articles(args.articles, args.encoding), args.data_dir)
    model, about = _load_model(args.model)
    if model is None:
        print(f"no model, so the sheet has no suggestions and keeps article order ({about})", file=sys.stderr)
    rows = sheet_rows(articles, model, args.prefill)
    write_sheet(rows, args.out)
    if args.out != "-":
        docs = len({r["doc_id"] for r in rows})
        print(f"wrote {args.out}: {len(rows)} sentences from {docs} article(s)"
              + (f", suggestions from {about}" if model is not None else ""))
        print("fill the topic and stance columns (labels: docs/annotation.md), then: "
              f"python -m kwct_ml.label merge {args.out} --annotator NAME")
    return 0


def _merge(args) -> int:
    try:
        result = merge_sheet(args.sheet, args.data_dir, args.annotator)
    except MergeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise
    print(f"merged {len(result.articles)} article(s), {result.sentences} sentences into {args.data_dir}: "
          + ", ".join(result.articles))
    if result.earlier_problems:
        print(f"note: the corpus already had {result.earlier_problems} problem(s) before this merge "
              "(python -m kwct_ml.dataset check)", file=sys.stderr)
    print("retrain to use them: python -m kwct_ml.train")
    return 0


def _status(args) -> int:
    frame = dataset.load_corpus(args.data_dir)
    print(corpus_counts(frame))
    if args.no_curve:
        return 0
    print("")
    n = frame.loc[frame["source"] != AUTHORED, "doc_id"].nunique()
    if n < 3:
        print(f"Learning curve: needs at least 3 labelled articles (have {n}).")
        return 0
    try:
        cached = None if args.config or args.fresh else cached_points(args.data_dir, args.model)
        if cached is not None:
            run, current, curves = cached
            print(f"(curve measured by training run {run}, on exactly these label files)")
        else:
            from kwct_ml.config import load_config

            print("(measuring the curve: leave-one-article-out with k = 1..n-1 training articles; "
                  "this refits the model many times)", file=sys.stderr)
            config = load_config(args.config) if args.config else None
            current, curves = learning_points(frame, config, args.jobs)
    except ImportError as exc:
        print(f"Learning curve: not available in this install ({exc}).")
        return 0
    print(format_estimates(estimate_gain(current, curves)))
    return 0


@errors.cli
def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "prepare":
        return _prepare(args)
    if args.command == "merge":
        return _merge(args)
    if args.command == "agreement":
        print(format_agreement(agreement(args.sheet_a, args.sheet_b), args.sheet_a, args.sheet_b))
        return 0
    return _status(args)


if __name__ == "__main__":
    sys.exit(main())
