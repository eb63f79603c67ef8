"""Issue 5, round 3: candidates scored on the fresh tuning set B (selection), set A and dev (report).

Each candidate is a pipeline setting plus a way of mixing a sentence's probabilities with its
article's ("article context"), per task. Every pipeline is fitted once (on the project's data
only); its raw probabilities for the held-out seed article of each leave-one-article-out fold,
for tuning sets A and B and for the dev set are kept, and every mixing is applied to them. The
rule of experiments/generalisation.md ("Round 3") picks by set B, with LOAO as a guard; set A
(it guided earlier rounds) and the dev set are reported only.

    python experiments/tuneset/tuneset.py build && python experiments/tuneset/tuneset.py --set b build
    python experiments/tuneset/round3.py --dev ../shared/data/devset/sentences.tsv --jobs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from kwct_ml import errors
from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, LABEL_FILES, load_corpus, load_eval_set
from kwct_ml.errors import ConfigError
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.pipeline.context import article_context
from kwct_ml.pipeline.model import KwctModel, build_pipeline
from kwct_ml.bundle.store import sha256_file
from kwct_ml.schema import TASKS
from kwct_ml.training.fit import sample_weights, split_corpus
from kwct_ml.training.metrics import score

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "experiments"))
from ablation import BEGIN as ROUND1_BEGIN  # noqa: E402
from ablation import _f, _git, pick, write_section  # noqa: E402

BEGIN = "<!-- round3:begin (written by experiments/tuneset/round3.py; do not edit by hand) -->"
END = "<!-- round3:end -->"
#: Rule of generalisation.md, round 3 (the floor of round 2: round 1's default minus 0.010).
LOAO_FLOOR = {"topic": 0.749 - 0.010, "stance": 0.741 - 0.010}

#: Pipeline settings (overrides of TrainConfig(), the shipped default).
PIPELINES = {
    "p0": ("default pipeline", {}),
    "p1": ("isotonic calibration", {"calibration": "isotonic"}),
    "p2": ("C = 10", {"C": 10.0}),
}
#: Article-context mixings: id -> (description, kind, weight). Topic and stance each take one.
MIXINGS = {
    "none": ("no article context", "mean", 0.0),
    "mean.3": ("article mean, weight 0.3", "mean", 0.3),
    "mean.5": ("article mean, weight 0.5", "mean", 0.5),
    "mean.7": ("article mean, weight 0.7", "mean", 0.7),
    "keep-other.5": ("article mean, weight 0.5, `other` kept from the sentence", "keep_other", 0.5),
    "keep-other.7": ("article mean, weight 0.7, `other` kept from the sentence", "keep_other", 0.7),
    "weighted.5": ("confidence-weighted article mean, weight 0.5", "weighted", 0.5),
    "log.5": ("log-linear mix with the article's mean log-probability, weight 0.5", "log", 0.5),
    "window.5": ("mean of the sentence and its 2 neighbours each side, weight 0.5", "window", 0.5),
    "mean.2": ("article mean, weight 0.2", "mean", 0.2),
    "mean.4": ("article mean, weight 0.4", "mean", 0.4),
}
TOPIC_MIXINGS = ["none", "mean.3", "mean.5", "mean.7", "keep-other.5", "keep-other.7", "weighted.5",
                 "log.5", "window.5"]
STANCE_MIXINGS = ["none", "mean.2", "mean.4"]
DEFAULT = ("p0", "mean.5", "none")  # the shipped default when round 3 began
SETS = ("loao", "tune_b", "tune_a", "dev")


def _keys(groups) -> np.ndarray:
    index: dict = {}
    return np.array([index.setdefault(g, len(index)) for g in groups], dtype=int)


def mix(proba: np.ndarray, groups: list, classes: list[str], kind: str, weight: float) -> np.ndarray:
    """One article-context mixing of ``proba`` (rows in article order within each group)."""
    if not weight:
        return proba
    if kind == "mean":
        return article_context(proba, groups, weight)
    keys = _keys(groups)
    if kind == "keep_other":
        if "other" not in classes:
            return article_context(proba, groups, weight)
        o = classes.index("other")
        mixed = article_context(proba, groups, weight)
        content = np.delete(mixed, o, axis=1)
        content = content / content.sum(axis=1, keepdims=True) * (1 - proba[:, [o]])
        return np.insert(content, o, proba[:, o], axis=1)
    if kind == "weighted":
        conf = proba.max(axis=1)
        sums = np.zeros((keys.max() + 1, proba.shape[1]))
        np.add.at(sums, keys, proba * conf[:, None])
        norm = np.bincount(keys, weights=conf)
        return (1 - weight) * proba + weight * (sums / norm[:, None])[keys]
    if kind == "log":
        logp = np.log(np.clip(proba, 1e-9, 1))
        mixed = article_context(logp, groups, weight)
        mixed = np.exp(mixed - mixed.max(axis=1, keepdims=True))
        return mixed / mixed.sum(axis=1, keepdims=True)
    if kind == "window":
        out = np.empty_like(proba)
        for key in np.unique(keys):
            rows = np.flatnonzero(keys == key)
            for j, i in enumerate(rows):
                near = rows[max(0, j - 2):j + 3]
                out[i] = (1 - weight) * proba[i] + weight * proba[near].mean(axis=0)
        return out
    raise ValueError(f"unknown mixing {kind!r}")


def _raw(config: TrainConfig, task: str, train: pd.DataFrame, texts: dict[str, list[str]]):
    """Fit one pipeline; its raw (no context) probabilities for each named list of texts."""
    pipe = build_pipeline(config, task).fit(train["text"].tolist(), train[task].tolist(),
                                            **sample_weights(train, config))
    model = KwctModel({task: pipe})
    return model.classes(task), {name: model.predict_proba(task, t) for name, t in texts.items()}


def raw_probabilities(corpus: pd.DataFrame, evals: dict[str, pd.DataFrame], config: TrainConfig,
                      n_jobs: int) -> dict:
    """{task: {set: (classes, proba, groups, gold)}}: LOAO out-of-fold and the eval sets."""
    evaluated, extra = split_corpus(corpus, config.include_authored)
    docs = sorted(evaluated["doc_id"].unique())
    jobs, meta = [], []
    for task in TASKS:
        for doc in docs:
            test = evaluated["doc_id"].eq(doc).to_numpy()
            train = pd.concat([evaluated[~test], extra], ignore_index=True)
            jobs.append(delayed(_raw)(config, task, train, {"fold": evaluated.loc[test, "text"].tolist()}))
            meta.append((task, doc))
        full = pd.concat([evaluated, extra], ignore_index=True)
        jobs.append(delayed(_raw)(config, task, full, {n: f["text"].tolist() for n, f in evals.items()}))
        meta.append((task, None))
    results = Parallel(n_jobs=n_jobs)(jobs)
    out: dict = {task: {} for task in TASKS}
    folds: dict = {task: [] for task in TASKS}
    for (task, doc), (classes, probas) in zip(meta, results, strict=True):
        if doc is None:
            for name, frame in evals.items():
                out[task][name] = (classes, probas[name], frame["doc_id"].tolist(), frame[task].tolist())
        else:
            folds[task].append((doc, classes, probas["fold"]))
    for task in TASKS:
        # folds may lack a class the full model has: align columns on the union, in schema order
        classes = [c for c in TASKS[task] if any(c in f[1] for f in folds[task])]
        proba, groups, gold = [], [], []
        for doc, fold_classes, p in folds[task]:
            aligned = np.zeros((len(p), len(classes)))
            aligned[:, [classes.index(c) for c in fold_classes]] = p
            proba.append(aligned)
            groups += [doc] * len(p)
            gold += evaluated.loc[evaluated["doc_id"].eq(doc), task].tolist()
        out[task]["loao"] = (classes, np.vstack(proba), groups, gold)
    return out


def macro_f1(task: str, entry, mixing: str) -> float:
    classes, proba, groups, gold = entry
    _, kind, weight = MIXINGS[mixing]
    mixed = mix(proba, groups, classes, kind, weight)
    pred = [classes[i] for i in mixed.argmax(axis=1)]
    return score(task, gold, pred)["macro_f1"]


def candidates() -> list[tuple[str, str, str]]:
    return list(itertools.product(PIPELINES, TOPIC_MIXINGS, STANCE_MIXINGS))


def changes(candidate: tuple[str, str, str]) -> dict:
    pipeline, topic, stance = candidate
    out = dict(PIPELINES[pipeline][1])
    if topic != DEFAULT[1]:
        out["topic_mixing"] = topic
    if stance != DEFAULT[2]:
        out["stance_mixing"] = stance
    return out


def choose(rows: list[dict]) -> tuple[str, list[str]]:
    """(chosen id, eligible ids): set-B mean, LOAO floor, margin and tie as in round 2."""
    default = next(r for r in rows if r["default"])
    eligible = [r for r in rows if all(r["loao"][t] >= LOAO_FLOOR[t] - 1e-12 for t in TASKS)]
    return pick(eligible, default, "tune_b_mean"), [r["id"] for r in eligible]


def render(summary: dict) -> str:
    lines = [BEGIN, "", "### Round-3 table (generated)", "",
             f"Made by `{summary['command']}` on {summary['created']} at commit `{summary['commit']}`"
             + (" (with uncommitted changes)" if summary["dirty"] else "") + ".", "",
             "Data: " + ", ".join(f"`{n}` sha256 `{d[:12]}`" for n, d in summary["label_files"].items())
             + ". " + " ".join(f"{name}: {s['n']} sentences in {s['n_docs']} articles (sha256 "
                                f"`{s['sha256'][:12]}`)." for name, s in summary["sets"].items()), "",
             "Macro-F1; `t / s` = topic / stance. Selection: the set-B mean (rule above); set A and the "
             "dev set are reported only. Pipelines: "
             + "; ".join(f"`{k}` {v[0]}" for k, v in PIPELINES.items()) + ". Mixings: "
             + "; ".join(f"`{k}` {v[0]}" for k, v in MIXINGS.items()) + ".", "",
             "| candidate (pipeline / topic mixing / stance mixing) | LOAO t / s | set B t / s | set B mean "
             "| set A t / s | dev t / s | eligible |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(summary["rows"], key=lambda r: -r["tune_b_mean"]):
        name = r["id"] + (" (default)" if r["default"] else "")
        name = f"**{name}** (chosen)" if r["id"] == summary["chosen"] else name
        cells = [f"{_f(r[s]['topic'])} / {_f(r[s]['stance'])}" for s in ("loao", "tune_b")]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {_f(r['tune_b_mean'])} "
                     f"| {_f(r['tune_a']['topic'])} / {_f(r['tune_a']['stance'])} "
                     f"| {_f(r['dev'].get('topic'))} / {_f(r['dev'].get('stance'))} "
                     f"| {'yes' if r['eligible'] else 'no'} |")
    lines += ["", END]
    return "\n".join(lines)


@errors.cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments/tuneset/round3.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tune-b", default=str(HERE / "sentences_b.tsv"), help="tuning set B (selection)")
    parser.add_argument("--tune-a", default=str(HERE / "sentences.tsv"), help="tuning set A (reported)")
    parser.add_argument("--dev", help="dev set (reported, never used to choose)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="corpus folder (default: data)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "experiments" / "generalisation.md"))
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    paths = {"tune_b": args.tune_b, "tune_a": args.tune_a, "dev": args.dev}
    for name in ("tune_b", "tune_a"):
        if not Path(paths[name]).is_file():
            raise ConfigError(f"{paths[name]}: not found; run python experiments/tuneset/tuneset.py "
                              f"{'--set b ' if name == 'tune_b' else ''}build")
    evals = {name: load_eval_set(p) for name, p in paths.items() if p}
    corpus = load_corpus(args.data_dir)
    raw = {}
    for pid, (text, overrides) in PIPELINES.items():
        raw[pid] = raw_probabilities(corpus, evals, replace(TrainConfig(), **overrides), args.jobs)
        print(f"{pid} ({text}) fitted", file=sys.stderr, flush=True)
    rows = []
    for cand in candidates():
        pid, topic, stance = cand
        mixing = {"topic": topic, "stance": stance}
        row = {"id": " / ".join(cand), "default": cand == DEFAULT, "changes": changes(cand)}
        for s in SETS:
            row[s] = ({t: macro_f1(t, raw[pid][t][s], mixing[t]) for t in TASKS} if s in raw[pid]["topic"]
                      else {})
        row["tune_b_mean"] = sum(row["tune_b"].values()) / len(TASKS)
        rows.append(row)
    chosen, eligible = choose(rows)
    for row in rows:
        row["eligible"] = row["id"] in eligible
    summary = {
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "experiments/tuneset/round3.py",
                               *(sys.argv[1:] if argv is None else list(argv))]),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--", "src", "data", "experiments/tuneset")),
        "label_files": {f"labels/{n}": sha256_file(Path(args.data_dir) / "labels" / n) for n in LABEL_FILES
                        if (Path(args.data_dir) / "labels" / n).is_file()},
        "sets": {name: {"n": len(f), "n_docs": int(f["doc_id"].nunique()), "sha256": sha256_file(paths[name])}
                 for name, f in evals.items()},
        "rule": {"score": "mean of topic and stance macro-F1 on tuning set B", "loao_floor": LOAO_FLOOR,
                 "dev_set": "reported, never used to choose", "tune_a": "reported only"},
        "chosen": chosen, "rows": rows,
    }
    out = Path(args.out)
    atomic_write_text(out.with_name("generalisation_round3.json"),
                      json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    write_section(out, render(summary), BEGIN, END, before=ROUND1_BEGIN)
    best = next(r for r in rows if r["id"] == chosen)
    print(f"chosen by the rule (set B only): {chosen}: set B {best['tune_b']['topic']:.3f} / "
          f"{best['tune_b']['stance']:.3f}, LOAO {best['loao']['topic']:.3f} / {best['loao']['stance']:.3f}")
    print(f"wrote {out} and {out.with_name('generalisation_round3.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
