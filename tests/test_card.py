"""The model card: one template, with the run's data and scores only when a training run made it."""

from __future__ import annotations

from kwct_ml.reporting.card import model_card
from kwct_ml.reporting.headline import format_headline, headline, headline_rows

MANIFEST = {"run": "r1", "sha256": "ab" * 32, "labels": {"topic": ["terror_attack", "other"],
                                                      "stance": ["condemnation", "neutral"]},
            "versions": {"python": "3.12", "kwct_ml": "0.1.0"}}
SCORES = {"macro_f1": 0.57749, "accuracy": 0.65349}
RESULTS = {"run": "r1", "command": "python -m kwct_ml.train --name r1", "selection": "Chosen before scoring.",
           "data": {"n_evaluated": 120, "n_articles": 5, "n_authored": 0,
                    "label_files": {"labels/sentences.csv": "cd" * 32}},
           "cv": {"topic": {"model": SCORES, "majority": {"macro_f1": 0.1, "accuracy": 0.3}}}}


def test_a_card_without_a_run_is_the_run_card_without_its_data_and_scores():
    plain, full = model_card(MANIFEST), model_card(MANIFEST, results=RESULTS)
    assert "## Scores" not in plain and "## Training data" not in plain
    tail = plain[plain.index("## Labels"):]
    assert full.endswith(tail) and "- topic: terror_attack, other" in tail and "ab" * 32 in tail
    assert full.startswith(plain[:plain.index("## Labels")])
    assert format_headline(RESULTS) in full and "Chosen before scoring." in full
    assert "`labels/sentences.csv` sha256 `" + "cd" * 32 + "`" in full


def test_one_headline_for_console_report_and_manifest():
    assert headline_rows(RESULTS) == [["topic", "model", 0.57749, "", 0.65349],
                                      ["topic", "majority baseline", 0.1, "", 0.3]]
    assert headline(RESULTS)["topic"]["model"] == {"cv_macro_f1": 0.5775, "cv_accuracy": 0.6535}
    assert format_headline(RESULTS).splitlines()[2].split()[-4:] == ["0.100", "[", "]", "0.300"]


def test_headline_shows_intervals_and_the_seed_loao_rows():
    interval = {"low": 0.51, "high": 0.64}
    results = {**RESULTS, "cv_name": "5-fold grouped CV",
               "cv": {"topic": {"model": {**SCORES, "interval": interval}}},
               "loao_seed": {"topic": {"model": {"macro_f1": 0.7, "accuracy": 0.8}}}}
    text = format_headline(results)
    assert "5-fold grouped CV macro-F1" in text and "[0.510-0.640]" in text
    assert "own (seed) articles" in text and "0.700" in text
    assert headline(results)["topic"]["model"]["seed_loao_macro_f1"] == 0.7
