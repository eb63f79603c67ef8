"""The round-2 tuning set: our labels for real ANT articles, disjoint from the dev set, rebuilt exactly."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from kwct_ml.schema import TASKS
from kwct_ml.segment import segment


@pytest.fixture(scope="module")
def tuneset(repo_dir):
    path = repo_dir / "experiments" / "tuneset" / "tuneset.py"
    spec = importlib.util.spec_from_file_location("tuneset", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_labels_cover_every_article_in_order_with_valid_labels(tuneset):
    articles = pd.read_csv(tuneset.ARTICLES, dtype=str)
    labels = pd.read_csv(tuneset.LABELS, dtype=str, keep_default_na=False)
    assert set(labels["article"]) == set(articles["article"])
    for article, group in labels.groupby("article"):
        expected = int(articles.loc[articles["article"] == article, "sentences"].iloc[0])
        assert group["idx"].astype(int).tolist() == list(range(expected))
    for task in TASKS:
        assert labels[task].isin(TASKS[task]).all()
    assert "text" not in labels.columns  # ANT text is licensed: only offsets and a short hash


def test_disjoint_from_the_dev_set(tuneset, shared_dir):
    dev = pd.read_csv(shared_dir / "data" / "devset" / "articles.tsv", sep="\t", dtype=str)
    articles = pd.read_csv(tuneset.ARTICLES, dtype=str)
    assert not set(articles["ant_docno"]) & set(dev["ant_docno"])
    dev_shingles = [tuneset._shingles(p.read_text(encoding="utf-8"))
                    for p in sorted((shared_dir / "data" / "devset" / "articles").glob("*.txt"))]
    ant = tuneset.load_ant().set_index("docno")
    for docno in articles["ant_docno"]:
        mine = tuneset._shingles(ant.loc[docno, "article"])
        assert all(len(mine & d) <= tuneset.MAX_DEV_OVERLAP * len(mine) for d in dev_shingles), docno


def test_build_rebuilds_the_labelled_sentences_from_ant(tuneset, shared_dir, tmp_path):
    out = tmp_path / "tune.tsv"
    tuneset.build(out)
    frame = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    labels = pd.read_csv(tuneset.LABELS, dtype=str, keep_default_na=False)
    assert len(frame) == len(labels)
    assert frame[["topic", "stance"]].equals(labels[["topic", "stance"]])
    ant = tuneset.load_ant().set_index("docno")
    articles = pd.read_csv(tuneset.ARTICLES, dtype=str).set_index("article")
    first = articles.index[0]
    expected = [s.text for s in segment(ant.loc[articles.loc[first, "ant_docno"], "article"])]
    assert frame.loc[frame["doc"] == first, "text"].tolist() == expected
