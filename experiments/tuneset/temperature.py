"""Issue 5, after round 3: the sharpening of the topic article-context mix (confidences only).

Mixing a sentence's calibrated probabilities with its article's mean flattens them: topic scores
became under-confident. ``p ** (1 / T)`` (renormalised) after the mix restores them without
changing any label. T is chosen on tuning set A by log loss (grid 0.30-1.50); expected
calibration error before and after is reported for LOAO, set A, set B and, if given, the dev set.

    python experiments/tuneset/temperature.py --dev ../shared/data/devset/sentences.tsv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from kwct_ml import errors
from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, load_corpus, load_eval_set
from kwct_ml.pipeline.context import article_context
from kwct_ml.training.metrics import expected_calibration_error

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from round3 import raw_probabilities  # noqa: E402

GRID = np.round(np.arange(0.30, 1.501, 0.05), 2)


def _log_loss(classes: list[str], proba: np.ndarray, gold: list[str]) -> float:
    """Mean -log p(gold); columns in ``classes`` (schema) order, which sklearn's log_loss would
    silently re-sort alphabetically."""
    index = np.array([classes.index(g) for g in gold])
    return float(-np.log(np.clip(proba[np.arange(len(gold)), index], 1e-12, None)).mean())


@errors.cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments/tuneset/temperature.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", help="dev set (reported only)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    paths = {"tune_a": HERE / "sentences.tsv", "tune_b": HERE / "sentences_b.tsv"}
    if args.dev:
        paths["dev"] = Path(args.dev)
    evals = {name: load_eval_set(path) for name, path in paths.items()}
    config = TrainConfig()
    raw = raw_probabilities(load_corpus(DEFAULT_DATA_DIR), evals, config, args.jobs)["topic"]
    weight = config.topic_context

    def mixed(name: str, temperature: float):
        classes, proba, groups, gold = raw[name]
        return classes, article_context(proba, groups, weight, temperature), gold

    losses = {t: _log_loss(*mixed("tune_a", float(t))) for t in GRID}
    best = float(min(losses, key=losses.get))
    print(f"topic, article context {weight}: T by log loss on set A = {best} "
          f"(log loss {losses[best]:.3f}; {losses[1.0]:.3f} at T = 1)")
    for name in ("loao", *evals):
        cells = []
        for t in (1.0, best):
            classes, proba, gold = mixed(name, t)
            conf = proba.max(axis=1)
            correct = np.array([classes[i] for i in proba.argmax(axis=1)]) == np.array(gold)
            ece = expected_calibration_error(conf, correct)
            cells.append(f"T = {t}: confidence {conf.mean():.3f}, ECE {ece:.3f}")
        print(f"  {name:<7} accuracy {correct.mean():.3f}; " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
