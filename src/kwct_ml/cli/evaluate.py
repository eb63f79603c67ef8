"""``python -m kwct_ml.evaluate``: score a saved model on labelled files, without retraining.

    python -m kwct_ml.evaluate --model models/latest ../shared/data/devset/sentences.tsv --report out/eval

Labelled files: the eval-set TSV (doc, idx, text, topic, stance) or a label CSV of the project
(doc_id, text, topic, stance, ...). Per file and task: macro-F1 and accuracy with article-bootstrap
95% intervals, the majority baseline, per-class scores, confusion, calibration, misclassified
sentences. Without --report a table is printed; with it, metrics.json, predictions.csv,
report.md and report.html (self-contained) are written into DIR. A file that cannot be read is
skipped and named; exit 2 then, 0 when every file was scored.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
from pathlib import Path

import pandas as pd

from kwct_ml import errors
from kwct_ml.bundle.store import DEFAULT_MODELS_DIR, load_model
from kwct_ml.errors import ConfigError, DataError
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.reporting.evaluation import evaluate_file, resolve_model_dir
from kwct_ml.training.bootstrap import DRAWS, SEED

PROG = "kwct_ml.evaluate"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kwct_ml.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", metavar="LABELLED_FILE", help="eval-set TSV or label CSV")
    parser.add_argument("--model", help="model folder, run folder or run id (default: models/latest)")
    parser.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR),
                        help="where run ids are looked up (default: %(default)s)")
    parser.add_argument("--report", metavar="DIR",
                        help="write metrics.json, predictions.csv, report.md/html here")
    parser.add_argument("--draws", type=int, default=DRAWS, help="bootstrap draws (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="bootstrap seed (default: %(default)s)")
    return parser


def format_scores(evaluation: dict) -> str:
    """The console table: per file and task, model and majority macro-F1/accuracy with intervals."""
    lines = []
    for result in evaluation["sets"]:
        lines.append(f"{result['path']} ({result['n']} sentences, {result['n_docs']} articles, "
                     f"sha256 {result['sha256'][:12]})")
        lines.append(f"  {'task':<7} {'system':<28} {'macro-F1 [95% CI]':<24} accuracy [95% CI]")
        for task, systems in result["tasks"].items():
            for system, s in systems.items():
                name = system if system == "model" else f"majority ({s['label']})"
                f1 = f"{s['macro_f1']:.3f} [{s['macro_f1_ci'][0]:.3f}, {s['macro_f1_ci'][1]:.3f}]"
                acc = f"{s['accuracy']:.3f} [{s['accuracy_ci'][0]:.3f}, {s['accuracy_ci'][1]:.3f}]"
                lines.append(f"  {task:<7} {name:<28} {f1:<24} {acc}")
    return "\n".join(lines)


@errors.cli
def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else list(argv)
    args = _build_parser().parse_args(raw)
    if args.draws < 1:
        raise ConfigError(f"--draws: must be >= 1, got {args.draws}")
    folder = resolve_model_dir(args.model, args.models_dir)
    model, manifest = load_model(folder)
    sets, frames, skipped = [], [], 0
    for path in args.files:
        try:
            result, predictions = evaluate_file(model, manifest, path, args.draws, args.seed)
        except DataError as exc:
            print(errors.one_line(f"{PROG}: skipped {path}: {exc}"), file=sys.stderr)
            skipped += 1
            continue
        sets.append(result)
        frames.append(predictions.assign(file=path))
    if not sets:
        raise DataError("no labelled file could be scored", fix="see the messages above")
    evaluation = {
        "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m kwct_ml.evaluate " + shlex.join(raw),
        "model": {"dir": str(folder), "run": manifest.get("run", folder.name), "sha256": manifest["sha256"],
                  "created": manifest.get("created")},
        "sets": sets,
    }
    print(format_scores(evaluation))
    if args.report:
        from kwct_ml.reporting.evaluation_page import build_evaluation_report

        out = Path(args.report)
        atomic_write_text(out / "metrics.json", json.dumps(evaluation, ensure_ascii=False, indent=2) + "\n")
        table = pd.concat(frames, ignore_index=True)
        atomic_write_text(out / "predictions.csv", table.to_csv(index=False))
        page = build_evaluation_report(evaluation, frames, out)
        print(f"report: {page}")
    if skipped:
        print(f"{PROG}: {skipped} file(s) skipped", file=sys.stderr)
    return 2 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
