"""Pipelines for the two tasks and ``KwctModel``, the object tagger/predict load and call.

Each pipeline maps raw sentence strings to calibrated class probabilities:
``Pipeline([("features", FeatureUnion([...])), ("clf", KwctClassifier(...))])``. Normalisation
happens inside the vectorisers (``preprocessor`` is a module-level function, so pickles load in
any process).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from kwct_ml.config import TEMPERATURE_RANGE, TrainConfig, valid_context_weight, valid_temperature
from kwct_ml.errors import ConfigError
from kwct_ml.schema import labels_for
from kwct_ml.text import normalize as _normalize

# --------------------------------------------------------------------------- classifier


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
        smoothing = getattr(self, "prior_smoothing", 0.0)  # models pickled before the option
        if smoothing:
            proba = (1 - smoothing) * proba + smoothing * self.prior_
        return proba

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

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


# --------------------------------------------------------------------------- pipelines

def _preprocessor(config: TrainConfig):
    return getattr(_normalize, config.normalizer)


def char_vectorizer(config: TrainConfig):
    """The character n-gram TF-IDF vectoriser (the fast one from kwct_ml.pipeline.char_tfidf if asked)."""
    params = dict(analyzer=config.analyzer, ngram_range=(config.ngram_min, config.ngram_max),
                  min_df=config.min_df, max_df=config.max_df, sublinear_tf=config.sublinear_tf,
                  max_features=config.max_features or None, preprocessor=_preprocessor(config),
                  lowercase=False, dtype=np.float64)
    if config.fast_vectorizer:
        from kwct_ml.pipeline.char_tfidf import FastCharTfidf
        return FastCharTfidf(**params)
    return TfidfVectorizer(**params)


def word_vectorizer(config: TrainConfig, ngram_max: int | None = None):
    """Word n-gram TF-IDF over normalised text (tokens of two or more word characters)."""
    return TfidfVectorizer(analyzer="word", ngram_range=(1, ngram_max or config.word_ngram_max),
                           min_df=1, sublinear_tf=config.sublinear_tf,
                           preprocessor=_preprocessor(config), lowercase=False, dtype=np.float64)


def cue_features(config: TrainConfig):
    try:
        from kwct_ml.pipeline.cues import CueFeatures
    except ImportError as exc:
        raise ConfigError(f"use_cues: kwct_ml.pipeline.cues.CueFeatures is not available ({exc}); "
                          "set use_cues = false") from None
    return CueFeatures()


def make_classifier(config: TrainConfig) -> KwctClassifier:
    """The configured linear classifier, wrapped for calibrated probabilities."""
    weight = None if config.class_weight == "none" else config.class_weight
    if config.classifier == "linear_svc":
        base = LinearSVC(C=config.C, class_weight=weight, max_iter=config.max_iter,
                         random_state=config.seed)
    elif config.classifier == "logreg":
        base = LogisticRegression(C=config.C, class_weight=weight, max_iter=config.max_iter)
    elif config.classifier == "sgd":
        base = SGDClassifier(loss="log_loss", alpha=config.alpha, class_weight=weight,
                             max_iter=config.max_iter, tol=1e-4, random_state=config.seed)
    elif config.classifier == "complement_nb":
        base = ComplementNB(alpha=config.nb_alpha)
    else:  # pragma: no cover - TrainConfig validates
        raise ConfigError(f"classifier: unknown {config.classifier!r}")
    return KwctClassifier(base, calibration=config.calibration, cv=config.calibration_cv,
                          random_state=config.seed, prior_smoothing=config.prior_smoothing)


def build_pipeline(config: TrainConfig, task: str) -> Pipeline:
    """The unfitted pipeline of ``task`` ('topic' or 'stance'): features -> calibrated clf."""
    labels_for(task)  # validates the task name
    blocks = [("char", char_vectorizer(config))]
    if config.word_ngrams:
        blocks.append(("word", word_vectorizer(config)))
    if config.use_cues:
        blocks.append(("cues", cue_features(config)))
    return Pipeline([("features", FeatureUnion(blocks)), ("clf", make_classifier(config))])


def build_word_baseline(config: TrainConfig, task: str) -> Pipeline:
    """Baseline: word-unigram TF-IDF with the same classifier and calibration."""
    labels_for(task)
    return Pipeline([("features", FeatureUnion([("word", word_vectorizer(config, ngram_max=1))])),
                     ("clf", make_classifier(config))])


# --------------------------------------------------------------------------- KwctModel

def display_feature_name(name: str) -> str:
    """'char__ الكو' -> ' الكو', 'word__x' -> 'word:x', 'cues__cue:...' -> 'cue:...'."""
    block, sep, rest = name.partition("__")
    if not sep:
        return name
    return f"word:{rest}" if block == "word" else rest


def article_context(proba: np.ndarray, groups: Sequence | None, weight: float,
                    temperature: float = 1.0) -> np.ndarray:
    """Mix each row with the mean of its group (its article): ``(1 - w) * p + w * mean(p)``.

    News sentences share their article's subject; a sentence alone ("the company asked for a
    delay") often says too little. ``groups`` None or ``weight`` 0 returns ``proba`` unchanged.
    Averaging flattens the probabilities, so the mix is then sharpened to ``p ** (1 / temperature)``
    (renormalised; below 1 sharpens). Each row's ranking of labels, hence its label, is unchanged.
    A sentence alone in its article is not averaged with anything, so it is not sharpened either.
    """
    if groups is None:
        return proba
    if isinstance(groups, str):
        raise TypeError("groups must be one article key per text, not one string")
    groups = list(groups)
    if len(groups) != len(proba):
        raise ValueError(f"groups: {len(groups)} values for {len(proba)} texts")
    if not weight or not len(proba):
        return proba
    index: dict = {}
    keys = np.array([index.setdefault(g, len(index)) for g in groups], dtype=int)
    sums = np.zeros((keys.max() + 1, proba.shape[1]))
    np.add.at(sums, keys, proba)
    sizes = np.bincount(keys)
    mixed = (1 - weight) * proba + weight * (sums / sizes[:, None])[keys]
    shared = sizes[keys] > 1
    if temperature == 1.0 or not shared.any():
        return mixed
    logits = np.log(np.clip(mixed[shared], 1e-12, None)) / temperature
    sharp = np.exp(logits - logits.max(axis=1, keepdims=True))
    mixed[shared] = sharp / sharp.sum(axis=1, keepdims=True)
    return mixed


class KwctModel:
    """The two fitted task pipelines behind one small API (the contract in DEVELOPERS.md).

    ``context`` maps a task to its article-context weight (``article_context``), applied when the
    caller says which article each text comes from (``groups``); ``temperature`` maps a task to the
    sharpening applied after that mix (1 = none).
    """

    def __init__(self, pipelines: dict[str, Pipeline], context: dict[str, float] | None = None,
                 temperature: dict[str, float] | None = None):
        for task, pipeline in pipelines.items():
            labels_for(task)
            if not hasattr(pipeline, "steps") or pipeline.steps[-1][0] != "clf":
                raise TypeError(f"{task}: expected a Pipeline whose last step is 'clf'")
        self.pipelines = dict(pipelines)
        self.context = {}
        for task, weight in (context or {}).items():
            if not valid_context_weight(weight):
                raise ValueError(f"context: {task} weight must be in [0, 1), got {weight!r}")
            if weight and task in self.pipelines:  # a weight for a task the model lacks is moot
                self.context[task] = float(weight)
        self.temperature = {}
        for task, value in (temperature or {}).items():
            if not valid_temperature(value):
                raise ValueError(f"temperature: {task} must be a number in [{TEMPERATURE_RANGE[0]}, "
                                 f"{TEMPERATURE_RANGE[1]}], got {value!r}")
            if value != 1 and task in self.context:  # sharpening acts only on an article mix
                self.temperature[task] = float(value)
        self._names: dict[str, np.ndarray] = {}
        self._order: dict[str, tuple[list[str], np.ndarray]] = {}
        self._weights: dict[str, np.ndarray | None] = {}

    def __getstate__(self):
        return {"pipelines": self.pipelines, "context": self.context, "temperature": self.temperature}

    def __setstate__(self, state):  # models saved before context or temperature: none
        self.__init__(state["pipelines"], state.get("context"), state.get("temperature"))

    def _mix(self, task: str, proba: np.ndarray, groups: Sequence | None) -> np.ndarray:
        return article_context(proba, groups, self.context.get(task, 0.0), self.temperature.get(task, 1.0))

    @property
    def tasks(self) -> list[str]:
        return list(self.pipelines)

    def _pipeline(self, task: str) -> Pipeline:
        try:
            return self.pipelines[task]
        except KeyError:
            raise ValueError(f"unknown task {task!r}; this model has {self.tasks}") from None

    def _column_order(self, task: str) -> tuple[list[str], np.ndarray]:
        """Classes in schema order (unknown labels last) and the matching clf column indices."""
        if task not in self._order:
            fitted = [str(c) for c in self._pipeline(task)[-1].classes_]
            schema = labels_for(task)
            ordered = [c for c in schema if c in fitted] + sorted(c for c in fitted if c not in schema)
            self._order[task] = (ordered, np.array([fitted.index(c) for c in ordered], dtype=int))
        return self._order[task]

    def classes(self, task: str) -> list[str]:
        """Labels the ``task`` model can predict, in schema order."""
        return list(self._column_order(task)[0])

    @staticmethod
    def _texts(texts: Iterable[str]) -> list[str]:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        return [str(t) for t in texts]

    def predict_proba(self, task: str, texts: Sequence[str], groups: Sequence | None = None) -> np.ndarray:
        """Calibrated probabilities (n, n_classes), columns in ``classes(task)`` order.

        ``groups`` (one article key per text) turns on the task's article context, if it has one.
        """
        texts = self._texts(texts)
        _, columns = self._column_order(task)
        if not texts:
            return np.zeros((0, len(columns)))
        proba = self._pipeline(task).predict_proba(texts)[:, columns]
        return self._mix(task, proba, groups)

    def predict(self, task: str, texts: Sequence[str],
                groups: Sequence | None = None) -> tuple[list[str], np.ndarray]:
        """(labels, scores): the most probable label and its probability for each text."""
        proba = self.predict_proba(task, texts, groups)
        classes = self.classes(task)
        best = np.argmax(proba, axis=1) if len(proba) else np.zeros(0, dtype=int)
        return [classes[i] for i in best], proba[np.arange(len(best)), best]

    def feature_names(self, task: str) -> np.ndarray:
        """Display names of the features of ``task`` (char n-grams as they are, others prefixed)."""
        if task not in self._names:
            features = self._pipeline(task)[:-1]
            try:
                raw = features.get_feature_names_out()
                names = np.array([display_feature_name(str(n)) for n in raw], dtype=object)
            except (AttributeError, ValueError, TypeError):
                names = None
            self._names[task] = names
        return self._names[task]

    def class_weights(self, task: str) -> np.ndarray | None:
        """Weights (n_classes, n_features) in ``classes(task)`` order, or None (computed once)."""
        if task not in self._weights:
            weights = self._pipeline(task)[-1].class_weights()
            self._weights[task] = None if weights is None else weights[self._column_order(task)[1]]
        return self._weights[task]

    def explain(self, task: str, texts: Sequence[str], k: int = 5,
                groups: Sequence | None = None) -> list[list[tuple[str, float]]]:
        """For each text, up to ``k`` (feature, contribution) that pushed its predicted label most.

        contribution = feature value x weight of the predicted class, largest first; they can all
        be negative when nothing in the text favours the label (it then rests on the intercept).
        Empty lists when the model has no linear weights or the text no known feature.
        """
        texts = self._texts(texts)
        if not texts or k <= 0:
            return [[] for _ in texts]
        weights = self.class_weights(task)
        if weights is None:
            return [[] for _ in texts]
        pipeline = self._pipeline(task)
        X = sparse.csr_matrix(pipeline[:-1].transform(texts))  # transformed once, for both uses
        # explain the label ``predict`` gives
        proba = self._mix(task, pipeline[-1].predict_proba(X)[:, self._column_order(task)[1]], groups)
        names = self.feature_names(task)
        if names is None or len(names) != X.shape[1]:
            names = np.array([f"f{i}" for i in range(X.shape[1])], dtype=object)
        best = np.argmax(proba, axis=1)
        out: list[list[tuple[str, float]]] = []
        for i in range(X.shape[0]):
            row = X.getrow(i)
            contrib = row.data * weights[best[i], row.indices]
            order = np.argsort(-contrib, kind="stable")[:k]
            out.append([(str(names[row.indices[j]]), float(contrib[j])) for j in order])
        return out
