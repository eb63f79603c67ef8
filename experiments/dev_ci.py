"""How precise is a dev-set macro-F1? Article-bootstrap intervals for the shipped default.

Trains the default config on the project's data (as ``python -m kwct_ml.train`` does), predicts an
eval set with article context, and resamples its *articles* with replacement (sentences of one
article stay together) to give a percentile interval for each task's macro-F1. Reports only;
chooses nothing. No sentence of the set is written anywhere.

    python experiments/dev_ci.py ../shared/data/devset/sentences.tsv
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from sklearn.metrics import f1_score

from kwct_ml import errors
from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, load_corpus, load_eval_set
from kwct_ml.training.fit import fit_model
from kwct_ml.training.metrics import present_labels
from kwct_ml.schema import TASKS


@errors.cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments/dev_ci.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("eval_set", help="labelled set with article ids (doc or doc_id column)")
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    frame = load_eval_set(args.eval_set)
    model = fit_model(load_corpus(DEFAULT_DATA_DIR), TrainConfig())
    docs = frame["doc_id"].to_numpy()
    articles = np.unique(docs)
    rows = {a: np.flatnonzero(docs == a) for a in articles}
    rng = np.random.default_rng(args.seed)
    picks = [rng.choice(articles, len(articles)) for _ in range(args.draws)]
    draws = [np.concatenate([rows[a] for a in pick]) for pick in picks]
    print(f"{len(frame)} sentences in {len(articles)} articles; {args.draws} article-bootstrap draws")
    for task in TASKS:
        gold = frame[task].to_numpy()
        pred = np.array(model.predict(task, frame["text"].tolist(), docs.tolist())[0])
        # the labels of the whole set in every draw: a draw that misses the one article where a
        # label occurs must not average over fewer labels (that inflates the interval)
        labels = present_labels(task, gold, pred)

        def macro(i, gold=gold, pred=pred, labels=labels):
            return f1_score(gold[i], pred[i], labels=labels, average="macro", zero_division=0)

        point = macro(np.arange(len(gold)))
        values = np.array([macro(i) for i in draws])
        low, high = np.percentile(values, [2.5, 97.5])
        print(f"{task}: macro-F1 {point:.3f}, 95% interval {low:.3f}-{high:.3f} "
              f"(bootstrap sd {values.std():.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
