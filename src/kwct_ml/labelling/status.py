"""Labelling status: what the corpus holds, and what 5 more articles would add to macro-F1.

The estimate extrapolates the leave-one-article-out learning curve with a + b*ln(k).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kwct_ml.errors import KwctError


@dataclass(frozen=True)
class CurvePoint:
    """Out-of-fold macro-F1 with k training articles: mean and sd over runs, majority baseline."""

    k: int
    macro_f1: float
    std: float
    runs: int
    majority: float


@dataclass(frozen=True)
class GainEstimate:
    task: str
    points: list[CurvePoint]
    current: int
    predicted_now: float
    predicted_next: float
    gain: float
    gain_se: float | None
    gain_range: tuple[float, float] | None = None


def fit_log_curve(points: list[tuple[int, float]], current: int, extra: int = 5) -> tuple[float, float, float,
                                                                                         float | None]:
    """Fit F1 = a + b ln(n) and return (F1 at current, at current+extra, gain, standard error of gain).

    The standard error comes from the least-squares slope; it is None with fewer than 3 points.
    """
    x = np.log(np.array([n for n, _ in points], float))
    y = np.array([f for _, f in points], float)
    if len(set(x)) < 2:
        raise ValueError("need at least two training sizes to fit a curve")
    b, a = np.polyfit(x, y, 1)
    now, nxt = a + b * math.log(current), a + b * math.log(current + extra)
    now, nxt = min(now, 1.0), min(nxt, 1.0)
    se = None
    if len(x) > 2:
        residual = y - (a + b * x)
        sxx = float(((x - x.mean()) ** 2).sum())
        se_b = math.sqrt(float((residual ** 2).sum()) / (len(x) - 2) / sxx)
        se = se_b * (math.log(current + extra) - math.log(current))
    return float(now), float(nxt), float(nxt - now), se


def _progress(total: int):
    from tqdm import tqdm

    return tqdm(total=total, desc="learning curve fits", unit="fit", file=sys.stderr, leave=False,
                disable=None)


def _curve_points(curve: dict) -> tuple[int, dict[str, list[CurvePoint]]]:
    points = {task: [CurvePoint(*row) for row in zip(curve["k"], c["mean"], c["std"], c["runs"],
                                                      c["majority_mean"], strict=True)]
              for task, c in curve["tasks"].items()}
    return int(curve["n_articles"]), points


def learning_points(frame: pd.DataFrame, config=None,
                    n_jobs: int = 1) -> tuple[int, dict[str, list[CurvePoint]]]:
    """(number of articles, curve per task) from ``evaluate.learning_curve`` (leave-one-article-out,
    the project pipeline and config)."""
    from kwct_ml.config import TrainConfig
    from kwct_ml.training.learning_curve import learning_curve

    return _curve_points(learning_curve(frame, config or TrainConfig(), progress=_progress, n_jobs=n_jobs))


def cached_points(data_dir: str | Path, model: str | Path | None = None):
    """The learning curve the last training run measured, if it was trained on exactly the label
    files now in ``data_dir`` (same sha256); else None. Saves recomputing it."""
    import json

    from kwct_ml.bundle.store import read_manifest
    from kwct_ml.corpus.fingerprint import label_file_hashes

    try:
        manifest = read_manifest(model)
        data, config = manifest["data"], manifest["config"]
        current = label_file_hashes(data_dir, config.get("include_authored", True),
                                    config.get("use_standoff", False))
        if current != data["label_files"]:
            return None
        metrics = json.loads((Path(manifest["report"]) / "metrics.json").read_text(encoding="utf-8"))
        curve = metrics["learning_curve"]
        return (manifest.get("run", "?"), *_curve_points(curve)) if curve else None
    except (KwctError, OSError, KeyError, TypeError, ValueError):
        return None


def estimate_gain(current: int, curves: dict[str, list[CurvePoint]], extra: int = 5) -> list[GainEstimate]:
    """Extrapolate each task's curve from ``current`` articles to ``current + extra`` (log fit)."""
    estimates = []
    for task, points in curves.items():
        pairs = [(p.k, p.macro_f1) for p in points]
        now, nxt, gain, se = fit_log_curve(pairs, current, extra)
        spread = None
        if len(pairs) >= 3:  # refit leaving each curve point out: how much one point moves the gain
            gains = [fit_log_curve(pairs[:i] + pairs[i + 1:], current, extra)[2] for i in range(len(pairs))]
            spread = (min(gains), max(gains))
        estimates.append(GainEstimate(task, points, current, now, nxt, gain, se, spread))
    return estimates


def format_estimates(estimates: list[GainEstimate], extra: int = 5) -> str:
    first = estimates[0]
    lines = ["Learning curve: macro-F1 of held-out articles (leave-one-article-out) when training on k "
             "other articles; mean ± sd over random article sets, majority-class baseline beside it:"]
    table = pd.DataFrame(index=pd.Index([p.k for p in first.points], name="k"))
    for e in estimates:
        table[f"{e.task} macro-F1"] = [f"{p.macro_f1:.3f}" + (f" ± {p.std:.3f}" if p.runs > 1 else "")
                                       for p in e.points]
        table[f"{e.task} majority"] = [f"{p.majority:.3f}" for p in e.points]
    table["runs"] = [p.runs for p in first.points]
    lines += [table.to_string(), ""]
    for e in estimates:
        se = "(uncertainty unknown: fewer than 3 curve points)"
        if e.gain_se is not None and e.gain_range is not None:
            se = (f"(slope standard error ± {e.gain_se:.3f}; refits leaving one point out: "
                  f"{e.gain_range[0]:+.3f} to {e.gain_range[1]:+.3f})")
        lines.append(f"{e.task}: {e.current} -> {e.current + extra} articles: macro-F1 "
                     f"{e.predicted_now:.3f} -> {e.predicted_next:.3f}, gain {e.gain:+.3f} {se}")
    lines.append(f"This is an extrapolation, not a measurement: a + b*ln(k) fitted to {len(first.points)} "
                 f"points measured with at most {first.current - 1} training articles, extended to "
                 f"{first.current + extra}. Both ranges only say how well the curve fits these points; "
                 "new articles unlike the current ones can add more or less.")
    return "\n".join(lines)
