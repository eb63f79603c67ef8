"""The Python API: tag sentences or whole articles with a topic and a stance, and summarise them.

``Tagger`` wraps a trained ``KwctModel``; its dataclasses use the same field names as the columns
of ``python -m kwct_ml.predict`` (docs/predict.md), so ``pandas.DataFrame(tags)`` gives the same
table as the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kwct_ml.schema import BACKGROUND, STANCE_PRECEDENCE, STANCES, TOPIC_PRECEDENCE, TOPICS
from kwct_ml.text.segment import Sentence, segment

#: Decimals kept in scores and explanation weights (the CLI writes exactly these values).
SCORE_DECIMALS = 4

#: Output columns of every sentence row, in order (a documented contract).
SENTENCE_COLUMNS = ("doc_id", "sent_id", "start", "end", "text", "topic", "topic_score", "stance",
                    "stance_score")
#: Optional columns: ``uncertain`` with a confidence threshold, ``*_explain`` with explain > 0.
UNCERTAIN_COLUMN = "uncertain"
EXPLAIN_COLUMNS = ("topic_explain", "stance_explain")


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

    def as_row(self) -> dict:
        """The output row: the nine contract columns plus the optional ones that are set."""
        row = {name: getattr(self, name) for name in SENTENCE_COLUMNS}
        if self.uncertain is not None:
            row[UNCERTAIN_COLUMN] = self.uncertain
        if self.topic_explain is not None:
            row["topic_explain"] = self.topic_explain
            row["stance_explain"] = self.stance_explain
        return row


@dataclass(frozen=True)
class ArticleSummary:
    """One article: label counts, dominant labels (ignoring other/neutral), strongest sentences."""

    doc_id: str
    title: str
    n_sentences: int
    topic_counts: dict[str, int]
    stance_counts: dict[str, int]
    dominant_topic: str
    dominant_stance: str
    #: stance -> (sent_id, text, stance_score) of its highest-scoring sentence, for each stance
    #: present other than neutral.
    strongest: dict[str, tuple[int, str, float]] = field(default_factory=dict)

    def as_row(self) -> dict:
        """The flat summary row written by ``predict --summary`` (columns in docs/predict.md)."""
        row: dict = {"doc_id": self.doc_id, "title": self.title, "n_sentences": self.n_sentences}
        row.update({f"topic_{label}": n for label, n in self.topic_counts.items()})
        row.update({f"stance_{label}": n for label, n in self.stance_counts.items()})
        row["dominant_topic"] = self.dominant_topic
        row["dominant_stance"] = self.dominant_stance
        for stance in summary_stances():
            best = self.strongest.get(stance)
            row[f"strongest_{stance}"] = best[1] if best else ""
            row[f"strongest_{stance}_score"] = best[2] if best else ""
        return row


def summary_stances() -> tuple[str, ...]:
    """Stances that get a strongest-sentence column (all but the background one)."""
    return tuple(s for s in STANCES if s != BACKGROUND["stance"])


def summary_columns() -> list[str]:
    """Column names of a summary row, in order."""
    cols = ["doc_id", "title", "n_sentences"]
    cols += [f"topic_{t}" for t in TOPICS] + [f"stance_{s}" for s in STANCES]
    cols += ["dominant_topic", "dominant_stance"]
    for stance in summary_stances():
        cols += [f"strongest_{stance}", f"strongest_{stance}_score"]
    return cols


def _dominant(counts: dict[str, int], totals: dict[str, float], background: str,
              precedence: Sequence[str]) -> str:
    """Most frequent non-background label; ties go to the higher summed score, then precedence."""
    order = {label: i for i, label in enumerate(precedence)}
    present = [lab for lab, n in counts.items() if n and lab != background]
    if not present:
        return ""
    return min(present, key=lambda lab: (-counts[lab], -round(totals.get(lab, 0.0), 9),
                                         order.get(lab, len(order)), lab))


class _DocState:
    """Running per-article counts while rows stream past."""

    __slots__ = ("doc_id", "title", "first_sent", "n", "topics", "stances", "topic_sum",
                 "stance_sum", "strongest")

    def __init__(self, doc_id: str, title: str | None):
        self.doc_id, self.title, self.first_sent, self.n = doc_id, title, None, 0
        self.topics = dict.fromkeys(TOPICS, 0)
        self.stances = dict.fromkeys(STANCES, 0)
        self.topic_sum: dict[str, float] = {}
        self.stance_sum: dict[str, float] = {}
        self.strongest: dict[str, tuple[int, str, float]] = {}


class SummaryBuilder:
    """Builds ``ArticleSummary`` rows from sentence rows in any order, one per ``doc_id``.

    Feeding the same rows always gives the same summaries (the CLI relies on this to rebuild a
    summary when it resumes). ``titles`` maps doc_id to a known title; otherwise a ``title`` value
    in the row (table inputs), else the article's first sentence, is used.
    """

    def __init__(self, titles: Mapping[str, str] | None = None):
        self.titles = titles or {}
        self.docs: dict[str, _DocState] = {}

    def add(self, row: Mapping) -> None:
        """Count one sentence row (a ``SentenceTag.as_row()`` dict or an output row)."""
        doc_id = str(row["doc_id"])
        state = self.docs.get(doc_id)
        if state is None:
            title = self.titles.get(doc_id) or (str(row["title"]) if row.get("title") else None)
            state = self.docs[doc_id] = _DocState(doc_id, title)
        sent_id, text = int(row["sent_id"]), str(row["text"])
        topic, stance = str(row["topic"]), str(row["stance"])
        stance_score = float(row["stance_score"])
        state.n += 1
        if state.first_sent is None or sent_id < state.first_sent[0]:
            state.first_sent = (sent_id, text)
        state.topics[topic] = state.topics.get(topic, 0) + 1
        state.stances[stance] = state.stances.get(stance, 0) + 1
        state.topic_sum[topic] = state.topic_sum.get(topic, 0.0) + float(row["topic_score"])
        state.stance_sum[stance] = state.stance_sum.get(stance, 0.0) + stance_score
        if stance != BACKGROUND["stance"]:
            best = state.strongest.get(stance)
            if best is None or stance_score > best[2] or (stance_score == best[2] and sent_id < best[0]):
                state.strongest[stance] = (sent_id, text, stance_score)

    def summaries(self) -> list[ArticleSummary]:
        """One summary per doc_id, in order of first appearance."""
        out = []
        for s in self.docs.values():
            title = s.title if s.title is not None else (s.first_sent[1] if s.first_sent else "")
            out.append(ArticleSummary(
                doc_id=s.doc_id, title=title, n_sentences=s.n,
                topic_counts=dict(s.topics), stance_counts=dict(s.stances),
                dominant_topic=_dominant(s.topics, s.topic_sum, BACKGROUND["topic"], TOPIC_PRECEDENCE),
                dominant_stance=_dominant(s.stances, s.stance_sum, BACKGROUND["stance"],
                                          STANCE_PRECEDENCE),
                strongest={k: s.strongest[k] for k in summary_stances() if k in s.strongest}))
        return out


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
    def load(cls, path: str | Path | None = None) -> Tagger:
        """Load the model folder ``path`` (default ``models/latest``); ``ModelError`` if absent."""
        from kwct_ml.bundle.store import load_model  # imported here: `import kwct_ml` stays cheap

        model, manifest = load_model(path)
        return cls(model, manifest, path)

    def tag_spans(self, spans: Sequence[Span], explain: int = 0, min_confidence: float | None = None,
                  groups: Sequence | None = None) -> list[SentenceTag]:
        """Tag ``spans`` in one model call per task.

        ``groups`` gives the article of each span when whole articles are tagged (the model's
        article context, if it has one, then applies); None tags every span on its own.
        """
        if not spans:
            return []
        texts = [span.text for span in spans]
        topics, topic_scores = self.model.predict("topic", texts, groups)
        stances, stance_scores = self.model.predict("stance", texts, groups)
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
                [(str(f), _round(w)) for f, w in stance_expl[i]]))
        return tags

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
