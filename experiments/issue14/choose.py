"""Issue 14 selection: score each candidate config by 5-fold article-grouped CV, apply RULE.md.

    python experiments/issue14/choose.py [--jobs 2] [--dev ../shared/data/devset/sentences.tsv]

Each candidate (experiments/issue14/candidates/*.toml, overrides of experiments/default.toml) is
cross-validated on the same folds over every real labelled article (seed + data/labels/ant.csv),
authored sentences in every training fold. One JSON record per candidate goes to
experiments/issue14/records/ (resolved config, command, commit, label-file hashes, metrics), and the
table experiments/issue14/results.md is generated from the records. ``--dev`` also trains each
candidate on all data and scores the dev set: reported in the table, never used by the rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kwct_ml.config import TrainConfig, load_config
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, load_corpus, load_eval_set
from kwct_ml.corpus.fingerprint import label_file_hashes
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.schema import TASKS
from kwct_ml.training.cv import cross_validate, evaluate_external, main_folds
from kwct_ml.training.fit import fit_model, split_corpus
from kwct_ml.training.record import git_commit

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MARGIN, DROP, TIE = 0.010, 0.010, 0.002


def _mean(m: dict) -> float:
    return (m["topic"] + m["stance"]) / 2


def score_candidate(config: TrainConfig, corpus, folds, jobs: int, dev) -> dict:
    cv, _ = cross_validate(corpus, config, n_jobs=jobs, folds=folds, systems=("model",))
    out = {"cv": {t: {"macro_f1": cv[t]["model"]["macro_f1"], "interval": cv[t]["model"]["interval"]}
                  for t in TASKS}}
    if dev is not None:
        ext = evaluate_external(corpus, dev, config, fit_model(corpus, config))
        out["dev"] = {t: {"macro_f1": ext["tasks"][t]["model"]["macro_f1"],
                          "interval": ext["tasks"][t]["model"]["interval"]} for t in TASKS}
    return out


def apply_rule(records: dict[str, dict]) -> tuple[str, list[str]]:
    """RULE.md: the default stays unless a candidate beats its CV mean by MARGIN, no task down > DROP."""
    base = {t: records["01-default"]["metrics"]["cv"][t]["macro_f1"] for t in TASKS}
    passing = []
    for name, rec in records.items():
        m = {t: rec["metrics"]["cv"][t]["macro_f1"] for t in TASKS}
        if name != "01-default" and _mean(m) >= _mean(base) + MARGIN and all(
                m[t] >= base[t] - DROP for t in TASKS):
            passing.append(name)
    if not passing:
        return "01-default", passing
    best = max(_mean({t: records[n]["metrics"]["cv"][t]["macro_f1"] for t in TASKS}) for n in passing)
    winner = next(n for n in sorted(passing) if _mean(
        {t: records[n]["metrics"]["cv"][t]["macro_f1"] for t in TASKS}) >= best - TIE)
    return winner, passing


def table(records: dict[str, dict], winner: str, passing: list[str]) -> str:
    rows = ["| candidate | CV topic [95%] | CV stance [95%] | CV mean | dev topic [95%] | dev stance [95%] |",
            "|---|---|---|---|---|---|"]
    for name, rec in sorted(records.items()):
        m = rec["metrics"]

        def cell(part: str, task: str, m=m) -> str:
            if part not in m:
                return "-"
            x = m[part][task]
            return f"{x['macro_f1']:.3f} [{x['interval']['low']:.3f}-{x['interval']['high']:.3f}]"
        mean = _mean({t: m["cv"][t]["macro_f1"] for t in TASKS})
        mark = " **chosen**" if name == winner else " (passes)" if name in passing else ""
        rows.append(f"| {name}{mark} | {cell('cv', 'topic')} | {cell('cv', 'stance')} | {mean:.3f} | "
                    f"{cell('dev', 'topic')} | {cell('dev', 'stance')} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dev", help="dev set TSV: reported beside the CV, never used to choose")
    parser.add_argument("--only", nargs="*", help="candidate names to (re)score (default: all)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    default = load_config(REPO / "experiments" / "default.toml")
    corpus = load_corpus(REPO / DEFAULT_DATA_DIR, corpora=default.corpora(REPO))
    if corpus.attrs.get("standoff", {}).get("missing"):
        sys.exit(f"standoff rows missing ({corpus.attrs['standoff']['summary']}): the selection needs ANT")
    evaluated, _ = split_corpus(corpus)
    folds = main_folds(evaluated, default)  # the same folds for every candidate (seed 13)
    dev = load_eval_set(args.dev) if args.dev else None
    (HERE / "records").mkdir(exist_ok=True)
    command = "python experiments/issue14/choose.py " + " ".join(sys.argv[1:] if argv is None else argv)
    for path in sorted((HERE / "candidates").glob("*.toml")):
        if args.only and path.stem not in args.only:
            continue
        config = load_config(path)
        metrics = score_candidate(config, corpus, folds, args.jobs, dev)
        record = {"name": path.stem, "config_file": str(path.relative_to(REPO)), "config": config.to_dict(),
                  "command": command, "commit": git_commit(),
                  "label_files": label_file_hashes(REPO / "data", True, True), "metrics": metrics}
        atomic_write_text(HERE / "records" / f"{path.stem}.json", json.dumps(record, indent=1) + "\n")
        print(path.stem, {t: round(metrics["cv"][t]["macro_f1"], 3) for t in TASKS}, flush=True)
    records = {p.stem: json.loads(p.read_text()) for p in sorted((HERE / "records").glob("*.json"))}
    winner, passing = apply_rule(records)
    atomic_write_text(HERE / "results.md", "# Issue 14 selection (generated by choose.py from records/)\n\n"
                      f"Command: `{command}`\n\nRule: RULE.md. Chosen: **{winner}**.\n\n"
                      + table(records, winner, passing))
    print(f"chosen by the rule: {winner} (passing: {', '.join(passing) or 'none'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
