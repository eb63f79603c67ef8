"""Article summaries of tagged sentences: each label's count, share and mean confidence, and a
dominant label only when enough of the article carries it.

One false sentence must not make an article a "condemnation" article: the background labels
(other/neutral) count in the shares, and a dominant label needs ``MIN_SENTENCES`` sentences and
``MIN_SHARE`` of the article (docs/predict.md states the rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kwct_ml.schema import BACKGROUND, STANCES, TOPICS

#: A dominant label needs at least this many sentences ...
MIN_SENTENCES = 2
#: ... and at least this share of all the article's sentences (other/neutral included).
MIN_SHARE = 0.2
#: ``dominant_*`` when two labels pass the bar with the same number of sentences.
MIXED = "mixed"
#: Decimals of shares and mean confidences.
DECIMALS = 4


@dataclass(frozen=True)
class ArticleSummary:
    """One article: per label count, share and mean confidence; dominant labels; strongest sentences."""

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
    #: label -> mean score of the sentences given that label (absent when none was).
    topic_confidence: dict[str, float] = field(default_factory=dict)
    stance_confidence: dict[str, float] = field(default_factory=dict)

    def share(self, task: str, label: str) -> float:
        """Fraction of the article's sentences given ``label`` for ``task``."""
        counts = self.topic_counts if task == "topic" else self.stance_counts
        return round(counts.get(label, 0) / self.n_sentences, DECIMALS) if self.n_sentences else 0.0

    def as_row(self) -> dict:
        """The flat summary row written by ``predict --summary`` (columns in docs/predict.md)."""
        row: dict = {"doc_id": self.doc_id, "title": self.title, "n_sentences": self.n_sentences}
        row.update({f"topic_{label}": n for label, n in self.topic_counts.items()})
        row.update({f"stance_{label}": n for label, n in self.stance_counts.items()})
        for task, labels, conf in (("topic", TOPICS, self.topic_confidence),
                                   ("stance", STANCES, self.stance_confidence)):
            for label in labels:
                row[f"{task}_{label}_share"] = self.share(task, label)
                row[f"{task}_{label}_confidence"] = conf.get(label)
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
    for task, labels in (("topic", TOPICS), ("stance", STANCES)):
        for label in labels:
            cols += [f"{task}_{label}_share", f"{task}_{label}_confidence"]
    cols += ["dominant_topic", "dominant_stance"]
    for stance in summary_stances():
        cols += [f"strongest_{stance}", f"strongest_{stance}_score"]
    return cols


def dominant(counts: Mapping[str, int], n_sentences: int, background: str) -> str:
    """The non-background label with the most sentences, if it has at least MIN_SENTENCES and
    MIN_SHARE of all ``n_sentences``; ``MIXED`` when two such labels tie; else empty."""
    passing = {label: n for label, n in counts.items()
               if label != background and n >= MIN_SENTENCES and n >= MIN_SHARE * n_sentences}
    if not passing:
        return ""
    best = max(passing.values())
    top = [label for label, n in passing.items() if n == best]
    return top[0] if len(top) == 1 else MIXED


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


def _means(sums: dict[str, float], counts: dict[str, int]) -> dict[str, float]:
    return {label: round(total / counts[label], DECIMALS) for label, total in sums.items()
            if counts.get(label)}


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
                dominant_topic=dominant(s.topics, s.n, BACKGROUND["topic"]),
                dominant_stance=dominant(s.stances, s.n, BACKGROUND["stance"]),
                strongest={k: s.strongest[k] for k in summary_stances() if k in s.strongest},
                topic_confidence=_means(s.topic_sum, s.topics),
                stance_confidence=_means(s.stance_sum, s.stances)))
        return out
