"""Agreement between two annotators' sheets: raw agreement, Cohen's kappa, confusion per task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kwct_ml.errors import DataError
from kwct_ml.labelling.sheet import int_or_none, read_sheet
from kwct_ml.schema import TASKS


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
        sent_id = int_or_none(row["sent_id"])
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
