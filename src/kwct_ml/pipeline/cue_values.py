"""Cue feature values: the sparse matrix of ``CueFeatures`` from each normalised sentence's match counts.

One rule for ``CueFeatures.transform`` (pipeline/cues.py) and the compiled scorer
(pipeline/compiled.py): ``log1p(count)`` or the count, times a per-sentence scale. Imports no
scikit-learn.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from kwct_ml.pipeline.cue_scan import CueScanner

#: Character n-grams (char_wb 2-5) per letter of a sentence, roughly: ``scale="ngram"`` divides
#: a cue value by sqrt(this x letters), the value one term of a unit-norm TF-IDF row of that many
#: equal terms has, so a cue costs the regulariser what a character n-gram does (issue 17).
NGRAMS_PER_LETTER = 4
SCALES = ("none", "ngram")


def cue_matrix(norms: list[str], scanner: CueScanner, n_columns: int, sublinear: bool,
               scale: str) -> sp.csr_matrix:
    """(sentence x cue column) values of the normalised sentences ``norms``."""
    rows, cols, vals = [], [], []
    for i, norm in enumerate(norms):
        counts = scanner.counts(norm)
        if not counts:
            continue
        factor = scale_factor(norm, scale)
        for j, n in sorted(counts.items()):  # column order within a row, as before
            rows.append(i)
            cols.append(j)
            vals.append((math.log1p(n) if sublinear else float(n)) * factor)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(norms), n_columns), dtype=np.float64)


def scale_factor(norm: str, scale: str) -> float:
    """The factor of a sentence's cue values: 1, or one n-gram's share (``NGRAMS_PER_LETTER``)."""
    if scale == "none":
        return 1.0
    letters = sum(1 for ch in norm if ch.isalnum())
    return 1.0 / math.sqrt(NGRAMS_PER_LETTER * max(letters, 1))
