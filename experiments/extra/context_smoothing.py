"""LOAO-only check of one more lever: mixing each sentence's probabilities with its article's mean.

p' = (1 - w) p + w * mean over the article's sentences of p. Trained per held-out seed article on
the other articles plus the authored sentences (default config, learning curve off); the dev set
is not read. Run from the repository root: ``python experiments/extra/context_smoothing.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from kwct_ml.config import load_config
from kwct_ml.corpus.dataset import load_corpus
from kwct_ml.training.fit import fit_model, split_corpus

WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


def main() -> None:
    seed, authored = split_corpus(load_corpus("data"))
    # the default of the time (round 1, before the built-in article context): reproducible numbers
    config = load_config("experiments/tuneset/reference.toml").replace(learning_curve=False)
    docs = sorted(seed["doc_id"].unique())
    proba = {"topic": [], "stance": []}
    gold = {task: [] for task in proba}
    groups = []
    for doc in docs:
        test = seed[seed["doc_id"] == doc]
        model = fit_model(pd.concat([seed[seed["doc_id"] != doc], authored]), config)
        for task in proba:
            proba[task].append(model.predict_proba(task, test["text"].tolist()))
            gold[task] += test[task].tolist()
        classes = {task: np.array(model.classes(task)) for task in proba}
        groups += [doc] * len(test)
    groups = np.array(groups)
    print("task  w    LOAO macro-F1  accuracy")
    for task in proba:
        p, y = np.vstack(proba[task]), np.array(gold[task])
        for w in WEIGHTS:
            q = p.copy()
            for doc in docs:
                rows = groups == doc
                q[rows] = (1 - w) * p[rows] + w * p[rows].mean(axis=0)
            pred = classes[task][q.argmax(axis=1)]
            f1 = f1_score(y, pred, average="macro")
            print(f"{task:6} {w:.1f}  {f1:.3f}          {(pred == y).mean():.3f}")


if __name__ == "__main__":
    main()
