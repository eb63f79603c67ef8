"""A full training report: self-contained HTML (inline PNGs, Arabic right-to-left), Markdown, plots."""

from __future__ import annotations

import json

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
