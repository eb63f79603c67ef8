"""Issue 14: standoff articles join the corpus, CV folds hold whole articles, missing rows are said."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from kwct_ml.config import TrainConfig
from kwct_ml.corpus.dataset import load_corpus
from kwct_ml.corpus.external import ant_article
from kwct_ml.corpus.standoff import STANDOFF_COLUMNS, sentence_sha
from kwct_ml.text.segment import segment
from kwct_ml.training.cv import cross_validate, grouped_folds, main_folds
from kwct_ml.training.fit import split_corpus
from kwct_ml.training.run import train

from .conftest import CONDEMNATION, SOLIDARITY, SUPPORT

ARTICLES = {  # docno -> (title, body, labels per sentence of title + body)
    "A-1": ("الكويت تدين الهجوم الإرهابي", f"{CONDEMNATION}\n{SOLIDARITY}",
            [("terror_attack", "condemnation"), ("terror_attack", "condemnation"),
             ("terror_attack", "solidarity")]),
    "A-2": ("الكويت تدعم التحالف الدولي", SUPPORT,
            [("ct_cooperation", "support"), ("ct_cooperation", "support")]),
}


@pytest.fixture
def with_standoff(small_data, tmp_path):
    """small_data plus two 'ANT' articles as standoff labels, and the fake ANT file they point into."""
    ant = tmp_path / "ant.csv.gz"
    with gzip.open(ant, "wt", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["docno", "category", "source", "title", "text"])
        for docno, (title, body, _) in ARTICLES.items():
            out.writerow([docno, "middleEast", "kuna", title, body])
    rows = []
    for docno, (title, body, labels) in ARTICLES.items():
        for s, (topic, stance) in zip(segment(ant_article(title, body)), labels, strict=True):
            rows.append({"corpus": "ant", "docno": docno, "start": s.start, "end": s.end,
                         "sha": sentence_sha(s.text), "topic": topic, "stance": stance, "annotator": "t",
                         "pass": "1", "batch": "t", "note": ""})
    with open(small_data / "labels" / "ant.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=STANDOFF_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return small_data, ant


def test_standoff_articles_are_real_training_and_evaluation_articles(with_standoff):
    data, ant = with_standoff
    plain = load_corpus(data)
    corpus = load_corpus(data, corpora={"ant": ant})
    assert len(corpus) == len(plain) + 5 and corpus.attrs["standoff"]["missing"] == 0
    evaluated, _ = split_corpus(corpus)
    assert {"ant:A-1", "ant:A-2"} <= set(evaluated["doc_id"])  # real articles: scored in CV


def test_grouped_folds_keep_each_article_on_one_side():
    docs = [f"d{i:02d}" for i in range(23)]
    folds = grouped_folds(docs, 5, seed=13)
    assert len(folds) == 5 and sorted(d for f in folds for d in f) == docs
    assert folds == grouped_folds(docs, 5, seed=13) and folds != grouped_folds(docs, 5, seed=14)


def test_cv_scores_only_held_out_articles_and_falls_back_to_loao(with_standoff):
    data, ant = with_standoff
    corpus = load_corpus(data, corpora={"ant": ant})
    fast = TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none", cv_folds=2)
    evaluated, _ = split_corpus(corpus)
    assert len(main_folds(evaluated, fast)) == 2
    one_each = [[doc] for doc in sorted(evaluated["doc_id"].unique())]
    assert main_folds(evaluated, fast.replace(cv_folds=0)) == one_each
    metrics, predictions = cross_validate(corpus, fast, tasks=("topic",), folds=[["ant:A-1"], ["ant:A-2"]])
    assert set(predictions["doc_id"]) == {"ant:A-1", "ant:A-2"} and len(predictions) == 5
    interval = metrics["topic"]["model"]["interval"]
    assert interval["low"] <= metrics["topic"]["model"]["macro_f1"] <= interval["high"]


def test_training_without_the_corpus_says_which_rows_were_missing(with_standoff, tmp_path, capsys):
    data, _ = with_standoff
    config = TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none", cv_folds=0,
                         ant_corpus=str(tmp_path / "absent.csv.gz"))
    results = train(config, data, models_dir=tmp_path / "m", runs_dir=tmp_path / "r", report=False)
    err = capsys.readouterr().err
    assert "standoff labels not used: ant: 0 resolved, 5 unresolved" in err and "absent" in err
    manifest = json.loads((tmp_path / "m" / results["run"] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["data"]["standoff"]["counts"]["ant"]["unresolved"] == 5
    assert "labels/ant.csv" in manifest["data"]["label_files"]


def test_dataset_check_reports_standoff_rows_per_corpus(with_standoff, capsys):
    from kwct_ml.cli import dataset as dataset_cli

    data, _ = with_standoff  # the configured ANT path (../shared/...) does not exist beside tmp data
    assert dataset_cli.main(["check", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "ant: 0 resolved, 5 unresolved, 0 mismatched standoff rows" in out and "ant_corpus" in out
