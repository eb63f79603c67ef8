"""Cue matcher: CueFeatures.transform (word-start scan) against the plain regex scan it replaced.

Checks the matrices are equal and times both, on the project corpus and on 300 ANT articles
(random_state 0; needs ../shared). Run from the repository root:
``python experiments/extra/cue_speed.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from kwct_ml.corpus.dataset import load_corpus
from kwct_ml.pipeline.cues import CueFeatures, count_matches
from kwct_ml.text.normalize import normalize

ANT = "../shared/data/ant/ant_multisource_v2.1.csv.gz"


def main() -> None:
    features = CueFeatures().fit()
    ant = pd.read_csv(ANT, keep_default_na=False, usecols=["text"])["text"]
    for name, texts in (("corpus", load_corpus("data")["text"].tolist()),
                        ("ant300", ant.sample(300, random_state=0).tolist())):
        started = time.perf_counter()
        fast = features.transform(texts).toarray()
        fast_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scan = np.array([[math.log1p(count_matches(p, normalize(t))) for p in features.patterns_]
                         for t in texts])
        scan_seconds = time.perf_counter() - started
        print(f"{name}: equal {np.array_equal(fast, scan)}, word-start scan {fast_seconds:.2f} s, "
              f"regex scan {scan_seconds:.2f} s, {scan_seconds / fast_seconds:.1f}x")


if __name__ == "__main__":
    main()
