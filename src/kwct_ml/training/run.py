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
import resource
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from kwct_ml import errors
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
from kwct_ml.pipeline.model import build_word_baseline
from kwct_ml.reporting.card import model_card
from kwct_ml.reporting.evaluation import evaluate_frame, file_identity
from kwct_ml.reporting.headline import headline
from kwct_ml.schema import TASKS, labels_for
from kwct_ml.training.cv import CVPlan, cv_name, evaluate_external, main_folds
from kwct_ml.training.fit import fit_model, fit_pipelines, split_corpus
from kwct_ml.training.learning_curve import learning_curve
from kwct_ml.training.pool import ordered_map, timed_call
from kwct_ml.training.record import run_record

DEFAULT_RUNS_DIR = Path("experiments") / "runs"
RUN_RECORD = "run.json"


def _progress(desc: str, total: int):
    """A bar on a terminal; in a log (no terminal), one line naming the stage that starts."""
    bar = tqdm(total=total, desc=desc, unit="fit", file=sys.stderr, leave=False,
               disable=not sys.stderr.isatty())
    if bar.disable:
        _say(f"{desc}: {total} fits")
    return bar


def _say(message: str) -> None:
    print(f"kwct_ml.train: {message}", file=sys.stderr, flush=True)


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its workers that have ended."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


@contextlib.contextmanager
def _stage(timing: dict, name: str):
    """Record a stage's wall seconds and CPU seconds (its workers' included: the pool has ended them)
    as ``timing[name + "_seconds"]`` and ``timing[name + "_cpu_seconds"]``."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    yield
    timing[f"{name}_seconds"] = time.perf_counter() - wall
    timing[f"{name}_cpu_seconds"] = _cpu_seconds() - cpu


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


def _label_counts(evaluated) -> dict:
    return {task: {label: int(n) for label, n in evaluated[task].value_counts().reindex(
        labels_for(task), fill_value=0).items()} for task in TASKS}


def train(config: TrainConfig, data_dir: str | Path = DEFAULT_DATA_DIR, eval_set: str | Path | None = None,
          models_dir: str | Path = DEFAULT_MODELS_DIR, runs_dir: str | Path = DEFAULT_RUNS_DIR,
          report: bool = True, jobs: int = 1, command: str = "python -m kwct_ml.train") -> dict:
    """The whole run; returns the results dict (also saved as metrics.json) with paths added."""

    data_dir, models_dir, runs_dir = Path(data_dir), Path(models_dir), Path(runs_dir)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
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
    folds = main_folds(evaluated, config)
    own = sorted(evaluated.loc[~evaluated["source"].str.startswith("standoff:"), "doc_id"].unique())
    plans = {"cv": CVPlan(corpus, config, folds=folds)}
    if cv_name(folds) != "LOAO" and len(own) >= 2:  # the project's own articles, one at a time
        plans["loao"] = CVPlan(corpus, config, folds=[[doc] for doc in own])
    # Every fit of the run that needs no other's result, in one pool: the largest first (the final
    # model, then the model's folds, then the baselines'), so no core idles while one ends the stage.
    calls: list[tuple[str, int, tuple]] = [("final_fit", 0, (fit_model, corpus, config))]
    for heavy in (True, False):
        for name, plan in plans.items():
            calls += [(name, i, call) for i, call in enumerate(plan.calls()) if ("model" in call[5]) == heavy]
    if external is not None:
        calls.append(("eval_baseline", 0, (fit_pipelines, build_word_baseline, config,
                                           pd.concat([evaluated, extra], ignore_index=True), tuple(TASKS))))
    stages = {"cv": "CV folds", "loao": "LOAO folds", "final_fit": "final model",
              "eval_baseline": "eval-set baseline"}
    with _stage(timing, "fits"):
        names = {name for name, _, _ in calls}
        bar = _progress(" + ".join(label for name, label in stages.items() if name in names), len(calls))
        done = ordered_map(timed_call, [call for *_, call in calls], jobs, functools.partial(bar.update, 1))
        bar.close()
    results: dict[str, dict[int, object]] = {}
    for (name, i, _), (result, cpu) in zip(calls, done, strict=True):
        results.setdefault(name, {})[i] = result
        timing[f"{name}_cpu_seconds"] = timing.get(f"{name}_cpu_seconds", 0.0) + cpu
    ordered = {name: [results[name][i] for i in range(len(plan.jobs))] for name, plan in plans.items()}
    cv, predictions = plans["cv"].finish(ordered["cv"])
    model = results["final_fit"][0]
    loao_seed, seed_predictions = None, predictions[predictions["doc_id"].isin(own)]
    if "loao" in plans:
        loao_seed, seed_predictions = plans["loao"].finish(ordered["loao"])
    curve = None
    if config.learning_curve:
        with _stage(timing, "learning_curve"):
            curve = learning_curve(corpus, config, progress=functools.partial(_progress, "learning curve"),
                                   n_jobs=jobs)
    label_counts = _label_counts(evaluated)
    training_counts = _label_counts(pd.concat([evaluated, extra], ignore_index=True))  # majority baseline
    external_result = review = None
    if external is not None:
        with _stage(timing, "eval_set"):
            # the sentence-level view of the eval set, scored as `python -m kwct_ml.evaluate` scores it
            review = evaluate_frame(model, {"data": {"training_label_counts": training_counts}}, external,
                                    identity, seed=config.seed)
            predictions_of = {task: (review[1][f"{task}_pred"].tolist(), review[1][f"{task}_conf"].to_numpy())
                              for task in TASKS}  # the model predicts the set once, for both views
            external_result = {**identity, **evaluate_external(corpus, external, config, model,
                                                               model_predictions=predictions_of,
                                                               baseline=results["eval_baseline"][0])}
    timing["total_seconds"] = time.perf_counter() - started
    timing["total_cpu_seconds"] = _cpu_seconds() - cpu_started

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

            with _stage(timing, "report"):
                build_report(results, predictions, model, run_tmp, seed_predictions=seed_predictions,
                             eval_predictions=review[1] if review else None)
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
        with errors.signals_deferred():
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
