"""Fitting: which sentences train (authored ones always, real ones weighted) and the final model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

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


def fit_model(corpus: pd.DataFrame, config: TrainConfig, tasks: Sequence[str] = tuple(TASKS)) -> KwctModel:
    """The final model: every task pipeline fitted on all of ``corpus`` (authored per config)."""
    evaluated, extra = split_corpus(corpus, config.include_authored)
    train = pd.concat([evaluated, extra], ignore_index=True)
    texts = train["text"].tolist()
    weights = sample_weights(train, config)
    return KwctModel({task: build_pipeline(config, task).fit(texts, train[task].tolist(), **weights)
                      for task in tasks}, config.context(), config.context_temperature())
