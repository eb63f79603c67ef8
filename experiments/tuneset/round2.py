"""Issue 5, round 2: score candidate configs on the tuning set (selection) and the dev set (report).

Every candidate is trained on the project's data only. Its leave-one-article-out scores, tuning-set
scores and dev-set scores are tabulated; the rule of experiments/generalisation.md ("Round 2")
picks by the tuning set, with LOAO as a guard, and never looks at the dev set.

    python experiments/tuneset/tuneset.py build
    python experiments/tuneset/round2.py --dev ../shared/data/devset/sentences.tsv --jobs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import time
from pathlib import Path

from kwct_ml import errors
from kwct_ml.config import TrainConfig, load_config
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, LABEL_FILES, load_corpus, load_eval_set
from kwct_ml.errors import ConfigError
from kwct_ml.training.cv import cross_validate, evaluate_external
from kwct_ml.training.fit import fit_model
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.bundle.store import sha256_file
from kwct_ml.schema import TASKS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "experiments"))
# round 1's helpers: the same row files, git info, the rule's last steps and markdown sections
from ablation import BEGIN as ROUND1_BEGIN  # noqa: E402
from ablation import MARGIN, TIE, _f, _git, _row_text, pick, write_section  # noqa: E402

BEGIN = "<!-- round2:begin (written by experiments/tuneset/round2.py; do not edit by hand) -->"
END = "<!-- round2:end -->"
#: Rule of generalisation.md, round 2.
LOAO_FLOOR = {"topic": 0.749, "stance": 0.741}  # the default's LOAO when the rule was fixed
LOAO_SLACK = 0.010
DEFAULT_ROW = "reference"
REFERENCE = HERE / "reference.toml"  # the default when round 2 began


def candidates(folders: list[Path]) -> list[tuple[str, str, TrainConfig]]:
    """(id, description, config): the current default first, then each folder's rows."""
    rows = [(DEFAULT_ROW, _row_text(REFERENCE), load_config(REFERENCE))]
    for folder in folders:
        for path in sorted(folder.glob("*.toml")):
            rows.append((path.stem, _row_text(path), load_config(path)))
    return rows


def changes(config: TrainConfig) -> dict:
    base = load_config(REFERENCE).to_dict()
    return {k: v for k, v in config.to_dict().items() if k != "name" and base[k] != v}


def choose(rows: list[dict]) -> tuple[str, list[str]]:
    """(chosen id, eligible ids) by the round-2 rule: tuning-set mean, LOAO guard, margin, tie."""
    default = next(r for r in rows if r["id"] == DEFAULT_ROW)
    eligible = [r for r in rows
                if all(r["loao"][t] >= LOAO_FLOOR[t] - LOAO_SLACK - 1e-12 for t in TASKS)]
    return pick(eligible, default, "tune_mean"), [r["id"] for r in eligible]


def render(summary: dict) -> str:
    lines = [BEGIN, "", "### Round-2 table (generated)", "",
             f"Made by `{summary['command']}` on {summary['created']} at commit `{summary['commit']}`"
             + (" (with uncommitted changes)" if summary["dirty"] else "") + ".", "",
             "Data: " + ", ".join(f"`{n}` sha256 `{d[:12]}`" for n, d in summary["label_files"].items())
             + f". Tuning set: {summary['tune']['n']} sentences in {summary['tune']['n_docs']} articles"
             f" (sha256 `{summary['tune']['sha256'][:12]}`). Dev set: "
             + (f"{summary['dev']['n']} sentences in {summary['dev']['n_docs']} articles "
                f"(sha256 `{summary['dev']['sha256'][:12]}`)." if summary["dev"] else "not given."), "",
             "Macro-F1; `t / s` = topic / stance. Selection: tuning mean (rule above); the dev "
             "columns are reported only. Baselines are those of the chosen row's run.", "",
             "| row | LOAO t / s | tune topic | tune stance | tune mean | dev topic | dev stance "
             "| eligible |",
             "|---|---|---|---|---|---|---|---|"]
    for r in summary["rows"]:
        name = f"**{r['id']}** (chosen)" if r["id"] == summary["chosen"] else r["id"]
        lines.append(f"| {name}: {r['description']} | {_f(r['loao']['topic'])} / {_f(r['loao']['stance'])} "
                     f"| {_f(r['tune']['topic'])} | {_f(r['tune']['stance'])} | {_f(r['tune_mean'])} "
                     f"| {_f(r['dev'].get('topic'))} | {_f(r['dev'].get('stance'))} "
                     f"| {'yes' if r['eligible'] else 'no'} |")
    chosen = next(r for r in summary["rows"] if r["id"] == summary["chosen"])
    lines += ["", "Baselines (chosen row's training data): "
              + "; ".join(f"{t}: majority tune {_f(chosen['baselines'][t]['tune_majority'])}, "
                          f"dev {_f(chosen['baselines'][t].get('dev_majority'))}; word-unigram tune "
                          f"{_f(chosen['baselines'][t]['tune_word'])}, dev "
                          f"{_f(chosen['baselines'][t].get('dev_word'))}" for t in TASKS) + ".", "",
              "Each row alone: `python -m kwct_ml.train --config <row file> --eval-set "
              "experiments/tuneset/sentences.tsv` gives its LOAO and tuning scores (and `--eval-set "
              "../shared/data/devset/sentences.tsv` its dev scores); the default row is "
              "`python -m kwct_ml.train` with no config.", "", END]
    return "\n".join(lines)


@errors.cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments/tuneset/round2.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tune", default=str(HERE / "sentences.tsv"), help="tuning set (selection)")
    parser.add_argument("--dev", help="dev set (reported, never used to choose)")
    parser.add_argument("--rows", nargs="*",
                        default=[str(REPO / "experiments" / "ablation"), str(HERE / "rows")],
                        help="folders of candidate configs")
    parser.add_argument("--only", nargs="*", help="score only these row ids (plus the default)")
    parser.add_argument("--data-dir", nargs="+", default=[str(DEFAULT_DATA_DIR)], metavar="[NAME=]DIR",
                        help="corpus folder(s); every row runs on each; the first one's default row "
                             "is the reference of the rule (default: data)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "experiments" / "generalisation.md"))
    parser.add_argument("--tune-predictions", help="write the default row's tuning-set predictions "
                        "here (for reading its errors; never the dev set's)")
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if not Path(args.tune).is_file():
        raise ConfigError(f"{args.tune}: not found; run python experiments/tuneset/tuneset.py build")
    datasets = []
    for item in args.data_dir:
        name, _, folder = item.rpartition("=")
        datasets.append((name or Path(folder).name, Path(folder), load_corpus(folder)))
    tune = load_eval_set(args.tune)
    dev = load_eval_set(args.dev) if args.dev else None
    rows = []
    plan = [(d, r) for d in datasets for r in candidates([Path(p) for p in args.rows])]
    for (data_name, _, corpus), (row_id, text, config) in plan:
        if args.only and row_id != DEFAULT_ROW and row_id not in args.only:
            continue
        first = data_name == datasets[0][0]
        if not first:
            row_id, text = f"{data_name}:{row_id}", f"{text} [data: {data_name}]"
        started = time.perf_counter()
        cv, _ = cross_validate(corpus, config, n_jobs=args.jobs)
        model = fit_model(corpus, config)
        t_res = evaluate_external(corpus, tune, config, model)["tasks"]
        d_res = evaluate_external(corpus, dev, config, model)["tasks"] if dev is not None else {}
        row = {"id": row_id, "description": text,
               "changes": changes(config) | ({} if first else {"data": data_name}),
               "loao": {t: cv[t]["model"]["macro_f1"] for t in TASKS},
               "tune": {t: t_res[t]["model"]["macro_f1"] for t in TASKS},
               "dev": {t: d_res[t]["model"]["macro_f1"] for t in TASKS} if d_res else {},
               "baselines": {t: {"tune_majority": t_res[t]["majority"]["macro_f1"],
                                 "tune_word": t_res[t]["word_baseline"]["macro_f1"],
                                 **({"dev_majority": d_res[t]["majority"]["macro_f1"],
                                     "dev_word": d_res[t]["word_baseline"]["macro_f1"]} if d_res else {})}
                             for t in TASKS},
               "seconds": time.perf_counter() - started}
        row["tune_mean"] = sum(row["tune"].values()) / len(TASKS)
        rows.append(row)
        print(f"{row_id:<28} LOAO {row['loao']['topic']:.3f} / {row['loao']['stance']:.3f}  "
              f"tune {row['tune']['topic']:.3f} / {row['tune']['stance']:.3f}"
              + (f"  dev {row['dev']['topic']:.3f} / {row['dev']['stance']:.3f}" if d_res else "")
              + f"  ({row['seconds']:.0f} s)", file=sys.stderr, flush=True)
        if args.tune_predictions and row_id in (DEFAULT_ROW, f"{datasets[-1][0]}:{DEFAULT_ROW}"):
            out = tune.copy()
            for task in TASKS:
                out[f"{task}_pred"], out[f"{task}_conf"] = model.predict(task, tune["text"].tolist(),
                                                                         tune["doc_id"].tolist())
            out.to_csv(args.tune_predictions, sep="\t", index=False)
    chosen, eligible = choose(rows)
    for row in rows:
        row["eligible"] = row["id"] in eligible
    raw = sys.argv[1:] if argv is None else list(argv)
    summary = {
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "experiments/tuneset/round2.py", *raw]),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--", "src", "data", "experiments/ablation",
                           "experiments/tuneset")),
        "label_files": {f"{name}/labels/{n}": sha256_file(folder / "labels" / n)
                        for name, folder, _ in datasets for n in LABEL_FILES
                        if (folder / "labels" / n).is_file()},
        "tune": {"n": len(tune), "n_docs": int(tune["doc_id"].nunique()), "sha256": sha256_file(args.tune)},
        "dev": ({"n": len(dev), "n_docs": int(dev["doc_id"].nunique()), "sha256": sha256_file(args.dev)}
                if dev is not None else None),
        "rule": {"score": "mean of topic and stance macro-F1 on the tuning set", "loao_floor": LOAO_FLOOR,
                 "loao_slack": LOAO_SLACK, "margin": MARGIN, "tie": TIE,
                 "dev_set": "reported, never used to choose"},
        "chosen": chosen, "rows": rows,
    }
    out = Path(args.out)
    if not args.only:
        atomic_write_text(out.with_name("generalisation_round2.json"),
                          json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
        write_section(out, render(summary), BEGIN, END, before=ROUND1_BEGIN)
        print(f"wrote {out} and {out.with_name('generalisation_round2.json')}")
    print(f"chosen by the rule (tuning set only): {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
