"""The classifier registry: each classifier a config can name, and ``KwctClassifier`` around it.

Adding a classifier is one ``CLASSIFIERS`` entry: a module-level factory taking the config keys it
lists, and whether it needs a calibration method for probabilities. ``kwct_ml.config`` validates
``classifier`` and ``calibration`` against this registry; ``make_classifier`` builds from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted


def _class_weight(name: str) -> str | None:
    return None if name == "none" else name


def linear_svc(C: float, class_weight: str, max_iter: int, seed: int) -> LinearSVC:
    return LinearSVC(C=C, class_weight=_class_weight(class_weight), max_iter=max_iter, random_state=seed)


def logreg(C: float, class_weight: str, max_iter: int) -> LogisticRegression:
    return LogisticRegression(C=C, class_weight=_class_weight(class_weight), max_iter=max_iter)


def sgd(alpha: float, class_weight: str, max_iter: int, seed: int) -> SGDClassifier:
    return SGDClassifier(loss="log_loss", alpha=alpha, class_weight=_class_weight(class_weight),
                         max_iter=max_iter, tol=1e-4, random_state=seed)


def complement_nb(nb_alpha: float) -> ComplementNB:
    return ComplementNB(alpha=nb_alpha)


@dataclass(frozen=True)
class Classifier:
    """A registry entry: ``factory(**{key: config.key for key in keys})`` gives the unfitted model."""

    factory: Callable
    keys: tuple[str, ...]
    needs_calibration: bool  # no ``predict_proba`` of its own: calibration "none" is refused


CLASSIFIERS: dict[str, Classifier] = {
    "linear_svc": Classifier(linear_svc, ("C", "class_weight", "max_iter", "seed"), needs_calibration=True),
    "logreg": Classifier(logreg, ("C", "class_weight", "max_iter"), needs_calibration=False),
    "complement_nb": Classifier(complement_nb, ("nb_alpha",), needs_calibration=False),
    "sgd": Classifier(sgd, ("alpha", "class_weight", "max_iter", "seed"), needs_calibration=False),
}


def _unwrap(estimator):
    """The fitted linear model inside a FrozenEstimator/meta-estimator chain."""
    seen = 0
    while not _has_weights(estimator) and hasattr(estimator, "estimator") and seen < 5:
        estimator = estimator.estimator
        seen += 1
    return estimator


def _has_weights(estimator) -> bool:
    return hasattr(estimator, "coef_") or hasattr(estimator, "feature_log_prob_")


def _weights(estimator) -> tuple[np.ndarray, np.ndarray] | None:
    """(classes, weight matrix (n_classes, n_features)) of a fitted linear model, or None."""
    estimator = _unwrap(estimator)
    if hasattr(estimator, "coef_"):
        coef = np.asarray(estimator.coef_.toarray() if sparse.issparse(estimator.coef_)
                          else estimator.coef_, dtype=float)
    elif hasattr(estimator, "feature_log_prob_"):  # ComplementNB: argmax of X @ flp.T
        coef = np.asarray(estimator.feature_log_prob_, dtype=float)
    else:
        return None
    classes = np.asarray(estimator.classes_)
    if coef.shape[0] == 1 and len(classes) == 2:  # binary: one row, for classes[1]
        coef = np.vstack([-coef[0], coef[0]])
    return classes, coef


class KwctClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier with calibrated probabilities that copes with tiny classes.

    ``calibration`` is a ``CalibratedClassifierCV`` method or ``"none"`` (the estimator's own
    ``predict_proba``). The calibration folds are stratified over classes with at least two
    examples, ``min(cv, smallest such class)`` of them; classes seen once stay in every training
    part (their probability is then calibrated only as a negative). With a single class in the
    training data the classifier predicts it with probability 1. ``prior_smoothing`` s > 0 mixes
    the probabilities with the training class frequencies: ``(1 - s) * p + s * prior``.
    """

    def __init__(self, estimator=None, calibration: str = "sigmoid", cv: int = 3, random_state: int = 0,
                 prior_smoothing: float = 0.0):
        self.estimator = estimator
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.prior_smoothing = prior_smoothing

    def _splits(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
        classes, counts = np.unique(y, return_counts=True)
        splittable = np.isin(y, classes[counts >= 2])
        if splittable.sum() < 2:
            return None
        n_splits = int(min(self.cv, counts[counts >= 2].min()))
        index = np.flatnonzero(splittable)
        always = np.flatnonzero(~splittable)
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        return [(np.concatenate([index[train], always]), index[test])
                for train, test in folds.split(index, y[index])]

    def fit(self, X, y, sample_weight=None):
        if y is None:
            raise ValueError("KwctClassifier requires y to be passed, but the target y is None")
        y = np.asarray(y)
        base = self.estimator if self.estimator is not None else LinearSVC()
        classes = np.unique(y)
        weights = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight, dtype=float)}
        if len(classes) == 1:
            self.model_ = DummyClassifier(strategy="prior").fit(X, y)
        elif self.calibration == "none":
            self.model_ = clone(base).fit(X, y, **weights)
        else:
            splits = self._splits(y)
            if splits is None:  # every class seen once: calibrate in-sample, better than nothing
                everything = np.arange(len(y))
                splits = [(everything, everything)]
            self.model_ = CalibratedClassifierCV(clone(base), method=self.calibration,
                                                 cv=splits).fit(X, y, **weights)
        self.classes_ = np.asarray(self.model_.classes_)
        self.prior_ = np.array([np.mean(y == c) for c in self.classes_])
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        proba = self.model_.predict_proba(X)
        if self.prior_smoothing:
            proba = (1 - self.prior_smoothing) * proba + self.prior_smoothing * self.prior_
        return proba

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: unfitted, it raises NotFittedError
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # it is fitted on sparse TF-IDF matrices
        return tags

    def class_weights(self) -> np.ndarray | None:
        """Weight matrix (n_classes, n_features) in ``classes_`` order, or None (no linear model).

        Through calibration it is the mean over the calibrated estimators' coefficients (the
        calibrators are monotone, so a higher class score means a higher probability).
        """
        check_is_fitted(self, "model_")
        members = getattr(self.model_, "calibrated_classifiers_", None)
        estimators = [m.estimator for m in members] if members is not None else [self.model_]
        total, seen = None, np.zeros(len(self.classes_))
        index = {c: i for i, c in enumerate(self.classes_)}
        for estimator in estimators:
            found = _weights(estimator)
            if found is None:
                return None
            classes, coef = found
            if total is None:
                total = np.zeros((len(self.classes_), coef.shape[1]))
            for row, label in zip(coef, classes, strict=True):
                # temperature calibration fits its estimators on encoded labels (0..n-1)
                i = index[label] if label in index else int(label)
                total[i] += row
                seen[i] += 1
        return total / np.maximum(seen, 1)[:, None]


def make_classifier(config) -> KwctClassifier:
    """The configured classifier (a ``CLASSIFIERS`` entry), wrapped for calibrated probabilities."""
    entry = CLASSIFIERS[config.classifier]
    base = entry.factory(**{key: getattr(config, key) for key in entry.keys})
    return KwctClassifier(base, calibration=config.calibration, cv=config.calibration_cv,
                          random_state=config.seed, prior_smoothing=config.prior_smoothing)
