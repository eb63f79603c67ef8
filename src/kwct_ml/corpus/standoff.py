"""Standoff labels: sentence labels for licensed corpora kept as references, never as text.

A row names a corpus, a document number and character offsets into that document's text, with the
sha256 of the sentence it labels. Loading resolves each row against the local copy of the corpus and
checks the hash, so a label never silently lands on other text (another corpus version, an edit).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kwct_ml.corpus.external import CORPORA, read_corpus
from kwct_ml.errors import DataError
from kwct_ml.io.csv_rows import csv_rows
from kwct_ml.schema import TASKS

STANDOFF_FILE = "ant.csv"
STANDOFF_COLUMNS = ("corpus", "docno", "start", "end", "sha", "topic", "stance", "annotator", "pass",
                    "batch", "note")
SHA_CHARS = 16
#: The pass whose labels train and evaluate; later passes exist to measure agreement.
PRIMARY_PASS = "1"


def sentence_sha(text: str) -> str:
    """The short sha256 that ties a standoff row to its sentence text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:SHA_CHARS]


def doc_key(corpus: str, docno: str) -> str:
    """The ``doc_id`` of a corpus document in the project's tables (articles group by it)."""
    return f"{corpus}:{docno}"


def read_standoff(path: str | Path) -> pd.DataFrame:
    """The standoff rows of ``path``, checked: columns, known corpora, integer offsets, codebook labels."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read standoff labels ({exc})", path, fix="restore it from git") from None
    _, records = csv_rows(text, path, STANDOFF_COLUMNS, fix=f"the header is {','.join(STANDOFF_COLUMNS)}")
    rows = []
    for line, row in records:
        if None in row:
            raise DataError("more fields than the header", path, line, fix="quote fields that hold commas")
        if row["corpus"] not in CORPORA:
            raise DataError(f"unknown corpus {row['corpus']!r}", path, line,
                            fix=f"use one of {', '.join(CORPORA)}")
        if not (row["start"].isdigit() and row["end"].isdigit() and int(row["start"]) < int(row["end"])):
            raise DataError(f"offsets {row['start']!r}-{row['end']!r} are not a span", path, line,
                            fix="start and end are character offsets, start < end")
        for task in TASKS:
            if row[task] not in TASKS[task]:
                raise DataError(f"unknown {task} {row[task]!r}", path, line,
                                fix=f"use one of {', '.join(TASKS[task])}")
        rows.append({c: row[c] for c in STANDOFF_COLUMNS} | {"line": line})
    frame = pd.DataFrame(rows, columns=[*STANDOFF_COLUMNS, "line"])
    frame["start"] = frame["start"].astype(int)
    frame["end"] = frame["end"].astype(int)
    frame.attrs["path"] = str(path)
    return frame


@dataclass
class Resolution:
    """Standoff rows turned into sentence rows, and an account of every row that was not."""

    frame: pd.DataFrame
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # corpus -> {resolved, unresolved, ...}
    absent: dict[str, str] = field(default_factory=dict)  # corpus -> why its text is not available
    problems: list[str] = field(default_factory=list)  # one line per mismatched row

    @property
    def missing(self) -> int:
        return sum(c["unresolved"] + c["mismatched"] for c in self.counts.values())

    def summary(self) -> str:
        """One line per corpus: resolved / unresolved / mismatched (and why a corpus is absent)."""
        lines = []
        for corpus, c in self.counts.items():
            why = f" ({self.absent[corpus]})" if corpus in self.absent else ""
            lines.append(f"{corpus}: {c['resolved']} resolved, {c['unresolved']} unresolved, "
                         f"{c['mismatched']} mismatched standoff rows{why}")
        return "\n".join(lines)


def resolve(standoff: pd.DataFrame, paths: dict[str, Path], passes: tuple[str, ...] = (PRIMARY_PASS,)
            ) -> Resolution:
    """Sentence rows (doc_id, sent_id, start, end, text, topic, stance, note, source) for ``standoff``.

    ``paths`` maps corpus names to local files; a corpus without a readable file leaves its rows
    unresolved (counted, not an error), so training can go on with what resolves.
    """
    rows, counts, absent, problems = [], {}, {}, []
    source_path = standoff.attrs.get("path", STANDOFF_FILE)
    chosen = standoff[standoff["pass"].isin(passes)]
    for corpus, group in chosen.groupby("corpus", sort=True):
        counts[corpus] = {"resolved": 0, "unresolved": 0, "mismatched": 0}
        texts, why = read_corpus(corpus, paths.get(corpus))
        if texts is None:
            counts[corpus]["unresolved"] = len(group)
            absent[corpus] = why
            continue
        for r in group.itertuples(index=False):
            article = texts.get(r.docno)
            if article is None:
                counts[corpus]["unresolved"] += 1
                problems.append(f"{source_path}:{r.line}: {corpus} has no document {r.docno}")
                continue
            text = article[r.start:r.end]
            if sentence_sha(text) != r.sha:
                counts[corpus]["mismatched"] += 1
                problems.append(f"{source_path}:{r.line}: {corpus} {r.docno} {r.start}-{r.end}: the text "
                                "there does not match the row's sha (another corpus version?)")
                continue
            counts[corpus]["resolved"] += 1
            rows.append({"doc_id": doc_key(corpus, r.docno), "start": r.start, "end": r.end, "text": text,
                         "topic": r.topic, "stance": r.stance, "note": r.note,
                         "source": f"standoff:{corpus}"})
    frame = pd.DataFrame(rows, columns=["doc_id", "start", "end", "text", "topic", "stance", "note",
                                        "source"])
    frame = frame.sort_values(["doc_id", "start"], kind="stable").reset_index(drop=True)
    frame.insert(1, "sent_id", frame.groupby("doc_id").cumcount())
    return Resolution(frame, counts, absent, problems)
