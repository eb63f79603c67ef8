"""The project corpus on disk: raw articles plus labelled sentences, read and validated together.

``scan`` reads ``data/raw`` and ``data/labels`` and records every problem (file, line, fix);
``load_corpus``/``load_articles`` raise the first one; ``load_eval_set`` reads an external set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kwct_ml.corpus.standoff import STANDOFF_FILE, Resolution, read_standoff, resolve
from kwct_ml.errors import DataError
from kwct_ml.io import discover
from kwct_ml.io.csv_rows import csv_rows
from kwct_ml.io.encoding import decode_bytes
from kwct_ml.schema import TASKS
from kwct_ml.text.segment import segment

DEFAULT_DATA_DIR = Path("data")
ARTICLE_COLUMNS = ("doc_id", "file", "title", "source", "date")
SENTENCE_COLUMNS = ("doc_id", "sent_id", "start", "end", "text", "topic", "stance", "note", "source")
LABEL_FILES = ("sentences.csv", "authored.csv")
AUTHORED = "authored"


@dataclass(frozen=True)
class Article:
    doc_id: str
    path: Path
    text: str
    title: str = ""
    source: str = ""
    date: str = ""


@dataclass(frozen=True)
class Problem:
    """One validation finding, printed as ``path:line: message (fix)``."""

    path: Path
    line: int | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.message} ({self.fix})"


def _read_utf8(path: Path) -> str:
    """A corpus file's text (UTF-8); ``DataError`` when it is not UTF-8 or cannot be read at all
    (no permission, a symbolic link that loops or is broken)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path,
                        fix="check its permissions, or replace the link by the file") from None
    try:
        return decode_bytes(data, path, encoding="utf-8-sig")
    except DataError as exc:
        raise DataError(exc.message, path, exc.line, fix="re-save the file as UTF-8") from None


def _broken_link(path: Path, problems: list[Problem]) -> bool:
    """Record (and say) whether ``path`` is a symbolic link that leads to no file (loop, broken)."""
    if path.is_symlink() and not path.is_file():
        problems.append(Problem(path, None, f"cannot read: {discover.link_problem(path)}",
                                "replace the link by the file, or remove it"))
        return True
    return False


def _read_csv_rows(path: Path, problems: list[Problem], required: tuple[str, ...]):
    """Yield (line, row) of a UTF-8 CSV; header problems and rows with more fields than the header
    (a field would be dropped) are recorded, not raised."""
    try:
        text = _read_utf8(path)
    except DataError as exc:
        problems.append(Problem(path, exc.line, exc.message, exc.fix))
        return
    try:
        header, rows = csv_rows(text, path, required)
    except DataError as exc:
        problems.append(Problem(path, exc.line, exc.message, exc.fix))
        return
    for line, row in rows:
        if None in row:  # csv.DictReader's key for fields beyond the header
            problems.append(Problem(path, line, f"{len(row[None])} more field(s) than the "
                                    f"{len(header)} columns of the header",
                                    "quote a cell holding a comma, or remove the extra field"))
            continue
        yield line, row


def _scan_articles(data_dir: Path, problems: list[Problem]) -> dict[str, Article]:
    raw_dir = data_dir / "raw"
    index = raw_dir / "articles.csv"
    if not raw_dir.is_dir():
        problems.append(Problem(raw_dir, None, "no raw article folder", "pass --data-dir DIR"))
        return {}
    meta: dict[str, dict] = {}
    _broken_link(index, problems)  # then read as if there were no index: one problem, not one per article
    if index.is_file():
        for line, row in _read_csv_rows(index, problems, ARTICLE_COLUMNS):
            doc_id = row["doc_id"].strip()
            if doc_id in meta:
                problems.append(Problem(index, line, f"duplicate doc_id {doc_id!r}", "keep one row"))
            elif not (raw_dir / row["file"]).is_file():
                problems.append(Problem(index, line, f"file {row['file']!r} does not exist",
                                        "fix the file name or remove the row"))
            else:
                meta[doc_id] = row
    articles: dict[str, Article] = {}
    listed = {row["file"] for row in meta.values()}
    for path in discover.txt_files(raw_dir):
        if _broken_link(path, problems):
            continue
        if index.is_file() and path.name not in listed:
            problems.append(Problem(path, None, "article not listed in articles.csv",
                                    "add a row for it to data/raw/articles.csv"))
            continue
        try:
            text = _read_utf8(path)
        except DataError as exc:
            problems.append(Problem(path, exc.line, exc.message, exc.fix))
            continue
        name = discover.doc_id(path)
        row = meta.get(name, {})
        articles[name] = Article(name, path, text, row.get("title", ""), row.get("source", ""),
                                 row.get("date", ""))
    for name, row in meta.items():
        if name != discover.doc_id(row["file"]):
            problems.append(Problem(index, None, f"doc_id {name!r} differs from its file name",
                                    "doc_id must be the file name without .txt"))
    return articles


def _check_label(row: dict, task: str, path: Path, line: int, problems: list[Problem]) -> None:
    value = row.get(task, "").strip()
    if not value:
        problems.append(Problem(path, line, f"missing {task}",
                                f"fill it with one of {', '.join(TASKS[task])}"))
    elif value not in TASKS[task]:
        problems.append(Problem(path, line, f"unknown {task} {value!r}",
                                f"use one of {', '.join(TASKS[task])}"))


def _scan_labels(data_dir: Path, articles: dict[str, Article], problems: list[Problem]) -> list[dict]:
    rows: list[dict] = []
    seen: dict[tuple[str, str], tuple[Path, int]] = {}
    for name in LABEL_FILES:
        path = data_dir / "labels" / name
        if _broken_link(path, problems):
            continue
        if not path.is_file():
            if name == "sentences.csv":
                problems.append(Problem(path, None, "labels file is missing", "create it (see README)"))
            continue
        for line, row in _read_csv_rows(path, problems, SENTENCE_COLUMNS):
            row = {k: (v or "").strip() if k != "text" else (v or "") for k, v in row.items() if k}
            key = (row["doc_id"], row["sent_id"])
            if key in seen:
                first = seen[key]
                problems.append(Problem(path, line, f"duplicate sentence {key[0]}/{key[1]} "
                                        f"(first at {first[0].name}:{first[1]})", "keep one row"))
                continue
            seen[key] = (path, line)
            _check_label(row, "topic", path, line, problems)
            _check_label(row, "stance", path, line, problems)
            if not row["text"].strip():
                problems.append(Problem(path, line, "empty text", "fill in the sentence or drop the row"))
            if row["source"] == AUTHORED:
                rows.append({**row, "start": None, "end": None, "_line": line})
                continue
            article = articles.get(row["doc_id"])
            if article is None:
                problems.append(Problem(path, line, f"unknown doc_id {row['doc_id']!r}",
                                        "add the article to data/raw/ or fix doc_id"))
                continue
            try:
                start, end = int(row["start"]), int(row["end"])
            except ValueError:
                problems.append(Problem(path, line, "start/end are not integers", "re-segment the article"))
                continue
            if article.text[start:end] != row["text"]:
                problems.append(Problem(path, line, f"text no longer equals raw[{start}:{end}] of "
                                        f"{article.path.name}", "re-segment the article and re-check labels"))
                continue
            rows.append({**row, "start": start, "end": end, "_line": line})
    return rows


def _check_coverage(articles: dict[str, Article], rows: list[dict], data_dir: Path,
                    problems: list[Problem]) -> None:
    spans: dict[str, set[tuple[int, int]]] = {}
    for row in rows:
        if row["source"] != AUTHORED:
            spans.setdefault(row["doc_id"], set()).add((row["start"], row["end"]))
    for doc_id, article in articles.items():
        labelled = spans.get(doc_id, set())
        if not labelled:
            problems.append(Problem(article.path, None, "article has no labelled sentences",
                                    "label it (python -m kwct_ml.label prepare) or remove it"))
            continue
        for sentence in segment(article.text):
            if (sentence.start, sentence.end) not in labelled:
                problems.append(Problem(data_dir / "labels" / "sentences.csv", None,
                                        f"sentence {doc_id}/{sentence.sent_id} "
                                        f"[{sentence.start}:{sentence.end}] is not labelled",
                                        "label every sentence of the article"))


def scan(data_dir: str | Path = DEFAULT_DATA_DIR) -> tuple[dict[str, Article], pd.DataFrame, list[Problem]]:
    """Read everything under ``data_dir`` and return articles, label rows and problems."""
    data_dir = Path(data_dir)
    problems: list[Problem] = []
    articles = _scan_articles(data_dir, problems)
    rows = _scan_labels(data_dir, articles, problems)
    _check_coverage(articles, rows, data_dir, problems)
    frame = pd.DataFrame(rows, columns=[*SENTENCE_COLUMNS, "_line"]).drop(columns="_line")
    return articles, frame, problems


def validate(data_dir: str | Path = DEFAULT_DATA_DIR) -> list[Problem]:
    """All problems in the corpus under ``data_dir`` (empty when clean)."""
    return scan(data_dir)[2]


def load_articles(data_dir: str | Path = DEFAULT_DATA_DIR) -> dict[str, Article]:
    """Raw articles by doc_id; raises DataError on the first problem."""
    problems: list[Problem] = []
    articles = _scan_articles(Path(data_dir), problems)
    _raise_first(problems)
    return articles


def _raise_first(problems: list[Problem]) -> None:
    if problems:
        first = problems[0]
        more = f"; {len(problems) - 1} more: run python -m kwct_ml.dataset check" if len(problems) > 1 else ""
        raise DataError(first.message + more, first.path, first.line, first.fix)


def load_standoff(data_dir: str | Path, corpora: dict[str, Path]) -> Resolution | None:
    """``data/labels/ant.csv`` resolved against the local corpora (None when the project has none)."""
    path = Path(data_dir) / "labels" / STANDOFF_FILE
    return resolve(read_standoff(path), corpora) if path.is_file() else None


def load_corpus(data_dir: str | Path = DEFAULT_DATA_DIR, sources: set[str] | None = None,
                corpora: dict[str, Path] | None = None) -> pd.DataFrame:
    """The validated labelled sentences (seed, merged and authored), optionally by ``source``.

    With ``corpora`` (corpus name -> local file), the standoff labels that resolve are added as real
    articles (source ``standoff:<corpus>``); ``frame.attrs["standoff"]`` says what did not resolve.
    """
    _, frame, problems = scan(data_dir)
    _raise_first(problems)
    if corpora is not None:
        resolution = load_standoff(data_dir, corpora)
        if resolution is not None:
            frame = pd.concat([frame, resolution.frame[list(SENTENCE_COLUMNS)]], ignore_index=True)
            frame.attrs["standoff"] = {"counts": resolution.counts, "missing": resolution.missing,
                                       "summary": resolution.summary()}
    if sources is not None:
        frame = frame[frame["source"].isin(sources)]
    return frame.reset_index(drop=True)


def load_eval_set(path: str | Path) -> pd.DataFrame:
    """An external labelled set (CSV/TSV with text, topic, stance; doc or doc_id groups)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("evaluation set not found", path, fix="check the path")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError("is empty", path, fix="save it as UTF-8 CSV/TSV with a header row") from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse as {'TSV' if sep == chr(9) else 'CSV'}: {exc}".splitlines()[0],
                        path, fix="save it as UTF-8 CSV/TSV with a header row") from None
    missing = [c for c in ("text", "topic", "stance") if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}", path, 1,
                        fix="the header needs text, topic and stance")
    for task in ("topic", "stance"):
        bad = ~frame[task].isin(TASKS[task])
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"unknown {task} {frame[task].iloc[i]!r}", path, i + 2,
                            fix=f"use one of {', '.join(TASKS[task])}")
    group = "doc_id" if "doc_id" in frame.columns else "doc" if "doc" in frame.columns else None
    frame["doc_id"] = frame[group] if group else path.stem
    out = frame[["doc_id", "text", "topic", "stance"]].reset_index(drop=True)
    out.attrs["articles_known"] = group is not None  # without them, no article context is applied
    return out
