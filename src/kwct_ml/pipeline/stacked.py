"""Stacked scoring: every task's calibrated probabilities from one feature pass and one ``X @ W``.

Both task pipelines of a model usually share their feature block (same vectoriser, vocabulary and
idf), and their classifiers are linear models inside sigmoid (Platt) calibration. Scoring them
one ``predict_proba`` at a time vectorises each text twice and pays scikit-learn's per-call
overhead for every calibration member. ``StackedScorer`` transforms each distinct feature block
once, multiplies by all members' weights stacked into one matrix and applies the Platt
calibration with numpy, operation for operation as scikit-learn does, so the probabilities equal
``pipeline.predict_proba`` (tests/test_stacked.py). Models it cannot stack give ``None``. The module
imports no scikit-learn or scipy (``build`` does), so the compiled scorer scores with it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np


@dataclass
class _Member:
    """One calibrated classifier: its columns of the stacked scores and its Platt parameters."""

    columns: slice
    class_index: np.ndarray  # output class of each column
    a: np.ndarray
    b: np.ndarray


@dataclass
class _Task:
    features: int  # index into StackedScorer.features
    members: list[_Member]
    n_classes: int
    prior_smoothing: float
    prior: np.ndarray


class StackedScorer:
    """Calibrated probabilities of several tasks at once (``None`` from ``build`` if not linear+sigmoid)."""

    def __init__(self, features: list, weights: list[np.ndarray], intercepts: list[np.ndarray],
                 tasks: dict[str, _Task]):
        self.features = features
        self.weights = weights  # per feature block: (n_features, n_columns), C-contiguous
        self.intercepts = intercepts
        self.tasks = tasks

    @classmethod
    def build(cls, pipelines: dict) -> StackedScorer | None:
        """A scorer for ``pipelines`` (task -> fitted Pipeline ending in KwctClassifier), or None."""
        from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
        from sklearn.linear_model._base import LinearClassifierMixin

        features, keys, blocks, tasks = [], [], [], {}
        for task, pipeline in pipelines.items():
            if len(pipeline.steps) != 2:
                return None
            clf = pipeline[-1]
            model = getattr(clf, "model_", None)
            if not isinstance(model, CalibratedClassifierCV) or model.method != "sigmoid":
                return None
            key = pickle.dumps(pipeline[0], protocol=pickle.HIGHEST_PROTOCOL)
            if key not in keys:
                keys.append(key)
                features.append(pipeline[0])
                blocks.append([])
            block = keys.index(key)
            classes = np.asarray(model.classes_)
            members = []
            for calibrated in model.calibrated_classifiers_:
                estimator = calibrated.estimator
                if (not isinstance(estimator, LinearClassifierMixin)
                        or not all(isinstance(c, _SigmoidCalibration) for c in calibrated.calibrators)
                        or not isinstance(estimator.coef_, np.ndarray)):
                    return None
                coef = np.asarray(estimator.coef_, dtype=np.float64)
                intercept = np.broadcast_to(np.asarray(estimator.intercept_, dtype=np.float64),
                                            (coef.shape[0],))
                class_index = np.searchsorted(classes, estimator.classes_)
                if len(classes) == 2:  # binary: one score, for classes[1]
                    class_index = class_index[:1] + 1
                if coef.shape[0] != len(calibrated.calibrators) or coef.shape[0] != len(class_index):
                    return None
                start = sum(part[0].shape[0] for part in blocks[block])
                blocks[block].append((coef, intercept))
                members.append(_Member(slice(start, start + coef.shape[0]), class_index,
                                       np.array([c.a_ for c in calibrated.calibrators], dtype=np.float64),
                                       np.array([c.b_ for c in calibrated.calibrators], dtype=np.float64)))
            tasks[task] = _Task(block, members, len(classes), float(clf.prior_smoothing),
                                np.asarray(clf.prior_, dtype=np.float64))
        weights = [np.ascontiguousarray(np.vstack([c for c, _ in parts]).T) for parts in blocks]
        intercepts = [np.concatenate([i for _, i in parts]) for parts in blocks]
        return cls(features, weights, intercepts, tasks)

    def predict_proba(self, texts: list[str], tasks: list[str] | None = None) -> dict[str, np.ndarray]:
        """task -> (n, n_classes) probabilities in the classifier's ``classes_`` order."""
        wanted = list(self.tasks) if tasks is None else tasks
        scores: dict[int, np.ndarray] = {}
        out = {}
        for task in wanted:
            spec = self.tasks[task]
            if spec.features not in scores:
                X = self.features[spec.features].transform(texts)
                scores[spec.features] = X @ self.weights[spec.features] + self.intercepts[spec.features]
            out[task] = _calibrated(scores[spec.features], spec)
        return out


def _calibrated(scores: np.ndarray, spec: _Task) -> np.ndarray:
    """``CalibratedClassifierCV.predict_proba`` (sigmoid) from the stacked decision scores."""
    n = scores.shape[0]
    mean = np.zeros((n, spec.n_classes))
    for member in spec.members:
        proba = np.zeros((n, spec.n_classes))
        proba[:, member.class_index] = sigmoid(-(member.a * scores[:, member.columns] + member.b))
        if spec.n_classes == 2:
            proba[:, 0] = 1.0 - proba[:, 1]
        else:
            denominator = np.sum(proba, axis=1)[:, np.newaxis]
            uniform = np.full_like(proba, 1 / spec.n_classes)
            proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
        proba[(1.0 < proba) & (proba <= 1.0 + 1e-5)] = 1.0
        mean += proba
    mean /= len(spec.members)
    if spec.prior_smoothing:
        mean = (1 - spec.prior_smoothing) * mean + spec.prior_smoothing * spec.prior
    return mean


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``scipy.special.expit`` in numpy (equal to 1e-12, tests/test_stacked.py), never overflowing:
    ``1 / (1 + exp(-x))`` for x >= 0, ``exp(x) / (1 + exp(x))`` below."""
    out = np.empty_like(x, dtype=np.float64)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    small = np.exp(x[~positive])
    out[~positive] = small / (1.0 + small)
    return out
