"""Tagging several work items in one model call (issue 20) gives each item's rows as tagging it alone."""

from __future__ import annotations

import pandas as pd
import pytest

from kwct_ml.config import TrainConfig
from kwct_ml.inference import batch
from kwct_ml.inference.tagger import Tagger
from kwct_ml.io.sources import Document
from kwct_ml.pipeline.model import KwctModel, build_pipeline

from .conftest import REPO


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    """The default pipelines fitted on the seed sentences, with article context and sharpening on
    both tasks (so merging two articles' rows would change their scores)."""
    labels = pd.read_csv(REPO / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    pipelines = {task: build_pipeline(TrainConfig(), task).fit(labels.text.tolist(), labels[task].tolist())
                 for task in ("topic", "stance")}
    return Tagger(KwctModel(pipelines, context={"topic": 0.5, "stance": 0.4}, temperature={"topic": 0.7}))


def _items() -> list[batch.WorkItem]:
    """Real articles and seed sentences, cut as predict cuts them: whole articles, sentence rows
    of one --article-column value split over two items, and stand-alone sentence rows."""
    raw = sorted((REPO / "data" / "raw").glob("*.txt"))
    articles = [Document(p.stem, p.read_text(encoding="utf-8"), str(p)) for p in raw]
    seed = pd.read_csv(REPO / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    texts = seed.text.tolist()

    def rows(part: list[str], article: str | None) -> list[Document]:
        return [Document(f"r{i}", t, "t.csv", line=i + 2, sent_id=0, article=article)
                for i, t in enumerate(part)]

    return [batch.WorkItem("article", articles[:2]),
            batch.WorkItem("sentence", rows(texts[:12], "same")),
            batch.WorkItem("article", articles[2:]),
            batch.WorkItem("sentence", rows(texts[40:50], "same")),  # same key, another item
            batch.WorkItem("sentence", rows(texts[60:80] + texts[:3], None)),  # repeats item 2's texts
            batch.WorkItem("sentence", [], errors=[{"input": "t.csv", "line": 3, "error": "x"}])]


@pytest.mark.parametrize("explain", [0, 2])
def test_one_call_for_many_items_gives_each_items_own_rows(tagger, explain):
    opts = batch.Options(encoding=None, explain=explain, min_confidence=0.5)
    items = _items()
    alone = [batch.process(item, tagger, opts) for item in items]
    together = batch.process_many(items, tagger, opts)
    assert together == alone
    assert sum(len(rows) for rows, _ in alone) > 60
    assert alone[-1] == ([], items[-1].errors)


def test_article_keys_stay_apart_per_item(tagger):
    """Items 1 and 3 name the same article: tagged as one article their scores would differ."""
    opts = batch.Options(encoding=None, explain=0, min_confidence=None)
    items = _items()
    merged = batch.WorkItem("sentence", items[1].entries + items[3].entries)
    as_one = batch.process(merged, tagger, opts)[0]
    apart = [row for i in (1, 3) for row in batch.process_many(items, tagger, opts)[i][0]]
    assert [r["topic_score"] for r in as_one] != [r["topic_score"] for r in apart]


def test_ordered_results_in_item_order_for_any_call_size(tagger, monkeypatch):
    opts = batch.Options(encoding=None, explain=0, min_confidence=None)
    expected = [batch.process(item, tagger, opts) for item in _items()]
    for size in (1, 4, 100):
        monkeypatch.setattr(batch, "ITEMS_PER_CALL", size)
        assert list(batch.ordered_results(iter(_items()), 1, tagger, opts)) == expected
