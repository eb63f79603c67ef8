"""Article context: mixing a sentence's probabilities with its article's, and the checks on its settings.

News sentences share their article's subject, so ``KwctModel`` can mix each sentence's probabilities
with its article's mean (a weight per task) and sharpen the mix (a temperature per task). The rules
for those settings live here once; the config, ``KwctModel`` and the bundle manifest all use them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Sharpening temperatures outside this range underflow to NaN or flatten rows to uniform.
TEMPERATURE_RANGE = (0.05, 20.0)
WEIGHT_RULE = "in [0, 1)"
TEMPERATURE_RULE = f"in [{TEMPERATURE_RANGE[0]}, {TEMPERATURE_RANGE[1]}]"


def valid_context_weight(value) -> bool:
    """An article-context weight: a number (not a bool or a string) in [0, 1); NaN is not."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1


def valid_temperature(value) -> bool:
    """A number (not a bool or a string) in TEMPERATURE_RANGE; NaN and infinities are not."""
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and TEMPERATURE_RANGE[0] <= value <= TEMPERATURE_RANGE[1])


def context_problem(context, temperature, tasks: Sequence[str] | None = None) -> str | None:
    """What is wrong with article-context settings (one line), or None.

    ``context`` maps tasks to weights, ``temperature`` tasks to sharpening temperatures (either may
    be None = none). With ``tasks`` (a saved model's), weights must name those tasks and
    temperatures tasks that have a weight.
    """
    context = {} if context is None else context
    temperature = {} if temperature is None else temperature
    if not isinstance(context, Mapping) or not all(
            (tasks is None or task in tasks) and valid_context_weight(w) for task, w in context.items()):
        return f"'context' must map tasks of the model to weights {WEIGHT_RULE}, got {context!r}"
    if not isinstance(temperature, Mapping) or not all(
            (tasks is None or task in context) and valid_temperature(t) for task, t in temperature.items()):
        return (f"'context_temperature' must map tasks with an article context to numbers "
                f"{TEMPERATURE_RULE}, got {temperature!r}")
    return None


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
