"""Corpus loading and validation: each problem is reported as one line naming file and line."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from kwct_ml.cli import dataset as dataset_cli
from kwct_ml.corpus import dataset
from kwct_ml.errors import DataError
from kwct_ml.schema import TASKS
from kwct_ml.text.segment import segment

from .conftest import REPO

SEED = REPO / "data" / "raw" / "001_98ab70ee994ce0e9.txt"


def _write_labels(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=dataset.SENTENCE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A one-article corpus (a real seed article) with every sentence labelled."""
    raw = tmp_path / "raw"
    raw.mkdir()
    text = SEED.read_text(encoding="utf-8")
    (raw / "a1.txt").write_text(text, encoding="utf-8")
    (raw / "articles.csv").write_text("doc_id,file,title,source,date\na1,a1.txt,t,,\n", encoding="utf-8")
    rows = [dict(doc_id="a1", sent_id=s.sent_id, start=s.start, end=s.end, text=s.text,
                 topic="ct_cooperation", stance="neutral", note="", source="seed") for s in segment(text)]
    _write_labels(tmp_path / "labels" / "sentences.csv", rows)
    return tmp_path


def _rows(corpus: Path) -> list[dict]:
    with open(corpus / "labels" / "sentences.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _only_problem(corpus: Path) -> str:
    problems = dataset.validate(corpus)
    assert len(problems) == 1, [str(p) for p in problems]
    return str(problems[0])


def test_valid_corpus_loads(corpus):
    frame = dataset.load_corpus(corpus)
    assert len(frame) == len(segment(SEED.read_text(encoding="utf-8")))
    assert list(frame.columns) == list(dataset.SENTENCE_COLUMNS)
    assert dataset.validate(corpus) == []


def test_unknown_label_names_file_line_and_fix(corpus):
    rows = _rows(corpus)
    rows[2]["topic"] = "terrorism"
    _write_labels(corpus / "labels" / "sentences.csv", rows)
    message = _only_problem(corpus)
    assert "sentences.csv:4:" in message and "unknown topic 'terrorism'" in message
    assert "use one of terror_attack" in message


def test_missing_label(corpus):
    rows = _rows(corpus)
    rows[0]["stance"] = ""
    _write_labels(corpus / "labels" / "sentences.csv", rows)
    assert "sentences.csv:2: missing stance" in _only_problem(corpus)


def test_duplicate_sentence(corpus):
    rows = _rows(corpus)
    _write_labels(corpus / "labels" / "sentences.csv", rows + [rows[1]])
    message = _only_problem(corpus)
    assert "duplicate sentence a1/1" in message and f":{len(rows) + 2}:" in message


def test_text_out_of_sync_with_raw(corpus):
    raw = corpus / "raw" / "a1.txt"
    raw.write_text("مقدمة جديدة. " + raw.read_text(encoding="utf-8"), encoding="utf-8")
    problems = [str(p) for p in dataset.validate(corpus)]
    assert any("no longer equals raw[" in p and "re-segment" in p for p in problems)


def test_unlabelled_sentence_is_reported(corpus):
    rows = _rows(corpus)
    _write_labels(corpus / "labels" / "sentences.csv", rows[:-1])
    assert f"sentence a1/{len(rows) - 1}" in _only_problem(corpus)


def test_article_without_labels(corpus):
    (corpus / "raw" / "a2.txt").write_text("خبر آخر بلا تسميات.", encoding="utf-8")
    with open(corpus / "raw" / "articles.csv", "a", encoding="utf-8") as handle:
        handle.write("a2,a2.txt,t2,,\n")
    message = _only_problem(corpus)
    assert "a2.txt: article has no labelled sentences" in message


def test_non_utf8_article(corpus):
    (corpus / "raw" / "a1.txt").write_bytes("خبر".encode("cp1256") + b"\xff\xfe\n")
    problems = [str(p) for p in dataset.validate(corpus)]
    assert any("a1.txt:1: not valid utf-8-sig" in p and "re-save the file as UTF-8" in p for p in problems)


def test_unlisted_article_and_unknown_doc(corpus):
    (corpus / "raw" / "stray.txt").write_text("نص.", encoding="utf-8")
    assert "stray.txt: article not listed in articles.csv" in _only_problem(corpus)


def test_authored_rows_need_no_article(corpus):
    _write_labels(corpus / "labels" / "authored.csv", [dict(
        doc_id="auth-x", sent_id=0, start="", end="", text="تدين الكويت الهجوم الإرهابي.",
        topic="terror_attack", stance="condemnation", note="", source="authored")])
    frame = dataset.load_corpus(corpus)
    assert (frame["source"] == "authored").sum() == 1
    assert len(dataset.load_corpus(corpus, sources={"seed"})) == len(frame) - 1


def test_load_corpus_raises_one_line(corpus):
    rows = _rows(corpus)
    rows[0]["topic"] = "x"
    rows[1]["topic"] = "y"
    _write_labels(corpus / "labels" / "sentences.csv", rows)
    with pytest.raises(DataError) as info:
        dataset.load_corpus(corpus)
    assert "\n" not in str(info.value) and "1 more" in str(info.value)


def test_check_cli_exit_codes(corpus, capsys):
    assert dataset_cli.main(["check", "--data-dir", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "corpus is valid" in out and "ct_cooperation" in out
    rows = _rows(corpus)
    rows[0]["topic"] = "bogus"
    _write_labels(corpus / "labels" / "sentences.csv", rows)
    assert dataset_cli.main(["check", "--data-dir", str(corpus)]) == 1
    assert "unknown topic 'bogus'" in capsys.readouterr().err


def test_check_cli_missing_dir(tmp_path, capsys):
    assert dataset_cli.main(["check", "--data-dir", str(tmp_path / "nope")]) == 1
    assert "no raw article folder" in capsys.readouterr().err


def test_load_eval_set(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text('doc\tidx\ttext\ttopic\tstance\nd1\t0\t"ندين ""الهجوم"""\tterror_attack\tcondemnation\n',
                    encoding="utf-8")
    frame = dataset.load_eval_set(path)
    assert frame.to_dict("records") == [dict(doc_id="d1", text='ندين "الهجوم"', topic="terror_attack",
                                             stance="condemnation")]
    path.write_text("text\ttopic\tstance\nنص\twar\tneutral\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.tsv:2: unknown topic 'war'"):
        dataset.load_eval_set(path)
    path.write_text("text,topic,stance\nنص,war,neutral\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.tsv:1: missing column\(s\) text, topic, stance"):
        dataset.load_eval_set(path)


def test_project_corpus_is_valid():
    """The shipped corpus passes its own check (labels stay in sync with the segmenter)."""
    problems = dataset.validate(REPO / "data")
    assert problems == [], "\n".join(map(str, problems[:5]))


def test_devset_loads_with_codebook_labels_and_is_disjoint_from_training(devset_path):
    """What matters of the dev set (not its size, which grows): columns, labels, no training overlap."""
    frame = dataset.load_eval_set(devset_path)
    assert list(frame.columns) == ["doc_id", "text", "topic", "stance"] and frame.attrs["articles_known"]
    assert frame["doc_id"].nunique() > 1 and (frame["text"].str.len() > 0).all()
    for task in ("topic", "stance"):
        assert set(frame[task]) <= set(TASKS[task])
    training = set(dataset.load_corpus(REPO / "data")["text"])
    assert not training & set(frame["text"]), "a dev-set sentence is in the training corpus"
    dev_docnos = set(pd.read_csv(devset_path.parent / "articles.tsv", sep="\t", dtype=str)["ant_docno"])
    for name in ("articles.csv", "articles_b.csv"):
        tuned = set(pd.read_csv(REPO / "experiments" / "tuneset" / name, dtype=str)["ant_docno"])
        assert not dev_docnos & tuned, f"{name} shares an ANT article with the dev set"


def test_check_lists_articles_and_counts_authored_groups_in_one_line(data_copy, capsys):
    assert dataset_cli.main(["check", "--data-dir", str(data_copy)]) == 0
    out = capsys.readouterr().out
    per_article = out.split("Sentences per article:")[1].split("Counts per topic:")[0]
    assert "000_0ab1c133074eaba5" in per_article and "auth-" not in per_article
    assert "authored training-only sentences in" in per_article
