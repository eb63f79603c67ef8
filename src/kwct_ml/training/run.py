"""A training run: evaluate by leave-one-article-out, train on everything, save model and run folder.

Writes ``models/<run>/`` (model.joblib, manifest.json, README.md; ``models/latest`` moves to it)
and ``experiments/runs/<run>/`` (config.toml, metrics.json, run.json, predictions.csv,
report.md/html). Both folders are built under temporary ``.tmp-`` names and renamed when
complete, and ``latest`` moves last; Ctrl-C or SIGTERM at any point leaves the previous
``models/latest`` and no half-written folder. Concurrent runs get distinct run ids
(``<stamp>-<name>-2``, ...).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from kwct_ml.bundle.manifest import eval_set_entry
from kwct_ml.bundle.store import (
    DEFAULT_MODELS_DIR,
    LATEST,
    TMP_PREFIX,
    discard,
    point_latest,
    save_model,
)
from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, load_corpus, load_eval_set
from kwct_ml.corpus.fingerprint import label_file_hashes
from kwct_ml.errors import ConfigError, ModelError
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.io.transaction import folder_lock
from kwct_ml.reporting.card import model_card
from kwct_ml.reporting.evaluation import evaluate_frame, file_identity
from kwct_ml.reporting.headline import headline
from kwct_ml.schema import TASKS, labels_for
from kwct_ml.training.cv import cross_validate, cv_name, evaluate_external, main_folds
from kwct_ml.training.fit import fit_model, split_corpus
from kwct_ml.training.learning_curve import learning_curve
from kwct_ml.training.record import run_record

DEFAULT_RUNS_DIR = Path("experiments") / "runs"
RUN_RECORD = "run.json"


def _progress(desc: str, total: int):
    return tqdm(total=total, desc=desc, unit="fit", file=sys.stderr, leave=False,
                disable=not sys.stderr.isatty())


def _say(message: str) -> None:
    print(f"kwct_ml.train: {message}", file=sys.stderr, flush=True)


def _reserve_run(name: str, models_dir: Path, runs_dir: Path, stamp: str | None = None) -> tuple[str, Path]:
    """A run id no other run has, and its temp run folder, created exclusively to claim the id.

    Two runs started in the same second with the same name get ``<stamp>-<name>`` and
    ``<stamp>-<name>-2``: ``mkdir`` of ``runs_dir/.tmp-<id>`` succeeds for one process only.
    """
    stamp = stamp or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    runs_dir.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        run_id = f"{stamp}-{name}" + (f"-{n}" if n > 1 else "")
        tmp = runs_dir / f"{TMP_PREFIX}{run_id}"
        try:
            tmp.mkdir()
        except FileExistsError:  # another run holds it (or a killed run left it)
            continue
        if (models_dir / run_id).exists() or (runs_dir / run_id).exists():  # finished before us
            tmp.rmdir()
            continue
        return run_id, tmp
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM while the run is committed (two renames); they take effect right after.

    Python-level handlers, not a thread signal mask: the kernel may deliver a signal to any
    thread (BLAS threads too), and Python runs the handler in the main thread regardless.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum, frame):
        caught.append(signum)

    old = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)  # now the usual handler runs (KeyboardInterrupt in the CLI)


def _label_counts(evaluated) -> dict:
    return {task: {label: int(n) for label, n in evaluated[task].value_counts().reindex(
        labels_for(task), fill_value=0).items()} for task in TASKS}


def train(config: TrainConfig, data_dir: str | Path = DEFAULT_DATA_DIR, eval_set: str | Path | None = None,
          models_dir: str | Path = DEFAULT_MODELS_DIR, runs_dir: str | Path = DEFAULT_RUNS_DIR,
          report: bool = True, jobs: int = 1, command: str = "python -m kwct_ml.train") -> dict:
    """The whole run; returns the results dict (also saved as metrics.json) with paths added."""

    data_dir, models_dir, runs_dir = Path(data_dir), Path(models_dir), Path(runs_dir)
    started = time.perf_counter()
    corpora = config.corpora(data_dir.resolve().parent) if config.use_standoff else None
    with folder_lock(data_dir, shared=True):  # no merge in between: the hashes are of what is trained on
        corpus = load_corpus(data_dir, corpora=corpora)
        label_files = label_file_hashes(data_dir, config.include_authored, config.use_standoff)
    standoff = corpus.attrs.get("standoff")
    for folder, option in ((models_dir, "--models-dir"), (runs_dir, "--runs-dir")):
        try:  # before the slow part, so a bad path does not waste the training time
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{option} {folder}: cannot use it as a folder ({exc.strerror})") from None
    if models_dir.resolve() == runs_dir.resolve():
        raise ConfigError(f"--models-dir and --runs-dir are the same folder ({models_dir}); "
                          "give them different folders")
    external = load_eval_set(eval_set) if eval_set else None
    identity = file_identity(eval_set) if eval_set else None  # of the bytes just read
    evaluated, extra = split_corpus(corpus, config.include_authored)
    _say(f"{len(evaluated)} sentences in {evaluated['doc_id'].nunique()} articles"
         + (f" + {len(extra)} authored (training only)" if len(extra) else ""))
    if standoff and standoff["missing"]:
        _say(f"standoff labels not used: {standoff['summary']}; training on what resolves")

    timing: dict = {"jobs": jobs}
    t = time.perf_counter()
    folds = main_folds(evaluated, config)
    cv, predictions = cross_validate(corpus, config, progress=functools.partial(_progress, "CV folds"),
                                     n_jobs=jobs, folds=folds)
    timing["cv_seconds"] = time.perf_counter() - t
    own = sorted(evaluated.loc[~evaluated["source"].str.startswith("standoff:"), "doc_id"].unique())
    loao_seed, seed_predictions = None, predictions[predictions["doc_id"].isin(own)]
    if cv_name(folds) != "LOAO" and len(own) >= 2:  # the project's own articles, one at a time
        t = time.perf_counter()
        loao_seed, seed_predictions = cross_validate(
            corpus, config, progress=functools.partial(_progress, "LOAO folds"), n_jobs=jobs,
            folds=[[doc] for doc in own])
        timing["loao_seconds"] = time.perf_counter() - t
    curve = None
    if config.learning_curve:
        t = time.perf_counter()
        curve = learning_curve(corpus, config, progress=functools.partial(_progress, "learning curve"),
                               n_jobs=jobs)
        timing["learning_curve_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    model = fit_model(corpus, config)
    timing["final_fit_seconds"] = time.perf_counter() - t
    label_counts = _label_counts(evaluated)
    training_counts = _label_counts(pd.concat([evaluated, extra], ignore_index=True))  # majority baseline
    external_result = review = None
    if external is not None:
        external_result = {**identity, **evaluate_external(corpus, external, config, model)}
        # the sentence-level view of the eval set, scored as `python -m kwct_ml.evaluate` scores this model
        review = evaluate_frame(model, {"data": {"training_label_counts": training_counts}}, external,
                                identity, seed=config.seed)
    timing["total_seconds"] = time.perf_counter() - started

    run_id, run_tmp = _reserve_run(config.name, models_dir, runs_dir)
    committed = False
    try:
        results = {
            "run": run_id,
            "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command,
            "selection": config.provenance,  # how the config's values were chosen ([meta])
            "config": config.to_dict(),
            "data": {"data_dir": str(data_dir), "n_evaluated": len(evaluated),
                     "n_articles": int(evaluated["doc_id"].nunique()), "n_authored": len(extra),
                     "n_training": len(evaluated) + len(extra),
                     "label_files": label_files,
                     "standoff": standoff,
                     "label_counts": label_counts, "training_label_counts": training_counts},
            "cv_name": f"{cv_name(folds)} CV",
            "cv": cv,
            "loao_seed": loao_seed,
            "learning_curve": curve,
            "eval_set": external_result,
            "eval_set_review": review[0] if review else None,
            "timing": timing,
            "model_dir": str(models_dir / run_id),
        }
        atomic_write_text(run_tmp / "config.toml", config.to_toml())
        predictions.to_csv(run_tmp / "predictions.csv", index=False)
        if report:
            from kwct_ml.reporting.report import build_report

            t = time.perf_counter()
            build_report(results, predictions, model, run_tmp,
                         eval_predictions=review[1] if review else None, seed_predictions=seed_predictions)
            timing["report_seconds"] = time.perf_counter() - t
        for name, content in (("metrics.json", results), (RUN_RECORD, run_record(results))):
            atomic_write_text(run_tmp / name, json.dumps(content, ensure_ascii=False, indent=2) + "\n")
        manifest = {"config": config.to_dict(), "data": results["data"],
                    "training_sizes": {"sentences": len(evaluated) + len(extra), "evaluated": len(evaluated),
                                       "authored": len(extra),
                                       "articles": int(evaluated["doc_id"].nunique())},
                    "metrics": headline(results), "command": command, "created": results["created"],
                    "eval_sets": [eval_set_entry(identity, external_result["n"], external_result["n_docs"])]
                    if external_result else [],
                    "report": str(runs_dir / run_id)}
        model_dir = save_model(model, run_id, models_dir, manifest=manifest,
                               card=functools.partial(model_card, results=results), update_latest=False)
        with _signals_deferred():
            os.rename(run_tmp, runs_dir / run_id)
            point_latest(models_dir, run_id)
            committed = True
    except BaseException as exc:
        if not committed:  # roll back: the previous models/latest stays, nothing half-written is left
            shutil.rmtree(run_tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                discard(runs_dir / run_id)
                discard(models_dir / run_id)
        if isinstance(exc, OSError) and not committed:  # e.g. disk full: one line, not a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            raise ModelError(f"cannot save run {run_id}: {exc.strerror or exc}{where}; nothing was kept "
                             f"and {models_dir / LATEST} is unchanged") from None
        raise
    results["model_dir"] = str(model_dir)
    results["run_dir"] = str(runs_dir / run_id)
    return results
