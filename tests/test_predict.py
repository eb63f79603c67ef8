"""python -m kwct_ml.predict: every input kind and unit, output formats, --jobs, bad input, resume."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from kwct_ml.cli import predict
from kwct_ml.inference import batch
from kwct_ml.inference.tagger import SENTENCE_COLUMNS, summary_columns
from kwct_ml.io import tables
from kwct_ml.schema import STANCES, TOPICS
from kwct_ml.text.segment import segment

from .conftest import CONDEMNATION

CONTRACT = list(SENTENCE_COLUMNS)


def train_tiny_model(repo: Path, models_dir: Path) -> Path:
    """A real (tiny) model trained on the seed labels in well under a second."""
    from kwct_ml.bundle.store import save_model
    from kwct_ml.config import TrainConfig
    from kwct_ml.pipeline.model import KwctModel, build_pipeline

    labels = pd.read_csv(repo / "data" / "labels" / "sentences.csv")
    model = KwctModel({task: build_pipeline(TrainConfig(), task).fit(labels.text.tolist(),
                                                                     labels[task].tolist())
                       for task in ("topic", "stance")})
    return save_model(model, "tiny", models_dir)


@pytest.fixture
def raw(tmp_path, repo_dir) -> Path:
    """A copy of the seed articles (with articles.csv)."""
    dst = tmp_path / "raw"
    shutil.copytree(repo_dir / "data" / "raw", dst)
    return dst


@pytest.fixture
def run(model_dir, capsys):
    """Run the CLI in-process: returns (exit code, stderr)."""

    def _run(*args) -> tuple[int, str]:
        code = predict.main([*map(str, args), "--model", str(model_dir)])
        return code, capsys.readouterr().err

    return _run


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        lines = path.read_text(encoding="utf-8").splitlines()
        return pd.DataFrame([json.loads(line) for line in lines])
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype=str,
                       keep_default_na=False)


def error_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------- inputs and units

def test_txt_article_unit_rows_are_the_segmented_sentences(run, raw, tmp_path):
    article = raw / "000_0ab1c133074eaba5.txt"
    out = tmp_path / "o.csv"
    code, err = run(article, "--output", out)
    assert code == 0, err
    df = read(out)
    assert list(df.columns) == CONTRACT
    text = article.read_text(encoding="utf-8")
    sentences = segment(text)
    assert len(df) == len(sentences)
    assert set(df.doc_id) == {"000_0ab1c133074eaba5"}
    for row, sent in zip(df.itertuples(), sentences, strict=True):
        assert (int(row.sent_id), int(row.start), int(row.end), row.text) == \
            (sent.sent_id, sent.start, sent.end, sent.text)
        assert text[int(row.start):int(row.end)] == row.text
    assert set(df.topic) <= set(TOPICS) and set(df.stance) <= set(STANCES)
    scores = df[["topic_score", "stance_score"]].astype(float)
    assert ((scores > 0) & (scores <= 1)).all().all()
    assert not list(tmp_path.glob("o.csv.*")), "no partial, checkpoint or errors file is left"


def test_directory_is_recursive_with_relative_doc_ids(run, raw, tmp_path):
    (raw / "sub").mkdir()
    shutil.copy(raw / "001_98ab70ee994ce0e9.txt", raw / "sub" / "copy.txt")
    (raw / "notes.md").write_text("ignored", encoding="utf-8")
    out = tmp_path / "o.csv"
    assert run(raw, "-o", out)[0] == 0
    df = read(out)
    assert list(dict.fromkeys(df.doc_id)) == sorted(p.stem for p in raw.glob("*.txt")) + ["sub/copy"]
    first = df[df.doc_id == "001_98ab70ee994ce0e9"].drop(columns="doc_id").reset_index(drop=True)
    copy = df[df.doc_id == "sub/copy"].drop(columns="doc_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, copy)


def test_txt_sentence_unit_tags_each_line(run, tmp_path, arabic_sentences):
    text = f"{arabic_sentences['condemnation']}\n\n  {arabic_sentences['support']}  \r\n---\n"
    src = tmp_path / "lines.txt"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "o.csv"
    assert run(src, "--unit", "sentence", "-o", out)[0] == 0
    df = read(out)
    assert df.text.tolist() == [arabic_sentences["condemnation"], arabic_sentences["support"]]
    assert df.sent_id.tolist() == ["0", "1"]
    for row in df.itertuples():
        assert text[int(row.start):int(row.end)] == row.text



def test_unicode_line_separators_split_sentence_rows_as_they_split_articles(run, tmp_path, arabic_sentences):
    # U+2028/U+2029 end a line for segment (str.splitlines' breaks); the sentence unit used to
    # split on \r and \n only and tagged these three sentences as one row.
    parts = [arabic_sentences["condemnation"], arabic_sentences["support"], arabic_sentences["solidarity"]]
    src = tmp_path / "lines.txt"
    src.write_text("\u2028".join(parts[:2]) + "\u2029" + parts[2] + "\n", encoding="utf-8")
    rows = {}
    for unit in ("sentence", "article"):
        out = tmp_path / f"{unit}.csv"
        assert run(src, "--unit", unit, "-o", out)[0] == 0
        rows[unit] = read(out)[["sent_id", "start", "end", "text"]].values.tolist()
    assert [row[3] for row in rows["sentence"]] == parts
    assert rows["sentence"] == rows["article"]

def test_csv_table_keeps_its_columns_first_and_renames_clashes(run, repo_dir, tmp_path):
    src = repo_dir / "data" / "labels" / "sentences.csv"
    out = tmp_path / "o.csv"
    code, err = run(src, "-o", out)
    assert code == 0, err
    df = read(out)
    own = pd.read_csv(src, dtype=str, keep_default_na=False)
    renamed = [f"input_{c}" if c in CONTRACT else c for c in own.columns]
    assert list(df.columns) == renamed + CONTRACT
    assert len(df) == len(own)
    assert df.input_topic.tolist() == own.topic.tolist()  # the table's own labels survive
    assert df.text.tolist() == own.text.tolist()
    assert df.doc_id.tolist() == own.doc_id.tolist()  # a doc_id column is used as doc_id
    assert df.sent_id.tolist() == [str(i) for i in range(len(own))]  # row number in the table
    assert (df.start == "0").all() and (df.end.astype(int) == own.text.str.len()).all()


def test_tsv_and_jsonl_tables_with_text_and_id_columns(run, tmp_path, arabic_sentences):
    rows = [{"ref": f"r{i}", "body": text, "n": i} for i, text in enumerate(arabic_sentences.values())]
    tsv = tmp_path / "t.tsv"
    pd.DataFrame(rows).to_csv(tsv, sep="\t", index=False)
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for src in (tsv, jsonl):
        out = tmp_path / f"{src.suffix[1:]}.csv"
        code, err = run(src, "--text-column", "body", "--id-column", "ref", "-o", out)
        assert code == 0, err
        df = read(out)
        assert list(df.columns) == ["ref", "body", "n", *CONTRACT]
        assert df.doc_id.tolist() == df.ref.tolist() == [r["ref"] for r in rows]
        assert df.text.tolist() == [r["body"] for r in rows]
        assert df.n.tolist() == [str(r["n"]) for r in rows]


def test_table_article_unit_segments_each_row(run, tmp_path, raw):
    texts = [p.read_text(encoding="utf-8") for p in sorted(raw.glob("*.txt"))[:2]]
    src = tmp_path / "articles.csv"
    pd.DataFrame({"title": ["a", "b"], "text": texts}).to_csv(src, index=False)
    out = tmp_path / "o.jsonl"
    assert run(src, "--unit", "article", "-o", out)[0] == 0
    df = read(out)
    assert len(df) == sum(len(segment(t)) for t in texts)
    assert list(dict.fromkeys(df.doc_id)) == ["articles:0", "articles:1"]
    for row in df.itertuples():
        assert texts[int(row.doc_id[-1])][row.start:row.end] == row.text


def test_stdin_article_to_stdout_csv(model_dir, monkeypatch, capsysbinary, raw):
    data = (raw / "002_c6e343133ec51b8e.txt").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert predict.main(["-", "--model", str(model_dir)]) == 0
    captured = capsysbinary.readouterr()
    df = pd.read_csv(io.BytesIO(captured.out), dtype=str, keep_default_na=False)
    assert list(df.columns) == CONTRACT
    assert set(df.doc_id) == {"stdin"}
    assert len(df) == len(segment(data.decode("utf-8")))


def test_stdin_sentence_unit_to_stdout_jsonl(model_dir, monkeypatch, capsysbinary, arabic_sentences):
    data = "\n".join(arabic_sentences.values()).encode("cp1256", errors="ignore")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert predict.main(["-", "--unit", "sentence", "--format", "jsonl", "--model", str(model_dir)]) == 0
    lines = capsysbinary.readouterr().out.decode("utf-8").splitlines()
    assert len(lines) == len(arabic_sentences)
    assert [json.loads(line)["sent_id"] for line in lines] == list(range(len(arabic_sentences)))


# --------------------------------------------------------------------------- output formats

@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_every_output_format_holds_the_same_rows(run, raw, tmp_path, suffix):
    ref, out = tmp_path / "ref.csv", tmp_path / f"o{suffix}"
    assert run(raw, "-o", ref)[0] == 0
    assert run(raw, "-o", out)[0] == 0
    expected, got = read(ref), read(out).astype(str)
    assert list(got.columns) == CONTRACT
    if suffix == ".jsonl":
        expected = expected.astype({"topic_score": float, "stance_score": float}).astype(str)
        got = got.astype({"topic_score": float, "stance_score": float}).astype(str)
    pd.testing.assert_frame_equal(got, expected)


def test_jsonl_types_explain_and_uncertain(run, raw, tmp_path):
    out = tmp_path / "o.jsonl"
    assert run(raw, "-o", out, "--explain", "3", "--min-confidence", "0.6")[0] == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert list(rows[0]) == [*CONTRACT, "uncertain", "topic_explain", "stance_explain"]
    for row in rows:
        assert isinstance(row["sent_id"], int) and isinstance(row["topic_score"], float)
        assert row["uncertain"] is (row["topic_score"] < 0.6 or row["stance_score"] < 0.6)
        for key in ("topic_explain", "stance_explain"):
            assert 1 <= len(row[key]) <= 3
            assert all(isinstance(f, str) and isinstance(w, float) for f, w in row[key])
            weights = [w for _, w in row[key]]
            assert weights == sorted(weights, reverse=True)
    assert any(row["uncertain"] for row in rows) and not all(row["uncertain"] for row in rows)


def test_progress_bar_goes_to_stderr_when_asked(run, raw, tmp_path):
    code, err = run(raw, "-o", tmp_path / "o.csv", "--progress", "--jobs", "2")
    assert code == 0 and "120 sent" in err
    assert "sent" not in run(raw, "-o", tmp_path / "o.csv", "--no-progress")[1].replace(
        "sentences tagged", "")


def test_csv_explain_is_a_json_string_and_bom_option(run, raw, tmp_path):
    out = tmp_path / "o.csv"
    assert run(raw / "000_0ab1c133074eaba5.txt", "-o", out, "--explain", "2", "--bom")[0] == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbfdoc_id,")
    df = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    features = json.loads(df.topic_explain[0])
    assert len(features) == 2 and all(len(pair) == 2 for pair in features)


# --------------------------------------------------------------------------- jobs

def test_jobs_two_gives_identical_output(run, raw, tmp_path, repo_dir, monkeypatch):
    originals = sorted(raw.glob("*.txt"))
    for i in range(3):  # more files than one work item holds
        for path in originals:
            shutil.copy(path, raw / f"x{i}_{path.name}")
    monkeypatch.setattr(batch, "SENTENCE_ROWS_PER_ITEM", 16)
    table = repo_dir / "data" / "labels" / "sentences.csv"
    outputs = []
    for jobs in (1, 2):
        out, summary = tmp_path / f"o{jobs}.csv", tmp_path / f"s{jobs}.csv"
        code, err = run(raw, table, "-o", out, "--summary", summary, "--jobs", jobs, "--explain", "2")
        assert code == 0, err
        outputs.append((out.read_bytes(), summary.read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0][0].count(b"\n") > 200


# --------------------------------------------------------------------------- bad input

def _bad_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    bad = {
        "binary": folder / "binary.txt", "empty": folder / "empty.txt",
        "undecodable": folder / "latin.txt", "no_text_column": folder / "table.csv",
        "missing": folder / "missing.txt", "unsupported": folder / "doc.pdf",
    }
    bad["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    bad["empty"].write_text("  \n\n", encoding="utf-8")
    bad["undecodable"].write_bytes("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e".encode("latin-1"))
    bad["no_text_column"].write_text("a,b\n1,2\n", encoding="utf-8")
    bad["unsupported"].write_bytes(b"%PDF-1.4")
    return bad


def test_each_bad_input_is_named_logged_and_skipped(run, raw, tmp_path):
    bad = _bad_inputs(tmp_path / "bad")
    out = tmp_path / "o.csv"
    good = raw / "000_0ab1c133074eaba5.txt"
    code, err = run(*bad.values(), good, "-o", out)
    assert code == 2
    assert "Traceback" not in err
    records = error_records(tmp_path / "o.csv.errors.jsonl")
    assert [r["input"] for r in records] == [str(p) for p in bad.values()]
    assert all(r["error"] for r in records)
    for path in bad.values():
        lines = [line for line in err.splitlines() if f"skipped {path}" in line]
        assert len(lines) == 1, (path, err)
    messages = {name: r["error"] for name, r in zip(bad, records, strict=True)}
    assert "binary" in messages["binary"] and "empty" in messages["empty"]
    assert "not UTF-8" in messages["undecodable"] and "text column" in messages["no_text_column"]
    assert len(read(out)) == len(segment(good.read_text(encoding="utf-8")))  # the rest finished


def test_unreadable_file_is_skipped(run, raw, tmp_path, monkeypatch):
    locked = raw / "locked.txt"
    locked.write_text("نص", encoding="utf-8")
    real = os.open

    def refusing_open(path, *args, **kwargs):  # chmod 000 does not stop root, so refuse the read here
        if Path(path).name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    code, err = run(locked, raw / "000_0ab1c133074eaba5.txt", "-o", tmp_path / "o.csv")
    assert code == 2 and f"skipped {locked}: cannot read: Permission denied" in err
    assert len(read(tmp_path / "o.csv")) > 0


def test_bad_rows_in_tables_are_skipped_one_by_one(run, tmp_path, arabic_sentences):
    src = tmp_path / "t.jsonl"
    src.write_text(json.dumps({"text": arabic_sentences["support"]}, ensure_ascii=False) + "\n"
                   + "{not json\n" + json.dumps({"text": "  "}) + "\n" + json.dumps([1]) + "\n"
                   + json.dumps({"text": arabic_sentences["solidarity"]}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run(src, "-o", out)
    assert code == 2
    assert [r["line"] for r in error_records(tmp_path / "o.csv.errors.jsonl")] == [2, 3, 4]
    assert read(out).text.tolist() == [arabic_sentences["support"], arabic_sentences["solidarity"]]


def test_stdout_run_logs_errors_on_stderr_only(model_dir, raw, tmp_path, capsysbinary, monkeypatch):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    assert predict.main([str(empty), str(raw / "000_0ab1c133074eaba5.txt"), "--model", str(model_dir)]) == 2
    captured = capsysbinary.readouterr()
    assert b"skipped" in captured.err and captured.out.startswith(b"doc_id,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "raw"]  # no log file
    errors_file = tmp_path / "errs.jsonl"
    assert predict.main([str(empty), "--model", str(model_dir), "--errors", str(errors_file)]) == 1
    assert capsysbinary.readouterr().out == b""  # nothing tagged: not even a header
    assert error_records(errors_file)[0]["input"] == str(empty)


def test_encodings_are_detected_or_forced(run, tmp_path, arabic_sentences):
    text = arabic_sentences["condemnation"] + "\n" + arabic_sentences["solidarity"] + "\n"
    files = {"cp1256": text.encode("cp1256"), "utf-16": text.encode("utf-16"),
             "utf-8-sig": text.encode("utf-8-sig")}
    paths = []
    for name, data in files.items():
        paths.append(tmp_path / f"{name}.txt")
        paths[-1].write_bytes(data)
    out = tmp_path / "o.csv"
    assert run(*paths, "-o", out)[0] == 0
    df = read(out)
    for name in files:
        assert df[df.doc_id == name].text.tolist() == [arabic_sentences["condemnation"],
                                                         arabic_sentences["solidarity"]]
    table = tmp_path / "t.csv"
    table.write_bytes(("text\n" + arabic_sentences["support"] + "\n").encode("cp1256"))
    assert run(table, "--encoding", "cp1256", "-o", out)[0] == 0
    assert read(out).text.tolist() == [arabic_sentences["support"]]
    code, err = run(table, "--encoding", "utf-8", "-o", out)
    assert code == 1 and "skipped" in err


@pytest.mark.parametrize("argv, message", [
    (["--jobs", "0"], "--jobs"),
    (["-o", "out.xlsx"], "extension"),
    (["--min-confidence", "2"], "--min-confidence"),
    (["--summary", "s.txt"], "--summary"),
    (["--bogus"], "unrecognized"),
    (["--resume"], "--resume"),
])
def test_usage_errors_exit_1_in_one_line(run, raw, argv, message):
    code, err = run(raw, *argv)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_no_model_says_how_to_train(raw, tmp_path, capsys):
    assert predict.main([str(raw), "--model", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "kwct_ml.train" in err


# --------------------------------------------------------------------------- summary

def test_summary_rows_agree_with_the_sentence_rows(run, raw, tmp_path):
    out, summary = tmp_path / "o.csv", tmp_path / "s.csv"
    assert run(raw, "-o", out, "--summary", summary)[0] == 0
    rows, summ = read(out), read(summary)
    assert list(summ.columns) == summary_columns()
    titles = pd.read_csv(raw / "articles.csv", dtype=str, keep_default_na=False).set_index("doc_id").title
    assert summ.doc_id.tolist() == list(dict.fromkeys(rows.doc_id))
    for s in summ.itertuples():
        doc = rows[rows.doc_id == s.doc_id]
        assert s.title == titles[s.doc_id]
        assert int(s.n_sentences) == len(doc)
        assert sum(int(getattr(s, f"topic_{t}")) for t in TOPICS) == len(doc)
        for stance in STANCES:
            assert int(getattr(s, f"stance_{stance}")) == (doc.stance == stance).sum()
        content = doc[doc.topic != "other"].topic.value_counts()
        passing = content[(content >= 2) & (content >= 0.2 * len(doc))]
        assert s.dominant_topic == ("" if passing.empty else "mixed" if (passing == passing.max()).sum() > 1
                                    else passing.idxmax())
        for topic in TOPICS:
            mine = doc[doc.topic == topic].topic_score.astype(float)
            assert float(getattr(s, f"topic_{topic}_share")) == round(len(mine) / len(doc), 4)
            conf = getattr(s, f"topic_{topic}_confidence")
            assert (conf == "") if mine.empty else abs(float(conf) - mine.mean()) < 1e-4
        for stance in STANCES[:-1]:
            mine = doc[doc.stance == stance]
            text = getattr(s, f"strongest_{stance}")
            if mine.empty:
                assert text == ""
            else:
                assert float(getattr(s, f"strongest_{stance}_score")) == mine.stance_score.astype(float).max()
                assert text in set(mine[mine.stance_score.astype(float) ==
                                        mine.stance_score.astype(float).max()].text)


def test_summary_title_falls_back_to_first_sentence_and_table_title(run, raw, tmp_path):
    (raw / "articles.csv").unlink()
    out, summary = tmp_path / "o.csv", tmp_path / "s.jsonl"
    assert run(raw / "000_0ab1c133074eaba5.txt", "-o", out, "--summary", summary)[0] == 0
    first = read(out).text[0]
    assert json.loads(summary.read_text(encoding="utf-8"))["title"] == first
    table = tmp_path / "t.csv"
    pd.DataFrame({"doc_id": ["d1", "d1"], "title": ["عنوان", "عنوان"],
                  "text": ["جملة أولى", "جملة ثانية"]}).to_csv(table, index=False)
    assert run(table, "-o", out, "--summary", summary)[0] == 0
    row = json.loads(summary.read_text(encoding="utf-8"))
    assert (row["doc_id"], row["title"], row["n_sentences"]) == ("d1", "عنوان", 2)


# --------------------------------------------------------------------------- interruption and resume

def _interrupt_after(monkeypatch, n_items: int) -> None:
    """Ctrl-C when the model call after the first ``n_items`` work items starts (one item per call)."""
    real = batch.process_many
    calls = {"n": 0}

    def flaky(items):
        calls["n"] += len(items)
        if calls["n"] > n_items:
            raise KeyboardInterrupt
        return real(items)

    monkeypatch.setattr(batch, "ITEMS_PER_CALL", 1)
    monkeypatch.setattr(batch, "process_many", flaky)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_resume_gives_the_same_files_as_an_uninterrupted_run(run, raw, tmp_path, monkeypatch, suffix):
    originals = sorted(raw.glob("*.txt"))
    for i in range(2):
        for path in originals:
            shutil.copy(path, raw / f"x{i}_{path.name}")
    (raw / "zz_empty.txt").write_text("", encoding="utf-8")
    args = [raw, "--summary", tmp_path / "s.csv", "--min-confidence", "0.5"]
    ref = tmp_path / f"ref{suffix}"
    assert run(*args, "-o", ref)[0] == 2
    expected = {name: (tmp_path / name).read_bytes() for name in
                (ref.name, "s.csv", f"{ref.name}.errors.jsonl")}

    out = tmp_path / f"o{suffix}"
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        code, err = run(*args, "-o", out)
    assert code == 130 and "--resume" in err
    assert not out.exists()
    partial = Path(f"{out}.partial")
    done = partial.read_bytes()
    assert done and done.endswith(b"\n")  # complete rows only
    assert len(read(ref)) > len(pd.read_csv(partial) if suffix == ".csv" else done.splitlines())
    with open(partial, "ab") as handle:  # a row cut by a crash after the last checkpoint
        handle.write(b'000_xx,1,0,4,"half')
    code, err = run(*args, "-o", out, "--resume")
    assert code == 2, err
    assert "resuming" in err
    assert out.read_bytes() == expected[ref.name]
    assert (tmp_path / "s.csv").read_bytes() == expected["s.csv"]
    assert Path(f"{out}.errors.jsonl").read_bytes() == expected[f"{ref.name}.errors.jsonl"]
    assert not partial.exists() and not Path(f"{out}.partial.ckpt").exists()


def test_resume_refuses_other_options_and_finishes_quietly_when_complete(run, raw, tmp_path, monkeypatch):
    out = tmp_path / "o.csv"
    with monkeypatch.context() as m:
        _interrupt_after(m, 0)
        assert run(raw, "-o", out)[0] == 130
    code, err = run(raw, "-o", out, "--resume", "--explain", "2")
    assert code == 1 and "without --resume" in err
    assert run(raw, "-o", out, "--resume")[0] == 0
    code, err = run(raw, "-o", out, "--resume")
    assert code == 0 and "nothing to resume" in err


def test_read_rows_round_trips_the_formatter(tmp_path):
    rows = [{"a": "x,\"y\"\n", "b": 1.5, "c": True, "d": [["n", 0.1]], "e": None}]
    for fmt in ("csv", "tsv", "jsonl"):
        formatter = tables.RowFormatter(fmt, list(rows[0]))
        path = tmp_path / f"r.{fmt}"
        path.write_bytes(formatter.header() + formatter.rows(rows))
        back = list(tables.read_rows(path, fmt))
        assert back[0]["a"] == rows[0]["a"]
        if fmt != "jsonl":
            assert back[0] == {"a": "x,\"y\"\n", "b": "1.5", "c": "true", "d": '[["n", 0.1]]', "e": ""}
            assert next(csv.reader(io.StringIO(path.read_text(encoding="utf-8")),
                                   delimiter="\t" if fmt == "tsv" else ","))[0] == "a"


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_cells_passed_as_they_are_read_back_as_the_cell_rule_writes_them(fmt):
    """The writer takes str/int/float cells without ``_cell`` (a tenth of predict's time): each must
    come out as ``_cell`` makes it, and bool, numpy numbers, lists, None still go through the rule."""
    import numpy as np

    values = {"text": CONDEMNATION, "sent_id": 3, "score": 0.8123456789012345, "tiny": 1e-20,
              "nan": float("nan"), "flag": True, "off": False, "np": np.float64(0.25), "npint": np.int64(7),
              "none": None, "top": [["terror_attack", 0.81]]}
    row = tables.RowFormatter(fmt, list(values)).rows([values]).decode("utf-8")
    written = next(csv.reader(io.StringIO(row), delimiter="\t" if fmt == "tsv" else ","))
    assert written == [tables._cell(v) for v in values.values()]
    assert written[5:7] == ["true", "false"] and written[9] == ""


@pytest.mark.slow
@pytest.mark.parametrize("sig, jobs", [("SIGINT", 2), ("SIGTERM", 1)])
def test_a_real_signal_leaves_complete_rows_and_resume_finishes(model_dir, raw, tmp_path, sig, jobs):
    import signal
    import subprocess
    import time

    originals = sorted(raw.glob("*.txt"))
    for i in range(15):
        for path in originals:
            shutil.copy(path, raw / f"x{i:02d}_{path.name}")
    base = [sys.executable, "-m", "kwct_ml.predict", str(raw), "--model", str(model_dir)]
    ref = tmp_path / "ref.csv"
    subprocess.run([*base, "-o", str(ref)], check=True, capture_output=True)
    out = tmp_path / "o.csv"
    proc = subprocess.Popen([*base, "-o", str(out), "--jobs", str(jobs)], stderr=subprocess.PIPE)
    ckpt = Path(f"{out}.partial.ckpt")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists() and len(ckpt.read_text(encoding="utf-8").splitlines()) >= 3:
            break
        time.sleep(0.005)
    proc.send_signal(getattr(signal, sig))
    err = proc.communicate(timeout=60)[1].decode()
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 130 and "Traceback" not in err and "--resume" in err
    assert not out.exists()
    partial = Path(f"{out}.partial").read_bytes()
    assert ref.read_bytes().startswith(partial) and partial.endswith(b"\n")
    subprocess.run([*base, "-o", str(out), "--resume"], check=True, capture_output=True)
    assert out.read_bytes() == ref.read_bytes()
