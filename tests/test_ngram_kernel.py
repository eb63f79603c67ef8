"""The scikit-learn-free n-gram kernel (issue 20): its row norm is scikit-learn's; it imports no sklearn."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from kwct_ml.pipeline.ngram_kernel import normalize_rows


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_row_norm_equals_sklearn_normalize_with_empty_rows(norm):
    rng = np.random.default_rng(20)
    dense = rng.random((40, 30)) * (rng.random((40, 30)) < 0.2) * 7
    dense[[0, 13, 39]] = 0.0  # rows without any known n-gram
    dense[5, 3] = -2.0
    matrix = sp.csr_matrix(dense)
    expected = normalize(matrix, norm=norm).toarray()
    normalize_rows(matrix, norm)
    np.testing.assert_allclose(matrix.toarray(), expected, rtol=0, atol=1e-12)
    assert not matrix[[0, 13, 39]].toarray().any()


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="max"):
        normalize_rows(sp.csr_matrix(np.eye(2)), "max")


def test_the_kernel_imports_no_learning_library():
    probe = ("import sys, kwct_ml.pipeline.ngram_kernel; "
             "print(sorted({'sklearn', 'joblib', 'pandas'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
