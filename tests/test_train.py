"""python -m kwct_ml.train end to end on a copy of the seed data (fast config, no report)."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from kwct_ml import train
from kwct_ml.config import TrainConfig, load_config
from kwct_ml.persistence import load_model, sha256_file

FAST = TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none", learning_curve=False)


@pytest.fixture
def small_data(data_copy):
    """data_copy cut to the three smallest articles (and without authored sentences)."""
    labels = pd.read_csv(data_copy / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    keep = list(labels["doc_id"].value_counts().sort_values().index[:3])
    labels[labels["doc_id"].isin(keep)].to_csv(data_copy / "labels" / "sentences.csv", index=False)
    index = pd.read_csv(data_copy / "raw" / "articles.csv", dtype=str, keep_default_na=False)
    for doc in set(index["doc_id"]) - set(keep):
        (data_copy / "raw" / f"{doc}.txt").unlink()
    index[index["doc_id"].isin(keep)].to_csv(data_copy / "raw" / "articles.csv", index=False)
    (data_copy / "labels" / "authored.csv").unlink(missing_ok=True)
    return data_copy


@pytest.fixture
def fast_config(tmp_path):
    path = tmp_path / "fast.toml"
    path.write_text(FAST.to_toml(), encoding="utf-8")
    return path


def _args(tmp_path, data, config, *extra):
    return ["--config", str(config), "--data-dir", str(data), "--models-dir", str(tmp_path / "models"),
            "--runs-dir", str(tmp_path / "runs"), "--no-report", "--jobs", "1", *extra]


def test_train_writes_model_and_run(tmp_path, small_data, fast_config, capsys):
    assert train.main(_args(tmp_path, small_data, fast_config, "--name", "smoke")) == 0
    out = capsys.readouterr().out
    assert "majority baseline" in out and "word-unigram baseline" in out and "report:" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.endswith("-smoke")
    assert load_config(run_dir / "config.toml") == FAST.replace(name="smoke")
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["data"]["n_articles"] == 3 and metrics["data"]["n_authored"] == 0
    assert set(metrics["cv"]["topic"]) == {"model", "word_baseline", "majority"}
    assert len(pd.read_csv(run_dir / "predictions.csv")) == metrics["data"]["n_evaluated"]
    model_dir = tmp_path / "models" / run_dir.name
    assert os.readlink(tmp_path / "models" / "latest") == run_dir.name
    model, manifest = load_model(tmp_path / "models" / "latest")
    assert manifest["sha256"] == sha256_file(model_dir / "model.joblib")
    assert manifest["data"]["label_files"]["labels/sentences.csv"] == sha256_file(
        small_data / "labels" / "sentences.csv")
    assert manifest["training_sizes"]["sentences"] == metrics["data"]["n_evaluated"]
    assert manifest["metrics"]["stance"]["majority"]["loao_macro_f1"] == pytest.approx(
        metrics["cv"]["stance"]["majority"]["macro_f1"], abs=1e-4)
    assert manifest["config"]["name"] == "smoke"
    assert "LOAO" in (model_dir / "README.md").read_text(encoding="utf-8")
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert model.predict("topic", ["اضف تعليق"])[0][0] in model.classes("topic")


def test_eval_set_scores_beside_cv(tmp_path, small_data, fast_config, capsys):
    eval_path = tmp_path / "eval.tsv"
    pd.DataFrame({"doc": ["e1", "e1", "e2"],
                  "text": ["أدانت الكويت الهجوم.", "اضف تعليق", "رحبت الكويت بالقرار."],
                  "topic": ["terror_attack", "other", "regional_politics"],
                  "stance": ["condemnation", "neutral", "support"]}).to_csv(eval_path, sep="\t", index=False)
    assert train.main(_args(tmp_path, small_data, fast_config, "--eval-set", str(eval_path))) == 0
    assert "eval macro-F1" in capsys.readouterr().out
    (run_dir,) = (tmp_path / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["eval_set"]["n"] == 3 and metrics["eval_set"]["n_docs"] == 2
    assert "majority" in metrics["eval_set"]["tasks"]["topic"]
    assert "أدانت" not in (run_dir / "metrics.json").read_text(encoding="utf-8")


def test_authored_sentences_train_but_are_never_scored(tmp_path, small_data, fast_config):
    pd.DataFrame({"doc_id": ["auth-x", "auth-x"], "sent_id": ["0", "1"], "start": "", "end": "",
                  "text": ["بحث الجانبان تعزيز العلاقات الثنائية.", "وقعت الدولتان اتفاقية تجارية جديدة."],
                  "topic": ["bilateral_relations"] * 2, "stance": ["neutral"] * 2, "note": "",
                  "source": "authored"}).to_csv(small_data / "labels" / "authored.csv", index=False)
    assert train.main(_args(tmp_path, small_data, fast_config)) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert "auth-x" not in set(pd.read_csv(run_dir / "predictions.csv")["doc_id"])
    model, manifest = load_model(tmp_path / "models" / "latest")
    assert manifest["data"]["n_authored"] == 2 and "labels/authored.csv" in manifest["data"]["label_files"]
    assert "bilateral_relations" in model.classes("topic")


def test_bad_config_is_one_line(tmp_path, small_data, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('classifier = "bert"\n', encoding="utf-8")
    assert train.main(_args(tmp_path, small_data, bad)) == 1
    err = capsys.readouterr().err
    assert "classifier" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert train.main(_args(tmp_path, small_data, bad)[2:] + ["--name", "no/slash"]) == 1
    assert "--name" in capsys.readouterr().err


def test_missing_data_is_one_line(tmp_path, fast_config, capsys):
    assert train.main(_args(tmp_path, tmp_path / "nowhere", fast_config)) == 1
    err = capsys.readouterr().err
    assert err.startswith("kwct_ml.train: error:") and "Traceback" not in err
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_failure_leaves_no_half_written_run(tmp_path, small_data, fast_config, monkeypatch):
    assert train.main(_args(tmp_path, small_data, fast_config, "--name", "first")) == 0

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(train, "save_model", boom)
    with pytest.raises(OSError):
        train.main(_args(tmp_path, small_data, fast_config, "--name", "second"))
    assert [p.name.endswith("-first") for p in (tmp_path / "runs").iterdir()] == [True]
    assert os.readlink(tmp_path / "models" / "latest").endswith("-first")
    others = sorted(p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith("-first"))
    assert others == ["latest"]
