"""Standoff labels: rows resolve to their sentence only when the corpus text still hashes the same."""

from __future__ import annotations

import csv
import gzip

import pandas as pd
import pytest

from kwct_ml.corpus.external import ant_article, default_paths
from kwct_ml.corpus.standoff import STANDOFF_COLUMNS, read_standoff, resolve, sentence_sha
from kwct_ml.errors import DataError
from kwct_ml.text.segment import segment

from .conftest import CONDEMNATION, REPO, SOLIDARITY

TITLE = "الكويت تدين الهجوم الإرهابي في باكستان"


def _ant(path, body: str) -> None:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["docno", "category", "source", "title", "text"])
        out.writerow(["X-1", "middleEast", "kuna", TITLE, body])


def _standoff(path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=STANDOFF_COLUMNS)
        out.writeheader()
        out.writerows(rows)


def _rows(article: str, labels: list[tuple[str, str]], pass_: str = "1") -> list[dict]:
    return [{"corpus": "ant", "docno": "X-1", "start": s.start, "end": s.end, "sha": sentence_sha(s.text),
             "topic": t, "stance": st, "annotator": "a", "pass": pass_, "batch": "t", "note": ""}
            for s, (t, st) in zip(segment(article), labels, strict=True)]


LABELS = [("terror_attack", "condemnation"), ("terror_attack", "condemnation"),
          ("terror_attack", "solidarity")]


def test_rows_resolve_to_their_sentences(tmp_path):
    body = f"{CONDEMNATION}\n{SOLIDARITY}"
    _ant(tmp_path / "ant.csv.gz", body)
    article = ant_article(TITLE, body)
    _standoff(tmp_path / "labels.csv", _rows(article, LABELS) + _rows(article, LABELS, pass_="2"))
    result = resolve(read_standoff(tmp_path / "labels.csv"), {"ant": tmp_path / "ant.csv.gz"})
    assert result.counts == {"ant": {"resolved": 3, "unresolved": 0, "mismatched": 0}}
    assert list(result.frame["text"]) == [TITLE, CONDEMNATION, SOLIDARITY]  # pass 1 only
    assert list(result.frame["sent_id"]) == [0, 1, 2] and set(result.frame["doc_id"]) == {"ant:X-1"}
    assert list(result.frame["stance"]) == ["condemnation", "condemnation", "solidarity"]


def test_changed_text_is_mismatched_and_a_missing_corpus_unresolved(tmp_path):
    body = f"{CONDEMNATION}\n{SOLIDARITY}"
    article = ant_article(TITLE, body)
    _standoff(tmp_path / "labels.csv", _rows(article, LABELS))
    _ant(tmp_path / "ant.csv.gz", body.replace("الشديدين", "الشديدة"))  # another corpus version
    result = resolve(read_standoff(tmp_path / "labels.csv"), {"ant": tmp_path / "ant.csv.gz"})
    assert result.counts["ant"]["mismatched"] >= 1 and result.missing >= 1
    assert "does not match" in result.problems[0] and "labels.csv:" in result.problems[0]
    gone = resolve(read_standoff(tmp_path / "labels.csv"), {"ant": tmp_path / "absent.csv.gz"})
    assert gone.counts["ant"] == {"resolved": 0, "unresolved": 3, "mismatched": 0} and gone.frame.empty
    assert "absent" in gone.summary()


@pytest.mark.parametrize("field, value, message", [
    ("topic", "terrorism", "unknown topic"), ("corpus", "gigaword", "unknown corpus"),
    ("start", "x", "offsets 'x'-'\\d+' are not a span"),
])
def test_bad_rows_name_file_and_line(tmp_path, field, value, message):
    rows = _rows(ant_article(TITLE, CONDEMNATION), LABELS[:2])
    rows[1][field] = value
    _standoff(tmp_path / "labels.csv", rows)
    with pytest.raises(DataError, match=rf"labels.csv:3: {message}"):
        read_standoff(tmp_path / "labels.csv")


def test_project_standoff_file_resolves_in_full(shared_dir):
    """Every committed ANT label resolves against ../shared's ANT with a matching hash."""
    standoff = read_standoff(REPO / "data" / "labels" / "ant.csv")
    result = resolve(standoff, default_paths(REPO))
    assert result.missing == 0, result.problems[:3]
    assert result.frame["doc_id"].nunique() >= 300
    dev = pd.read_csv(shared_dir / "data" / "devset" / "articles.tsv", sep="\t", dtype=str)
    assert not set(dev["ant_docno"]) & set(standoff["docno"]), "a dev-set article is labelled for training"
