"""``python -m kwct_ml.report``: list training runs, or compare two of them.

    python -m kwct_ml.report runs [--csv FILE|-]
    python -m kwct_ml.report compare RUN_A RUN_B [--eval-set FILE] [--out DIR]

``runs``: every run in experiments/runs, newest first: date, config differences from
experiments/default.toml, label-data fingerprint, CV and eval-set macro-F1 of the model.
``compare``: config differences, the paired article-bootstrap interval of each task's macro-F1
difference (B - A), per-class F1 deltas and the sentences whose label flipped; scored on the runs'
saved LOAO predictions, or with --eval-set on one labelled file by both saved models. Writes
compare.json, report.md and report.html into --out (default out/compare/A-vs-B).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
from pathlib import Path

from kwct_ml import errors
from kwct_ml.config import load_config
from kwct_ml.errors import ConfigError
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.reporting.compare import build_compare_page, compare_runs, verdict
from kwct_ml.reporting.runs import format_runs, runs_table
from kwct_ml.training.bootstrap import DRAWS, SEED
from kwct_ml.training.run import DEFAULT_RUNS_DIR

PROG = "kwct_ml.report"
DEFAULT_CONFIG = Path("experiments") / "default.toml"


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kwct_ml.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR),
                        help="run folders (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    runs = sub.add_parser("runs", help="every run as one table, newest first")
    runs.add_argument("--csv", metavar="FILE", help="write the table as CSV (- = stdout)")
    runs.add_argument("--default", default=str(DEFAULT_CONFIG),
                      help="config the differences are taken from (default: %(default)s)")
    compare = sub.add_parser("compare", help="is run B really better than run A?")
    compare.add_argument("run_a", metavar="RUN_A", help="run folder or run id")
    compare.add_argument("run_b", metavar="RUN_B", help="run folder or run id")
    compare.add_argument("--eval-set", help="score both saved models on this labelled file")
    compare.add_argument("--out", help="output folder (default: out/compare/RUN_A-vs-RUN_B)")
    compare.add_argument("--draws", type=int, default=DRAWS, help="bootstrap draws (default: %(default)s)")
    compare.add_argument("--seed", type=int, default=SEED, help="bootstrap seed (default: %(default)s)")
    return parser


def _reference(path: str) -> dict:
    """The default config's settings; the built-in defaults when the file is absent."""
    return load_config(path if Path(path).is_file() else None).to_dict()


@errors.cli
def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else list(argv)
    args = _build_parser().parse_args(raw)
    if args.command == "runs":
        frame, problems = runs_table(args.runs_dir, _reference(args.default))
        for problem in problems:
            print(errors.one_line(f"{PROG}: skipped {problem}"), file=sys.stderr)
        if args.csv == "-":
            sys.stdout.write(frame.to_csv(index=False))
        elif args.csv:
            atomic_write_text(args.csv, frame.to_csv(index=False))
            print(f"{len(frame)} runs -> {args.csv}")
        else:
            print(format_runs(frame))
        return 0
    if args.draws < 1:
        raise ConfigError(f"--draws: must be >= 1, got {args.draws}")
    comparison, pairs = compare_runs(args.run_a, args.run_b, args.runs_dir, args.eval_set,
                                     args.draws, args.seed)
    comparison = {"created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                  "command": "python -m kwct_ml.report " + shlex.join(raw), **comparison}
    out = Path(args.out or Path("out") / "compare" / f"{comparison['a']['run']}-vs-{comparison['b']['run']}")
    atomic_write_text(out / "compare.json", json.dumps(comparison, ensure_ascii=False, indent=2) + "\n")
    page = build_compare_page(comparison, pairs, out)
    for task, d in comparison["tasks"].items():
        print(f"{task}: A {d['a']:.3f}, B {d['b']:.3f}, B - A {d['difference']:+.3f}; {verdict(d)}; "
              f"{d['right_to_wrong']} right->wrong, {d['wrong_to_right']} wrong->right")
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
