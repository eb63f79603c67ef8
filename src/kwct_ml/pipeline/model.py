"""Pipelines for the two tasks and ``KwctModel``, the object tagger/predict load and call.

Each pipeline maps raw sentence strings to calibrated class probabilities:
``Pipeline([("features", FeatureUnion([...])), ("clf", KwctClassifier(...))])`` (the classifier
from ``pipeline/classifiers.py``; the article-context mix from ``pipeline/context.py``). Normalisation
happens inside the vectorisers (``preprocessor`` is a module-level function, so pickles load in
any process).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from kwct_ml.config import TrainConfig
from kwct_ml.errors import ConfigError
from kwct_ml.pipeline.classifiers import make_classifier
from kwct_ml.pipeline.context import article_context, context_problem
from kwct_ml.pipeline.stacked import StackedScorer
from kwct_ml.schema import labels_for
from kwct_ml.text import normalize as _normalize

#: Texts vectorised at once. The n-gram matrix of a whole 50 MB article took gigabytes; rows are
#: scored independently, so chunks give the same probabilities in bounded memory.
SCORE_CHUNK = 2000

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


def cue_block(pipeline: Pipeline):
    """The fitted cue transformer of ``pipeline``'s feature union (it names matched words), or None."""
    features = pipeline.named_steps.get("features")
    for _, block in getattr(features, "transformer_list", ()):
        if hasattr(block, "describe"):
            return block
    return None


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
        problem = context_problem(context, temperature)
        if problem:
            raise ValueError(problem)
        self.pipelines = dict(pipelines)
        # a weight for a task the model lacks is moot; sharpening acts only on an article mix
        self.context = {task: float(w) for task, w in (context or {}).items() if w and task in self.pipelines}
        self.temperature = {task: float(t) for task, t in (temperature or {}).items()
                            if t != 1 and task in self.context}
        self._names: dict[str, np.ndarray] = {}
        self._order: dict[str, tuple[list[str], np.ndarray]] = {}
        self._weights: dict[str, np.ndarray | None] = {}
        self._scorer: StackedScorer | None | bool = False  # False: not built yet

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
        pipeline = self._pipeline(task)
        proba = np.vstack([pipeline.predict_proba(texts[i:i + SCORE_CHUNK])
                           for i in range(0, len(texts), SCORE_CHUNK)])[:, columns]
        return self._mix(task, proba, groups)

    def predict(self, task: str, texts: Sequence[str],
                groups: Sequence | None = None) -> tuple[list[str], np.ndarray]:
        """(labels, scores): the most probable label and its probability for each text."""
        proba = self.predict_proba(task, texts, groups)
        classes = self.classes(task)
        best = np.argmax(proba, axis=1) if len(proba) else np.zeros(0, dtype=int)
        return [classes[i] for i in best], proba[np.arange(len(best)), best]

    def predict_tasks(self, texts: Sequence[str], groups: Sequence | None = None,
                      tasks: Sequence[str] | None = None) -> dict[str, tuple[list[str], np.ndarray]]:
        """``predict`` of several tasks (default all) at once: task -> (labels, scores).

        Equal to calling ``predict`` per task, faster: each distinct text is vectorised once for
        all tasks and scored by one stacked product (``pipeline/stacked.py``) when the model allows.
        """
        texts = self._texts(texts)
        tasks = self.tasks if tasks is None else list(tasks)
        for task in tasks:
            self._pipeline(task)
        if self._scorer is False:
            self._scorer = StackedScorer.build(self.pipelines)
        if self._scorer is None or not texts:
            return {task: self.predict(task, texts, groups) for task in tasks}
        index: dict[str, int] = {}
        inverse = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64,
                              count=len(texts))
        distinct = list(index)  # repeated sentences (bylines, boilerplate) are scored once
        parts = [self._scorer.predict_proba(distinct[i:i + SCORE_CHUNK], tasks)
                 for i in range(0, len(distinct), SCORE_CHUNK)]
        raw = {task: np.vstack([part[task] for part in parts]) for task in tasks}
        out = {}
        for task in tasks:
            classes, columns = self._column_order(task)
            proba = self._mix(task, raw[task][:, columns][inverse], groups)
            best = np.argmax(proba, axis=1)
            out[task] = [classes[i] for i in best], proba[np.arange(len(best)), best]
        return out

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
        cues = cue_block(pipeline)
        out: list[list[tuple[str, float]]] = []
        for i in range(X.shape[0]):
            row = X.getrow(i)
            contrib = row.data * weights[best[i], row.indices]
            order = np.argsort(-contrib, kind="stable")[:k]
            top = [(str(names[row.indices[j]]), float(contrib[j])) for j in order]
            if cues is not None:  # a cue column says which words fired it
                top = [(cues.describe(name, texts[i]) if name.startswith("cue:") else name, c)
                       for name, c in top]
            out.append(top)
        return out
