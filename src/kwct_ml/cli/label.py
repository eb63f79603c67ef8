"""Labelling workflow: prepare a sheet with model suggestions, merge it, measure agreement.

``python -m kwct_ml.label prepare ARTICLES... --out SHEET.csv`` segments new articles and
writes a spreadsheet (UTF-8 with BOM) with the model's suggestions; the annotator fills the
``topic`` and ``stance`` columns; ``merge SHEET.csv`` checks the whole sheet and only then adds the
articles to ``data/raw/`` and the sentences to ``data/labels/sentences.csv``; ``agreement A B``
compares two annotators; ``status`` counts what is labelled and estimates what 5 more articles
would add. See docs/labelling.md.
"""

from __future__ import annotations

import argparse
import os
import sys

from kwct_ml import errors
from kwct_ml.corpus import dataset
from kwct_ml.corpus.dataset import AUTHORED, DEFAULT_DATA_DIR
from kwct_ml.corpus.summary import corpus_counts
from kwct_ml.errors import ConfigError, KwctError
from kwct_ml.io.discover import display_name
from kwct_ml.io.transaction import folder_lock
from kwct_ml.labelling import status as label_status
from kwct_ml.labelling.agreement import agreement, format_agreement
from kwct_ml.labelling.merge import MergeError, merge_sheet
from kwct_ml.labelling.sheet import ORDER_RULE, collect_articles, drop_merged, sheet_rows, write_sheet


def _load_model(path: str | None):
    """(model, description) or (None, reason) when no model is available and none was asked for."""
    try:
        from kwct_ml.bundle.store import load_model
    except ImportError:
        if path is not None:
            raise ConfigError("this install cannot load models (kwct_ml.bundle.store is missing)") from None
        return None, "model loading is not available in this install"
    try:
        model, manifest = load_model(path)
    except KwctError as exc:
        if path is not None:
            raise
        return None, str(exc)
    return model, errors.one_line(str(manifest.get("name") or manifest.get("run") or path or "models/latest"))


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kwct_ml.label", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    data_help = "folder holding raw/ and labels/ (default: %(default)s)"

    prep = sub.add_parser("prepare", help="segment new articles into a sheet with model suggestions",
                          description="Segment new articles and write a labelling sheet. " + ORDER_RULE + ".")
    prep.add_argument("articles", nargs="+", help=".txt files or folders of them (doc_id = file name stem)")
    prep.add_argument("--out", required=True, help="sheet to write (CSV, UTF-8 with BOM); - for stdout")
    prep.add_argument("--model", help="model folder (default: models/latest if it exists)")
    prep.add_argument("--prefill", action="store_true", help="fill topic/stance with the suggestions")
    prep.add_argument("--encoding", help="encoding of the articles (default: detect UTF-8/UTF-16/cp1256)")
    prep.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                      help="corpus to check for articles already merged, which are skipped "
                      "(default: %(default)s)")

    merge = sub.add_parser("merge", help="check a filled sheet and add it to the corpus (all or nothing)")
    merge.add_argument("sheet", help="the filled sheet (CSV from prepare; - for stdin)")
    merge.add_argument("--annotator", help="who labelled it (default: your login name)")
    merge.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help=data_help)

    agree = sub.add_parser("agreement", help="agreement between two annotators' sheets")
    agree.add_argument("sheet_a")
    agree.add_argument("sheet_b")

    status = sub.add_parser("status", help="what is labelled, and what 5 more articles would add")
    status.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help=data_help)
    status.add_argument("--no-curve", action="store_true", help="skip the learning-curve estimate")
    status.add_argument("--config", help="training config TOML for the curve (default: the built-in "
                        "defaults, same as experiments/default.toml)")
    status.add_argument("--model", help="model folder whose training run's curve may be reused when it "
                        "was trained on the current labels (default: models/latest)")
    status.add_argument("--fresh", action="store_true", help="measure the curve even if a run has it")
    status.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the curve fits (default: %(default)s)")
    return parser


def _prepare(args) -> int:
    articles = drop_merged(collect_articles(args.articles, args.encoding), args.data_dir)
    if args.out != "-":
        if os.path.isdir(args.out):
            raise ConfigError(f"--out {args.out} is a folder; give a file name inside it")
        if os.path.realpath(args.out) in {os.path.realpath(a.path) for a in articles}:
            raise ConfigError(f"--out {args.out} is also an article and would be overwritten; "
                              "write the sheet to another file")
    model, about = _load_model(args.model)
    if model is None:
        print(f"no model, so the sheet has no suggestions and keeps article order ({about})", file=sys.stderr)
    rows = sheet_rows(articles, model, args.prefill)
    write_sheet(rows, args.out)
    if args.out != "-":
        docs = len({r["doc_id"] for r in rows})
        out = errors.one_line(display_name(args.out))  # a name in another encoding is shown as \xNN
        print(f"wrote {out}: {len(rows)} sentences from {docs} article(s)"
              + (f", suggestions from {about}" if model is not None else ""))
        print("fill the topic and stance columns (labels: docs/annotation.md), then: "
              f"python -m kwct_ml.label merge {out} --annotator NAME")
    return 0


def _merge(args) -> int:
    try:
        result = merge_sheet(args.sheet, args.data_dir, args.annotator)
    except MergeError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise
    print(f"merged {len(result.articles)} article(s), {result.sentences} sentences into {args.data_dir}: "
          + ", ".join(result.articles))
    if result.earlier_problems:
        print(f"note: the corpus already had {result.earlier_problems} problem(s) before this merge "
              "(python -m kwct_ml.dataset check)", file=sys.stderr)
    print("retrain to use them: python -m kwct_ml.train")
    return 0


def _status(args) -> int:
    if args.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    with folder_lock(args.data_dir, shared=True):
        frame = dataset.load_corpus(args.data_dir)
    print(corpus_counts(frame))
    if args.no_curve:
        return 0
    print("")
    n = frame.loc[frame["source"] != AUTHORED, "doc_id"].nunique()
    if n < 3:
        print(f"Learning curve: needs at least 3 labelled articles (have {n}).")
        return 0
    try:
        cached = None if args.config or args.fresh else label_status.cached_points(args.data_dir, args.model)
        if cached is not None:
            run, current, curves = cached
            print(f"(curve measured by training run {run}, on exactly these label files)")
        else:
            from kwct_ml.config import load_config

            print("(measuring the curve: leave-one-article-out with k = 1..n-1 training articles; "
                  "this refits the model many times)", file=sys.stderr)
            config = load_config(args.config) if args.config else None
            current, curves = label_status.learning_points(frame, config, args.jobs)
    except ImportError as exc:
        print(f"Learning curve: not available in this install ({exc}).")
        return 0
    print(label_status.format_estimates(label_status.estimate_gain(current, curves)))
    return 0


@errors.cli
def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    if args.command == "prepare":
        return _prepare(args)
    if args.command == "merge":
        return _merge(args)
    if args.command == "agreement":
        print(format_agreement(agreement(args.sheet_a, args.sheet_b), args.sheet_a, args.sheet_b))
        return 0
    return _status(args)


if __name__ == "__main__":
    sys.exit(main())
