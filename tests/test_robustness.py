"""Hostile and odd inputs (issue 8): every case ends in a result or one clear error, never a traceback.

Covers dataset loading, predict (files, tables, stdin), label prepare's reader and a tampered model
through the CLI. The table of cases is experiments/robustness.md.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwct_ml.cli import dataset as dataset_cli
from kwct_ml.cli import predict
from kwct_ml.corpus import dataset
from kwct_ml.errors import DataError
from kwct_ml.io.encoding import read_text
from kwct_ml.labelling import sheet as labelling_sheet
from kwct_ml.text.segment import segment

from .conftest import CONDEMNATION, SOLIDARITY, SUPPORT, examples, run_predict

ARTICLE = f"{CONDEMNATION}\n{SOLIDARITY}\n{SUPPORT}\n"
BIDI = "\u200f\u202b\u2066\u061c\u200e\u202c\u2069"
HTML_PAGE = ("<!DOCTYPE html>\n<html lang='ar'><head><title>خبر</title></head>\n"
             f"<body><p>{CONDEMNATION}</p></body></html>\n")
HTML_FRAGMENT = f"<div><p>{CONDEMNATION}</p>\n<p>{SUPPORT}</p></div>\n"
#: KWCT_FUZZ_EXAMPLES=600 runs a deeper search (minutes); the default keeps the suite quick.
PROPERTY = settings(max_examples=examples(int(os.environ.get("KWCT_FUZZ_EXAMPLES", "60"))), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def assert_clean_stderr(err: str) -> None:
    """No traceback; every line is a kwct_ml.predict message (one line per problem)."""
    assert "Traceback" not in err
    for line in err.splitlines():
        assert line.startswith("kwct_ml.predict: "), err


def read_out(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def error_records(out: Path) -> list[dict]:
    path = Path(f"{out}.errors.jsonl")
    return [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x] if path.exists() else []


# --------------------------------------------------------------------------- predict: named cases

CASES = {
    # name: (bytes of a .txt input, expected outcome: "tagged" or a fragment of the one-line error)
    "mixed Arabic/Latin": (f"قال Ahmed Al-Sabah إن الكويت تدين ISIS. The UN welcomed it.\n{SUPPORT}\n"
                           .encode(), "tagged"),
    "UTF-8 BOM": (b"\xef\xbb\xbf" + ARTICLE.encode(), "tagged"),
    "UTF-16 LE BOM": (b"\xff\xfe" + ARTICLE.encode("utf-16-le"), "tagged"),
    "UTF-16 BE BOM": (b"\xfe\xff" + ARTICLE.encode("utf-16-be"), "tagged"),
    "Windows-1256": (ARTICLE.encode("cp1256", errors="ignore"), "tagged"),
    "bidi controls": (f"{BIDI}{CONDEMNATION}{BIDI}\n\u202bعاجل:\u202c {SUPPORT}\n".encode(), "tagged"),
    "Windows line endings": (ARTICLE.replace("\n", "\r\n").encode(), "tagged"),
    "old Mac line endings": (ARTICLE.replace("\n", "\r").encode(), "tagged"),
    "Unicode line separators": (ARTICLE.replace("\n", "\u2028").encode(), "tagged"),
    "HTML fragment with few tags": (f"قال <b>الوزير</b> إن {CONDEMNATION}\n".encode(), "tagged"),
    "empty": (b"", "is empty"),
    "whitespace only": (" \n\t\r\n\u00a0\u2028 \n".encode(), "is empty"),
    "NUL bytes": (CONDEMNATION.encode() + b"\x00\x00" + SUPPORT.encode(), "looks binary"),
    "PNG image": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "looks binary"),
    "random binary": (bytes(range(256)) * 8, "looks binary"),
    "Latin-1 text": ("Café crème brûlée à la française".encode("latin-1"), "not UTF-8"),
    "HTML page": (HTML_PAGE.encode(), "looks like an HTML page"),
    "HTML fragment": (HTML_FRAGMENT.encode(), "looks like an HTML page"),
    "long line without stops": (("كلمة " * 10_000).encode(), "characters long"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_odd_txt_input_is_tagged_or_refused_in_one_line(model_dir, tmp_path, name):
    data, outcome = CASES[name]
    src = tmp_path / "in.txt"
    src.write_bytes(data)
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, src, "-o", out)
    assert_clean_stderr(err)
    if outcome == "tagged":
        rows = read_out(out)
        assert code == 0, err
        text = read_text(src)
        assert rows.text.tolist() == [s.text for s in segment(text)]
        for row in rows.itertuples():
            assert text[int(row.start):int(row.end)] == row.text
        assert not any(ch in "".join(rows.text) for ch in "\ufeff\r\n")
    else:
        assert code == 1  # nothing at all was tagged: no output file (not a header-only one)
        lines = [line for line in err.splitlines() if line.startswith("kwct_ml.predict: skipped ")]
        assert len(lines) == 1 and outcome in lines[0] and str(src) in lines[0], err
        records = error_records(out)
        assert len(records) == 1 and outcome in records[0]["error"] and records[0]["fix"]
        assert not out.exists()


def test_line_endings_give_the_same_sentences_and_tags(model_dir, tmp_path):
    outs = {}
    for name in ("Windows line endings", "old Mac line endings", "Unicode line separators"):
        src = tmp_path / f"{len(outs)}.txt"
        src.write_bytes(CASES[name][0])
        assert run_predict(model_dir, src, "-o", tmp_path / f"{len(outs)}.csv")[0] == 0
        outs[name] = read_out(tmp_path / f"{len(outs)}.csv")
    lf = tmp_path / "lf.txt"
    lf.write_text(ARTICLE, encoding="utf-8")
    assert run_predict(model_dir, lf, "-o", tmp_path / "lf.csv")[0] == 0
    expected = read_out(tmp_path / "lf.csv")[["text", "topic", "stance", "topic_score", "stance_score"]]
    for name, rows in outs.items():
        pd.testing.assert_frame_equal(rows[expected.columns].reset_index(drop=True), expected, obj=name)


def test_html_page_message_says_what_to_do(model_dir, tmp_path):
    src = tmp_path / "page.txt"
    src.write_text(HTML_PAGE, encoding="utf-8")
    code, err = run_predict(model_dir, src, "-o", tmp_path / "o.csv")
    assert code == 1
    assert f"skipped {src}:1: looks like an HTML page" in err and "extract the article text" in err


def test_html_in_a_table_cell_skips_that_row_only(model_dir, tmp_path):
    src = tmp_path / "t.csv"
    pd.DataFrame({"text": [CONDEMNATION, HTML_PAGE.replace("\n", " "), SUPPORT]}).to_csv(src, index=False)
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, src, "-o", out)
    assert code == 2 and "looks like an HTML page" in err
    assert_clean_stderr(err)
    assert read_out(out).text.tolist() == [CONDEMNATION, SUPPORT]
    assert [r["line"] for r in error_records(out)] == [3]


def test_html_on_stdin_is_refused(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(HTML_PAGE.encode())))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code, err = run_predict(model_dir, "-")
    assert code == 1 and "skipped <stdin>:1: looks like an HTML page" in err


def test_label_prepare_refuses_html_through_the_same_reader(tmp_path):
    page = tmp_path / "page.txt"
    page.write_text(HTML_PAGE, encoding="utf-8")
    with pytest.raises(DataError, match="looks like an HTML page") as info:
        read_text(page)
    assert "\n" not in str(info.value)
    good = tmp_path / "good.txt"
    good.write_text(ARTICLE, encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        articles = labelling_sheet.collect_articles([str(page), str(good)], None)
    assert [a.doc_id for a in articles] == ["good"]
    assert "looks like an HTML page" in err.getvalue()


def test_a_single_line_of_megabytes_is_refused_and_the_rest_finishes(model_dir, tmp_path):
    """A 20 MB line was tagged as one 'sentence' in 2 min and 6.7 GB (experiments/robustness.md)."""
    big = tmp_path / "big.txt"
    big.write_text("الكويت تدين الهجوم " * 100_000, encoding="utf-8")  # 1.9 M characters, one line
    good = tmp_path / "good.txt"
    good.write_text(ARTICLE, encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, big, good, "-o", out)
    assert code == 2 and f"skipped {big}:1: sentence 0 of big is 1,899,999 characters long" in err
    assert read_out(out).doc_id.tolist() == ["good"] * 3


def test_a_megabyte_line_of_sentences_is_tagged(model_dir, tmp_path):
    src = tmp_path / "line.txt"
    src.write_text(f"{CONDEMNATION} " * 2_000, encoding="utf-8")  # 0.4 M characters, one line
    out = tmp_path / "o.csv"
    assert run_predict(model_dir, src, "-o", out)[0] == 0
    rows = read_out(out)
    assert len(rows) == 2_000 and set(rows.text) == {CONDEMNATION}


def test_table_article_unit_does_not_repeat_the_article_on_every_row(model_dir, tmp_path):
    src = tmp_path / "t.csv"
    article = f"{CONDEMNATION} " * 3_000  # 0.6 M characters: over csv's default 128 KB field limit
    pd.DataFrame({"title": ["a", "b"], "text": [article, ARTICLE]}).to_csv(src, index=False)
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, src, "--unit", "article", "-o", out)
    assert code == 0, err
    rows = read_out(out)
    assert len(rows) == 3_003
    first = rows[rows.doc_id == "t:0"]
    assert first.input_text.tolist() == [article] + [""] * 2_999
    assert rows[rows.doc_id == "t:1"].input_text.tolist() == [ARTICLE, "", ""]
    assert out.stat().st_size < 3 * len(article.encode())


@pytest.mark.parametrize("bad", [f'"{SOLIDARITY}\n', f'"quoted" {SOLIDARITY}\n'])
def test_csv_quoting_error_keeps_earlier_rows_and_is_one_line(model_dir, tmp_path, bad):
    """An unclosed quote used to swallow every later row into one cell, silently (exit 0)."""
    src = tmp_path / "t.csv"
    src.write_text(f"text\n{CONDEMNATION}\n{bad}{SUPPORT}\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, src, "-o", out)
    assert code == 2 and "malformed CSV" in err and "check the quotes" in err
    assert_clean_stderr(err)
    assert read_out(out).text.tolist() == [CONDEMNATION]
    assert error_records(out)[0]["line"] in (3, 4)


@pytest.mark.parametrize("option", ["--output", "--summary", "--errors"])
def test_an_output_that_is_also_an_input_is_refused_before_anything_is_written(model_dir, tmp_path, option):
    src = tmp_path / "t.csv"
    pd.DataFrame({"text": [CONDEMNATION, SUPPORT]}).to_csv(src, index=False)
    before = src.read_bytes()
    args = {"--output": ["-o", src], "--summary": ["-o", tmp_path / "o.csv", "--summary", src],
            "--errors": ["-o", tmp_path / "o.csv", "--errors", tmp_path / "." / "t.csv"]}[option]
    code, err = run_predict(model_dir, src, *args)
    assert code == 1 and "is also an input and would be overwritten" in err and option in err
    assert src.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


# --------------------------------------------------------------------------- predict: properties

ODD = st.sampled_from(["\ufeff", "\x00", "\r\n", "\r", "\n", "\u2028", "\x85", BIDI, "<p>", "</div>",
                       "<html>", ".", "؟", "،", "\t", "\u00a0", "\x1b", "\ufffd", "\udcff"])
ARABIC = st.text(st.characters(min_codepoint=0x0600, max_codepoint=0x06FF), min_size=1, max_size=12)
TEXTISH = st.lists(st.one_of(ODD, ARABIC, st.text(max_size=6)), max_size=30).map("".join)
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1256"])


def _encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace" if encoding == "cp1256" else "surrogatepass")


@PROPERTY
@given(data=st.one_of(st.binary(max_size=300), st.tuples(TEXTISH, ENCODINGS).map(lambda t: _encode(*t))),
       kind=st.sampled_from(["txt", "txt-sentence", "csv", "tsv", "jsonl"]))
def test_property_any_input_file_ends_in_rows_or_one_line_per_problem(model_dir, data, kind):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        suffix = kind.split("-")[0]
        src = tmp / f"in.{suffix}"
        src.write_bytes(data)
        out = tmp / "o.jsonl"
        extra = ["--unit", "sentence"] if kind == "txt-sentence" else []
        code, err = run_predict(model_dir, src, "-o", out, *extra)
        assert_clean_stderr(err)
        assert code in (0, 1, 2), err
        assert out.exists() == (code != 1) and not Path(f"{out}.partial").exists()
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").split("\n") if x] \
            if out.exists() else []  # not splitlines:
        records = error_records(out)  # U+2028 and friends are valid unescaped inside JSON strings
        skips = [r for r in records if r.get("level") != "warning"]  # warnings: how a file was decoded
        assert (code != 0) == bool(skips)
        assert len([x for x in err.splitlines() if x.startswith("kwct_ml.predict: skipped ")]) == min(
            len(skips), 50)
        for record in records:
            assert record["error"] and "\n" not in record["error"]
        if kind == "txt" and code == 0:
            text = read_text(src)
            assert [r["text"] for r in rows] == [s.text for s in segment(text)]


@PROPERTY
@given(text=TEXTISH)
def test_property_stdin_text_ends_in_rows_or_one_error(model_dir, text):
    stdin = io.TextIOWrapper(io.BytesIO(text.encode("utf-8", errors="surrogatepass")))
    out = io.StringIO()
    old = sys.stdin
    sys.stdin = stdin
    try:
        with contextlib.redirect_stdout(out):
            code, err = run_predict(model_dir, "-", "--format", "jsonl")
    finally:
        sys.stdin = old
    assert_clean_stderr(err)
    assert code in (0, 1)
    rows = [json.loads(x) for x in out.getvalue().split("\n") if x]
    if code == 0:
        assert [r["text"] for r in rows] == [s.text for s in segment(read_text_like_stdin(text))]
    else:  # the unit, the skipped line and the summary; nothing on standard output
        assert not out.getvalue() and len(err.splitlines()) == 3


def read_text_like_stdin(text: str) -> str:
    """A lone surrogate was written as invalid UTF-8 bytes: each reads back as U+FFFD (issue 19)."""
    data = text.encode("utf-8", errors="surrogatepass")
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


# --------------------------------------------------------------------------- dataset loading

def _corpus(root: Path, article: bytes, labels: list[dict] | None = None) -> Path:
    (root / "raw").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "raw" / "a.txt").write_bytes(article)
    (root / "raw" / "articles.csv").write_text("doc_id,file,title,source,date\na,a.txt,t,,\n",
                                               encoding="utf-8")
    with open(root / "labels" / "sentences.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=dataset.SENTENCE_COLUMNS)
        writer.writeheader()
        writer.writerows(labels or [])
    return root


def _labels_for(text: str) -> list[dict]:
    return [dict(doc_id="a", sent_id=s.sent_id, start=s.start, end=s.end, text=s.text, topic="other",
                 stance="neutral", note="", source="seed") for s in segment(text)]


def _assert_result_or_one_error(root: Path):
    """scan never raises; load_corpus returns or raises one DataError line; check exits 0/1."""
    _, _, problems = dataset.scan(root)
    for problem in problems:
        assert "\n" not in str(problem)
    try:
        frame = dataset.load_corpus(root)
    except DataError as exc:
        assert problems and "\n" not in str(exc)
        return None
    assert not problems
    return frame


@PROPERTY
@given(text=st.one_of(TEXTISH, st.text(max_size=200)))
def test_property_any_labelled_article_loads_with_exact_offsets(text):
    with tempfile.TemporaryDirectory() as tmp:
        data = _encode(text, "utf-8")
        shown = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        root = _corpus(Path(tmp), data, _labels_for(shown))
        frame = _assert_result_or_one_error(root)
        if frame is not None:
            assert frame.text.tolist() == [s.text for s in segment(shown)]
            for row in frame.itertuples():
                assert shown[row.start:row.end] == row.text


@PROPERTY
@given(article=st.binary(max_size=200), sheet=st.binary(max_size=300),
       which=st.sampled_from(["article", "sentences.csv", "articles.csv"]))
def test_property_corrupt_corpus_files_give_problems_not_tracebacks(article, sheet, which):
    with tempfile.TemporaryDirectory() as tmp:
        root = _corpus(Path(tmp), ARTICLE.encode(), _labels_for(ARTICLE))
        target = {"article": root / "raw" / "a.txt", "sentences.csv": root / "labels" / "sentences.csv",
                  "articles.csv": root / "raw" / "articles.csv"}[which]
        target.write_bytes(article if which == "article" else sheet)
        _assert_result_or_one_error(root)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = dataset_cli.main(["check", "--data-dir", str(root)])
        assert code in (0, 1) and "Traceback" not in err.getvalue()


@pytest.mark.parametrize("name", ["empty", "whitespace only", "NUL bytes", "random binary", "HTML page",
                                  "Windows line endings", "UTF-8 BOM", "bidi controls"])
def test_odd_corpus_article_is_one_problem_or_loads(tmp_path, name):
    data = CASES[name][0]
    try:
        shown = dataset.decode_bytes(data, "a.txt", "utf-8-sig")
    except DataError:
        shown = ""
    root = _corpus(tmp_path / "c", data, _labels_for(shown))
    frame = _assert_result_or_one_error(root)
    if CASES[name][1] == "tagged" or name == "HTML page":  # corpus articles are not HTML-checked
        assert frame is not None and len(frame) == len(segment(shown))
    else:
        assert frame is None


@PROPERTY
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".tsv"]))
def test_property_eval_set_loads_or_raises_one_data_error(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"eval{suffix}"
        path.write_bytes(data)
        try:
            frame = dataset.load_eval_set(path)
        except DataError as exc:
            assert "\n" not in str(exc)
        else:
            assert list(frame.columns) == ["doc_id", "text", "topic", "stance"]


# --------------------------------------------------------------------------- tampered model via CLI

def test_tampered_model_stops_predict_with_one_line(model_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    data = bytearray((bad / "model.joblib").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "model.joblib").write_bytes(bytes(data))
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = predict.main([str(src), "--model", str(bad), "-o", str(tmp_path / "o.csv")])
    assert code == 1
    (line,) = err.getvalue().splitlines()
    assert line.startswith("kwct_ml.predict: error:") and "sha256 does not match" in line
    assert "trusted source" in line and not (tmp_path / "o.csv").exists()


def test_other_sklearn_version_is_one_warning_line_and_predict_goes_on(model_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(model_dir, other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    manifest["versions"]["scikit-learn"] = "0.0.1"
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    src = tmp_path / "a.txt"
    src.write_text(ARTICLE, encoding="utf-8")
    code, err = run_predict(other, src, "-o", tmp_path / "compiled.csv")  # scorer.npz: no pickle read
    assert code == 0 and "warning" not in err
    del manifest["scorer"]  # as saved before scorer.npz: the pickle is read, with the warning
    (other / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, err = run_predict(other, src, "-o", tmp_path / "o.csv")
    assert code == 0
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "scikit-learn 0.0.1" in warning[0] and "re-train" in warning[0]
    assert_clean_stderr(err)
