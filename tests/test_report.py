"""A full training report: self-contained HTML (inline PNGs, Arabic right-to-left), Markdown, plots."""

from __future__ import annotations

import json
import re
from collections import Counter

import pandas as pd
import pytest

from kwct_ml.cli import train
from kwct_ml.config import TrainConfig
from kwct_ml.reporting import plots


@pytest.mark.slow
def test_full_report(tmp_path, small_data):
    config = tmp_path / "c.toml"
    fast = TrainConfig(ngram_max=3, calibration_cv=2, learning_curve=True, learning_curve_repeats=1,
                       classifier="logreg",
                       provenance="Settings chosen for a fast test.")
    config.write_text(fast.to_toml(), encoding="utf-8")
    assert train.main(["--config", str(config), "--data-dir", str(small_data), "--jobs", "1",
                       "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 6  # confusion x2, calibration, n-grams x2, curve
    assert 'dir="rtl"' in page and "<img src=\"plots/" not in page  # self-contained
    assert "majority baseline" in page and "Learning curve" in page
    assert fast.provenance in page and "fixed before" not in page  # this config's, not the default's
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    predictions = pd.read_csv(run_dir / "predictions.csv", dtype=str, keep_default_na=False)
    wrong = predictions[predictions["stance_gold"] != predictions["stance_model"]]
    assert f"stance: {len(wrong)} of {metrics['data']['n_evaluated']} misclassified" in page
    for text in wrong["text"].head(3):
        assert text.replace('"', "&quot;").replace("'", "&#x27;") in page or text in page
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "![Learning curve](plots/learning_curve.png)" in md
    for name in ("confusion_topic", "confusion_stance", "top_ngrams_topic", "learning_curve", "calibration"):
        assert (run_dir / "plots" / f"{name}.png").read_bytes().startswith(b"\x89PNG")


def test_arabic_is_passed_raw_to_matplotlib_that_shapes_it():
    text = "الكويت تدين الهجوم"
    if plots._mpl_shapes_arabic():
        assert plots.arabic_for_plot(text) == text
    else:
        assert plots.arabic_for_plot(text) != text  # reshaped + visual order for old matplotlib


def test_cue_features_are_listed_with_their_real_weights(repo_dir):
    import pandas as pd

    from kwct_ml.config import TrainConfig
    from kwct_ml.pipeline.model import KwctModel, build_pipeline
    from kwct_ml.reporting.plots import top_other_features

    labels = pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv")
    config = TrainConfig().replace(use_cues=True)
    model = KwctModel({"stance": build_pipeline(config, "stance").fit(labels.text.tolist(),
                                                                        labels.stance.tolist())})
    tops = top_other_features(model, "stance")
    assert tops and all(items for items in tops.values())
    names = list(model.feature_names("stance"))
    weights = model.class_weights("stance")
    label, items = next(iter(tops.items()))
    row = weights[model.classes("stance").index(label)]
    for name, weight in items:
        assert not name.startswith(" ") and weight == row[names.index(name)]


def test_training_report_shows_the_eval_set_like_evaluate_does(eval_run, tmp_path, capsys):
    """The eval set in the training report: confusion table and plot, calibration with counts, every
    misclassified sentence with its article and top-2 labels, each article side by side (RTL, errors
    flagged); its scores are the ones `python -m kwct_ml.evaluate` gives for the saved model."""
    from kwct_ml.cli import evaluate
    from tests.conftest import FURNITURE

    run_dir = eval_run["run"]
    page = (run_dir / "report.html").read_text(encoding="utf-8").replace("<wbr>", "")  # break points
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    review = metrics["eval_set_review"]
    assert f"Real-news evaluation set <code>{eval_run['eval_tsv']}</code>" in page
    for task in ("topic", "stance"):
        assert f"<th>{task}: gold ↓ predicted →</th>" in page  # the confusion table
        assert (run_dir / "plots" / f"eval_confusion_{task}.png").read_bytes().startswith(b"\x89PNG")
    assert (run_dir / "plots" / "eval_calibration.png").read_bytes().startswith(b"\x89PNG")
    assert "<th>bin</th><th>n</th>" in page
    # the furniture line's gold topic is wrong on purpose: listed with its article and the top-2 labels
    predictions = pd.read_csv(run_dir / "predictions.csv")  # LOAO; the eval set's are in the page only
    assert "e1" not in set(predictions["doc_id"])
    row = re.search(r"<tr><td>e1</td><td>2</td><td>terror_financing</td><td>(\w+) \((0\.\d\d)\)</td>"
                    r"<td>(\w+) \((0\.\d\d)\)</td><td dir=\"rtl\" lang=\"ar\" class=\"ar\">([^<]*)</td></tr>",
                    page)
    assert row and row[1] != row[3] and float(row[2]) >= float(row[4]) and row[5] == FURNITURE
    # the per-article view: both articles, Arabic right to left, the wrong prediction highlighted
    assert "<h4>article e1</h4>" in page and "<h4>article e2</h4>" in page
    article = page[page.index("<h4>article e1</h4>"):page.index("<h4>article e2</h4>")]
    assert f'<td dir="rtl" lang="ar" class="ar">{FURNITURE}</td>' in article
    assert f'<td>terror_financing</td><td class="err">✗ {row[1]}</td>' in article
    assert "## The project's own articles, sentence by sentence" in (run_dir / "report.md").read_text(
        encoding="utf-8")
    # one implementation: evaluate on the saved model scores the eval set exactly as the report did
    out = tmp_path / "eval"
    assert evaluate.main(["--model", str(eval_run["model"]), str(eval_run["eval_tsv"]),
                          "--report", str(out)]) == 0
    capsys.readouterr()
    (scored,) = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["sets"]
    assert scored == review
    for task in ("topic", "stance"):  # the headline's eval-set scores and baseline are the same
        headline = metrics["eval_set"]["tasks"][task]
        assert headline["model"]["macro_f1"] == pytest.approx(review["tasks"][task]["model"]["macro_f1"])
        assert headline["majority"]["label"] == review["tasks"][task]["majority"]["label"]


def test_model_card_and_manifest_identify_the_eval_set(eval_run):
    from kwct_ml.bundle.store import load_model, sha256_file

    tsv = eval_run["eval_tsv"]
    _, manifest = load_model(eval_run["model"])
    identity = {"path": str(tsv), "sha256": sha256_file(tsv), "size": tsv.stat().st_size}
    assert manifest["eval_sets"] == [{**identity, "n": 5, "n_docs": 2}]
    card = (eval_run["model"] / "README.md").read_text(encoding="utf-8")
    assert f"Eval set `{tsv}`: sha256 `{identity['sha256']}`, {identity['size']} bytes" in card
    record = json.loads((eval_run["run"] / "run.json").read_text(encoding="utf-8"))
    assert {k: record["data"]["eval_set"][k] for k in identity} == identity


def test_page_cells_flag_errors_and_wrap_labels_and_hashes_without_splitting_words():
    from kwct_ml.reporting.document import Document, Error
    from tests.conftest import CONDEMNATION

    doc = Document()
    digest = "ab" * 32
    doc.table(["topic gold", "topic predicted", "sentence"],
              [["terror_attack", Error("ct_cooperation"), CONDEMNATION], [digest, "other", ""]], rtl=(2,))
    page, md = doc.html("t"), doc.markdown()
    assert '<td>terror_<wbr>attack</td><td class="err">✗ ct_<wbr>cooperation</td>' in page
    assert f'<td dir="rtl" lang="ar" class="ar">{CONDEMNATION}</td>' in page  # Arabic cells untouched
    assert f"<td>{digest[:16]}<wbr>{digest[16:32]}<wbr>{digest[32:48]}<wbr>{digest[48:]}</td>" in page
    assert "| terror_attack | ✗ ct_cooperation |" in md and "<wbr>" not in md
    assert "td.err{" in page and "overflow-wrap:break-word" in page


def test_seed_articles_are_shown_with_their_leave_one_article_out_predictions(tmp_path, small_data):
    """With grouped folds the main CV is not LOAO: the per-article view of the project's own articles
    shows the seed LOAO predictions (the seed LOAO table's), one table per article."""
    config = tmp_path / "c.toml"
    config.write_text(TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none", cv_folds=2,
                                  learning_curve=False, provenance="Fast settings for tests.").to_toml(),
                      encoding="utf-8")
    assert train.main(["--config", str(config), "--data-dir", str(small_data), "--jobs", "1",
                       "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs")]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    view = md[md.index("## The project's own articles, sentence by sentence"):]
    assert "leave-one-article-out run over the project's own articles" in view
    docs = pd.read_csv(small_data / "labels" / "sentences.csv")["doc_id"].unique()
    assert len(docs) == 3 and all(f"### article {doc}\n" in view for doc in docs)
    # the labels shown are the seed LOAO's: their confusion counts are that run's, not the main CV's
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    rows = [line.split(" | ") for line in view.splitlines() if re.match(r"\| \d+ \| ", line)]
    for i, task in enumerate(("topic", "stance")):
        shown = Counter((r[1 + 2 * i], r[2 + 2 * i].removeprefix("✗ ")) for r in rows)

        def counts(scores):
            return Counter({(g, p): n for g, row in zip(scores["labels"], scores["confusion"], strict=True)
                            for p, n in zip(scores["labels"], row, strict=True) if n})

        assert shown == counts(metrics["loao_seed"][task]["model"])
