"""Training reports: report.md and a self-contained report.html (inline PNGs, Arabic right-to-left).

The plots come from reporting/plots.py, the headline table from reporting/headline.py.
"""

from __future__ import annotations

import base64
import html
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from kwct_ml.io.atomic import atomic_write_bytes, atomic_write_text
from kwct_ml.pipeline.model import KwctModel
from kwct_ml.reporting.headline import headline_rows
from kwct_ml.reporting.plots import (
    plot_confusion,
    plot_learning_curve,
    plot_reliability,
    plot_top_ngrams,
    top_ngrams,
)

# --------------------------------------------------------------------------- document model

class _Doc:
    """A tiny document (headings, paragraphs, tables, images) rendered to Markdown and HTML."""

    def __init__(self):
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def code(self, text: str):
        self.blocks.append(("code", text))

    def table(self, headers: list[str], rows: list[list], rtl: tuple[int, ...] = ()):
        self.blocks.append(("table", headers, rows, rtl))

    def img(self, name: str, data: bytes, alt: str):
        self.blocks.append(("img", name, data, alt))

    def markdown(self) -> str:
        out = []
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out.append("#" * block[1] + " " + block[2])
            elif kind == "p":
                out.append(block[1])
            elif kind == "code":
                out.append(f"```\n{block[1]}\n```")
            elif kind == "table":
                _, headers, rows, _ = block
                cells = [[_md_cell(c) for c in row] for row in rows]
                out.append("\n".join(["| " + " | ".join(headers) + " |",
                                      "|" + "|".join("---" for _ in headers) + "|",
                                      *("| " + " | ".join(row) + " |" for row in cells)]))
            elif kind == "img":
                out.append(f"![{block[3]}](plots/{block[1]})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        out = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out.append(f"<h{block[1]}>{_inline(block[2])}</h{block[1]}>")
            elif kind == "p":
                out.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "code":
                out.append(f"<pre><code>{html.escape(block[1])}</code></pre>")
            elif kind == "table":
                _, headers, rows, rtl = block
                head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
                body = []
                for row in rows:
                    cells = []
                    for i, cell in enumerate(row):
                        text = html.escape(_fmt(cell))
                        if i in rtl:
                            cells.append(f'<td dir="rtl" lang="ar" class="ar">{text}</td>')
                        else:
                            cells.append(f"<td>{text}</td>")
                    body.append("<tr>" + "".join(cells) + "</tr>")
                out.append(f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body)
                           + "\n</tbody></table>")
            elif kind == "img":
                data = base64.b64encode(block[2]).decode("ascii")
                out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block[3])}">'
                           f"<figcaption>{html.escape(block[3])}</figcaption></figure>")
        out.append("</body>\n</html>\n")
        return "\n".join(out)


_CSS = ("body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
        "color:#222}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "vertical-align:top}th{background:#f0f0f0}td.ar{font-size:1.05em;text-align:right;max-width:640px}"
        "img{max-width:100%}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}code{background:#f6f6f6}")


def _fmt(value) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def _md_cell(value) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _inline(text: str) -> str:
    """Escape, then render `code` spans (the only Markdown used in prose)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


# --------------------------------------------------------------------------- the report

def _per_class_rows(metrics: dict) -> list[list]:
    return [[c["label"], c["precision"], c["recall"], c["f1"], c["support"]] for c in metrics["per_class"]]


def build_report(results: dict, predictions: pd.DataFrame, model: KwctModel, run_dir: str | Path) -> Path:
    """Write report.md, report.html and plots/*.png into ``run_dir``; returns the HTML path."""
    run_dir = Path(run_dir)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        doc = _compose(results, predictions, model)
    for block in doc.blocks:
        if block[0] == "img":
            atomic_write_bytes(run_dir / "plots" / block[1], block[2])
    atomic_write_text(run_dir / "report.md", doc.markdown())
    path = run_dir / "report.html"
    atomic_write_text(path, doc.html(f"kwct_ml training report {results['run']}"))
    return path


def _compose(results: dict, predictions: pd.DataFrame, model: KwctModel) -> _Doc:
    doc = _Doc()
    data, config = results["data"], results["config"]
    external = results.get("eval_set")
    doc.h(1, f"Training report `{results['run']}`")
    doc.p(f"Created {results['created']} with:")
    doc.code(results["command"])
    timing = results["timing"]
    doc.p(f"Model folder: `{results.get('model_dir', '?')}`. Training + cross-validation + learning curve "
          f"took {timing['total_seconds']:.1f} s ({timing.get('jobs', 1)} process(es)).")

    doc.h(2, "Headline scores")
    lo = f"{data['n_articles']} articles, {data['n_evaluated']} sentences"
    doc.p(f"{results.get('cv_name', 'LOAO CV')}: cross-validation over the project's real articles "
          f"({lo}), folds holding whole articles: each article is predicted by models trained on the "
          "articles of the other folds"
          + (f" plus the {data['n_authored']} authored sentences, which are always training-only and "
             "never scored" if data["n_authored"] else "")
          + ". Baselines run in the same folds. Macro-F1 averages F1 over the labels present in gold or "
          "predictions.")
    headers = ["task", "system", "CV macro-F1", "95% interval", "CV accuracy"]
    if external:
        headers += ["eval-set macro-F1", "95% interval", "eval-set accuracy"]
        doc.p(f"Eval set `{external['path']}` ({external['n']} sentences, {external['n_docs']} documents): "
              "scored once by the final model trained on all project data; it was never used for training "
              "or for choosing settings. Its majority baseline predicts the most frequent training label.")
    doc.table(headers, headline_rows(results))
    doc.p("Intervals: article-bootstrap 95% percentile intervals (articles resampled with replacement).")
    if results.get("loao_seed"):
        doc.p("Leave-one-article-out over the project's own (seed) articles, trained on every other "
              "real article plus the authored sentences:")
        doc.table(headers[:5], headline_rows(results, "loao_seed"))
    doc.p(results["selection"])

    doc.h(2, "How to read this report")
    doc.p("Compare each model row with the baselines below it: a model is only useful where it clearly "
          "beats the majority baseline, and the char n-gram model should beat the word-unigram one. "
          "With five articles, LOAO scores move a lot when one article changes; the learning curve shows "
          "whether more labelled articles still help (a rising curve: label more). Confidence is a "
          "calibrated probability: the calibration plot compares it with the fraction actually correct. "
          "The misclassified list at the end shows the model's most confident errors first.")

    doc.h(2, "Data")
    doc.table(["", "value"], [["evaluated sentences (scored)", data["n_evaluated"]],
                              ["articles (LOAO folds)", data["n_articles"]],
                              ["authored sentences (training only)", data["n_authored"]],
                              *([f"sha256 {name}", digest] for name, digest in data["label_files"].items())])
    for task, counts in data["label_counts"].items():
        doc.p(f"{task} labels (evaluated sentences): "
              + ", ".join(f"{label} {n}" for label, n in counts.items()))

    doc.h(2, "Configuration")
    doc.code("\n".join(f"{k} = {v!r}" for k, v in config.items()))

    for task, systems in results["cv"].items():
        doc.h(2, f"{task}: per-class scores (LOAO, model)")
        doc.table(["label", "precision", "recall", "F1", "support"], _per_class_rows(systems["model"]))
        doc.img(f"confusion_{task}.png",
                plot_confusion(task, systems["model"], f"{task}: LOAO confusion (rows gold)"),
                f"{task}: confusion matrix, leave-one-article-out (rows gold, columns predicted)")
        if external:
            doc.p(f"{task} on the eval set, per class (final model):")
            doc.table(["label", "precision", "recall", "F1", "support"],
                      _per_class_rows(external["tasks"][task]["model"]))

    doc.h(2, "Calibration")
    doc.table(["task", "mean confidence", "accuracy", "ECE"],
              [[t, s["model"]["mean_confidence"], s["model"]["accuracy"], s["model"]["ece"]]
               for t, s in results["cv"].items()])
    doc.img("calibration.png", plot_reliability(results["cv"]),
            "Reliability of the predicted probability (out-of-fold); the diagonal is perfect calibration")

    doc.h(2, "What the model looks at")
    doc.p("Character n-grams with the largest weight for each class in the final model (mean over the "
          "calibration folds' linear models), shown as normalised text without word-boundary spaces.")
    for task in results["cv"]:
        tops = top_ngrams(model, task)
        if tops:
            doc.img(f"top_ngrams_{task}.png", plot_top_ngrams(task, tops),
                    f"{task}: top-weighted character n-grams per class")
            doc.table(["label", "top n-grams (largest weight first)"],
                      [[label, "، ".join(n for n, _ in items)] for label, items in tops.items()],
                      rtl=(1,))

    curve = results.get("learning_curve")
    doc.h(2, "Learning curve")
    if curve:
        doc.p("Out-of-fold macro-F1 when training on k articles (random subsets, seeded; mean ± sd over "
              "runs; k = all-but-one equals the LOAO score).")
        doc.img("learning_curve.png", plot_learning_curve(curve), "Learning curve")
        rows = []
        for task, c in curve["tasks"].items():
            for i, k in enumerate(curve["k"]):
                rows.append([task, k, c["runs"][i], c["mean"][i], c["std"][i], c["majority_mean"][i]])
        doc.table(["task", "training articles", "runs", "macro-F1 mean", "sd", "majority macro-F1"], rows)
    else:
        doc.p("Not computed (learning_curve = false in the config).")

    doc.h(2, "Misclassified sentences (LOAO, model)")
    doc.p("Every evaluated sentence whose out-of-fold prediction differs from its gold label, the most "
          "confident errors first. Eval-set errors are deliberately not listed: that set must not "
          "guide features or cues (DEVELOPERS.md).")
    for task in results["cv"]:
        wrong = predictions[predictions[f"{task}_gold"] != predictions[f"{task}_model"]]
        wrong = wrong.sort_values(f"{task}_model_conf", ascending=False, kind="stable")
        doc.h(3, f"{task}: {len(wrong)} of {len(predictions)} misclassified")
        doc.table(["doc_id", "sent", "gold", "predicted", "confidence", "sentence"],
                  [[r["doc_id"], r.get("sent_id", ""), r[f"{task}_gold"], r[f"{task}_model"],
                    float(r[f"{task}_model_conf"]), r["text"]] for _, r in wrong.iterrows()], rtl=(5,))
    return doc
