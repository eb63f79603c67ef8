"""``python -m kwct_ml.evaluate``: scoring a saved model on labelled files without retraining."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from kwct_ml.bundle.store import sha256_file
from kwct_ml.cli import evaluate
from kwct_ml.reporting.evaluation import MAJORITY_FROM_FILE, MAJORITY_FROM_TRAINING, training_majority
from tests.test_predict import train_tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, repo_dir) -> Path:
    return train_tiny_model(repo_dir, tmp_path_factory.mktemp("models"))


@pytest.fixture
def eval_tsv(tmp_path, repo_dir) -> Path:
    """The seed sentences of two articles in the eval-set TSV layout (doc, idx, text, topic, stance)."""
    labels = pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    docs = sorted(labels["doc_id"].unique())[:2]
    part = labels[labels["doc_id"].isin(docs)]
    frame = pd.DataFrame({"doc": part["doc_id"], "idx": part["sent_id"], "text": part["text"],
                          "topic": part["topic"], "stance": part["stance"]})
    # one gold label the model surely gets wrong (it was trained on the true one)
    frame.loc[frame.index[0], "stance"] = "concern" if frame["stance"].iloc[0] != "concern" else "neutral"
    path = tmp_path / "set.tsv"
    frame.to_csv(path, sep="\t", index=False)
    return path


def test_evaluate_writes_scores_identity_and_pages(tiny, eval_tsv, tmp_path, capsys):
    out = tmp_path / "eval"
    code = evaluate.main(["--model", str(tiny), str(eval_tsv), "--report", str(out), "--draws", "50"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "majority (" in printed and "macro-F1 [95% CI]" in printed
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    (result,) = metrics["sets"]
    assert result["sha256"] == sha256_file(eval_tsv) and result["size"] == eval_tsv.stat().st_size
    assert result["n_docs"] == 2
    stance = result["tasks"]["stance"]
    low, high = stance["model"]["macro_f1_ci"]
    assert low <= high and stance["model"]["accuracy"] < 1.0
    # the tiny model's manifest records no training labels: the baseline says it used the file
    assert stance["majority"]["label_source"] == MAJORITY_FROM_FILE
    assert sum(b["n"] for b in stance["model"]["reliability"]) == result["n"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img src=\"data:image/png;base64," in page and "http" not in page.split("<body>")[1][:200]
    assert "misclassified" in page and 'dir="rtl"' in page
    first = pd.read_csv(eval_tsv, sep="\t").iloc[0]
    assert first["text"] in page  # the wrong sentence is listed with its text
    predictions = pd.read_csv(out / "predictions.csv")
    assert {"stance_second", "stance_second_conf", "doc_id", "sent"} <= set(predictions.columns)


def test_evaluate_skips_a_bad_file_and_scores_the_rest(tiny, eval_tsv, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\ttopic\tstance\nنص\tnot_a_topic\tother\n", encoding="utf-8")
    code = evaluate.main(["--model", str(tiny), str(bad), str(eval_tsv), "--draws", "20"])
    captured = capsys.readouterr()
    assert code == 2
    assert "skipped" in captured.err and "bad.tsv" in captured.err
    assert str(eval_tsv) in captured.out


def test_evaluate_refuses_a_tampered_model(tiny, eval_tsv, tmp_path, capsys):
    import shutil

    copy = tmp_path / "tampered"
    shutil.copytree(tiny, copy)
    with open(copy / "model.joblib", "ab") as handle:
        handle.write(b"x")
    assert evaluate.main(["--model", str(copy), str(eval_tsv)]) == 1
    assert "sha256" in capsys.readouterr().err


def test_majority_comes_from_the_training_labels_when_recorded():
    manifest = {"data": {"label_counts": {"stance": {"condemnation": 3, "support": 7}}}}
    assert training_majority(manifest, "stance") == "support"
    assert training_majority({}, "stance") is None
    # all training sentences (authored ones too) when recorded, as the training run's baseline counts
    manifest["data"]["training_label_counts"] = {"stance": {"condemnation": 30, "support": 7}}
    assert training_majority(manifest, "stance") == "condemnation"
    assert MAJORITY_FROM_TRAINING != MAJORITY_FROM_FILE
