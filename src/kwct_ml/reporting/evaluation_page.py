"""The evaluation page of a saved model (``python -m kwct_ml.evaluate --report DIR``): md + html + plots.

Per labelled file: its identity (path, sha256, size), scores with article-bootstrap intervals beside
the majority baseline, per-class tables, confusion matrices, calibration with counts per bin, every
misclassified sentence with its article and the model's top-2 labels, and each article side by side.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from kwct_ml.reporting.document import Document, Error, write_document
from kwct_ml.reporting.plots import plot_confusion, plot_reliability

HELD_OUT_NOTE = ("If this file is held out (the dev set), read its errors to understand the model, never to "
                 "choose features, cues or settings (DEVELOPERS.md).")


def _interval(scores: dict, key: str) -> str:
    low, high = scores[f"{key}_ci"]
    return f"{scores[key]:.3f} [{low:.3f}, {high:.3f}]"


def score_rows(tasks: dict) -> list[list]:
    """task, system, macro-F1 [95% CI], accuracy [95% CI] for the model and the majority baseline."""
    return [[task, system if system == "model" else f"majority ({s['majority']['label']})",
             _interval(s[system], "macro_f1"), _interval(s[system], "accuracy")]
            for task, s in tasks.items() for system in ("model", "majority")]


def calibration_rows(scores: dict) -> list[list]:
    return [[f"{b['low']:.1f}-{b['high']:.1f}", b["n"], b["confidence"], b["accuracy"]]
            for b in scores.get("reliability", [])]


def confusion_rows(scores: dict) -> list[list]:
    """The confusion matrix as table rows: gold label, then counts per predicted label."""
    return [[gold, *counts] for gold, counts in zip(scores["labels"], scores["confusion"], strict=True)]


def misclassified_rows(predictions: pd.DataFrame, task: str) -> list[list]:
    """Every misclassified sentence, the most confident errors first: article, gold, top-2, text."""
    wrong = predictions[predictions[f"{task}_gold"] != predictions[f"{task}_pred"]]
    wrong = wrong.sort_values(f"{task}_conf", ascending=False, kind="stable")
    return [[r["doc_id"], r["sent"], r[f"{task}_gold"], f"{r[f'{task}_pred']} ({r[f'{task}_conf']:.2f})",
             f"{r[f'{task}_second']} ({r[f'{task}_second_conf']:.2f})" if r[f"{task}_second"] else "",
             r["text"]] for _, r in wrong.iterrows()]


def article_rows(predictions: pd.DataFrame, doc: str, tasks: list[str]) -> list[list]:
    """One article's sentences in order: gold and predicted per task side by side (errors flagged)."""
    rows = []
    for _, r in predictions[predictions["doc_id"] == doc].iterrows():
        row = [r["sent"]]
        for task in tasks:
            gold, pred = r[f"{task}_gold"], r[f"{task}_pred"]
            row += [gold, pred if pred == gold else Error(pred)]
        rows.append(row + [r["text"]])
    return rows


def add_articles(doc: Document, predictions: pd.DataFrame, tasks: list[str], level: int = 3) -> None:
    """The per-article view: each article's sentences in order (right to left), gold beside predicted."""
    doc.p("Each article's sentences in order, gold and predicted labels side by side; a wrong prediction "
          "is highlighted and marked ✗.")
    headers = ["sent"] + [h for t in tasks for h in (f"{t} gold", f"{t} predicted")] + ["sentence"]
    for article in dict.fromkeys(predictions["doc_id"]):
        doc.h(level + 1, f"article {article}")
        doc.table(headers, article_rows(predictions, article, tasks), rtl=(len(headers) - 1,))


def add_file_section(doc: Document, result: dict, predictions: pd.DataFrame, key: str,
                     title: str | None = None) -> None:
    """The sections of one scored file (heading ``title``, default its path); ``key`` makes its plot
    names unique."""
    tasks = list(result["tasks"])
    doc.h(2, title or f"`{result['path']}`")
    doc.table(["", "value"], [["path", result["path"]], ["sha256", result["sha256"]],
                              ["size (bytes)", result["size"]], ["sentences", result["n"]],
                              ["articles", result["n_docs"] if result["articles_known"] else "unknown"]])
    doc.h(3, "Scores")
    first = result["tasks"][tasks[0]]
    doc.p(f"95% intervals: article bootstrap ({first['model']['draws']} draws of the "
          f"{first['model']['n_articles']} articles with replacement, seed {first['model']['seed']}). "
          f"Majority baseline: {first['majority']['label_source']}."
          + ("" if result["articles_known"] else " The file has no article ids: every sentence is its "
             "own article (no article context, a sentence bootstrap)."))
    doc.table(["task", "system", "macro-F1 [95% CI]", "accuracy [95% CI]"], score_rows(result["tasks"]))
    for task in tasks:
        scores = result["tasks"][task]["model"]
        doc.h(3, f"{task}: per class")
        doc.table(["label", "precision", "recall", "F1", "support"],
                  [[c["label"], c["precision"], c["recall"], c["f1"], c["support"]]
                   for c in scores["per_class"]])
        doc.table([f"{task}: gold ↓ predicted →", *scores["labels"]], confusion_rows(scores))
        doc.img(f"{key}_confusion_{task}.png", plot_confusion(task, scores, f"{task}: confusion (rows gold)"),
                f"{task}: confusion matrix on {Path(result['path']).name} (rows gold, columns predicted)")
    doc.h(3, "Calibration")
    doc.p("Predictions binned by the probability of the chosen label: n is how many fall in each bin "
          "(a bin of a few predictions says little).")
    for task in tasks:
        scores = result["tasks"][task]["model"]
        doc.p(f"{task}: mean confidence {scores['mean_confidence']:.3f}, accuracy {scores['accuracy']:.3f}, "
              f"ECE {scores['ece']:.3f}")
        doc.table(["bin", "n", "mean confidence", "fraction correct"], calibration_rows(scores))
    doc.img(f"{key}_calibration.png",
            plot_reliability({t: {"model": result["tasks"][t]["model"]} for t in tasks},
                             f"Calibration on {Path(result['path']).name}"),
            "Reliability of the predicted probability; the diagonal is perfect calibration")
    doc.h(3, "Misclassified sentences")
    doc.p("Every sentence whose predicted label differs from its gold label, the most confident errors "
          "first, with the model's top-2 labels and their probabilities. " + HELD_OUT_NOTE)
    for task in tasks:
        rows = misclassified_rows(predictions, task)
        doc.h(4, f"{task}: {len(rows)} of {len(predictions)} misclassified")
        doc.table(["article", "sent", "gold", "predicted (p)", "second (p)", "sentence"], rows, rtl=(5,))
    doc.h(3, "Articles")
    add_articles(doc, predictions, tasks)


def build_evaluation_report(evaluation: dict, predictions: list[pd.DataFrame], out_dir: str | Path) -> Path:
    """Write the evaluation page for ``evaluation`` (the metrics JSON) into ``out_dir``."""
    doc = Document()
    doc.h(1, f"Evaluation of model `{evaluation['model']['run']}`")
    doc.p(f"Created {evaluation['created']} with:")
    doc.code(evaluation["command"])
    doc.table(["", "value"], [["model folder", evaluation["model"]["dir"]],
                              ["model sha256", evaluation["model"]["sha256"]],
                              ["trained", evaluation["model"].get("created", "?")]])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        for i, (result, frame) in enumerate(zip(evaluation["sets"], predictions, strict=True)):
            add_file_section(doc, result, frame, f"set{i + 1}")
    return write_document(doc, out_dir, f"kwct_ml evaluation {evaluation['model']['run']}")
