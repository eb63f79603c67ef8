"""The tagging API a model offers (``tasks``, ``classes``, ``predict_proba``, ``predict``,
``predict_tasks``), written once for ``KwctModel`` (pipelines) and ``CompiledScorer`` (arrays).

What they share: the class order (schema order, unknown labels last), the article-context mix,
scoring in chunks of ``SCORE_CHUNK`` texts and scoring each distinct text once. Imports no
scikit-learn, so the compiled scorer loads without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from kwct_ml.pipeline.context import article_context, context_problem
from kwct_ml.schema import labels_for

#: Texts vectorised at once. The n-gram matrix of a whole 50 MB article took gigabytes; rows are
#: scored independently, so chunks give the same probabilities in bounded memory.
SCORE_CHUNK = 2000


class TaskScorer:
    """Base of the model classes: subclasses give ``tasks``, ``_fitted_classes(task)`` (the
    classifier's own class order), ``_raw_proba(task, texts)`` (probabilities in that order) and
    ``_stacked()`` (a ``StackedScorer`` scoring every task at once, or None)."""

    def _set_context(self, context: dict | None, temperature: dict | None) -> None:
        problem = context_problem(context, temperature)
        if problem:
            raise ValueError(problem)
        # a weight for a task the model lacks is moot; sharpening acts only on an article mix
        self.context = {task: float(w) for task, w in (context or {}).items() if w and task in self.tasks}
        self.temperature = {task: float(t) for task, t in (temperature or {}).items()
                            if t != 1 and task in self.context}
        self._order: dict[str, tuple[list[str], np.ndarray]] = {}

    @property
    def tasks(self) -> list[str]:
        raise NotImplementedError

    def _check_task(self, task: str) -> None:
        if task not in self.tasks:
            raise ValueError(f"unknown task {task!r}; this model has {self.tasks}")

    def _mix(self, task: str, proba: np.ndarray, groups: Sequence | None) -> np.ndarray:
        return article_context(proba, groups, self.context.get(task, 0.0), self.temperature.get(task, 1.0))

    def _column_order(self, task: str) -> tuple[list[str], np.ndarray]:
        """Classes in schema order (unknown labels last) and the matching clf column indices."""
        if task not in self._order:
            self._check_task(task)
            fitted = [str(c) for c in self._fitted_classes(task)]
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
        proba = np.vstack([self._raw_proba(task, texts[i:i + SCORE_CHUNK])
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
            self._check_task(task)
        scorer = self._stacked()
        if scorer is None or not texts:
            return {task: self.predict(task, texts, groups) for task in tasks}
        index: dict[str, int] = {}
        inverse = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64,
                              count=len(texts))
        distinct = list(index)  # repeated sentences (bylines, boilerplate) are scored once
        parts = [scorer.predict_proba(distinct[i:i + SCORE_CHUNK], tasks)
                 for i in range(0, len(distinct), SCORE_CHUNK)]
        raw = {task: np.vstack([part[task] for part in parts]) for task in tasks}
        out = {}
        for task in tasks:
            classes, columns = self._column_order(task)
            proba = self._mix(task, raw[task][:, columns][inverse], groups)
            best = np.argmax(proba, axis=1)
            out[task] = [classes[i] for i in best], proba[np.arange(len(best)), best]
        return out
