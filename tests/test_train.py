"""python -m kwct_ml.train end to end on a copy of the seed data (fast config, no report)."""

from __future__ import annotations

import json
import os
import sys

import pandas as pd
import pytest

from kwct_ml.bundle.store import load_model, sha256_file
from kwct_ml.cli import train
from kwct_ml.config import TrainConfig, load_config
from kwct_ml.reporting.headline import format_headline
from kwct_ml.training import run

FAST = TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none", learning_curve=False,
                   provenance="Fast settings for tests, chosen for speed.")


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
    assert manifest["metrics"]["stance"]["majority"]["cv_macro_f1"] == pytest.approx(
        metrics["cv"]["stance"]["majority"]["macro_f1"], abs=1e-4)
    assert manifest["config"]["name"] == "smoke"
    card = (model_dir / "README.md").read_text(encoding="utf-8")
    assert format_headline(metrics) in card and "## Training data" in card  # the console's table
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["config"] == metrics["config"] and record["command"].endswith("--name smoke")
    assert record["data"]["label_files"] == manifest["data"]["label_files"]
    assert record["metrics"] == manifest["metrics"] and record["data"]["eval_set"] is None
    assert "LOAO" in card
    # the card and metrics say how this config's values were chosen, not the default's history
    assert metrics["selection"] == FAST.provenance and FAST.provenance in card and "use_cues" not in card
    assert load_config(run_dir / "config.toml").provenance == FAST.provenance
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
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["data"]["eval_set"]["sha256"] == sha256_file(eval_path)
    assert record["metrics"]["topic"]["majority"]["eval_macro_f1"] == pytest.approx(
        metrics["eval_set"]["tasks"]["topic"]["majority"]["macro_f1"], abs=1e-4)


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


@pytest.mark.parametrize("option", ["--models-dir", "--runs-dir"])
def test_a_file_where_a_folder_should_be_is_one_line_before_training(tmp_path, small_data, fast_config,
                                                                     capsys, option):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder", encoding="utf-8")
    assert train.main([*_args(tmp_path, small_data, fast_config), option, str(blocker)]) == 1
    err = capsys.readouterr().err
    assert f"error: {option} {blocker}: cannot use it as a folder" in err and "Traceback" not in err
    assert "sentences in" not in err  # refused before any training


def test_missing_data_is_one_line(tmp_path, fast_config, capsys):
    assert train.main(_args(tmp_path, tmp_path / "nowhere", fast_config)) == 1
    err = capsys.readouterr().err
    assert err.startswith("kwct_ml.train: error:") and "Traceback" not in err
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_failure_leaves_no_half_written_run(tmp_path, small_data, fast_config, monkeypatch, capsys):
    assert train.main(_args(tmp_path, small_data, fast_config, "--name", "first")) == 0

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(run, "save_model", boom)
    assert train.main(_args(tmp_path, small_data, fast_config, "--name", "second")) == 1
    err = capsys.readouterr().err
    assert "cannot save run" in err and "disk full" in err and "is unchanged" in err
    assert [line for line in err.splitlines() if "error" in line][0].endswith("is unchanged")
    assert "Traceback" not in err
    assert [p.name.endswith("-first") for p in (tmp_path / "runs").iterdir()] == [True]
    assert os.readlink(tmp_path / "models" / "latest").endswith("-first")
    others = sorted(p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith("-first"))
    assert others == ["latest"]


# --- interruption and concurrency (issue 8) ------------------------------------------------------

FIXED_STAMP = "20260101-000000"


def _visible(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _assert_only(tmp_path, runs: list[str], latest: str) -> None:
    """Exactly ``runs`` are visible as model and run folders, no temp folder is left, latest loads."""
    models, run_root = tmp_path / "models", tmp_path / "runs"
    assert _visible(models) == sorted([*runs, "latest"])
    assert _visible(run_root) == sorted(runs)
    assert not [p for p in [*models.iterdir(), *run_root.iterdir()] if p.name.startswith(".tmp-")]
    assert os.readlink(models / "latest") == latest
    model, manifest = load_model(models / "latest")
    assert manifest["run"] == latest and model.classes("stance")
    for run_id in runs:
        load_model(models / run_id)
        assert {"config.toml", "metrics.json", "run.json", "predictions.csv"} <= set(
            _visible(run_root / run_id))


def test_run_ids_are_unique_within_one_second(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    models, runs = tmp_path / "models", tmp_path / "runs"
    (models / f"{FIXED_STAMP}-x").mkdir(parents=True)  # a finished model folder of that id
    runs.mkdir()
    (runs / f".tmp-{FIXED_STAMP}-x-2").mkdir()  # a run in progress (or killed) holds -2
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda _: run._reserve_run("x", models, runs, FIXED_STAMP), range(6)))
    ids = [run_id for run_id, _ in got]
    expected = [f"{FIXED_STAMP}-x-{n}" for n in range(3, 9)]
    assert sorted(ids, key=lambda i: int(i.rsplit("-", 1)[1])) == expected
    assert all(tmp.is_dir() and tmp.name == f".tmp-{run_id}" for run_id, tmp in got)


@pytest.mark.parametrize("stage", ["report", "model_saved", "run_renamed"])
def test_interrupt_at_each_save_stage_rolls_back(tmp_path, small_data, fast_config, monkeypatch, stage,
                                                capsys):
    assert train.main(_args(tmp_path, small_data, fast_config, "--name", "first")) == 0
    (first,) = _visible(tmp_path / "runs")

    def interrupt(real):
        def wrapper(*args, **kwargs):
            if stage == "run_renamed":
                raise KeyboardInterrupt  # point_latest: the run folder is already in place
            real(*args, **kwargs)
            raise KeyboardInterrupt
        return wrapper

    target = {"report": "atomic_write_text", "model_saved": "save_model",
              "run_renamed": "point_latest"}[stage]
    monkeypatch.setattr(run, target, interrupt(getattr(run, target)))
    assert train.main(_args(tmp_path, small_data, fast_config, "--name", "second")) == 130
    assert "interrupted" in capsys.readouterr().err
    _assert_only(tmp_path, [first], first)


def _driver(tmp_path, data, config, name: str, hook: str = "", jobs: int = 1) -> list[str]:
    """A real `python -m kwct_ml.train`-like process; ``hook`` is code run before main()."""
    code = ("import sys, time, functools\nfrom kwct_ml.cli import train\nfrom kwct_ml.training import run\n"
            "from kwct_ml.bundle import store as persistence\n" + hook
            + "\nsys.exit(train.main(sys.argv[1:]))\n")
    return [sys.executable, "-c", code, *_args(tmp_path, data, config, "--name", name, "--jobs", str(jobs))]


#: A CV fit that waits: the signal lands inside CV however fast training gets (on a loaded machine a
#: signal sent after the "N sentences in" line could arrive after a small run had finished: exit 0).
SLOW_CV = """
from kwct_ml.training import cv
real_fits = cv.predict_systems
def slow_fits(*args):
    print("FITTING", file=sys.stderr, flush=True)
    time.sleep(60)
    return real_fits(*args)
cv.predict_systems = slow_fits
"""
SLOW_SAVE = """
real = persistence._write_model_file
def slow(model, path):
    real(model, path)
    print("SAVING", file=sys.stderr, flush=True)
    time.sleep(60)
persistence._write_model_file = slow
"""
SLOW_COMMIT = """
real = run.point_latest
def slow(*args):
    print("SAVING", file=sys.stderr, flush=True)
    time.sleep(1.5)  # inside the commit: the signal must wait until latest has moved
    return real(*args)
run.point_latest = slow
"""


@pytest.mark.slow
@pytest.mark.parametrize("sig, stage, jobs", [("SIGINT", "cv", 2), ("SIGTERM", "cv", 1),
                                              ("SIGTERM", "save", 1), ("SIGINT", "commit", 1)])
def test_a_real_signal_during_train_keeps_the_previous_latest(tmp_path, data_copy, fast_config, sig, stage,
                                                              jobs):
    import signal
    import subprocess

    (data_copy / "labels" / "authored.csv").unlink(missing_ok=True)
    assert train.main(_args(tmp_path, data_copy, fast_config, "--name", "first")) == 0
    (first,) = _visible(tmp_path / "runs")
    hook = {"cv": SLOW_CV, "save": SLOW_SAVE, "commit": SLOW_COMMIT}[stage]
    wait_for = "FITTING" if stage == "cv" else "SAVING"
    proc = subprocess.Popen(_driver(tmp_path, data_copy, fast_config, "second", hook, jobs),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if wait_for in line:
            break
    proc.send_signal(getattr(signal, sig))
    err = "".join(seen) + proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "kwct_ml.train: interrupted" in err
    if stage == "commit":  # the signal arrived inside the commit: the new run completes first
        (second,) = set(_visible(tmp_path / "runs")) - {first}
        _assert_only(tmp_path, [first, second], second)
    else:
        _assert_only(tmp_path, [first], first)


@pytest.mark.slow
def test_two_trains_at_once_with_one_name_both_finish(tmp_path, small_data, fast_config):
    import subprocess

    same_second = (f"run._reserve_run = functools.partial(run._reserve_run, stamp={FIXED_STAMP!r})\n"
                   "real = run.point_latest\n"
                   "def slow(*args):\n    time.sleep(0.3)\n    return real(*args)\n"
                   "run.point_latest = slow\n")
    procs = [subprocess.Popen(_driver(tmp_path, small_data, fast_config, "race", same_second),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    runs = [f"{FIXED_STAMP}-race", f"{FIXED_STAMP}-race-2"]
    assert sorted(out.split("model:", 1)[1].split()[0].rsplit("/", 1)[1] for out, _ in outs) == runs
    latest = os.readlink(tmp_path / "models" / "latest")
    assert latest in runs
    _assert_only(tmp_path, runs, latest)


def test_same_folder_for_models_and_runs_is_one_line_before_training(tmp_path, small_data, fast_config,
                                                                      capsys):
    same = str(tmp_path / "out")
    argv = ["--config", str(fast_config), "--data-dir", str(small_data), "--models-dir", same,
            "--runs-dir", same, "--no-report", "--jobs", "1"]
    assert train.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "same folder" in err
    assert list((tmp_path / "out").iterdir()) == []  # nothing trained or reserved


def test_console_headline_rounds_once_like_the_report():
    m = {"macro_f1": 0.57749, "accuracy": 0.65349}
    results = {"cv": {"topic": {"model": m}}, "eval_set": {"tasks": {"topic": {"model": m}}}}
    line = format_headline(results).splitlines()[1]
    numbers = [x for x in line.split() if x[0].isdigit()]
    assert numbers == ["0.577", "0.653", "0.577", "0.653"]  # not 0.578 via 0.5775


def test_run_record_names_the_commit_of_this_checkout(repo_dir):
    import shutil
    import subprocess

    from kwct_ml.training.record import git_commit

    if shutil.which("git") is None or not (repo_dir / ".git").exists():
        pytest.skip("not a git checkout")
    head = subprocess.run(["git", "-C", str(repo_dir), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert git_commit()["commit"] == head
