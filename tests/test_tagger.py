"""The Python API: Tagger.load, tag_article/tag_sentences, SentenceTag fields, summarise."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from kwct_ml.errors import ModelError
from kwct_ml.inference.tagger import (
    SENTENCE_COLUMNS,
    ArticleSummary,
    SentenceTag,
    SummaryBuilder,
    Tagger,
    summary_columns,
)
from kwct_ml.schema import STANCES, TOPICS
from kwct_ml.text.segment import segment

from .test_predict import train_tiny_model


class KeywordModel:
    """A deterministic stand-in for KwctModel: labels from keywords, fixed scores."""

    rules = {"topic": [("هجوم", "terror_attack", 0.9), ("تعاون", "ct_cooperation", 0.7)],
             "stance": [("إدان", "condemnation", 0.8), ("تعاز", "solidarity", 0.6),
                        ("دعم", "support", 0.55)]}
    default = {"topic": ("other", 0.5), "stance": ("neutral", 0.4)}

    def predict(self, task, texts, groups=None):
        labels, scores = [], []
        for text in texts:
            label, score = next(((lab, sc) for key, lab, sc in self.rules[task] if key in text),
                                self.default[task])
            labels.append(label)
            scores.append(score + len(text) * 1e-3)
        return labels, np.array(scores)

    def explain(self, task, texts, k, groups=None):
        return [[(text[:3], 0.123456789)][:k] for text in texts]


@pytest.fixture
def fake() -> Tagger:
    return Tagger(KeywordModel())


@pytest.fixture(scope="module")
def real(tmp_path_factory, repo_dir) -> Tagger:
    return Tagger.load(train_tiny_model(repo_dir, tmp_path_factory.mktemp("models")))


def test_sentence_tag_fields_are_the_output_columns():
    names = [f.name for f in dataclasses.fields(SentenceTag)]
    assert names[:len(SENTENCE_COLUMNS)] == list(SENTENCE_COLUMNS)
    assert names[len(SENTENCE_COLUMNS):] == ["uncertain", "topic_explain", "stance_explain", "topic_top",
                                             "stance_top"]


def test_tag_article_keeps_offsets_into_the_text(real, repo_dir):
    text = (repo_dir / "data" / "raw" / "002_c6e343133ec51b8e.txt").read_text(encoding="utf-8")
    tags = real.tag_article(text, doc_id="a")
    assert [(t.sent_id, t.start, t.end, t.text) for t in tags] == \
        [(s.sent_id, s.start, s.end, s.text) for s in segment(text)]
    assert all(text[t.start:t.end] == t.text and t.doc_id == "a" for t in tags)
    assert {t.topic for t in tags} <= set(TOPICS) and {t.stance for t in tags} <= set(STANCES)
    assert all(0 < t.topic_score <= 1 and 0 < t.stance_score <= 1 for t in tags)
    assert all(t.uncertain is None and t.topic_explain is None for t in tags)


def test_tag_sentences_scores_are_the_calibrated_max_probability(real, arabic_sentences):
    texts = list(arabic_sentences.values())
    tags = real.tag_sentences(texts)
    proba = real.model.predict_proba("stance", texts)
    for i, tag in enumerate(tags):
        assert (tag.sent_id, tag.start, tag.end, tag.text) == (i, 0, len(texts[i]), texts[i])
        assert tag.stance == real.model.classes("stance")[int(np.argmax(proba[i]))]
        assert tag.stance_score == round(float(proba[i].max()), 4)
    assert real.tag_sentences([]) == []


def test_min_confidence_and_explain(fake):
    tags = fake.tag_sentences(["هجوم وإدانة", "نص عادي"], doc_id="d", explain=2, min_confidence=0.6)
    assert [t.uncertain for t in tags] == [False, True]
    assert tags[0].topic_explain == [("هجو", 0.1235)] and tags[0].stance_explain == [("هجو", 0.1235)]
    assert tags[0].as_row()["uncertain"] is False
    assert list(tags[0].as_row()) == [*SENTENCE_COLUMNS, "uncertain", "topic_explain", "stance_explain"]


def test_summarise_counts_dominant_and_strongest(fake):
    text = ("هجوم مدان بإدانة شديدة.\nتعاون أمني وتعازي.\nتعاون مع دعم.\nتعاون آخر مع دعم طويل جدا.\n"
            "اضف تعليق\nشارك\nتابعنا")
    tags = fake.tag_article(text, doc_id="a1")
    [summary] = fake.summarise(tags)
    assert isinstance(summary, ArticleSummary)
    assert (summary.doc_id, summary.n_sentences) == ("a1", 7)
    assert summary.title == "هجوم مدان بإدانة شديدة."  # no known title: the first sentence
    assert summary.topic_counts["other"] == 3 and summary.topic_counts["ct_cooperation"] == 3
    assert summary.dominant_topic == "ct_cooperation"  # 'other' (3) is ignored
    assert summary.stance_counts["neutral"] == 3
    assert summary.dominant_stance == "support"  # 2 support beat 1 condemnation, neutral ignored
    assert summary.strongest["support"][1] == "تعاون آخر مع دعم طويل جدا."  # the higher score
    assert set(summary.strongest) == {"condemnation", "solidarity", "support"}
    row = summary.as_row()
    assert list(row) == summary_columns()
    assert row["strongest_concern"] == "" and row["stance_support"] == 2


def test_summary_of_background_only_article_has_empty_dominants(fake):
    [summary] = fake.summarise(fake.tag_article("اضف تعليق\nشارك", doc_id="x"), titles={"x": "T"})
    assert (summary.title, summary.dominant_topic, summary.dominant_stance) == ("T", "", "")
    assert summary.strongest == {}


def _summary_of(stances: list[tuple[str, float]]):
    builder = SummaryBuilder()
    for i, (stance, score) in enumerate(stances):
        builder.add({"doc_id": "d", "sent_id": i, "text": str(i), "topic": "other", "topic_score": 0.5,
                     "stance": stance, "stance_score": score})
    return builder.summaries()[0]


def test_one_sentence_does_not_make_a_dominant_label():
    # before: one false condemnation among neutral sentences made a "condemnation" article
    summary = _summary_of([("neutral", 0.8)] * 9 + [("condemnation", 0.6)])
    assert summary.dominant_stance == ""
    assert summary.share("stance", "condemnation") == 0.1
    row = summary.as_row()
    assert row["stance_condemnation_share"] == 0.1 and row["stance_condemnation_confidence"] == 0.6
    assert row["stance_neutral_share"] == 0.9 and row["stance_neutral_confidence"] == 0.8
    assert row["stance_support_share"] == 0.0 and row["stance_support_confidence"] is None


def test_dominant_needs_two_sentences_and_a_fifth_of_the_article_and_ties_are_mixed():
    assert _summary_of([("neutral", 0.5)] * 8 + [("condemnation", 0.7)] * 2).dominant_stance == \
        "condemnation"  # 2 sentences, share 0.2
    assert _summary_of([("neutral", 0.5)] * 9 + [("condemnation", 0.7)] * 2).dominant_stance == ""
    assert _summary_of([("condemnation", 0.9)]).dominant_stance == ""  # a one-sentence article
    tie = [("support", 0.9), ("support", 0.9), ("concern", 0.4), ("concern", 0.4)]
    assert _summary_of(tie).dominant_stance == "mixed"
    assert _summary_of(tie + [("concern", 0.4)]).dominant_stance == "concern"


def test_summaries_group_by_doc_id_in_first_seen_order(fake):
    tags = fake.tag_sentences(["هجوم"], doc_id="b") + fake.tag_sentences(["دعم"], doc_id="a") \
        + fake.tag_sentences(["تعاون"], doc_id="b")
    assert [(s.doc_id, s.n_sentences) for s in fake.summarise(tags)] == [("b", 2), ("a", 1)]


def test_load_without_a_model_says_how_to_train(tmp_path):
    with pytest.raises(ModelError, match="kwct_ml.train"):
        Tagger.load(tmp_path / "missing")


def test_import_is_cheap_and_exports_the_api():
    code = ("import sys, kwct_ml; assert 'sklearn' not in sys.modules and 'pandas' not in sys.modules;"
            "from kwct_ml import Tagger, SentenceTag, ArticleSummary; print(Tagger.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "kwct_ml.inference.tagger"
