"""Fitting: which sentences train (authored ones always, real ones weighted) and the final model.

The feature steps of ``build_pipeline``/``build_word_baseline`` do not depend on the task (the same
vectorisers on the same texts; ``y`` is ignored), so ``fit_pipelines`` fits them once per training
set for all tasks and reuses the matrix for every task's classifier (issue 20): each pipeline equals
``builder(config, task).fit(texts, y, **weights)`` (tests/test_fit_shared.py).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import AUTHORED
from kwct_ml.pipeline.model import KwctModel, build_pipeline
from kwct_ml.schema import TASKS


def split_corpus(corpus: pd.DataFrame, include_authored: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(evaluated sentences of real articles, authored training-only sentences)."""
    authored = corpus["source"].eq(AUTHORED) if "source" in corpus else pd.Series(False, corpus.index)
    evaluated = corpus[~authored].reset_index(drop=True)
    extra = corpus[authored].reset_index(drop=True) if include_authored else corpus.iloc[0:0]
    return evaluated, extra.reset_index(drop=True)


def sample_weights(train: pd.DataFrame, config: TrainConfig) -> dict:
    """Fit parameters giving real-article sentences ``config.real_weight`` (authored ones 1); {} at 1."""
    if config.real_weight == 1.0 or "source" not in train:
        return {}
    real = ~train["source"].eq(AUTHORED).to_numpy()
    return {"clf__sample_weight": np.where(real, config.real_weight, 1.0)}


def _unfitted_key(pipeline: Pipeline) -> bytes:
    """The unfitted feature steps as bytes: equal keys give equal fitted features."""
    return pickle.dumps(pipeline.steps[:-1], protocol=pickle.HIGHEST_PROTOCOL)


def fit_pipelines(builder: Callable[[TrainConfig, str], Pipeline], config: TrainConfig,
                  train: pd.DataFrame, tasks: Sequence[str]) -> dict[str, Pipeline]:
    """task -> ``builder(config, task)`` fitted on ``train`` (weighted by ``sample_weights``); tasks
    whose unfitted feature steps agree share one fitted feature block, fitted once."""
    texts = train["text"].tolist()
    weights = {key.partition("__")[2]: value for key, value in sample_weights(train, config).items()}
    fitted: dict[bytes, tuple[list, object]] = {}  # unfitted key -> (fitted steps, training matrix)
    out = {}
    for task in tasks:
        pipeline = builder(config, task)
        y = train[task].tolist()
        key = _unfitted_key(pipeline)
        if key not in fitted:  # what Pipeline.fit does before the last step: fit_transform(texts, y)
            features = Pipeline(pipeline.steps[:-1])
            fitted[key] = (features.steps, features.fit_transform(texts, y))
        steps, X = fitted[key]
        pipeline.steps[:-1] = steps
        pipeline.steps[-1][1].fit(X, y, **weights)
        out[task] = pipeline
    return out


def fit_model(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS)) -> KwctModel:
    """The final model: every task pipeline fitted on all of ``corpus`` (authored per config)."""
    evaluated, extra = split_corpus(corpus, config.include_authored)
    train = pd.concat([evaluated, extra], ignore_index=True)
    return KwctModel(fit_pipelines(build_pipeline, config, train, tasks), config.context(),
                     config.context_temperature())
