"""The tuning sets (A: round 2, B: round 3): our labels for real ANT articles, disjoint from the dev
set (and B from A), rebuilt exactly from ANT."""

from __future__ import annotations

import pandas as pd
import pytest

from kwct_ml.schema import TASKS
from kwct_ml.text.segment import segment


@pytest.fixture(scope="module")
def tuneset(load_script):
    return load_script("experiments/tuneset/tuneset.py")


@pytest.mark.parametrize("name", ["a", "b"])
def test_labels_cover_every_article_in_order_with_valid_labels(tuneset, name):
    ts = tuneset.SETS[name]
    articles = pd.read_csv(ts.articles, dtype=str)
    labels = pd.read_csv(ts.labels, dtype=str, keep_default_na=False)
    assert articles["article"].str.startswith(ts.prefix).all()
    assert set(labels["article"]) == set(articles["article"])
    for article, group in labels.groupby("article"):
        expected = int(articles.loc[articles["article"] == article, "sentences"].iloc[0])
        assert group["idx"].astype(int).tolist() == list(range(expected))
    for task in TASKS:
        assert labels[task].isin(TASKS[task]).all()
    assert "text" not in labels.columns  # ANT text is licensed: only offsets and a short hash


def test_second_pass_of_set_b_labels_the_same_sentences(tuneset):
    ts = tuneset.SETS["b"]
    first = pd.read_csv(ts.labels, dtype=str, keep_default_na=False)
    second = pd.read_csv(ts.labels.with_name("labels_b_second.csv"), dtype=str, keep_default_na=False)
    both = first.merge(second, on=["article", "idx", "start", "end", "sha"])
    assert len(both) == len(second) > 100  # every doubly labelled sentence is one of set B's


@pytest.fixture(scope="module")
def ant(tuneset, shared_dir):
    return tuneset.load_ant().set_index("docno")


@pytest.mark.parametrize("name", ["a", "b"])
def test_disjoint_from_the_dev_set_and_earlier_sets(tuneset, shared_dir, ant, name):
    ts = tuneset.SETS[name]
    dev = pd.read_csv(shared_dir / "data" / "devset" / "articles.tsv", sep="\t", dtype=str)
    articles = pd.read_csv(ts.articles, dtype=str)
    assert not set(articles["ant_docno"]) & set(dev["ant_docno"])
    dev_shingles = [tuneset._shingles(p.read_text(encoding="utf-8"))
                    for p in sorted((shared_dir / "data" / "devset" / "articles").glob("*.txt"))]
    for path in ts.excludes:
        earlier = pd.read_csv(path, dtype=str)["ant_docno"]
        assert not set(articles["ant_docno"]) & set(earlier)
        dev_shingles += [tuneset._shingles(ant.loc[d, "article"]) for d in earlier]
    for docno in articles["ant_docno"]:
        mine = tuneset._shingles(ant.loc[docno, "article"])
        assert all(len(mine & d) <= tuneset.MAX_DEV_OVERLAP * len(mine) for d in dev_shingles), docno


@pytest.mark.parametrize("name", ["a", "b"])
def test_build_rebuilds_the_labelled_sentences_from_ant(tuneset, shared_dir, ant, tmp_path, name):
    ts = tuneset.SETS[name]
    out = tmp_path / "tune.tsv"
    tuneset.build(out, ts)
    frame = pd.read_csv(out, sep="\t", dtype=str, keep_default_na=False)
    labels = pd.read_csv(ts.labels, dtype=str, keep_default_na=False)
    assert len(frame) == len(labels)
    assert frame[["topic", "stance"]].equals(labels[["topic", "stance"]])
    articles = pd.read_csv(ts.articles, dtype=str).set_index("article")
    first = articles.index[0]
    expected = [s.text for s in segment(ant.loc[articles.loc[first, "ant_docno"], "article"])]
    assert frame.loc[frame["doc"] == first, "text"].tolist() == expected
