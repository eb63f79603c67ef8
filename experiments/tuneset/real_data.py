"""Issue 5 diagnostic (never shipped): what labelled *real* articles would do for the dev scores.

The shipped model may train only on the project's data: 5 real seed articles and authored
sentences. The two tuning sets hold 100 real articles labelled under the codebook, but their text
is licensed ANT text in ../shared, so no shipped model can train on them. This script measures
what that rule costs: the default config trained on the project's data plus k tuning-set
articles (k = 0..100, random draws, several repeats), scored on the dev set and on the tuning
articles left out of the draw. Nothing here chooses a setting; the default config is used as is.

    python experiments/tuneset/tuneset.py build && python experiments/tuneset/tuneset.py --set b build
    python experiments/tuneset/real_data.py --dev ../shared/data/devset/sentences.tsv
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from kwct_ml import errors
from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, load_corpus, load_eval_set
from kwct_ml.errors import ConfigError
from kwct_ml.training.fit import fit_model
from kwct_ml.training.metrics import score
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.schema import TASKS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TUNE_SETS = [str(HERE / "sentences.tsv"), str(HERE / "sentences_b.tsv")]


def _scores(model, frame: pd.DataFrame) -> dict:
    if not len(frame):
        return {}
    return {t: score(t, frame[t], model.predict(t, frame["text"].tolist(), frame["doc_id"].tolist())[0])
            ["macro_f1"] for t in TASKS}


def _one(corpus: pd.DataFrame, real: pd.DataFrame, docs: list[str], dev: pd.DataFrame) -> dict:
    """Train on the corpus + the real articles ``docs``; score dev and the other real articles."""
    used = real["doc_id"].isin(docs)
    extra = real[used].assign(source="tuneset", sent_id=lambda f: f.groupby("doc_id").cumcount())
    model = fit_model(pd.concat([corpus, extra], ignore_index=True), TrainConfig())
    return {"k": len(docs), "dev": _scores(model, dev), "rest": _scores(model, real[~used])}


@errors.cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments/tuneset/real_data.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", required=True, help="the dev set (scored only)")
    parser.add_argument("--tune", nargs="+", default=TUNE_SETS,
                        help="labelled real articles to draw from (default: tuning sets A and B)")
    parser.add_argument("--sizes", nargs="+", type=int, default=[0, 10, 25, 50, 75, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(REPO / "experiments" / "real_data.json"))
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    for path in args.tune:
        if not Path(path).is_file():
            raise ConfigError(f"{path}: not found; run python experiments/tuneset/tuneset.py [--set b] build")
    real = pd.concat([load_eval_set(p) for p in args.tune], ignore_index=True)
    dev = load_eval_set(args.dev)
    corpus = load_corpus(DEFAULT_DATA_DIR)
    articles = sorted(real["doc_id"].unique())
    rng = random.Random(20261126)
    plan = []
    for k in args.sizes:
        for _ in range(1 if k in (0, len(articles)) else args.repeats):
            plan.append(sorted(rng.sample(articles, min(k, len(articles)))))
    runs = Parallel(n_jobs=args.jobs)(delayed(_one)(corpus, real, docs, dev) for docs in plan)
    table = []
    for k in args.sizes:
        mine = [r for r in runs if r["k"] == min(k, len(articles))]
        row = {"k": k, "repeats": len(mine)}
        for part in ("dev", "rest"):
            for t in TASKS:
                values = [r[part][t] for r in mine if r[part]]
                row[f"{part}_{t}"] = float(np.mean(values)) if values else None
        table.append(row)
        print(f"k={k:>3} ({len(mine)} draws): dev topic {row['dev_topic']:.3f} stance {row['dev_stance']:.3f}"
              + (f"; other tuning articles topic {row['rest_topic']:.3f} stance {row['rest_stance']:.3f}"
                 if row["rest_topic"] is not None else ""), flush=True)
    raw = sys.argv[1:] if argv is None else list(argv)
    command = " ".join(["python", "experiments/tuneset/real_data.py", *raw])
    summary = {"command": command, "n_real_articles": len(articles), "n_real_sentences": len(real),
               "table": table, "runs": runs}
    atomic_write_text(Path(args.out), json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
