"""scikit-learn's estimator checks on the custom estimators (FastCharTfidf, CueFeatures, KwctClassifier).

The two text transformers take a list of sentences (input tags ``string``, not ``two_d_array``, as
``TfidfVectorizer``), so scikit-learn runs none of its numeric-array checks on them; the data-free API
checks are run on them directly below. KwctClassifier gets every check, with the failures it has by
design listed with their reason.
"""

from __future__ import annotations

import pytest
from sklearn.utils import estimator_checks as checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from kwct_ml.pipeline.char_tfidf import FastCharTfidf
from kwct_ml.pipeline.classifiers import KwctClassifier
from kwct_ml.pipeline.cues import CueFeatures

_NO_N_FEATURES = ("input validation is left to the wrapped estimator (one of several sparse feature blocks); "
                  "n_features_in_ is not exposed")
KWCT_CLASSIFIER_EXPECTED = {
    "check_n_features_in": _NO_N_FEATURES,
    "check_n_features_in_after_fitting": _NO_N_FEATURES,
    "check_sample_weight_equivalence_on_dense_data":
        "cv is a number of folds that KwctClassifier stratifies itself (classes seen once stay in every "
        "training part), not the list of splits this check substitutes; folds over rows also make a "
        "repeated row differ from a weighted one",
    "check_sample_weight_equivalence_on_sparse_data":
        "as check_sample_weight_equivalence_on_dense_data",
    "check_dtype_object":
        "labels are any hashable values (np.unique), so an unknown label type is not refused here",
    "check_supervised_y_no_nan":
        "labels are any hashable values (np.unique): inf is one more label, not a missing value",
}


def _expected(estimator):
    return KWCT_CLASSIFIER_EXPECTED if isinstance(estimator, KwctClassifier) else {}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@parametrize_with_checks([KwctClassifier(), FastCharTfidf(), CueFeatures()],
                         expected_failed_checks=_expected)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


DATA_FREE_CHECKS = [checks.check_estimator_cloneable, checks.check_estimator_tags_renamed,
                    checks.check_valid_tag_types, checks.check_estimator_repr,
                    checks.check_no_attributes_set_in_init, checks.check_mixin_order,
                    checks.check_get_params_invariance, checks.check_set_params,
                    checks.check_parameters_default_constructible]


@pytest.mark.parametrize("estimator", [FastCharTfidf(), CueFeatures()], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
def test_text_transformers_pass_the_data_free_api_checks(estimator, check):
    check(type(estimator).__name__, estimator)


def test_text_transformers_declare_string_input():
    for estimator in (FastCharTfidf(), CueFeatures()):
        tags = estimator.__sklearn_tags__()
        assert tags.input_tags.string and not tags.input_tags.two_d_array
        assert tags.transformer_tags is not None  # TransformerMixin before BaseEstimator
