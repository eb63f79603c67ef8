"""``python -m kwct_ml.train``: evaluate by leave-one-article-out, train on everything, save, report.

Writes ``models/<run>/`` (model.joblib, manifest.json, README.md; ``models/latest`` moves to it)
and ``experiments/runs/<run>/`` (config.toml, metrics.json, predictions.csv, report.md/html).
Both folders are built under temporary ``.tmp-`` names and renamed when complete, and ``latest``
moves last; Ctrl-C or SIGTERM at any point leaves the previous ``models/latest`` and no
half-written folder. Concurrent runs get distinct run ids (``<stamp>-<name>-2``, ...).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from kwct_ml import errors
from kwct_ml.bundle.store import DEFAULT_MODELS_DIR
from kwct_ml.config import load_config
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR
from kwct_ml.errors import ConfigError
from kwct_ml.reporting.headline import format_headline
from kwct_ml.training.run import DEFAULT_RUNS_DIR, train


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kwct_ml.train",
                                     description=__doc__.replace("``", ""),
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
