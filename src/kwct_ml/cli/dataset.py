"""Load and validate the project corpus: raw articles plus labelled sentences.

``python -m kwct_ml.dataset check`` prints one line per problem (file, line, fix) and a
summary table; it exits 1 when anything is wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kwct_ml import errors
from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, load_standoff, scan
from kwct_ml.corpus.summary import summary_tables
from kwct_ml.io.transaction import folder_lock


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kwct_ml.dataset", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate data/raw and data/labels and print a summary")
    check.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                       help="folder holding raw/ and labels/ (default: %(default)s)")
    return parser


@errors.cli
def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    with folder_lock(args.data_dir, shared=True):  # rolls back a killed merge first
        articles, frame, problems = scan(args.data_dir)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found in {args.data_dir}", file=sys.stderr)
        return 1
    print(summary_tables(articles, frame))
    resolution = load_standoff(args.data_dir, TrainConfig().corpora(Path(args.data_dir).resolve().parent))
    if resolution is not None:
        print("\nStandoff labels (data/labels/ant.csv, resolved against the local corpora):")
        print(resolution.summary())
        for problem in resolution.problems[:10]:
            print(problem, file=sys.stderr)
        if resolution.missing:
            print("training uses the rows that resolve; put the corpus at its configured path "
                  "([data] ant_corpus) to use the rest")
    print(f"\n{args.data_dir}: corpus is valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
