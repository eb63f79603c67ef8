"""Pieces of one big table (io/slices, Parquet row ranges): read apart they give exactly the whole
table's records (line numbers included), and an --article-column article is never cut apart."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from kwct_ml.errors import DataError
from kwct_ml.io import slices, tables
from kwct_ml.io.encoding import open_text
from kwct_ml.io.sources import READERS, ReadOptions, Source

FORMATS = ["csv", "tsv", "jsonl"]


@pytest.fixture
def sentences(repo_dir) -> pd.DataFrame:
    """The seed sentences (real Arabic), several rows per article (doc_id)."""
    return pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", keep_default_na=False)


@pytest.fixture
def articles(repo_dir) -> pd.DataFrame:
    """The seed articles, one per row: text cells with line breaks (quoted in CSV)."""
    raw = repo_dir / "data" / "raw"
    return pd.DataFrame([{"doc_id": p.stem, "text": p.read_text(encoding="utf-8")}
                         for p in sorted(raw.glob("*.txt"))])


def write(frame: pd.DataFrame, path: Path, fmt: str, newline: str = "\n", bom: bool = False) -> Path:
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        if fmt == "jsonl":
            for record in frame.to_dict("records"):
                handle.write(json.dumps(record, ensure_ascii=False) + newline)
        else:
            writer = csv.writer(handle, delimiter="\t" if fmt == "tsv" else ",", lineterminator=newline)
            writer.writerow(frame.columns)
            writer.writerows(frame.itertuples(index=False))
    return path


def whole(path: Path, fmt: str) -> list:
    with open_text(path) as handle:
        return [(line, rec if isinstance(rec, dict) else str(rec))
                for line, rec in tables.records(handle, str(path), fmt)]


def pieced(path: Path, fmt: str, plan: list[slices.Slice]) -> list:
    return [(line, rec if isinstance(rec, dict) else str(rec))
            for piece in plan for line, rec in slices.records(str(path), fmt, piece)]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("newline", "bom"), [("\n", False), ("\r\n", True)])
def test_pieces_read_apart_are_the_whole_table(articles, tmp_path, fmt, newline, bom):
    path = write(articles, tmp_path / f"a.{fmt}", fmt, newline, bom)
    plan = slices.plan(str(path), fmt, None, 2)
    assert plan is not None and len(plan) == 3  # 5 articles, 2 per piece
    assert plan[0].start == plan[0].header_end and plan[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in zip(plan, plan[1:], strict=False))
    assert [p.index for p in plan] == [0, 2, 4]
    assert pieced(path, fmt, plan) == whole(path, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_article_is_never_cut_apart(sentences, tmp_path, fmt):
    path = write(sentences[["doc_id", "sent_id", "text"]], tmp_path / f"s.{fmt}", fmt)
    plan = slices.plan(str(path), fmt, None, 20, "doc_id")
    pieces = [[rec["doc_id"] for _, rec in slices.records(str(path), fmt, p)] for p in plan]
    # articles of 36, 8, 30, 32, 14 rows: a piece ends at 20 rows or more, but only between articles
    assert [len(p) for p in pieces] == [36, 38, 32, 14]
    for before, after in zip(pieces, pieces[1:], strict=False):
        assert before[-1] != after[0]
    assert sum(pieces, []) == sentences.doc_id.tolist()
    # without the article column the same table is cut every 20 rows
    assert [len(list(slices.records(str(path), fmt, p)))
            for p in slices.plan(str(path), fmt, None, 20)] == [20] * 6


def test_a_bad_json_line_keeps_its_line_number_in_its_piece(sentences, tmp_path):
    path = write(sentences[["doc_id", "text"]].head(6), tmp_path / "s.jsonl", "jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(4, "{not json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = slices.plan(str(path), "jsonl", None, 2)
    got = pieced(path, "jsonl", plan)
    assert got == whole(path, "jsonl")
    assert [line for line, rec in got if not isinstance(rec, dict)] == [5]


def test_tables_that_cannot_be_cut_are_read_whole(sentences, tmp_path):
    small = write(sentences.head(3), tmp_path / "small.csv", "csv")
    assert slices.plan(str(small), "csv", None, 20) is None  # fits in one piece
    broken = tmp_path / "broken.csv"
    broken.write_text('doc_id,text\na,"' + sentences.text[0] + "\nb,x\n" * 30, encoding="utf-8")
    assert slices.plan(str(broken), "csv", None, 2) is None  # unclosed quote: reading says so once
    utf16 = tmp_path / "u16.csv"
    utf16.write_text(small.read_text(encoding="utf-8"), encoding="utf-16")
    assert slices.plan(str(utf16), "csv", None, 1) is None
    assert slices.plan(str(small), "csv", "UTF_16", 1) is None  # forced, any spelling


def test_reader_plan_keeps_a_table_without_its_text_column_whole(sentences, tmp_path):
    path = write(sentences[["doc_id", "text"]], tmp_path / "s.csv", "csv")
    source = Source(READERS[".csv"], str(path), "s")
    assert len(READERS[".csv"].plan(source, ReadOptions(None, "text", None, None), 20)) == 6
    assert READERS[".csv"].plan(source, ReadOptions(None, "body", None, None), 20) == [source]


def test_parquet_row_ranges_never_cut_an_article(sentences, tmp_path):
    pytest.importorskip("pyarrow", reason="the dask extra is not installed")
    from kwct_ml.io import parquet

    path = tmp_path / "s.parquet"
    sentences[["doc_id", "sent_id", "text"]].to_parquet(path, row_group_size=7)
    ranges = parquet.row_ranges(path, 20, "doc_id")
    assert [(r.start, r.end) for r in ranges] == [(0, 36), (36, 74), (74, 106), (106, 120)]
    got = [rec for r in ranges for _, rec in parquet.records(path, r)]
    assert got == [rec for _, rec in parquet.records(path)]
    assert [rec["text"] for rec in got] == sentences.text.tolist()
    assert [line for line, _ in parquet.records(path, ranges[1])][:2] == [37, 38]
    source = Source(READERS[".parquet"], str(path), "s")
    assert READERS[".parquet"].count(source, ReadOptions(None, "text", None, None)) == 120


def test_an_unreadable_parquet_file_is_a_data_error(tmp_path):
    pytest.importorskip("pyarrow", reason="the dask extra is not installed")
    from kwct_ml.io import parquet

    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        list(parquet.records(bad))
    assert parquet.column_names(bad) == []
    assert parquet.row_ranges(bad, 1) is None
    assert READERS[".parquet"].count(Source(READERS[".parquet"], str(bad), "bad"), None) == 1


@pytest.mark.parametrize("damage", ["cp1256", "bad utf-8 byte"])
def test_pieces_decode_as_the_whole_file_and_warn_once(sentences, tmp_path, damage):
    from kwct_ml.io.sources import Skipped

    data = sentences[["doc_id", "text"]].to_csv(index=False)
    path = tmp_path / "s.csv"
    if damage == "cp1256":
        path.write_bytes(data.encode("cp1256"))
    else:
        raw = data.encode("utf-8")
        cut = raw.index("الكويت".encode())
        path.write_bytes(raw[:cut] + b"\xff" + raw[cut:])
    opts = ReadOptions(None, "text", None, None, article_column="doc_id")
    reader = READERS[".csv"]
    whole = list(reader.read(Source(reader, str(path), "s"), opts))
    pieces = reader.plan(Source(reader, str(path), "s"), opts, 20)
    assert len(pieces) == 4
    apart = [entry for piece in pieces for entry in reader.read(piece, opts)]
    assert apart == whole
    assert [e.record["level"] for e in apart if isinstance(e, Skipped)] == ["warning"]
