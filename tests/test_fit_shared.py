"""One feature fit for both tasks (issue 20): the same pipelines, predictions and run outputs."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from kwct_ml.bundle.store import load_model
from kwct_ml.cli import train
from kwct_ml.config import TrainConfig
from kwct_ml.pipeline.model import build_pipeline, build_word_baseline
from kwct_ml.schema import TASKS
from kwct_ml.training.fit import fit_pipelines, sample_weights, split_corpus

#: The shipped model's settings (linear SVM, sigmoid calibration, cues) on shorter n-grams, with real
#: sentences weighted so the weights' route to the classifier and its calibration is covered too.
SVC = TrainConfig(ngram_max=3, real_weight=2.0, learning_curve=False)


@pytest.fixture(scope="module")
def training(repo_dir) -> pd.DataFrame:
    """Seed sentences (real articles) and authored ones, as a run trains on them."""
    frame = pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    authored = pd.read_csv(repo_dir / "data" / "labels" / "authored.csv", dtype=str, keep_default_na=False)
    evaluated, extra = split_corpus(pd.concat([frame, authored.iloc[:80]], ignore_index=True))
    return pd.concat([evaluated, extra], ignore_index=True)


@pytest.mark.parametrize("builder", [build_pipeline, build_word_baseline])
def test_shared_features_fit_equals_each_pipeline_fitted_alone(training, builder):
    shared = fit_pipelines(builder, SVC, training, tuple(TASKS))
    assert shared["topic"][0] is shared["stance"][0]  # one fitted feature block for both tasks
    texts = training["text"].tolist()
    probe = texts[::7] + ["أدانت دولة الكويت بشدة الهجوم الإرهابي الذي استهدف مسجدا."]
    for task in TASKS:
        plain = builder(SVC, task).fit(texts, training[task].tolist(), **sample_weights(training, SVC))
        assert pickle.dumps(shared[task]) == pickle.dumps(plain)  # every fitted attribute, byte for byte
        np.testing.assert_array_equal(shared[task].predict_proba(probe), plain.predict_proba(probe))


def _outputs(run_dir) -> tuple[bytes, dict]:
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    for key in ("timing", "created", "run", "model_dir", "command"):
        metrics.pop(key)
    return (run_dir / "predictions.csv").read_bytes(), metrics


@pytest.mark.slow
def test_train_with_two_processes_writes_what_one_writes(tmp_path, small_data):
    config = tmp_path / "svc.toml"
    config.write_text(SVC.to_toml(), encoding="utf-8")
    runs = {}
    for jobs in ("1", "2"):
        assert train.main(["--config", str(config), "--data-dir", str(small_data), "--models-dir",
                           str(tmp_path / f"models{jobs}"), "--runs-dir", str(tmp_path / f"runs{jobs}"),
                           "--no-report", "--jobs", jobs]) == 0
        (run_dir,) = (tmp_path / f"runs{jobs}").iterdir()
        runs[jobs] = _outputs(run_dir)
    assert runs["1"][0] == runs["2"][0]
    assert runs["1"][1] == runs["2"][1]
    # the final model, fitted in a worker with --jobs 2, is the one --jobs 1 fits in the parent
    one, two = (load_model(tmp_path / f"models{jobs}" / "latest")[0] for jobs in ("1", "2"))
    labels = pd.read_csv(small_data / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    texts = labels["text"].tolist()
    for task in TASKS:
        np.testing.assert_array_equal(one.predict_proba(task, texts), two.predict_proba(task, texts))
