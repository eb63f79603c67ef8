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

from kwct_ml import errors
from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import DEFAULT_DATA_DIR, load_corpus, load_eval_set
from kwct_ml.schema import TASKS
from kwct_ml.training.bootstrap import macro_f1_interval
from kwct_ml.training.fit import fit_model


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
    docs = frame["doc_id"].tolist()
    print(f"{len(frame)} sentences in {len(set(docs))} articles; {args.draws} article-bootstrap draws")
    for task in TASKS:
        pred = model.predict(task, frame["text"].tolist(), docs)[0]
        result = macro_f1_interval(task, frame[task].tolist(), pred, docs, args.draws, args.seed)
        low, high = result["macro_f1_ci"]
        print(f"{task}: macro-F1 {result['macro_f1']:.3f}, 95% interval {low:.3f}-{high:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
