"""Comparing two runs (``python -m kwct_ml.report compare A B``): is B really better than A?

Both runs' predictions of the same sentences are paired: the LOAO predictions of their run folders
(when both scored the same sentences), or both saved models' predictions of one labelled file
(``--eval-set``). Per task: the paired article-bootstrap interval of the macro-F1 difference,
per-class F1 deltas, and the sentences whose label flipped.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from kwct_ml.bundle.store import load_model
from kwct_ml.corpus.dataset import load_eval_set
from kwct_ml.errors import DataError
from kwct_ml.reporting.document import Document, write_document
from kwct_ml.reporting.evaluation import file_identity, predict_frame, resolve_model_dir
from kwct_ml.reporting.runs import METRICS, RUN_RECORD, config_diff, read_json
from kwct_ml.schema import TASKS
from kwct_ml.training.bootstrap import DRAWS, SEED, paired_difference
from kwct_ml.training.metrics import score


def run_folder(spec: str | Path, runs_dir: str | Path) -> Path:
    """The run folder named by ``spec`` (a folder, or a run id under ``runs_dir``)."""
    path = Path(spec)
    if path.is_dir():
        return path
    if (Path(runs_dir) / str(spec)).is_dir():
        return Path(runs_dir) / str(spec)
    raise DataError(f"no run folder {spec!r} (nor under {runs_dir})",
                    fix="list the runs with `python -m kwct_ml.report runs`")


def loao_pairs(folder_a: Path, folder_b: Path) -> pd.DataFrame:
    """The two runs' out-of-fold predictions of the same sentences, side by side."""
    frames = []
    for folder in (folder_a, folder_b):
        path = folder / "predictions.csv"
        if not path.is_file():
            raise DataError("is missing", path, fix="compare finished runs, or pass --eval-set")
        frames.append(pd.read_csv(path, dtype=str, keep_default_na=False))
    a, b = frames
    keys = ["doc_id", "sent_id", "text"]
    gold = [f"{t}_gold" for t in TASKS]
    if len(a) != len(b) or not a[keys + gold].equals(b[keys + gold]):
        raise DataError(f"{folder_a.name} and {folder_b.name} scored different sentences or labels "
                        "(the labels changed between the runs)",
                        fix="compare both on one file with --eval-set")
    out = a[keys].rename(columns={"sent_id": "sent"})
    for task in TASKS:
        out[f"{task}_gold"], out[f"{task}_a"], out[f"{task}_b"] = a[f"{task}_gold"], a[f"{task}_model"], \
            b[f"{task}_model"]
    return out


def eval_pairs(model_a: Path, model_b: Path, eval_set: str | Path) -> pd.DataFrame:
    """Both saved models' predictions of the labelled file ``eval_set``, side by side."""
    frame = load_eval_set(eval_set)
    out = None
    for model_dir, side in ((model_a, "a"), (model_b, "b")):
        model, _ = load_model(model_dir)
        predictions = predict_frame(model, frame, list(TASKS))
        if out is None:
            out = predictions[["doc_id", "sent", "text"]].copy()
            for task in TASKS:
                out[f"{task}_gold"] = predictions[f"{task}_gold"]
        for task in TASKS:
            out[f"{task}_{side}"] = predictions[f"{task}_pred"]
    return out


def compare_pairs(pairs: pd.DataFrame, draws: int = DRAWS, seed: int = SEED) -> dict:
    """Per task: paired macro-F1 difference (B - A) with its interval, per-class deltas, flip counts."""
    out = {}
    docs = pairs["doc_id"].tolist()
    for task in TASKS:
        gold, a, b = (pairs[f"{task}_{s}"].tolist() for s in ("gold", "a", "b"))
        diff = paired_difference(task, gold, a, b, docs, draws, seed)
        per_a = {c["label"]: c for c in score(task, gold, a)["per_class"]}
        per_b = {c["label"]: c for c in score(task, gold, b)["per_class"]}
        labels = list(dict.fromkeys([*per_a, *per_b]))
        per_class = [{"label": lab, "f1_a": per_a.get(lab, {}).get("f1", 0.0),
                      "f1_b": per_b.get(lab, {}).get("f1", 0.0),
                      "support": (per_a.get(lab) or per_b.get(lab))["support"]} for lab in labels]
        for row in per_class:
            row["delta"] = row["f1_b"] - row["f1_a"]
        right_a = pairs[f"{task}_gold"] == pairs[f"{task}_a"]
        right_b = pairs[f"{task}_gold"] == pairs[f"{task}_b"]
        out[task] = {**diff, "per_class": per_class, "right_to_wrong": int((right_a & ~right_b).sum()),
                     "wrong_to_right": int((~right_a & right_b).sum()), "n": len(pairs),
                     "n_articles": len(set(docs))}
    return out


def verdict(diff: dict) -> str:
    """One sentence: does the interval of B - A exclude 0?"""
    low, high = diff["ci"]
    if not diff["excludes_zero"]:
        return (f"the 95% interval [{low:+.3f}, {high:+.3f}] includes 0: no real difference is shown "
                "on these articles")
    better = "better" if low > 0 else "worse"
    return f"the 95% interval [{low:+.3f}, {high:+.3f}] excludes 0: B is {better} on these articles"


def flipped_rows(pairs: pd.DataFrame, task: str, to_wrong: bool) -> list[list]:
    right_a = pairs[f"{task}_gold"] == pairs[f"{task}_a"]
    right_b = pairs[f"{task}_gold"] == pairs[f"{task}_b"]
    mask = (right_a & ~right_b) if to_wrong else (~right_a & right_b)
    return [[r["doc_id"], r["sent"], r[f"{task}_gold"], r[f"{task}_a"], r[f"{task}_b"], r["text"]]
            for _, r in pairs[mask].iterrows()]


def build_compare_page(comparison: dict, pairs: pd.DataFrame, out_dir: str | Path) -> Path:
    """report.md + report.html of a comparison into ``out_dir``; returns the HTML path."""
    doc = Document()
    a, b = comparison["a"], comparison["b"]
    doc.h(1, f"Run comparison: A `{a['run']}` vs B `{b['run']}`")
    doc.p(f"Created {comparison['created']} with:")
    doc.code(comparison["command"])
    where = comparison["scored_on"]
    if where["kind"] == "loao":
        doc.p(f"Scored on the leave-one-article-out predictions both runs saved ({len(pairs)} sentences). "
              "Each run predicted each article with a model that never saw it.")
    else:
        doc.p(f"Scored on `{where['path']}` (sha256 {where['sha256']}, {where['size']} bytes, "
              f"{len(pairs)} sentences) by both saved models.")
    doc.h(2, "Configuration differences")
    diff = comparison["config_diff"]
    doc.table(["setting", "A", "B"], [[k, repr(va), repr(vb)] for k, (va, vb) in diff.items()]
              or [["(none)", "", ""]])
    doc.h(2, "Macro-F1: is B really better?")
    first = next(iter(comparison["tasks"].values()))
    doc.p(f"Paired article bootstrap: {first['draws']} draws of the {first['n_articles']} articles with "
          f"replacement (seed {first['seed']}); both runs are scored on the same draw, and the interval is "
          "the 2.5-97.5 percentile of B - A.")
    doc.table(["task", "A macro-F1", "B macro-F1", "B - A", "95% interval", "verdict"],
              [[t, d["a"], d["b"], f"{d['difference']:+.3f}", f"[{d['ci'][0]:+.3f}, {d['ci'][1]:+.3f}]",
                verdict(d)] for t, d in comparison["tasks"].items()])
    for task, d in comparison["tasks"].items():
        doc.h(2, f"{task}: per class")
        doc.table(["label", "F1 A", "F1 B", "B - A", "support"],
                  [[c["label"], c["f1_a"], c["f1_b"], f"{c['delta']:+.3f}", c["support"]]
                   for c in d["per_class"]])
        headers = ["article", "sent", "gold", "A", "B", "sentence"]
        doc.h(3, f"{task}: right in A, wrong in B ({d['right_to_wrong']})")
        doc.table(headers, flipped_rows(pairs, task, True), rtl=(5,))
        doc.h(3, f"{task}: wrong in A, right in B ({d['wrong_to_right']})")
        doc.table(headers, flipped_rows(pairs, task, False), rtl=(5,))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font", category=UserWarning)
        return write_document(doc, out_dir, f"kwct_ml comparison {a['run']} vs {b['run']}")


def compare_runs(spec_a: str, spec_b: str, runs_dir: str | Path, eval_set: str | Path | None = None,
                 draws: int = DRAWS, seed: int = SEED) -> tuple[dict, pd.DataFrame]:
    """(comparison dict, paired predictions) of two run folders."""
    folders = [run_folder(s, runs_dir) for s in (spec_a, spec_b)]
    records = [read_json(f / RUN_RECORD) for f in folders]
    if eval_set:
        models = [resolve_model_dir(read_json(f / METRICS).get("model_dir") or f) for f in folders]
        pairs = eval_pairs(models[0], models[1], eval_set)
        scored_on = {"kind": "eval_set", **file_identity(eval_set)}
    else:
        pairs = loao_pairs(*folders)
        scored_on = {"kind": "loao"}
    sides = [{"run": r.get("run", f.name), "folder": str(f), "created": r.get("created")}
             for r, f in zip(records, folders, strict=True)]
    return {"a": sides[0], "b": sides[1], "scored_on": scored_on,
            "config_diff": config_diff(records[1].get("config", {}), records[0].get("config", {})),
            "tasks": compare_pairs(pairs, draws, seed)}, pairs
