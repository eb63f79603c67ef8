"""Scores shared by every evaluation: macro-F1/accuracy/per-class, calibration (ECE, reliability), majority.

Macro-F1 averages over the labels present in gold or predictions, in schema order, so a run
never scores a label it never saw or predicted.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from kwct_ml.schema import labels_for


def majority_label(labels: Sequence[str], task: str) -> str:
    """The most frequent label; ties go to the earlier label in schema order."""
    counts = pd.Series(list(labels)).value_counts()
    best = counts.max()
    tied = set(counts[counts == best].index)
    return next(label for label in labels_for(task) if label in tied)



def present_labels(task: str, *columns: Sequence[str]) -> list[str]:
    """Schema-ordered labels that occur in any of ``columns`` (gold or predicted)."""
    seen = set().union(*(set(c) for c in columns))
    return [label for label in labels_for(task) if label in seen]


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE of the top-label confidence: mean |accuracy - confidence| over equal-width bins."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    if not len(confidence):
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(total / len(confidence))


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> list[dict]:
    """Per-bin (mean confidence, accuracy, count) for a reliability diagram."""
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(mask.sum()),
                        "confidence": float(confidence[mask].mean()),
                        "accuracy": float(correct[mask].mean())})
    return out


def score(task: str, gold: Sequence[str], pred: Sequence[str],
          confidence: Sequence[float] | None = None) -> dict:
    """Macro-F1 (over labels in gold or predicted), accuracy, per-class P/R/F1/support, confusion."""
    gold, pred = list(gold), list(pred)
    if not gold:
        return {"n": 0, "macro_f1": 0.0, "accuracy": 0.0, "labels": [], "per_class": [], "confusion": []}
    labels = present_labels(task, gold, pred)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    result = {
        "n": len(gold),
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(gold, pred)),
        "labels": labels,
        "per_class": [{"label": lab, "precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                       "support": int(s[i])} for i, lab in enumerate(labels)],
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),
    }
    if confidence is not None:
        conf = np.asarray(confidence, float)
        correct = np.asarray(gold) == np.asarray(pred)
        result["mean_confidence"] = float(conf.mean())
        result["ece"] = expected_calibration_error(conf, correct)
        result["reliability"] = reliability(conf, correct)
    return result
