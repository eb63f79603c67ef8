"""Training reports: report.md and a self-contained report.html (inline PNGs, Arabic right-to-left).

The plots come from reporting/plots.py, the headline table from reporting/headline.py; the eval-set
section and the per-article view are the evaluation page's (reporting/evaluation_page.py).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from kwct_ml.io.atomic import atomic_write_bytes, atomic_write_text
from kwct_ml.pipeline.model import KwctModel
from kwct_ml.reporting.document import Document
from kwct_ml.reporting.evaluation_page import add_articles, add_file_section
from kwct_ml.reporting.headline import headline_rows
from kwct_ml.reporting.plots import (
    plot_confusion,
    plot_learning_curve,
    plot_reliability,
    plot_top_ngrams,
    top_ngrams,
    top_other_features,
)

# --------------------------------------------------------------------------- the report

def _per_class_rows(metrics: dict) -> list[list]:
    return [[c["label"], c["precision"], c["recall"], c["f1"], c["support"]] for c in metrics["per_class"]]


def build_report(results: dict, predictions: pd.DataFrame, model: KwctModel, run_dir: str | Path,
                 eval_predictions: pd.DataFrame | None = None,
                 seed_predictions: pd.DataFrame | None = None) -> Path:
    """Write report.md, report.html and plots/*.png into ``run_dir``; returns the HTML path.

    ``eval_predictions``: the eval set's sentences as scored in ``results["eval_set_review"]``;
    ``seed_predictions``: out-of-fold predictions of the project's own articles (per-article view).
    """
    run_dir = Path(run_dir)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        doc = _compose(results, predictions, model, eval_predictions, seed_predictions)
    for block in doc.blocks:
        if block[0] == "img":
            atomic_write_bytes(run_dir / "plots" / block[1], block[2])
    atomic_write_text(run_dir / "report.md", doc.markdown())
    path = run_dir / "report.html"
    atomic_write_text(path, doc.html(f"kwct_ml training report {results['run']}"))
    return path


def _compose(results: dict, predictions: pd.DataFrame, model: KwctModel,
             eval_predictions: pd.DataFrame | None, seed_predictions: pd.DataFrame | None) -> Document:
    doc = Document()
    data, config = results["data"], results["config"]
    external = results.get("eval_set")
    doc.h(1, f"Training report `{results['run']}`")
    doc.p(f"Created {results['created']} with:")
    doc.code(results["command"])
    timing = results["timing"]
    doc.p(f"Model folder: `{results.get('model_dir', '?')}`. Training and evaluation "
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
          "The 95% intervals show how much a score would move with other articles of the same kind; "
          "overlapping intervals are no evidence of a difference. The learning curve (when computed) "
          "shows whether more labelled articles still help (a rising curve: label more). Confidence is a "
          "calibrated probability: the calibration plot compares it with the fraction actually correct. "
          "The misclassified list at the end shows the model's most confident errors first.")

    doc.h(2, "Data")
    doc.table(["", "value"], [["evaluated sentences (scored)", data["n_evaluated"]],
                              ["articles (each held out whole in one fold)", data["n_articles"]],
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
        if external and not results.get("eval_set_review"):  # a run from before the eval-set section
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
        others = top_other_features(model, task)
        if others:
            doc.p(f"{task}: cue and word features with the largest weight per class (real weights; "
                  "cue features often drive a prediction more than any one n-gram):")
            doc.table(["label", "feature", "weight"],
                      [[label, name, weight] for label, items in others.items() for name, weight in items],
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

    review = results.get("eval_set_review")
    if review and eval_predictions is not None:
        add_file_section(doc, review, eval_predictions, "eval",
                         title=f"Real-news evaluation set `{review['path']}` (final model)")

    doc.h(2, "Misclassified sentences (LOAO, model)")
    doc.p("Every evaluated sentence whose out-of-fold prediction differs from its gold label, the most "
          "confident errors first.")
    for task in results["cv"]:
        wrong = predictions[predictions[f"{task}_gold"] != predictions[f"{task}_model"]]
        wrong = wrong.sort_values(f"{task}_model_conf", ascending=False, kind="stable")
        doc.h(3, f"{task}: {len(wrong)} of {len(predictions)} misclassified")
        doc.table(["doc_id", "sent", "gold", "predicted", "confidence", "sentence"],
                  [[r["doc_id"], r.get("sent_id", ""), r[f"{task}_gold"], r[f"{task}_model"],
                    float(r[f"{task}_model_conf"]), r["text"]] for _, r in wrong.iterrows()], rtl=(5,))

    if seed_predictions is not None and len(seed_predictions):
        tasks = list(results["cv"])
        doc.h(2, "The project's own articles, sentence by sentence (out-of-fold)")
        doc.p("Predictions of the leave-one-article-out run over the project's own articles (the seed LOAO "
              "scores above)." if results.get("loao_seed") else
              f"Out-of-fold predictions of the {results.get('cv_name', 'LOAO CV')} above.")
        frame = seed_predictions.rename(columns={f"{t}_model": f"{t}_pred" for t in tasks})
        frame["sent"] = frame["sent_id"] if "sent_id" in frame else frame.groupby("doc_id").cumcount()
        add_articles(doc, frame, tasks, level=2)
    return doc
