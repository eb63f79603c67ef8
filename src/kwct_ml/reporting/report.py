"""Training reports: report.md, a self-contained report.html (inline PNGs, Arabic right-to-left), plots.

Plots use matplotlib's Agg backend. matplotlib >= 3.11 shapes Arabic itself (libraqm), so raw
strings are passed; older versions get ``arabic_reshaper`` + ``bidi`` visual-order text instead.
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from kwct_ml.io.files import atomic_write_bytes, atomic_write_text
from kwct_ml.pipeline.model import KwctModel
from kwct_ml.reporting.headline import headline_rows

ARABIC_FONTS = ("DejaVu Sans", "Noto Sans Arabic", "Noto Naskh Arabic", "Amiri", "Arial")


# --------------------------------------------------------------------------- matplotlib helpers

def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _mpl_shapes_arabic() -> bool:
    import matplotlib

    major, minor = (int(x) for x in matplotlib.__version__.split(".")[:2])
    return (major, minor) >= (3, 11)


def arabic_for_plot(text: str) -> str:
    """Text to hand to matplotlib: raw on >= 3.11 (it shapes), else reshaped visual order."""
    if _mpl_shapes_arabic():
        return text
    try:
        import arabic_reshaper
        from bidi.algorithm import get_display
    except ImportError:  # pragma: no cover - both are dependencies
        return text
    return get_display(arabic_reshaper.reshape(text))


def arabic_font() -> str | None:
    """The first installed font with Arabic glyphs among ARABIC_FONTS (None: matplotlib default)."""
    from matplotlib import font_manager

    for name in ARABIC_FONTS:
        try:
            font_manager.findfont(name, fallback_to_default=False)
            return name
        except ValueError:
            continue
    return None


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def _rc() -> dict:
    font = arabic_font()
    return {"font.family": [font, "sans-serif"] if font else ["sans-serif"], "axes.unicode_minus": False}


def plot_confusion(task: str, metrics: dict, title: str) -> bytes:
    """Confusion matrix (rows gold, columns predicted) with counts."""
    plt = _pyplot()
    labels, matrix = metrics["labels"], np.asarray(metrics["confusion"])
    with plt.rc_context(_rc()):
        size = 1.0 + 0.6 * len(labels)
        fig, ax = plt.subplots(figsize=(size + 1.5, size))
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        top = matrix.max() if matrix.size else 0
        for (i, j), value in np.ndenumerate(matrix):
            if value:
                ax.text(j, i, str(value), ha="center", va="center",
                        color="white" if value > top / 2 else "black", fontsize=9)
        ax.set_title(title)
        return _png(fig)


def top_ngrams(model: KwctModel, task: str, k: int = 8) -> dict[str, list[tuple[str, float]]]:
    """The k character n-grams with the largest weight for each class of ``task``.

    Word-boundary spaces (char_wb) are stripped; of n-grams equal after stripping, the heaviest
    is kept, so the k shown are distinct.
    """
    weights = model.class_weights(task)
    if weights is None:
        return {}
    raw = model.pipelines[task][:-1].get_feature_names_out()
    char = np.array([str(n).startswith("char__") for n in raw])
    names = [str(n)[len("char__"):].strip() for n in raw]
    out = {}
    for label, row in zip(model.classes(task), weights, strict=True):
        row = np.where(char, row, -np.inf)
        picked: dict[str, float] = {}
        for i in np.argsort(-row, kind="stable"):
            if len(picked) == k or not np.isfinite(row[i]):
                break
            if names[i] and names[i] not in picked:
                picked[names[i]] = float(row[i])
        out[label] = list(picked.items())
    return out


def plot_top_ngrams(task: str, tops: dict[str, list[tuple[str, float]]]) -> bytes:
    """One bar chart per class: its top-weighted character n-grams (Arabic shaped, RTL)."""
    plt = _pyplot()
    labels = list(tops)
    cols = 4 if len(labels) > 6 else 3
    rows = max(1, -(-len(labels) // cols))
    with plt.rc_context(_rc()):
        fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
        for ax, label in zip(axes.flat, labels, strict=False):
            items = tops[label][::-1]
            ax.barh(range(len(items)), [w for _, w in items], color="#4c72b0")
            ax.set_yticks(range(len(items)), [arabic_for_plot(n) for n, _ in items], fontsize=11)
            ax.set_title(label, fontsize=10)
            ax.tick_params(axis="x", labelsize=7)
        for ax in list(axes.flat)[len(labels):]:
            ax.axis("off")
        fig.suptitle(f"{task}: top-weighted character n-grams per class (normalised text)")
        fig.tight_layout()
        return _png(fig)


def plot_learning_curve(curve: dict) -> bytes:
    """Out-of-fold macro-F1 against training articles, with the majority baseline."""
    plt = _pyplot()
    with plt.rc_context(_rc()):
        fig, ax = plt.subplots(figsize=(6, 3.8))
        ks = curve["k"]
        for (task, c), colour in zip(curve["tasks"].items(), ("#4c72b0", "#dd8452"), strict=False):
            mean, std = np.asarray(c["mean"]), np.asarray(c["std"])
            ax.plot(ks, mean, marker="o", color=colour, label=f"{task} model")
            ax.fill_between(ks, mean - std, mean + std, color=colour, alpha=0.2)
            ax.plot(ks, c["majority_mean"], linestyle="--", color=colour, alpha=0.7, label=f"{task} majority")
        ax.set_xticks(ks)
        ax.set_xlabel("training articles (plus authored sentences)")
        ax.set_ylabel("macro-F1 (out-of-fold)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title("Learning curve (leave-one-article-out)")
        return _png(fig)


def plot_reliability(cv: dict) -> bytes:
    """Reliability diagram of the top-label probability (out-of-fold), per task."""
    plt = _pyplot()
    with plt.rc_context(_rc()):
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
        for (task, systems), colour in zip(cv.items(), ("#4c72b0", "#dd8452"), strict=False):
            bins = systems["model"].get("reliability", [])
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color=colour,
                    label=f"{task} (ECE {systems['model'].get('ece', 0):.2f})")
        ax.set_xlabel("predicted probability of the chosen label")
        ax.set_ylabel("fraction correct")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title("Calibration (out-of-fold)")
        return _png(fig)


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
    doc.p(f"Leave-one-article-out (LOAO) cross-validation over the project corpus ({lo}): each article is "
          "predicted by models trained on the other articles"
          + (f" plus the {data['n_authored']} authored sentences, which are always training-only and "
             "never scored" if data["n_authored"] else "")
          + ". Baselines run in the same folds. Macro-F1 averages F1 over the labels present in gold or "
          "predictions.")
    headers = ["task", "system", "LOAO macro-F1", "LOAO accuracy"]
    if external:
        headers += ["eval-set macro-F1", "eval-set accuracy"]
        doc.p(f"Eval set `{external['path']}` ({external['n']} sentences, {external['n_docs']} documents): "
              "scored once by the final model trained on all project data; it was never used for training "
              "or for choosing settings. Its majority baseline predicts the most frequent training label.")
    doc.table(headers, headline_rows(results))
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
