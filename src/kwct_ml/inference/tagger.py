"""The Python API: tag sentences or whole articles with a topic and a stance, and summarise them.

``Tagger`` wraps a trained ``KwctModel``; its dataclasses use the same field names as the columns
of ``python -m kwct_ml.predict`` (docs/predict.md), so ``pandas.DataFrame(tags)`` gives the same
table as the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwct_ml.inference.summary import ArticleSummary, SummaryBuilder, summary_columns
from kwct_ml.text.segment import Sentence, segment

__all__ = ["ArticleSummary", "SentenceTag", "Span", "SummaryBuilder", "Tagger", "summary_columns"]

#: Decimals kept in scores and explanation weights (the CLI writes exactly these values).
SCORE_DECIMALS = 4

#: Output columns of every sentence row, in order (a documented contract).
SENTENCE_COLUMNS = ("doc_id", "sent_id", "start", "end", "text", "topic", "topic_score", "stance",
                    "stance_score")
#: Optional columns: ``uncertain`` with a confidence threshold, ``*_explain`` with explain > 0.
UNCERTAIN_COLUMN = "uncertain"
EXPLAIN_COLUMNS = ("topic_explain", "stance_explain")
#: Optional columns with top_k > 0: the K most probable labels of each task and their probabilities.
TOP_COLUMNS = ("topic_top", "stance_top")


class TopLabels(tuple):
    """The K best (label, probability) pairs: ``label:prob|label:prob`` in a CSV/TSV cell, a JSON
    list of pairs in JSON lines."""

    def cell(self) -> str:
        return "|".join(f"{label}:{prob}" for label, prob in self)


@dataclass(frozen=True)
class Span:
    """A sentence to tag: ``text`` is ``document[start:end]`` of the document ``doc_id``."""

    doc_id: str
    sent_id: int
    start: int
    end: int
    text: str

    @classmethod
    def of(cls, doc_id: str, sentence: Sentence) -> Span:
        """The span of a ``sentence`` segmented from the document ``doc_id``."""
        return cls(doc_id, sentence.sent_id, sentence.start, sentence.end, sentence.text)


@dataclass(frozen=True)
class SentenceTag:
    """One tagged sentence; ``text == article[start:end]`` for articles (0, len(text) otherwise)."""

    doc_id: str
    sent_id: int
    start: int
    end: int
    text: str
    topic: str
    topic_score: float
    stance: str
    stance_score: float
    uncertain: bool | None = None
    topic_explain: list[tuple[str, float]] | None = None
    stance_explain: list[tuple[str, float]] | None = None
    topic_top: TopLabels | None = None
    stance_top: TopLabels | None = None

    def as_row(self) -> dict:
        """The output row: the nine contract columns plus the optional ones that are set."""
        row = {name: getattr(self, name) for name in SENTENCE_COLUMNS}
        if self.uncertain is not None:
            row[UNCERTAIN_COLUMN] = self.uncertain
        if self.topic_explain is not None:
            row["topic_explain"] = self.topic_explain
            row["stance_explain"] = self.stance_explain
        if self.topic_top is not None:
            row["topic_top"] = self.topic_top
            row["stance_top"] = self.stance_top
        return row


def _round(x: float) -> float:
    value = round(float(x), SCORE_DECIMALS)
    return 0.0 if value == 0 or math.isnan(value) else value


class Tagger:
    """Tags sentences with a topic and a stance using a trained ``KwctModel``.

    >>> tagger = Tagger.load()                       # models/latest
    >>> tags = tagger.tag_article(text, doc_id="a1")  # segment, then tag every sentence
    >>> tagger.summarise(tags)[0].dominant_stance
    """

    def __init__(self, model, manifest: dict | None = None, path: str | Path | None = None):
        self.model, self.manifest, self.path = model, manifest or {}, path

    @classmethod
    def load(cls, path: str | Path | None = None, compiled: bool = False) -> Tagger:
        """Load the model folder ``path`` (default ``models/latest``); ``ModelError`` if absent.

        ``compiled``: use the folder's compiled scorer (scorer.npz: no pickle, no scikit-learn) when
        it has one; it tags as the pipelines do but cannot ``explain``.
        """
        from kwct_ml.bundle.store import load_model, load_scorer  # here: `import kwct_ml` stays cheap

        loaded = load_scorer(path) if compiled else None
        model, manifest = loaded if loaded is not None else load_model(path)
        return cls(model, manifest, path)

    def tag_spans(self, spans: Sequence[Span], explain: int = 0, min_confidence: float | None = None,
                  groups: Sequence | None = None, top_k: int = 0) -> list[SentenceTag]:
        """Tag ``spans`` in one model call per task.

        ``groups`` gives the article of each span when whole articles are tagged (the model's
        article context, if it has one, then applies); None tags every span on its own.
        ``top_k`` > 0 adds the K most probable labels of each task with their probabilities.
        """
        if not spans:
            return []
        texts = [span.text for span in spans]
        tops = {}
        if top_k > 0:
            predicted = {task: self._predict_top(task, texts, groups, top_k, tops)
                         for task in ("topic", "stance")}
        elif hasattr(self.model, "predict_tasks"):  # KwctModel: both tasks in one pass
            predicted = self.model.predict_tasks(texts, groups, ("topic", "stance"))
        else:
            predicted = {task: self.model.predict(task, texts, groups) for task in ("topic", "stance")}
        topics, topic_scores = predicted["topic"]
        stances, stance_scores = predicted["stance"]
        topic_expl = stance_expl = None
        if explain > 0:
            topic_expl = self.model.explain("topic", texts, explain, groups)
            stance_expl = self.model.explain("stance", texts, explain, groups)
        tags = []
        for i, span in enumerate(spans):
            ts, ss = _round(topic_scores[i]), _round(stance_scores[i])
            tags.append(SentenceTag(
                doc_id=span.doc_id, sent_id=int(span.sent_id), start=int(span.start), end=int(span.end),
                text=span.text,
                topic=str(topics[i]), topic_score=ts, stance=str(stances[i]), stance_score=ss,
                uncertain=None if min_confidence is None else bool(ts < min_confidence
                                                                   or ss < min_confidence),
                topic_explain=None if topic_expl is None else
                [(str(f), _round(w)) for f, w in topic_expl[i]],
                stance_explain=None if stance_expl is None else
                [(str(f), _round(w)) for f, w in stance_expl[i]],
                topic_top=tops["topic"][i] if tops else None,
                stance_top=tops["stance"][i] if tops else None))
        return tags

    def _predict_top(self, task: str, texts: list[str], groups, k: int, tops: dict):
        """(labels, scores) as ``model.predict`` gives them; ``tops[task]``: each text's K best."""
        proba = self.model.predict_proba(task, texts, groups)
        classes = self.model.classes(task)
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        tops[task] = [TopLabels((classes[j], _round(row[j])) for j in best)
                      for row, best in zip(proba, order, strict=True)]
        best = order[:, 0]
        return [classes[j] for j in best], proba[np.arange(len(best)), best]

    def tag_sentences(self, texts: Iterable[str], doc_id: str = "", explain: int = 0,
                      min_confidence: float | None = None,
                      articles: Sequence | None = None) -> list[SentenceTag]:
        """Tag each text as one sentence, as it is; ``sent_id`` is its index, start/end 0/len.

        ``articles`` names the article of each text: texts sharing one are one article and get the
        model's article context, as ``tag_article`` gives; None tags every text on its own.
        """
        texts = list(texts)
        if articles is not None and len(articles) != len(texts):
            raise ValueError(f"articles has {len(articles)} entries for {len(texts)} texts")
        spans = [Span(doc_id, i, 0, len(text), text) for i, text in enumerate(texts)]
        return self.tag_spans(spans, explain, min_confidence,
                              groups=None if articles is None else list(articles))

    def tag_article(self, text: str, doc_id: str = "", explain: int = 0,
                    min_confidence: float | None = None) -> list[SentenceTag]:
        """Split ``text`` into sentences (``segment``) and tag each; offsets index ``text``."""
        spans = [Span.of(doc_id, s) for s in segment(text)]
        return self.tag_spans(spans, explain, min_confidence, groups=[0] * len(spans))

    def summarise(self, tags: Iterable[SentenceTag],
                  titles: Mapping[str, str] | None = None) -> list[ArticleSummary]:
        """One ``ArticleSummary`` per doc_id in ``tags`` (title: ``titles`` or first sentence)."""
        builder = SummaryBuilder(titles)
        for tag in tags:
            builder.add(tag if isinstance(tag, Mapping) else tag.as_row())
        return builder.summaries()
