"""Scoring a saved model on labelled files: scores with article-bootstrap intervals, baseline, errors.

Used by ``python -m kwct_ml.evaluate`` (and the run comparison): no retraining, the model is
loaded through ``bundle.store.load_model`` (checksum checked). Each labelled file is scored on
its own, since article ids of two files may clash.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from kwct_ml.bundle.store import DEFAULT_MODELS_DIR, sha256_file
from kwct_ml.corpus.dataset import load_eval_set
from kwct_ml.errors import ModelError
from kwct_ml.pipeline.model import KwctModel
from kwct_ml.schema import TASKS, labels_for
from kwct_ml.training.bootstrap import DRAWS, SEED, macro_f1_interval
from kwct_ml.training.metrics import majority_label, score

MAJORITY_FROM_TRAINING = ("the most frequent label of the model's training data (manifest "
                          "data.training_label_counts; a manifest from before it: data.label_counts, the "
                          "real articles without the authored sentences)")
MAJORITY_FROM_FILE = ("the most frequent label of this labelled file (the manifest records no training "
                      "labels), which flatters the baseline")


def resolve_model_dir(spec: str | Path | None, models_dir: str | Path = DEFAULT_MODELS_DIR) -> Path:
    """The model folder named by ``spec``: a model folder, a run folder (its metrics.json names the
    model), or a run id under ``models_dir``; None is ``models/latest``."""
    if spec is None:
        return Path(models_dir) / "latest"
    path = Path(spec)
    if path.is_dir() and not (path / "manifest.json").exists() and (path / "metrics.json").is_file():
        try:
            model_dir = json.loads((path / "metrics.json").read_text(encoding="utf-8"))["model_dir"]
        except (OSError, ValueError, KeyError, TypeError):
            raise ModelError(f"{path / 'metrics.json'}: names no model_dir; pass the model folder") from None
        return Path(model_dir)
    if path.exists():
        return path
    if (Path(models_dir) / str(spec)).exists():
        return Path(models_dir) / str(spec)
    raise ModelError(f"no model or run {spec!r} (neither a folder nor a run under {models_dir}); "
                     "list the runs with `python -m kwct_ml.report runs`")


def file_identity(path: str | Path) -> dict:
    """Path, sha256 and size in bytes: two scores on different versions of a set cannot be confused."""
    path = Path(path)
    return {"path": str(path), "sha256": sha256_file(path), "size": path.stat().st_size}


def training_majority(manifest: dict, task: str) -> str | None:
    """The majority label of the model's training data, from the manifest's label counts (or None).

    ``training_label_counts`` counts every training sentence (authored ones too), as the training
    run's own majority baseline does; older manifests only have ``label_counts`` (real articles).
    """
    data = manifest.get("data") or {}
    counts = (data.get("training_label_counts") or data.get("label_counts") or {}).get(task)
    if not isinstance(counts, dict) or not any(counts.values()):
        return None
    expanded = [label for label in labels_for(task) for _ in range(int(counts.get(label, 0)))]
    return majority_label(expanded, task) if expanded else None


def predict_frame(model: KwctModel, frame: pd.DataFrame, tasks: list[str]) -> pd.DataFrame:
    """Gold, predicted, confidence and second-best label (with probability) per sentence and task."""
    texts = frame["text"].astype(str).tolist()
    groups = frame["doc_id"].tolist() if frame.attrs.get("articles_known", True) else None
    out = frame[["doc_id"]].copy()
    out["sent"] = frame.groupby("doc_id", sort=False).cumcount()
    out["text"] = texts
    for task in tasks:
        proba = model.predict_proba(task, texts, groups)
        classes = np.array(model.classes(task), dtype=object)
        order = np.argsort(-proba, axis=1, kind="stable")
        rows = np.arange(len(texts))
        out[f"{task}_gold"] = frame[task].to_numpy()
        out[f"{task}_pred"] = classes[order[:, 0]] if len(texts) else []
        out[f"{task}_conf"] = proba[rows, order[:, 0]] if len(texts) else []
        if proba.shape[1] > 1:
            out[f"{task}_second"] = classes[order[:, 1]]
            out[f"{task}_second_conf"] = proba[rows, order[:, 1]]
        else:
            out[f"{task}_second"], out[f"{task}_second_conf"] = "", np.nan
    return out


def score_predictions(predictions: pd.DataFrame, tasks: list[str], manifest: dict,
                      draws: int = DRAWS, seed: int = SEED) -> dict:
    """Per task: the model's scores (with intervals, calibration) and the majority baseline's."""
    docs = predictions["doc_id"].tolist()
    out = {}
    for task in tasks:
        gold, pred = predictions[f"{task}_gold"].tolist(), predictions[f"{task}_pred"].tolist()
        model_scores = score(task, gold, pred, predictions[f"{task}_conf"].to_numpy())
        model_scores.update(macro_f1_interval(task, gold, pred, docs, draws, seed))
        label = training_majority(manifest, task)
        source = MAJORITY_FROM_TRAINING if label else MAJORITY_FROM_FILE
        label = label or majority_label(gold, task)
        majority = [label] * len(gold)
        base = {**score(task, gold, majority), **macro_f1_interval(task, gold, majority, docs, draws, seed),
                "label": label, "label_source": source}
        out[task] = {"model": model_scores, "majority": base}
    return out


def evaluate_frame(model: KwctModel, manifest: dict, frame: pd.DataFrame, identity: dict,
                   draws: int = DRAWS, seed: int = SEED) -> tuple[dict, pd.DataFrame]:
    """(result, predictions) of the model on a loaded labelled set; ``identity``: its path, sha256, size.

    The one scoring of a labelled set: ``evaluate`` and the training report's eval-set section use it.
    """
    tasks = [t for t in TASKS if t in model.tasks]
    predictions = predict_frame(model, frame, tasks)
    result = {**identity, "n": len(frame), "n_docs": int(frame["doc_id"].nunique()),
              "articles_known": bool(frame.attrs.get("articles_known", True)),
              "tasks": score_predictions(predictions, tasks, manifest, draws, seed)}
    return result, predictions


def evaluate_file(model: KwctModel, manifest: dict, path: str | Path, draws: int = DRAWS,
                  seed: int = SEED) -> tuple[dict, pd.DataFrame]:
    """(result, predictions) of the model on one labelled file (eval-set TSV or a label CSV)."""
    return evaluate_frame(model, manifest, load_eval_set(path), file_identity(path), draws, seed)
