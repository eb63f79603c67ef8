"""``python -m kwct_ml.train``: evaluate by leave-one-article-out, train on everything, save, report.

Writes ``models/<run>/`` (model.joblib, manifest.json, README.md; ``models/latest`` moves to it)
and ``experiments/runs/<run>/`` (config.toml, metrics.json, predictions.csv, report.md/html).
Both folders are built under temporary ``.tmp-`` names and renamed when complete, and ``latest``
moves last; Ctrl-C or SIGTERM at any point leaves the previous ``models/latest`` and no
half-written folder. Concurrent runs get distinct run ids (``<stamp>-<name>-2``, ...).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import itertools
import json
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from tqdm import tqdm

from kwct_ml import errors
from kwct_ml.bundle.store import (
    DEFAULT_MODELS_DIR,
    LATEST,
    TMP_PREFIX,
    discard,
    point_latest,
    save_model,
    sha256_file,
)
from kwct_ml.config import TrainConfig, load_config
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, LABEL_FILES, load_corpus, load_eval_set
from kwct_ml.errors import ConfigError, ModelError
from kwct_ml.io.files import atomic_write_text
from kwct_ml.schema import TASKS, labels_for
from kwct_ml.training.cv import cross_validate, evaluate_external, fit_model, learning_curve, split_corpus

DEFAULT_RUNS_DIR = Path("experiments") / "runs"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kwct_ml.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config",
                        help="TOML config (default: built-in defaults = experiments/default.toml)")
    parser.add_argument("--name", help="run name (default: the config's name)")
    parser.add_argument("--eval-set", help="CSV/TSV with text, topic, stance: scored by the final model")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                        help="corpus folder (default: %(default)s)")
    parser.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR),
                        help="where model folders go (default: %(default)s)")
    parser.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR),
                        help="where run reports go (default: %(default)s)")
    parser.add_argument("--no-report", action="store_true", help="skip report.md/report.html and plots")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the CV folds (default: %(default)s)")
    return parser


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


def _label_files(data_dir: Path, include_authored: bool) -> dict[str, str]:
    out = {}
    for name in LABEL_FILES:
        path = data_dir / "labels" / name
        if path.is_file() and (include_authored or name != "authored.csv"):
            out[f"labels/{name}"] = sha256_file(path)
    return out


def headline(results: dict) -> dict:
    """Compact scores for the manifest and the console: task -> system -> numbers."""
    out: dict = {}
    external = (results.get("eval_set") or {}).get("tasks", {})
    for task, systems in results["cv"].items():
        out[task] = {}
        for system, m in systems.items():
            row = {"loao_macro_f1": round(m["macro_f1"], 4), "loao_accuracy": round(m["accuracy"], 4)}
            if external:
                e = external[task][system]
                row |= {"eval_macro_f1": round(e["macro_f1"], 4), "eval_accuracy": round(e["accuracy"], 4)}
            out[task][system] = row
    return out


def format_headline(results: dict) -> str:
    """The console table: macro-F1 and accuracy with baselines (and eval-set columns when given).

    Formatted from the unrounded scores, so it shows what the report shows (0.57749 -> 0.577).
    """
    external = (results.get("eval_set") or {}).get("tasks", {})
    lines = [f"{'task':<7} {'system':<22} {'LOAO macro-F1':>13} {'LOAO acc':>9}"
             + (f" {'eval macro-F1':>13} {'eval acc':>9}" if external else "")]
    names = {"model": "model", "word_baseline": "word-unigram baseline", "majority": "majority baseline"}
    for task, systems in results["cv"].items():
        for system, m in systems.items():
            line = f"{task:<7} {names[system]:<22} {m['macro_f1']:>13.3f} {m['accuracy']:>9.3f}"
            if external:
                e = external[task][system]
                line += f" {e['macro_f1']:>13.3f} {e['accuracy']:>9.3f}"
            lines.append(line)
    return "\n".join(lines)


def model_card(results: dict, manifest: dict) -> str:
    """README.md of the model folder: what it is, how it was evaluated, its scores."""
    data = results["data"]
    lines = [f"# kwct_ml model `{results['run']}`", "",
             "Tags sentences of Arabic diplomatic news with a topic and a stance (calibrated probabilities).",
             "", "Load: `kwct_ml.bundle.store.load_model(PATH)`; "
             "tag: `python -m kwct_ml.predict --model PATH`.",
             "", "## Training data", "",
             f"- {data['n_evaluated']} labelled sentences from {data['n_articles']} articles"
             + (f" plus {data['n_authored']} authored sentences (training only)"
                if data["n_authored"] else ""),
             *(f"- `{name}` sha256 `{digest}`" for name, digest in data["label_files"].items()),
             "", "## Scores", "", "Made by:", "", f"    {results['command']}", "",
             "LOAO = leave-one-article-out cross-validation on the project corpus"
             + ("; eval = the final model on the eval set" if results.get("eval_set") else "") + ".", "",
             "```", format_headline(results), "```", "",
             results["selection"], "", "## Labels", ""]
    lines += [f"- {task}: {', '.join(labels)}" for task, labels in manifest.get("labels", {}).items()]
    lines += ["", "## Files", "",
              f"- `model.joblib`: sha256 `{manifest['sha256']}` (checked on load; loading runs code: "
              "only load models you trust)",
              "- `manifest.json`: versions, config, data checksums, sizes, metrics",
              "", "## Environment", ""]
    lines += [f"- {k}: {v}" for k, v in manifest.get("versions", {}).items()]
    return "\n".join(lines) + "\n"


def _label_counts(evaluated) -> dict:
    return {task: {label: int(n) for label, n in evaluated[task].value_counts().reindex(
        labels_for(task), fill_value=0).items()} for task in TASKS}


def train(config: TrainConfig, data_dir: str | Path = DEFAULT_DATA_DIR, eval_set: str | Path | None = None,
          models_dir: str | Path = DEFAULT_MODELS_DIR, runs_dir: str | Path = DEFAULT_RUNS_DIR,
          report: bool = True, jobs: int = 1, command: str = "python -m kwct_ml.train") -> dict:
    """The whole run; returns the results dict (also saved as metrics.json) with paths added."""
    data_dir, models_dir, runs_dir = Path(data_dir), Path(models_dir), Path(runs_dir)
    started = time.perf_counter()
    corpus = load_corpus(data_dir)
    for folder, option in ((models_dir, "--models-dir"), (runs_dir, "--runs-dir")):
        try:  # before the slow part, so a bad path does not waste the training time
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{option} {folder}: cannot use it as a folder ({exc.strerror})") from None
    if models_dir.resolve() == runs_dir.resolve():
        raise ConfigError(f"--models-dir and --runs-dir are the same folder ({models_dir}); "
                          "give them different folders")
    external = load_eval_set(eval_set) if eval_set else None
    evaluated, extra = split_corpus(corpus, config.include_authored)
    _say(f"{len(evaluated)} sentences in {evaluated['doc_id'].nunique()} articles"
         + (f" + {len(extra)} authored (training only)" if len(extra) else ""))

    timing: dict = {"jobs": jobs}
    t = time.perf_counter()
    cv, predictions = cross_validate(corpus, config, progress=functools.partial(_progress, "LOAO folds"),
                                     n_jobs=jobs)
    timing["cv_seconds"] = time.perf_counter() - t
    curve = None
    if config.learning_curve:
        t = time.perf_counter()
        curve = learning_curve(corpus, config, progress=functools.partial(_progress, "learning curve"),
                               n_jobs=jobs)
        timing["learning_curve_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    model = fit_model(corpus, config)
    timing["final_fit_seconds"] = time.perf_counter() - t
    external_result = None
    if external is not None:
        external_result = {"path": str(eval_set), **evaluate_external(corpus, external, config, model)}
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
                     "label_files": _label_files(data_dir, config.include_authored),
                     "label_counts": _label_counts(evaluated)},
            "cv": cv,
            "learning_curve": curve,
            "eval_set": external_result,
            "timing": timing,
            "model_dir": str(models_dir / run_id),
        }
        atomic_write_text(run_tmp / "config.toml", config.to_toml())
        predictions.to_csv(run_tmp / "predictions.csv", index=False)
        if report:
            from kwct_ml.reporting.report import build_report

            t = time.perf_counter()
            build_report(results, predictions, model, run_tmp)
            timing["report_seconds"] = time.perf_counter() - t
        atomic_write_text(run_tmp / "metrics.json", json.dumps(results, ensure_ascii=False, indent=2) + "\n")
        manifest = {"config": config.to_dict(), "data": results["data"],
                    "training_sizes": {"sentences": len(evaluated) + len(extra), "evaluated": len(evaluated),
                                       "authored": len(extra),
                                       "articles": int(evaluated["doc_id"].nunique())},
                    "metrics": headline(results), "command": command, "created": results["created"],
                    "report": str(runs_dir / run_id)}
        model_dir = save_model(model, run_id, models_dir, manifest=manifest,
                               card=functools.partial(model_card, results), update_latest=False)
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


@errors.cli
def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else list(argv)
    args = _build_parser().parse_args(raw)
    config = load_config(args.config)
    if args.name:
        try:
            config = config.replace(name=args.name)
        except ConfigError as exc:
            raise ConfigError(f"--name: {exc}") from None
    if args.jobs < 1:
        raise ConfigError(f"--jobs: must be >= 1, got {args.jobs}")
    command = "python -m kwct_ml.train" + (" " + shlex.join(raw) if raw else "")
    with errors.sigterm_as_interrupt():  # a kill rolls the run back like Ctrl-C
        results = train(config, args.data_dir, args.eval_set, args.models_dir, args.runs_dir,
                        report=not args.no_report, jobs=args.jobs, command=command)
    print(format_headline(results))
    print(f"model:  {results['model_dir']}")
    where = Path(results["run_dir"]) / ("report.html" if not args.no_report else "metrics.json")
    print(f"report: {where}")
    print(f"time:   {results['timing']['total_seconds']:.1f} s (train + CV"
          + (" + learning curve" if results["learning_curve"] else "") + f", {args.jobs} process(es))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
