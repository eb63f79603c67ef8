"""Pipelines for the two tasks and ``KwctModel``, the object tagger/predict load and call.

Each pipeline maps raw sentence strings to calibrated class probabilities:
``Pipeline([("features", FeatureUnion([...])), ("clf", KwctClassifier(...))])`` (the classifier
from ``pipeline/classifiers.py``; the article-context mix from ``pipeline/context.py``). Normalisation
happens inside the vectorisers (``preprocessor`` is a module-level function, so pickles load in
any process).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from kwct_ml.config import TrainConfig
from kwct_ml.errors import ConfigError
from kwct_ml.pipeline.classifiers import make_classifier
from kwct_ml.pipeline.scoring import TaskScorer
from kwct_ml.pipeline.stacked import StackedScorer
from kwct_ml.schema import labels_for
from kwct_ml.text import normalize as _normalize

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


class KwctModel(TaskScorer):
    """The two fitted task pipelines behind one small API (the contract in DEVELOPERS.md).

    ``context`` maps a task to its article-context weight (``article_context``), applied when the
    caller says which article each text comes from (``groups``); ``temperature`` maps a task to the
    sharpening applied after that mix (1 = none). Scoring is ``TaskScorer``'s (pipeline/scoring.py).
    """

    def __init__(self, pipelines: dict[str, Pipeline], context: dict[str, float] | None = None,
                 temperature: dict[str, float] | None = None):
        for task, pipeline in pipelines.items():
            labels_for(task)
            if not hasattr(pipeline, "steps") or pipeline.steps[-1][0] != "clf":
                raise TypeError(f"{task}: expected a Pipeline whose last step is 'clf'")
        self.pipelines = dict(pipelines)
        self._set_context(context, temperature)
        self._names: dict[str, np.ndarray] = {}
        self._weights: dict[str, np.ndarray | None] = {}
        self._scorer: StackedScorer | None | bool = False  # False: not built yet

    def __getstate__(self):
        return {"pipelines": self.pipelines, "context": self.context, "temperature": self.temperature}

    def __setstate__(self, state):  # models saved before context or temperature: none
        self.__init__(state["pipelines"], state.get("context"), state.get("temperature"))

    @property
    def tasks(self) -> list[str]:
        return list(self.pipelines)

    def _pipeline(self, task: str) -> Pipeline:
        self._check_task(task)
        return self.pipelines[task]

    def _fitted_classes(self, task: str):
        return self._pipeline(task)[-1].classes_

    def _raw_proba(self, task: str, texts: list[str]) -> np.ndarray:
        return self._pipeline(task).predict_proba(texts)

    def _stacked(self) -> StackedScorer | None:
        if self._scorer is False:
            self._scorer = StackedScorer.build(self.pipelines)
        return self._scorer

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
