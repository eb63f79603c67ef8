"""``python -m kwct_ml.report runs|compare`` on two real (fast) training runs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from kwct_ml.cli import report, train
from tests.test_train import FAST


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, repo_dir):
    """The fast config and one with another C, trained on the three smallest seed articles."""
    import shutil

    root = tmp_path_factory.mktemp("runs")
    data = root / "data"
    shutil.copytree(repo_dir / "data", data)
    labels = pd.read_csv(data / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    keep = list(labels["doc_id"].value_counts().sort_values().index[:3])
    labels[labels["doc_id"].isin(keep)].to_csv(data / "labels" / "sentences.csv", index=False)
    (data / "labels" / "authored.csv").unlink(missing_ok=True)
    index = pd.read_csv(data / "raw" / "articles.csv", dtype=str, keep_default_na=False)
    for doc in set(index["doc_id"]) - set(keep):
        (data / "raw" / f"{doc}.txt").unlink()
    index[index["doc_id"].isin(keep)].to_csv(data / "raw" / "articles.csv", index=False)
    for name, config in (("base", FAST), ("other", FAST.replace(C=0.01, use_cues=not FAST.use_cues))):
        path = root / f"{name}.toml"
        path.write_text(config.replace(name=name).to_toml(), encoding="utf-8")
        assert train.main(["--config", str(path), "--data-dir", str(data), "--models-dir",
                           str(root / "models"), "--runs-dir", str(root / "runs"), "--no-report",
                           "--jobs", "1"]) == 0
    return root


def test_runs_lists_every_run_with_its_config_difference(two_runs, capsys):
    (two_runs / "runs" / "broken").mkdir()
    default = two_runs / "base.toml"
    assert report.main(["--runs-dir", str(two_runs / "runs"), "runs", "--default", str(default),
                        "--csv", "-"]) == 0
    captured = capsys.readouterr()
    table = pd.read_csv(pd.io.common.StringIO(captured.out), keep_default_na=False)
    assert len(table) == 2 and "broken" in captured.err
    other = table[table["run"].str.endswith("-other")].iloc[0]
    base = table[table["run"].str.endswith("-base")].iloc[0]
    assert base["config_diff"] == "(default)"
    assert "C=0.01" in other["config_diff"] and "use_cues=" in other["config_diff"]
    assert other["data"] == base["data"] and len(base["data"]) == 12
    assert 0 <= float(other["topic_cv_f1"]) <= 1


def test_compare_pairs_the_runs_loao_predictions(two_runs, tmp_path, capsys):
    runs = sorted((two_runs / "runs").glob("*-*"))
    a = next(r for r in runs if r.name.endswith("-base"))
    b = next(r for r in runs if r.name.endswith("-other"))
    out = tmp_path / "cmp"
    assert report.main(["--runs-dir", str(two_runs / "runs"), "compare", str(a), str(b), "--out", str(out),
                        "--draws", "100"]) == 0
    printed = capsys.readouterr().out
    assert "95% interval" in printed
    comparison = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert comparison["config_diff"]["C"] == [FAST.C, 0.01]
    metrics_a = json.loads((a / "metrics.json").read_text(encoding="utf-8"))
    metrics_b = json.loads((b / "metrics.json").read_text(encoding="utf-8"))
    for task, d in comparison["tasks"].items():
        # the paired scores are the runs' own LOAO macro-F1s
        assert d["a"] == pytest.approx(metrics_a["cv"][task]["model"]["macro_f1"])
        assert d["b"] == pytest.approx(metrics_b["cv"][task]["model"]["macro_f1"])
        assert d["ci"][0] <= d["difference"] + 1e-9 or d["ci"][1] >= d["difference"] - 1e-9
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "right in A, wrong in B" in page and "<table>" in page
    flips = sum(d["right_to_wrong"] + d["wrong_to_right"] for d in comparison["tasks"].values())
    assert flips == 0 or 'dir="rtl"' in page


def test_compare_on_an_eval_set_uses_both_saved_models(two_runs, tmp_path, repo_dir, capsys):
    runs = sorted(p for p in (two_runs / "runs").iterdir() if p.name.endswith(("-base", "-other")))
    labels = pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "set.csv"
    labels.head(30).to_csv(path, index=False)
    out = tmp_path / "cmp"
    assert report.main(["--runs-dir", str(two_runs / "runs"), "compare", runs[0].name, runs[1].name,
                        "--eval-set", str(path), "--out", str(out), "--draws", "50"]) == 0
    comparison = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert comparison["scored_on"]["kind"] == "eval_set"
    assert comparison["scored_on"]["size"] == path.stat().st_size
    assert comparison["tasks"]["topic"]["n"] == 30


def test_compare_page_in_chromium(two_runs, tmp_path, repo_dir, capsys):
    from tests.test_browser import CHROMIUM, check_page, render

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    runs = sorted(p for p in (two_runs / "runs").iterdir() if p.name.endswith(("-base", "-other")))
    out = tmp_path / "cmp"
    assert report.main(["--runs-dir", str(two_runs / "runs"), "compare", str(runs[0]), str(runs[1]),
                        "--out", str(out), "--draws", "20"]) == 0
    comparison = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    flips = sum(d["right_to_wrong"] + d["wrong_to_right"] for d in comparison["tasks"].values())
    dom = render(out / "report.html", tmp_path / "compare.png")
    check_page(dom, tmp_path / "compare.png", arabic=flips > 0)
    assert "95% interval" in dom
