"""Issue 5 ablation: train every config in experiments/ablation/, tabulate LOAO and dev scores.

Each row is one ``python -m kwct_ml.train --config experiments/ablation/<row>.toml`` run (same code
path, in-process; models and run folders go to a temporary folder, never to models/latest). The
table (markdown) replaces the marked section of experiments/generalisation.md and the numbers go
to experiments/generalisation.json. The default is chosen by the rule written at the top of
generalisation.md: LOAO macro-F1 only; dev-set scores are reported, never used.

    .venv/bin/python experiments/ablation.py --eval-set ../shared/data/devset/sentences.tsv --jobs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kwct_ml import errors
from kwct_ml.config import TrainConfig, load_config
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR
from kwct_ml.errors import ConfigError
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.bundle.store import sha256_file
from kwct_ml.corpus.fingerprint import label_file_hashes
from kwct_ml.schema import TASKS
from kwct_ml.training.run import train

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BEGIN = "<!-- ablation:begin (written by experiments/ablation.py; do not edit by hand) -->"
END = "<!-- ablation:end -->"
#: Where the reproducing command puts its model/run folders (any folder gives the same scores).
SCRATCH = "/tmp/kwct-ablation"
#: Rule of generalisation.md: a row must beat the base LOAO mean by this much to replace it ...
MARGIN = 0.010
#: ... and rows closer than this to the best are tied (fewer changed settings wins).
TIE = 0.001
SYSTEMS = ("model", "word_baseline", "majority")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="experiments/ablation.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-set",
                        help="dev set scored by each final model (reported, never used to choose)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="processes for the CV folds (default: %(default)s)")
    parser.add_argument("--configs", default=str(HERE / "ablation"),
                        help="folder of row configs, run in file-name order (default: experiments/ablation)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                        help="corpus folder, copied once: all rows see the same data (default: %(default)s)")
    parser.add_argument("--out", default=str(HERE / "generalisation.md"),
                        help="markdown file whose ablation section is (re)written; JSON goes beside it")
    parser.add_argument("--render-only", action="store_true",
                        help="train nothing: rewrite the markdown section from the JSON beside --out")
    return parser


def _rel(path: Path) -> str:
    """``path`` relative to the repository when inside it (commands are run from the repo root)."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _command(config_path: Path, eval_set: str | None, data_dir: str) -> str:
    args = ["python", "-m", "kwct_ml.train", "--config", _rel(config_path)]
    if eval_set:
        args += ["--eval-set", eval_set]
    if Path(data_dir).resolve() != (REPO / DEFAULT_DATA_DIR).resolve():
        args += ["--data-dir", data_dir]
    args += ["--no-report", "--models-dir", f"{SCRATCH}/models", "--runs-dir", f"{SCRATCH}/runs"]
    return shlex.join(args)


def _row_text(path: Path) -> str:
    """The ``# row: ...`` description of a config file (its stem when there is none)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# row:"):
            return line.removeprefix("# row:").strip()
    return path.stem


def _changes(config: TrainConfig, base: TrainConfig) -> dict:
    ignore = {"name"}
    return {k: v for k, v in config.to_dict().items() if k not in ignore and base.to_dict()[k] != v}


def _scores(results: dict) -> dict:
    """task -> system -> {loao_f1, loao_acc, dev_f1, dev_acc} (dev keys only with an eval set)."""
    out: dict = {}
    external = (results.get("eval_set") or {}).get("tasks", {})
    for task in TASKS:
        out[task] = {}
        for system in SYSTEMS:
            cv = results["cv"][task][system]
            row = {"loao_f1": cv["macro_f1"], "loao_acc": cv["accuracy"]}
            if external:
                ext = external[task][system]
                row |= {"dev_f1": ext["macro_f1"], "dev_acc": ext["accuracy"]}
            out[task][system] = row
    return out


def choose(rows: list[dict]) -> tuple[str, list[str]]:
    """The rule of generalisation.md: (chosen row id, ids of eligible rows). Uses LOAO only."""
    bases = [r for r in rows if r["is_base"]]
    if len(bases) != 1:
        raise ConfigError(f"ablation: need exactly one base row (*base.toml), found {len(bases)}")
    base = bases[0]

    def loao(row: dict, task: str) -> float:
        return row["scores"][task]["model"]["loao_f1"]

    eligible = [r for r in rows if all(loao(r, t) >= loao(base, t) - 1e-12 for t in TASKS)]
    return pick(eligible, base, "loao_mean"), [r["id"] for r in eligible]


def pick(eligible: list[dict], reference: dict, score: str) -> str:
    """The common end of both rounds' rules: the id of the eligible row whose ``score`` beats the
    reference's by MARGIN and is highest; rows within TIE of it go to the fewest changed settings.
    The reference's id when none beats it."""
    better = [r for r in eligible if r[score] >= reference[score] + MARGIN - 1e-12]
    if not better:
        return reference["id"]
    top = max(r[score] for r in better)
    tied = [r for r in better if r[score] >= top - TIE]
    return min(tied, key=lambda r: (len(r["changes"]), -r[score], r["id"]))["id"]


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True)
        return done.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _pair(scores: dict, system: str, key: str) -> str:
    values = [scores[t][system].get(key) for t in TASKS]
    return " / ".join(_f(v) for v in values)


def render(summary: dict) -> str:
    """The generated markdown section (between the markers)."""
    rows, dev = summary["rows"], summary["eval_set"] is not None
    chosen = summary["chosen"]
    lines = [BEGIN, "", "## Ablation table (generated)", "",
             f"Made by `{summary['command']}` on {summary['created']} at commit `{summary['commit']}`"
             + (" (with uncommitted changes)" if summary["dirty"] else "") + ".", "",
             "Data: " + ", ".join(f"`{name}` sha256 `{digest}`"
                                  for name, digest in summary["label_files"].items())
             + f"; {summary['n_evaluated']} evaluated sentences in {summary['n_articles']} articles"
             + f" (+ {summary['n_authored']} authored, training only, where the row includes them).", ""]
    if dev:
        lines += [f"Dev set: `{summary['eval_set']}` (sha256 `{summary['eval_set_sha256']}`), "
                  f"{summary['dev_n']} sentences, {summary['dev_docs']} articles. "
                  "Issue 5 targets on the dev set: topic macro-F1 >= 0.60, stance >= 0.55.", ""]
    lines += ["LOAO = leave-one-article-out on the project's articles (selection score: the mean of the "
              "two LOAO macro-F1). Scores are macro-F1 unless marked acc; `t / s` = topic / stance. "
              "Learning curves are off in these configs (they do not change any score here, only "
              "the time). **Chosen** = the row the rule picks; `eligible` = neither LOAO score below "
              "the base row's.", "",
              "| # | row | LOAO topic | LOAO stance | LOAO mean | dev topic | dev stance | LOAO acc t / s "
              "| dev acc t / s | eligible |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["scores"]
        name = f"**{r['id']}** (chosen)" if r["id"] == chosen else r["id"]
        lines.append(
            f"| {r['index']} | {name}: {r['description']} | {_f(s['topic']['model']['loao_f1'])} "
            f"| {_f(s['stance']['model']['loao_f1'])} | {_f(r['loao_mean'])} "
            f"| {_f(s['topic']['model'].get('dev_f1'))} | {_f(s['stance']['model'].get('dev_f1'))} "
            f"| {_pair(s, 'model', 'loao_acc')} | {_pair(s, 'model', 'dev_acc')} "
            f"| {'yes' if r['eligible'] else 'no'} |")
    base = next(r for r in rows if r["is_base"])

    def delta(row: dict, task: str, key: str) -> str:
        value, ref = row["scores"][task]["model"].get(key), base["scores"][task]["model"].get(key)
        return "–" if value is None or ref is None else f"{value - ref:+.3f}"

    lines += ["", "### What each row changed, relative to the base row (macro-F1 differences)", "",
              "| # | row | Δ LOAO topic | Δ LOAO stance | Δ dev topic | Δ dev stance |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        if not r["is_base"]:
            lines.append(f"| {r['index']} | {r['id']} | {delta(r, 'topic', 'loao_f1')} "
                         f"| {delta(r, 'stance', 'loao_f1')} | {delta(r, 'topic', 'dev_f1')} "
                         f"| {delta(r, 'stance', 'dev_f1')} |")
    lines += ["", "### Baselines in the same runs", "",
              "The majority baseline takes the most frequent label of the training data (so it changes "
              "with `include_authored`); the word-unigram baseline uses the row's classifier, "
              "calibration and normaliser on word-unigram TF-IDF.", "",
              "| # | row | majority LOAO t / s | majority dev t / s | majority acc LOAO t / s "
              "| majority acc dev t / s | word-unigram LOAO t / s | word-unigram dev t / s |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["scores"]
        lines.append(f"| {r['index']} | {r['id']} | {_pair(s, 'majority', 'loao_f1')} "
                     f"| {_pair(s, 'majority', 'dev_f1')} | {_pair(s, 'majority', 'loao_acc')} "
                     f"| {_pair(s, 'majority', 'dev_acc')} | {_pair(s, 'word_baseline', 'loao_f1')} "
                     f"| {_pair(s, 'word_baseline', 'dev_f1')} |")
    lines += ["", "### Commands (run from the repository root; each row alone reproduces its numbers)", ""]
    for r in rows:
        changes = ", ".join(f"{k} = {v!r}" for k, v in r["changes"].items()) or "none"
        lines.append(f"{r['index']}. `{r['id']}` (changes from base: {changes}; {r['seconds']:.0f} s): "
                     f"`{r['command']}`")
    lines += ["", END]
    return "\n".join(lines)


def write_section(path: Path, section: str, begin: str = BEGIN, end: str = END,
                  before: str | None = None) -> None:
    """Replace the ``begin``..``end`` section of ``path``, atomically. When there is none, put it
    just before the text ``before`` if given and present, else at the end."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    elif before and before in text:
        head, tail = text.split(before, 1)
        text = head + section + "\n\n" + before + tail
    else:
        text = (text.rstrip("\n") + "\n\n" if text else "") + section + "\n"
    atomic_write_text(path, text)


@errors.cli
def main(argv: list[str] | None = None) -> int:
    args = _build_parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    if args.jobs < 1:
        raise ConfigError(f"--jobs: must be >= 1, got {args.jobs}")
    out = Path(args.out)
    if args.render_only:
        try:
            summary = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{out.with_suffix('.json')}: cannot read ({exc}); run without "
                              "--render-only first") from None
        write_section(out, render(summary))
        print(f"rewrote {out} from {out.with_suffix('.json')}")
        return 0
    paths = sorted(Path(args.configs).glob("*.toml"))
    if not paths:
        raise ConfigError(f"{args.configs}: no *.toml row configs; write one per ablation row")
    configs = [(p, load_config(p)) for p in paths]
    bases = [c for p, c in configs if p.stem.endswith("base")]
    if len(bases) != 1:
        raise ConfigError(f"{args.configs}: need exactly one *base.toml (the reference row), "
                          f"found {len(bases)}")
    base = bases[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="kwct-ablation-") as scratch:
        # every row sees the same data even if the label files change while the ablation runs
        data_dir = Path(scratch) / "data"
        shutil.copytree(args.data_dir, data_dir)
        label_files = label_file_hashes(data_dir)
        for index, (path, config) in enumerate(configs):
            command = _command(path, args.eval_set, args.data_dir)
            started = time.perf_counter()
            results = train(config, data_dir, args.eval_set, models_dir=Path(scratch) / "models",
                            runs_dir=Path(scratch) / "runs", report=False, jobs=args.jobs, command=command)
            scores = _scores(results)
            row = {"index": index, "id": path.stem, "file": _rel(path), "description": _row_text(path),
                   "changes": _changes(config, base), "is_base": config is base, "command": command,
                   "scores": scores,
                   "loao_mean": sum(scores[t]["model"]["loao_f1"] for t in TASKS) / len(TASKS),
                   "dev_mean": (sum(scores[t]["model"]["dev_f1"] for t in TASKS) / len(TASKS)
                                if args.eval_set else None),
                   "seconds": time.perf_counter() - started, "data": results["data"],
                   "eval_set": results.get("eval_set") and {k: results["eval_set"][k]
                                                            for k in ("n", "n_docs")}}
            rows.append(row)
            model = {t: scores[t]["model"] for t in TASKS}
            print(f"{path.stem:<28} LOAO {model['topic']['loao_f1']:.3f} / {model['stance']['loao_f1']:.3f}"
                  + (f"  dev {model['topic']['dev_f1']:.3f} / {model['stance']['dev_f1']:.3f}"
                     if args.eval_set else "") + f"  ({row['seconds']:.0f} s)", file=sys.stderr, flush=True)
    chosen, eligible = choose(rows)
    for row in rows:
        row["eligible"] = row["id"] in eligible
    first = next(r for r in rows if r["is_base"])
    raw = sys.argv[1:] if argv is None else list(argv)
    summary = {
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "experiments/ablation.py", *raw]),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--", "src", "data", _rel(Path(args.configs)))),
        "label_files": label_files,
        "n_evaluated": first["data"]["n_evaluated"], "n_articles": first["data"]["n_articles"],
        "n_authored": max(r["data"]["n_authored"] for r in rows),
        "eval_set": args.eval_set, "eval_set_sha256": sha256_file(args.eval_set) if args.eval_set else None,
        "dev_n": first["eval_set"]["n"] if args.eval_set else None,
        "dev_docs": first["eval_set"]["n_docs"] if args.eval_set else None,
        "rule": {"score": "mean of topic and stance LOAO macro-F1", "margin": MARGIN, "tie": TIE,
                 "eligible": "topic and stance LOAO macro-F1 each >= the base row's",
                 "dev_set": "reported, never used to choose"},
        "chosen": chosen,
        "rows": [{k: v for k, v in r.items() if k != "data"} for r in rows],
    }
    atomic_write_text(out.with_suffix(".json"), json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    write_section(out, render(summary))
    print(f"chosen by the rule (LOAO only): {chosen}")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
