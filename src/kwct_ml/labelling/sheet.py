"""Labelling sheets: collect new articles, add model suggestions, write and read the sheet.

``label prepare`` writes a sheet (one row per sentence, most informative first); merge and
agreement read filled sheets back from any spreadsheet program.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwct_ml.corpus import dataset
from kwct_ml.errors import ConfigError, DataError, one_line
from kwct_ml.io import cells, discover
from kwct_ml.io.atomic import atomic_open
from kwct_ml.io.csv_rows import csv_rows
from kwct_ml.io.encoding import read_text
from kwct_ml.schema import TASKS
from kwct_ml.text.segment import segment

#: Columns of a labelling sheet. ``file`` is the absolute path of the article the rows come
#: from (a relative path is read relative to the sheet's folder); merge reads the text from it.
SHEET_COLUMNS = ("doc_id", "sent_id", "start", "end", "text", "suggested_topic", "topic_score",
                 "suggested_stance", "stance_score", "topic", "stance", "note", "file")
#: Columns merge needs in a filled sheet (the suggestion columns are optional).
REQUIRED_SHEET_COLUMNS = ("doc_id", "sent_id", "start", "end", "text", "topic", "stance", "file")
ORDER_RULE = ("Rows are ordered with the most informative first: articles by the model's mean "
              "uncertainty (1 - the lower of the topic and stance scores), most uncertain first, "
              "then within each article the least confident sentences first. Every sentence of an "
              "article must be labelled before it can be merged, so the article ranking decides what "
              "to label first when time is short, and the hardest sentences come while attention is "
              "fresh; sort by doc_id, sent_id to read an article in order")
#: A doc_id that can be a file name in data/raw/ (also checked by merge).
SAFE_ID = re.compile(r"^[^\s/\\:*?\"<>|.\x00-\x1f][^/\\:*?\"<>|\x00-\x1f]*$")


def log(message: str) -> None:
    """Report a skipped input on stderr (a batch goes on without it)."""
    print(one_line(f"kwct_ml.label: {message}"), file=sys.stderr)


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
            found = discover.txt_files(path)
            if not found:
                log(f"{path}: no .txt files in this folder, skipped")
            files += found
        else:
            files.append(path)
    articles: list[NewArticle] = []
    seen: dict[str, Path] = {}
    for path in files:
        doc_id = discover.doc_id(path)
        if discover.undecodable(path.name):  # it could not be written to the UTF-8 sheet and index
            as_cp1256 = os.fsencode(path.name).decode("cp1256", errors="replace")
            log(f"{path}: skipped, the file name is not UTF-8 (from another system; read as Windows-1256 "
                f"it is {as_cp1256!r}): rename it, e.g. to {as_cp1256!r} or with letters, digits, _ -")
            continue
        if doc_id in seen:
            log(f"{path}: skipped, same doc_id {doc_id!r} as {seen[doc_id]} (rename one file)")
            continue
        if not SAFE_ID.match(doc_id):
            log(f"{path}: skipped, the file name cannot be a doc_id (rename it: letters, digits, _ -)")
            continue
        notes: list[str] = []
        try:
            text = read_text(path, encoding, notes=notes)
        except DataError as exc:
            log(f"skipped {exc}")
            continue
        for note in notes:
            log(f"{path}: {note}")
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
    texts = {squash(a.text): doc for doc, a in existing.items()}
    kept = []
    for article in articles:
        twin = article.doc_id if article.doc_id in existing else texts.get(squash(article.text))
        if twin is not None:
            log(f"{article.path}: skipped, already in the corpus as {twin} (rename the file if it is "
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
            log(f"{article.path}: no sentence found, skipped")
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
    """Write the sheet as UTF-8 with BOM (so LibreOffice and Excel show Arabic), or to stdout; cells
    a spreadsheet would run as formulas are neutralised (``io.cells``; ``read_sheet`` restores them)."""
    rows = [{k: cells.neutralise(v) for k, v in row.items()} for row in rows]
    if out == "-":
        writer = csv.DictWriter(sys.stdout, fieldnames=SHEET_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    with atomic_open(out, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def read_sheet(path: str | Path,
               required: tuple[str, ...] = REQUIRED_SHEET_COLUMNS) -> list[tuple[int, dict]]:
    """(line, row) of a sheet saved by any spreadsheet: UTF-8/UTF-16/cp1256, comma/semicolon/tab."""
    if str(path) == "-":
        text, path = sys.stdin.read(), "<stdin>"
    else:  # a table, not an article: its cells are checked against the article, which passed the HTML check
        text = read_text(path, html_ok=True)
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=header.count)
    _, records = csv_rows(text.lstrip("\ufeff"), path, required, delimiter=delimiter, strip_names=True,
                          fix="use a sheet written by `python -m kwct_ml.label prepare` and keep its header")
    rows = []
    for line, row in records:
        row = {k: cells.restore(v or "") for k, v in row.items() if k}
        if any(v.strip() for v in row.values()):
            rows.append((line, row))
    return rows


def int_or_none(value: str) -> int | None:
    """A sheet cell as an integer, None when it is not one."""
    try:
        return int(value.strip())
    except ValueError:
        return None


def squash(text: str) -> str:
    """``text`` with whitespace runs collapsed: two articles are the same when these are equal."""
    return " ".join(text.split())
