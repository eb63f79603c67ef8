"""Hostile inputs of issue 19 (part A): encodings decided on evidence, odd tables, odd folders and
file names, a broken data/raw, HTML-ish sheets. Each case ends in a result or one clear line.

The table of cases is experiments/robustness.md, section "Issue 19".
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kwct_ml.cli import dataset as dataset_cli
from kwct_ml.cli import label
from kwct_ml.errors import DataError, one_line
from kwct_ml.io import encoding, tables
from kwct_ml.io.encoding import decode_bytes, read_text
from kwct_ml.labelling import merge as labelling_merge
from kwct_ml.labelling import sheet as labelling_sheet
from kwct_ml.text.segment import segment

from .conftest import CONDEMNATION, FURNITURE, SOLIDARITY, SUPPORT, TATWEEL, examples, run_predict

ARTICLE = f"{TATWEEL}\n{SOLIDARITY}\n{SUPPORT}\n"
#: "الكويت.txt" as a Windows archive stores it (cp1256 bytes), not valid UTF-8.
CP1256_NAME = "الكويت".encode("cp1256") + b".txt"


def assert_clean(err: str, prog: str = "kwct_ml.predict: ") -> None:
    assert "Traceback" not in err
    for line in err.splitlines():
        assert line.startswith(prog), err


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def error_records(out: Path) -> list[dict]:
    path = Path(f"{out}.errors.jsonl")
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_bytes().decode("utf-8").splitlines() if x]


# --------------------------------------------------------------------------- 1. encodings on evidence

@pytest.mark.parametrize("sentence", [FURNITURE, SOLIDARITY, CONDEMNATION])
@pytest.mark.parametrize("bad", [b"\xff", b"\x80", b"\xc7"])
def test_utf8_sentence_with_one_bad_byte_is_utf8_with_one_replacement(sentence, bad):
    """Before: decoded as Windows-1256 mojibake (or refused), never as the UTF-8 it is."""
    middle = len(sentence) // 2
    data = sentence[:middle].encode() + bad + sentence[middle:].encode()
    text, decision = encoding.decode(data, "a.txt")
    assert text == sentence[:middle] + "\ufffd" + sentence[middle:]
    assert decision.codec == "utf-8" and "1 invalid UTF-8" in decision.note and "line 1" in decision.note


ARABIC_WORD = st.text(st.characters(min_codepoint=0x0621, max_codepoint=0x064A), min_size=1, max_size=8)
BETWEEN = st.sampled_from([" ", "\n", "، ", ". ", "؟ ", " 2024 ", "ISIS", "😀"])
ARABIC_TEXT = st.lists(st.one_of(ARABIC_WORD, BETWEEN), min_size=1, max_size=30).map("".join).filter(
                           lambda t: sum(not c.isascii() for c in t) >= 3)


@settings(max_examples=examples(100))
@given(text=ARABIC_TEXT, where=st.floats(0, 1), byte=st.integers(0x80, 0xFF))
def test_property_one_bad_byte_anywhere_in_arabic_utf8_is_one_replacement(text, where, byte):
    """Valid UTF-8 Arabic (3 or more non-ASCII characters) with one bad byte put between two
    characters reads back as the text with one U+FFFD there, never as Windows-1256."""
    cut = round(where * len(text))
    data = text[:cut].encode() + bytes([byte]) + text[cut:].encode()
    decoded, decision = encoding.decode(data, "a.txt")
    assert decoded == text[:cut] + "\ufffd" + text[cut:]
    assert decision.codec == "utf-8" and decision.errors == "replace"


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_utf8_cut_inside_its_last_character_keeps_every_whole_character(cut):
    data = (ARTICLE + "الكويت😀").encode()[:-cut]
    text, decision = encoding.decode(data, "a.txt")
    assert text == ARTICLE + "الكويت\ufffd"
    assert "cut" in decision.note


def test_windows_1256_is_chosen_only_on_the_whole_input_and_reported():
    text, decision = encoding.decode(ARTICLE.encode("cp1256"), "a.txt")
    assert text == ARTICLE and decision.codec == "cp1256" and "Windows-1256" in decision.note


def test_a_windows_1256_article_with_one_utf8_line_names_that_line():
    data = ((TATWEEL + "\n").encode("cp1256") + (SUPPORT + "\n").encode()
            + (SOLIDARITY + "\n").encode("cp1256"))
    text, decision = encoding.decode(data, "a.txt")
    assert decision.codec == "cp1256"
    assert text.splitlines()[0] == TATWEEL and text.splitlines()[2] == SOLIDARITY
    assert "line 2" in decision.note and "UTF-8" in decision.note


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_names_the_encoding_option(tmp_path, codec):
    """Before: 'looks binary (NUL byte ...)'."""
    path = tmp_path / "a.txt"
    path.write_bytes(ARTICLE.encode(codec))
    with pytest.raises(DataError) as exc:
        read_text(path)
    assert f"--encoding {codec}" in str(exc.value) and "binary" not in str(exc.value)
    assert read_text(path, encoding=codec) == ARTICLE


def test_utf8_with_a_bom_and_a_bad_byte_is_utf8():
    data = b"\xef\xbb\xbf" + SUPPORT.encode() + b"\xff\n"
    assert decode_bytes(data) == SUPPORT + "\ufffd\n"


def _big_table(tmp_path: Path, tail: bytes, head_rows: int = 900) -> Path:
    """A CSV whose first 64 KB are valid UTF-8 (ASCII ids, Arabic text), then ``tail``."""
    rows = "".join(f"r{i},{SOLIDARITY}\n" for i in range(head_rows)).encode()
    assert len(rows) > encoding.SNIFF_BYTES
    path = tmp_path / "big.csv"
    path.write_bytes(b"id,text\n" + rows + tail)
    return path


def test_a_table_with_one_bad_byte_after_64kb_is_read_whole_and_reported(model_dir, tmp_path):
    """Before: 'undecodable bytes; rest of the table skipped' at the bad byte."""
    path = _big_table(tmp_path, b"last," + SUPPORT.encode() + b"\xff\n")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out, "--unit", "sentence")
    assert_clean(err)
    assert code == 0, err
    rows = read_csv(out)
    assert len(rows) == 901 and rows.text.iloc[-1] == SUPPORT + "\ufffd"
    warning = [line for line in err.splitlines() if ": warning: " in line]
    assert len(warning) == 1 and str(path) in warning[0] and "first on line 902" in warning[0]


def test_a_control_character_deep_in_a_table_is_kept_and_reported_not_binary(model_dir, tmp_path,
                                                                             monkeypatch):
    """Before: the whole table skipped as 'looks binary (control character U+0002)' (the full ANT
    corpus has one U+0002, in row 9,346 of 31,457). A binary file shows in its first block."""
    monkeypatch.setattr(encoding, "BLOCK_BYTES", 4096)  # the byte is past the first block
    path = _big_table(tmp_path, b"last," + SUPPORT.encode() + b"\x02\n")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out, "--unit", "sentence")
    assert_clean(err)
    assert code == 0, err
    rows = read_csv(out)
    assert len(rows) == 901 and rows.text.iloc[-1].startswith(SUPPORT)
    warning = [line for line in err.splitlines() if ": warning: " in line]
    assert len(warning) == 1 and "1 control character kept" in warning[0], err
    assert "U+0002 on line 902" in warning[0]


def test_a_control_character_in_a_tables_first_block_is_still_binary(model_dir, tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"id,text\nr1," + SOLIDARITY.encode() + b"\x02\n")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out, "--unit", "sentence")
    assert_clean(err)
    assert code == 1 and "looks binary (control character U+0002)" in err, err


def test_a_windows_1256_table_whose_first_64kb_are_ascii_is_windows_1256(model_dir, tmp_path):
    """Before: judged UTF-8 from its ASCII head, then 'undecodable bytes' at the first Arabic row."""
    ascii_rows = "".join(f"r{i},note {i}\n" for i in range(7000))
    data = ("id,text\n" + ascii_rows + f"a1,{SOLIDARITY}\na2,{SUPPORT}\n").encode("cp1256")
    assert data.index("ع".encode("cp1256")) > encoding.SNIFF_BYTES
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out, "--unit", "sentence")
    assert_clean(err)
    assert code == 0, err
    assert read_csv(out).text.tolist()[-2:] == [SOLIDARITY, SUPPORT]
    assert f"warning: {path}: decoded as Windows-1256" in err


def test_predict_names_each_file_decoded_as_windows_1256_or_with_replacements(model_dir, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cp.txt").write_bytes(ARTICLE.encode("cp1256"))
    (tmp_path / "in" / "cut.txt").write_bytes((ARTICLE + "الكويت").encode()[:-1])  # a letter cut in two
    (tmp_path / "in" / "ok.txt").write_bytes(ARTICLE.encode())
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, tmp_path / "in", "-o", out)
    assert_clean(err)
    assert code == 0, err
    warnings = [line for line in err.splitlines() if ": warning: " in line]
    assert len(warnings) == 2, err
    assert "cp.txt: decoded as Windows-1256" in warnings[0] and "cut.txt: " in warnings[1]
    records = error_records(out)
    assert [r["level"] for r in records] == ["warning", "warning"]
    assert set(read_csv(out).doc_id) == {"cp", "cut", "ok"}


def test_stdin_with_one_bad_byte_is_tagged_as_utf8(model_dir, tmp_path, monkeypatch):
    data = SUPPORT.encode() + b"\xff\n"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, "-", "-o", out)
    assert code == 0 and "warning: <stdin>: read as UTF-8; 1 invalid UTF-8 byte sequence" in err
    assert read_csv(out).text.tolist() == [SUPPORT + "\ufffd"]


# --------------------------------------------------------------------------- 2. tables

def test_a_csv_header_with_a_column_twice_is_one_line_naming_it(model_dir, tmp_path):
    """Before: the first 'text' column was dropped silently and the second one tagged."""
    path = tmp_path / "t.csv"
    path.write_text(f"text,text\n{SUPPORT},{SOLIDARITY}\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out)
    assert_clean(err)
    assert code == 1 and not out.exists()
    (line,) = [x for x in err.splitlines() if f"skipped {path}" in x]
    assert f"{path}:1:" in line and "'text'" in line and "twice" in line


@pytest.mark.parametrize("value", [["أ", "ب"], True, 123, 4.5, None, {"a": "ب"}])
def test_a_jsonl_text_that_is_not_a_string_is_logged_and_the_rest_finishes(model_dir, tmp_path, value):
    path = tmp_path / "t.jsonl"
    lines = [{"text": SUPPORT}, {"text": value}, {"text": SOLIDARITY}]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out)
    assert_clean(err)
    assert code == 2
    assert read_csv(out).text.tolist() == [SUPPORT, SOLIDARITY]
    (record,) = error_records(out)
    assert record["line"] == 2 and "'text'" in record["error"]


def test_nan_and_infinity_in_jsonl_come_out_as_valid_json(model_dir, tmp_path):
    """Before: NaN was copied into the output, which no strict JSON reader accepts."""
    path = tmp_path / "t.jsonl"
    path.write_text(f'{{"text": "{SUPPORT}", "score": NaN, "hi": Infinity, "lo": -Infinity}}\n',
                    encoding="utf-8")
    out = tmp_path / "o.jsonl"
    code, err = run_predict(model_dir, path, "-o", out)
    assert code == 0, err

    def refuse(name):
        raise ValueError(f"invalid JSON constant {name}")

    (row,) = [json.loads(line, parse_constant=refuse) for line in out.read_text("utf-8").splitlines()]
    assert row["score"] is None and row["hi"] is None and row["lo"] is None and row["text"] == SUPPORT


def test_a_lone_surrogate_escape_in_jsonl_skips_that_row_only(model_dir, tmp_path):
    """Before: UnicodeEncodeError when the row was written, and the whole run aborted."""
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": SUPPORT}, ensure_ascii=False) + "\n"
                    + '{"text": "\\ud83d ' + SOLIDARITY + '"}\n'
                    + '{"text": "' + FURNITURE + '", "tag": "\\udc00"}\n'
                    + json.dumps({"text": SOLIDARITY + " \U0001F600"}) + "\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out)
    assert_clean(err)
    assert code == 2
    assert read_csv(out).text.tolist() == [SUPPORT, SOLIDARITY + " \U0001F600"]
    assert [r["line"] for r in error_records(out)] == [2, 3]
    assert "surrogate" in error_records(out)[0]["error"]


def test_a_jsonl_row_with_a_key_twice_is_logged_not_half_read(model_dir, tmp_path):
    """As a CSV header with a column twice: json.loads would keep the last value silently."""
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": SUPPORT}, ensure_ascii=False) + "\n"
                    + f'{{"text": "{SOLIDARITY}", "text": "{FURNITURE}"}}\n', encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out)
    assert_clean(err)
    assert code == 2 and read_csv(out).text.tolist() == [SUPPORT]
    (record,) = error_records(out)
    assert record["line"] == 2 and "'text' twice" in record["error"]


def test_a_tsv_cell_starting_with_a_quote_gets_tsv_advice(model_dir, tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text(f"id\ttext\na\t{SUPPORT}\nb\t\"عاجل\" {SOLIDARITY}\nc\t{FURNITURE}\n", encoding="utf-8")
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, path, "-o", out)
    assert_clean(err)
    assert code == 2
    (line,) = [x for x in err.splitlines() if f"skipped {path}" in x]
    assert f"{path}:3:" in line and "TSV" in line and "spreadsheet" not in line
    assert read_csv(out).text.tolist() == [SUPPORT]


# --------------------------------------------------------------------------- 3. input folders

def test_symlinked_and_looping_entries_of_an_input_folder_are_named(model_dir, tmp_path):
    """Before: the linked folder and the looping link were skipped without a word."""
    folder, other = tmp_path / "in", tmp_path / "other"
    (folder / "sub").mkdir(parents=True)
    other.mkdir()
    (folder / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "sub" / "b.txt").write_text(ARTICLE, encoding="utf-8")
    (other / "c.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "linked").symlink_to(other, target_is_directory=True)
    (folder / "sub" / "up").symlink_to(folder, target_is_directory=True)  # a loop
    (folder / "loop.txt").symlink_to(folder / "loop.txt")
    (folder / "file_link.txt").symlink_to(other / "c.txt")  # a link to a file is read
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, folder, "-o", out)
    assert_clean(err)
    assert code == 2
    assert set(read_csv(out).doc_id) == {"a", "sub/b", "file_link"}
    skipped = {r["input"]: r["error"] for r in error_records(out)}
    assert set(skipped) == {str(folder / "linked"), str(folder / "sub" / "up"), str(folder / "loop.txt")}
    assert "link to a folder" in skipped[str(folder / "linked")]
    assert "not followed" in skipped[str(folder / "linked")]
    assert "loop" in skipped[str(folder / "loop.txt")]


def test_an_unreadable_subfolder_is_named(model_dir, tmp_path, monkeypatch):
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    (folder / "a.txt").write_text(ARTICLE, encoding="utf-8")
    (folder / "locked" / "b.txt").write_text(ARTICLE, encoding="utf-8")
    real = os.scandir

    def scandir(path="."):  # chmod 000 does not stop root, so refuse the listing here
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = tmp_path / "o.csv"
    code, err = run_predict(model_dir, folder, "-o", out)
    assert_clean(err)
    assert code == 2 and set(read_csv(out).doc_id) == {"a"}
    (record,) = error_records(out)
    assert record["input"] == str(folder / "locked") and "Permission denied" in record["error"]


# --------------------------------------------------------------------------- 4. file names not UTF-8

def test_predict_reads_a_file_whose_name_is_not_utf8(model_dir, tmp_path):
    """Before: UnicodeEncodeError writing the doc_id."""
    folder = tmp_path / "in"
    folder.mkdir()
    name = os.fsdecode(CP1256_NAME)
    (folder / name).write_bytes(ARTICLE.encode())
    (folder / os.fsdecode(b"\xe3\xca\xc7\xc8\xda\xc9.txt")).write_bytes(b"\x00binary")
    out = tmp_path / os.fsdecode("نتائج".encode("cp1256") + b".csv")
    code, err = run_predict(model_dir, folder, "-o", out)
    assert_clean(err)
    assert code == 2, err
    rows = read_csv(out)
    assert set(rows.doc_id) == {"\\xc7\\xe1\\xdf\\xe6\\xed\\xca"}
    assert rows.text.tolist() == [s.text for s in segment(ARTICLE)]
    (record,) = error_records(out)
    assert record["input"].endswith("\\xe3\\xca\\xc7\\xc8\\xda\\xc9.txt")
    assert "\\xe3\\xca" in err  # printed escaped
    err.encode("utf-8")  # every name printed escaped, the output's too (no surrogates reach stderr)


def test_label_prepare_refuses_a_file_name_that_is_not_utf8_in_one_line(tmp_path, capsys, monkeypatch):
    """Before: UnicodeEncodeError writing the sheet."""
    monkeypatch.chdir(tmp_path)  # no project, so no model
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / os.fsdecode(CP1256_NAME)).write_bytes(ARTICLE.encode())
    (folder / "ok.txt").write_bytes(ARTICLE.encode())
    sheet = tmp_path / os.fsdecode("ورقة".encode("cp1256") + b".csv")
    code = label.main(["prepare", str(folder), "--out", str(sheet), "--data-dir", str(tmp_path / "nodata")])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    lines = [x for x in err.splitlines() if "\\xc7\\xe1" in x]
    assert len(lines) == 1 and "الكويت.txt" in lines[0] and "rename" in lines[0], err
    with open(sheet, encoding="utf-8-sig", newline="") as handle:
        assert {row["doc_id"] for row in csv.DictReader(handle)} == {"ok"}


def test_one_line_escapes_undecodable_name_bytes():
    assert one_line(os.fsdecode(b"a\xc7b")) == "a\\xc7b"


# --------------------------------------------------------------------------- 5. data/raw

def _check(data_dir: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = dataset_cli.main(["check", "--data-dir", str(data_dir)])
    return code, err.getvalue()


def test_a_symlink_loop_in_data_raw_is_one_problem(small_data):
    """Before: OSError traceback (so train and merge crashed too)."""
    loop = small_data / "raw" / "loop.txt"
    loop.symlink_to(loop)
    code, err = _check(small_data)
    assert code == 1 and "Traceback" not in err
    lines = [x for x in err.splitlines() if str(loop) in x]
    assert len(lines) == 1 and "symbolic link" in lines[0]


@pytest.mark.parametrize("name", ["raw/articles.csv", "labels/sentences.csv"])
def test_a_corpus_index_that_is_a_looping_link_is_one_problem_naming_it(small_data, name):
    """Before: taken as absent ('labels file is missing', or no index at all, so nothing was checked)."""
    path = small_data / name
    path.unlink()
    path.symlink_to(path)
    code, err = _check(small_data)
    assert code == 1 and "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith(f"{path}:")]
    assert "symbolic link that loops" in line


def test_an_unreadable_article_in_data_raw_is_one_problem(small_data, monkeypatch):
    article = sorted((small_data / "raw").glob("*.txt"))[0]
    real = Path.read_bytes

    def read_bytes(self):  # chmod 000 does not stop root
        if self == article:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code, err = _check(small_data)
    assert code == 1 and "Traceback" not in err
    assert f"{article}: cannot read: Permission denied" in err


def test_a_sentences_row_with_an_extra_field_fails_the_check_with_its_line(small_data):
    """Before: the extra field was dropped and the corpus passed."""
    path = small_data / "labels" / "sentences.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].rstrip("\r\n") + ",extra\n"
    path.write_text("".join(lines), encoding="utf-8")
    code, err = _check(small_data)
    assert code == 1
    (line,) = [x for x in err.splitlines() if f"{path}:4:" in x]
    assert "more field" in line


# --------------------------------------------------------------------------- 6. HTML-ish sheets

def test_a_sheet_of_articles_with_a_bold_tag_each_merges_as_prepare_accepted_them(tmp_path, data_copy):
    """Before: each article passed prepare, but merge called the whole sheet 'an HTML page'."""
    folder = tmp_path / "new"
    folder.mkdir()
    texts = {"bold_a": f"قال <b>الوزير</b> إن {CONDEMNATION}\n{FURNITURE}\n",
             "bold_b": f"<b>عاجل</b> {SUPPORT}\n{FURNITURE}\n"}
    for name, text in texts.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    rows = labelling_sheet.sheet_rows(labelling_sheet.collect_articles([folder]))
    for row in rows:
        row["topic"], row["stance"] = "other", "neutral"
    sheet = tmp_path / "sheet.csv"
    labelling_sheet.write_sheet(rows, str(sheet))
    plan, problems = labelling_merge.check_sheet(sheet, data_copy)
    assert problems == []
    result = labelling_merge.merge_sheet(sheet, data_copy, annotator="mona")
    assert sorted(result.articles) == ["bold_a", "bold_b"]
    assert (data_copy / "raw" / "bold_a.txt").read_text(encoding="utf-8") == texts["bold_a"]


def test_an_article_with_a_real_page_of_tags_is_refused_by_prepare_with_the_fix(tmp_path, capsys):
    page = tmp_path / "page.txt"
    page.write_text(f"<p>قال <b>الوزير</b></p> {CONDEMNATION}\n", encoding="utf-8")
    with pytest.raises(DataError, match="no readable article"):
        labelling_sheet.collect_articles([page])
    err = capsys.readouterr().err
    assert "HTML page" in err and "extract the article text" in err


def test_table_records_helpers_are_consistent_with_predict():
    """tables.records is the one reader: duplicate columns and bad JSON values are its findings."""
    with pytest.raises(DataError, match="twice"):
        list(tables.records(io.StringIO("text,id,text\na,b,c\n", newline=""), "t.csv", "csv"))
    found = list(tables.records(io.StringIO('{"text": NaN}\n'), "t.jsonl", "jsonl"))
    assert found == [(1, {"text": None})]
