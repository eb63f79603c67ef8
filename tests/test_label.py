"""Labelling workflow: prepare a sheet, merge it all-or-nothing, agreement, status."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from kwct_ml.cli import label
from kwct_ml.corpus import dataset
from kwct_ml.errors import ConfigError, DataError
from kwct_ml.io import transaction
from kwct_ml.labelling import agreement as labelling_agreement
from kwct_ml.labelling import merge as labelling_merge
from kwct_ml.labelling import sheet as labelling_sheet
from kwct_ml.labelling import status
from kwct_ml.text.segment import segment

from .conftest import REPO

# Two short news items written for these tests (not corpus articles).
ATTACK = """الكويت تدين التفجير الإرهابي في مقديشو
الكويت - 12 مارس (كونا) -- أعربت وزارة الخارجية الكويتية عن إدانة دولة الكويت واستنكارها الشديدين \
للتفجير الإرهابي الذي استهدف فندقا في العاصمة الصومالية مقديشو وأسفر عن سقوط عدد من القتلى والجرحى.
وأكدت الوزارة في بيان لها اليوم موقف دولة الكويت الثابت والرافض للإرهاب بكافة أشكاله وصوره أيا كانت دوافعه.
وتقدمت الوزارة بخالص التعازي والمواساة لجمهورية الصومال الفيدرالية حكومة وشعبا ولأسر الضحايا، \
متمنية للمصابين الشفاء العاجل.
اضف تعليق
"""
VISIT = """وزير الخارجية يستقبل سفير المملكة المغربية
الكويت - 20 أبريل (كونا) -- استقبل وزير الخارجية الشيخ سالم عبدالله الجابر الصباح اليوم سفير المملكة \
المغربية لدى البلاد.
وجرى خلال اللقاء استعراض العلاقات الثنائية الوطيدة بين البلدين الشقيقين وسبل تعزيزها في مختلف المجالات.
كما بحث الجانبان تعزيز التعاون الأمني وتبادل المعلومات في مجال مكافحة الإرهاب والتطرف.
وأشاد السفير بالدور الذي تقوم به دولة الكويت في دعم جهود التحالف الدولي ضد تنظيم داعش.
"""
# Labels read against the codebook, one (topic, stance) per sentence; test data, not corpus labels.
GOLD = {
    "mogadishu": [("terror_attack", "condemnation"), ("terror_attack", "condemnation"),
                  ("ct_cooperation", "condemnation"), ("terror_attack", "solidarity"), ("other", "neutral")],
    "morocco": [("bilateral_relations", "neutral"), ("bilateral_relations", "neutral"),
                ("bilateral_relations", "neutral"), ("ct_cooperation", "neutral"),
                ("ct_cooperation", "support")],
}


class FakeModel:
    """Stands in for KwctModel: a fixed suggestion and a score chosen per sentence."""

    def __init__(self, scores: dict[str, float] | None = None):
        self.scores = scores or {}

    def predict(self, task, texts, groups=None):
        labels = ["ct_cooperation" if task == "topic" else "neutral"] * len(texts)
        return labels, np.array([self.scores.get(t, 0.9) for t in texts])


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "mogadishu.txt").write_text(ATTACK, encoding="utf-8")
    (folder / "morocco.txt").write_text(VISIT, encoding="utf-8")
    return folder


def _sheet(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict], encoding: str = "utf-8-sig", delimiter: str = ",") -> None:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)


def _fill(rows: list[dict]) -> list[dict]:
    for row in rows:
        row["topic"], row["stance"] = GOLD[row["doc_id"]][int(row["sent_id"])]
    return rows


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != transaction.LOCK_FILE}


@pytest.fixture
def filled(tmp_path, articles) -> Path:
    """A sheet for both test articles, every sentence labelled."""
    sheet = tmp_path / "sheet.csv"
    assert label.main(["prepare", str(articles), "--out", str(sheet), "--model", "none-such"]) == 1
    rows = labelling_sheet.sheet_rows(labelling_sheet.collect_articles([articles]))
    labelling_sheet.write_sheet(_fill(rows), str(sheet))
    return sheet


# ------------------------------------------------------------------------------------- prepare

def test_prepare_without_model_writes_bom_sheet_in_article_order(tmp_path, articles, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no models/latest here
    sheet = tmp_path / "sheet.csv"
    assert label.main(["prepare", str(articles / "morocco.txt"), str(articles / "mogadishu.txt"),
                       "--out", str(sheet)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no model" in err
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbfdoc_id,sent_id,start,end,text,")
    rows = _sheet(sheet)
    assert list(rows[0]) == list(labelling_sheet.SHEET_COLUMNS)
    assert [(r["doc_id"], r["sent_id"]) for r in rows] == \
        [("morocco", str(i)) for i in range(5)] + [("mogadishu", str(i)) for i in range(5)]
    assert all(r["topic"] == r["stance"] == r["suggested_topic"] == "" for r in rows)
    assert rows[0]["file"] == str((articles / "morocco.txt").resolve())
    for row in rows:
        raw = Path(row["file"]).read_text(encoding="utf-8")
        assert raw[int(row["start"]):int(row["end"])] == row["text"]


def test_prepare_orders_uncertain_articles_then_least_confident_sentences():
    first = labelling_sheet.NewArticle("a", Path("/x/a.txt"), VISIT)
    second = labelling_sheet.NewArticle("b", Path("/x/b.txt"), ATTACK)
    visit, attack = segment(VISIT), segment(ATTACK)
    # b is less certain on average; within b sentence 3 is the least confident, then 1.
    scores = {attack[3].text: 0.2, attack[1].text: 0.4, visit[2].text: 0.5}
    rows = labelling_sheet.sheet_rows([first, second], FakeModel(scores), prefill=True)
    order = [(r["doc_id"], r["sent_id"]) for r in rows]
    assert order[:3] == [("b", 3), ("b", 1), ("b", 0)]
    assert order[5] == ("a", 2)
    assert sorted(order) == [("a", i) for i in range(5)] + [("b", i) for i in range(5)]
    assert rows[0]["topic_score"] == "0.200"
    assert rows[0]["topic"] == rows[0]["suggested_topic"] == "ct_cooperation"


def test_prefill_needs_a_model(articles):
    with pytest.raises(ConfigError, match="--prefill needs a model"):
        labelling_sheet.sheet_rows(labelling_sheet.collect_articles([articles]), None, prefill=True)


def test_prepare_skips_a_bad_file_and_finishes(tmp_path, articles, capsys):
    (articles / "broken.txt").write_bytes(b"\x00\x01binary")
    found = labelling_sheet.collect_articles([articles])
    assert [a.doc_id for a in found] == ["mogadishu", "morocco"]
    assert "broken.txt" in capsys.readouterr().err


def test_prepare_reads_windows_1256_articles(tmp_path):
    path = tmp_path / "cp.txt"
    path.write_bytes(VISIT.encode("cp1256"))
    (article,) = labelling_sheet.collect_articles([path])
    assert article.text == VISIT


# --------------------------------------------------------------------------------------- merge

def test_merge_adds_articles_and_sentences(filled, data_copy, capsys):
    before = dataset.load_corpus(data_copy)
    seed_bytes = (data_copy / "raw" / "000_0ab1c133074eaba5.txt").read_bytes()
    assert label.main(["merge", str(filled), "--annotator", "mona", "--data-dir", str(data_copy)]) == 0
    assert "merged 2 article(s), 10 sentences" in capsys.readouterr().out
    assert dataset.validate(data_copy) == []
    after = dataset.load_corpus(data_copy)
    assert len(after) == len(before) + 10
    kept = after[after["source"] != "label:mona"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, before)  # seed and authored rows untouched
    new = after[after["source"] == "label:mona"]
    assert set(new["doc_id"]) == {"mogadishu", "morocco"}
    assert (data_copy / "raw" / "mogadishu.txt").read_text(encoding="utf-8") == ATTACK
    assert (data_copy / "raw" / "000_0ab1c133074eaba5.txt").read_bytes() == seed_bytes
    rows = list(csv.DictReader(io.StringIO((data_copy / "labels" / "sentences.csv").read_text("utf-8"))))
    assert rows[-1]["annotator"] == "mona" and len(rows[-1]["date"]) == 10 and rows[0]["annotator"] == ""
    index = (data_copy / "raw" / "articles.csv").read_text(encoding="utf-8")
    assert "mogadishu,mogadishu.txt,الكويت تدين التفجير الإرهابي في مقديشو,," in index


def test_merge_keeps_file_permissions(filled, data_copy):
    """Merged files keep the old file's mode; new ones get 0666 minus the umask (not mkstemp's 0600)."""
    import os
    import stat

    labels = data_copy / "labels" / "sentences.csv"
    labels.chmod(0o644)
    old_umask = os.umask(0o022)
    try:
        assert label.main(["merge", str(filled), "--annotator", "mona", "--data-dir", str(data_copy)]) == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(labels.stat().st_mode) == 0o644
    assert stat.S_IMODE((data_copy / "raw" / "mogadishu.txt").stat().st_mode) == 0o644
    assert stat.S_IMODE((data_copy / "raw" / "articles.csv").stat().st_mode) == 0o644


def test_merge_accepts_a_sheet_resaved_by_a_spreadsheet(filled, data_copy):
    """Excel may save as Windows-1256 with semicolons; the sheet still merges."""
    rows = _sheet(filled)
    _write(filled, rows, encoding="cp1256", delimiter=";")
    result = labelling_merge.merge_sheet(filled, data_copy, "ali")
    assert sorted(result.articles) == ["mogadishu", "morocco"] and result.sentences == 10


def _break(kind: str, rows: list[dict], sheet: Path, data_copy: Path) -> list[dict]:
    if kind == "unknown label":
        rows[3]["topic"] = "terrorism"
    elif kind == "empty label":
        rows[3]["stance"] = " "
    elif kind == "duplicate row":
        rows.append(dict(rows[3]))
    elif kind == "edited text":
        rows[3]["text"] = rows[3]["text"].replace("الوزارة", "وزارة", 1)
    elif kind == "missing sentence":
        del rows[3]
    elif kind == "missing file":
        Path(rows[0]["file"]).unlink()
    elif kind == "same doc_id":
        (data_copy / "raw" / "mogadishu.txt").write_text("x", encoding="utf-8")
    elif kind == "same text":
        # a seed article under a new name: its doc_id is new, its text is not
        seed = (REPO / "data" / "raw" / "001_98ab70ee994ce0e9.txt").read_text(encoding="utf-8")
        template = rows[0]
        Path(template["file"]).write_text(seed, encoding="utf-8")
        rows = [r for r in rows if r["doc_id"] != template["doc_id"]]
        rows += [{**template, "sent_id": s.sent_id, "start": s.start, "end": s.end, "text": s.text}
                 for s in segment(seed)]
    return rows


@pytest.mark.parametrize("kind, message", [
    ("unknown label", ":5: unknown topic 'terrorism'"),
    ("empty label", ":5: empty stance (fill it with one of condemnation"),
    ("duplicate row", ":12: duplicate row mogadishu/3 (first at line 5)"),
    ("edited text", ":5: text does not equal mogadishu.txt["),
    ("missing sentence", "mogadishu: 1 sentence(s) missing (3)"),
    ("missing file", "mogadishu.txt not found"),
    ("same doc_id", "article mogadishu is already in"),
    ("same text", "has the same text as 001_98ab70ee994ce0e9 (already merged)"),
])
def test_failed_merge_names_the_problem_and_changes_nothing(kind, message, filled, data_copy, capsys):
    rows = _break(kind, _sheet(filled), filled, data_copy)
    _write(filled, rows)
    before = _snapshot(data_copy)
    assert label.main(["merge", str(filled), "--annotator", "mona", "--data-dir", str(data_copy)]) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert "nothing was merged" in err
    assert _snapshot(data_copy) == before


def test_merge_failing_midway_restores_everything(filled, data_copy, monkeypatch):
    before = _snapshot(data_copy)
    calls = []

    def flaky_replace(src, dst):
        calls.append(dst)
        if len(calls) == 4:  # two articles and articles.csv are in place; sentences.csv fails
            raise OSError("disk full")
        return os.replace(src, dst)

    monkeypatch.setattr(transaction, "_replace", flaky_replace)
    with pytest.raises(OSError, match="disk full"):
        labelling_merge.merge_sheet(filled, data_copy, "mona")
    assert len(calls) == 4
    assert _snapshot(data_copy) == before


def test_merge_into_fresh_folder_creates_labels_and_removes_them_on_failure(filled, tmp_path, monkeypatch):
    data = tmp_path / "fresh"
    (data / "raw").mkdir(parents=True)
    monkeypatch.setattr(transaction, "_replace", lambda src, dst: (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(OSError):
        labelling_merge.merge_sheet(filled, data, "mona")
    assert _snapshot(data) == {} and not (data / "labels").exists()
    monkeypatch.undo()
    labelling_merge.merge_sheet(filled, data, "mona")
    assert dataset.validate(data) == [] and len(dataset.load_corpus(data)) == 10


def test_merge_rejects_a_bad_annotator_name(filled, data_copy):
    with pytest.raises(ConfigError, match="--annotator"):
        labelling_merge.merge_sheet(filled, data_copy, "a,b")


# ----------------------------------------------------------------------------------- agreement

def test_agreement_kappa_confusion_and_missing_rows(filled, tmp_path, capsys):
    rows_a = _sheet(filled)
    rows_b = [dict(r) for r in rows_a]
    rows_b[0]["stance"] = "solidarity"  # mogadishu/0: condemnation vs solidarity
    rows_b[6]["topic"] = "ct_cooperation"  # morocco/1: bilateral_relations vs ct_cooperation
    del rows_b[9]  # morocco/4 only in A
    sheet_b = tmp_path / "b.csv"
    _write(sheet_b, rows_b)
    result = labelling_agreement.agreement(filled, sheet_b)
    assert result.aligned == 9 and result.only_a == [("morocco", 4)] and result.only_b == []
    topic, stance = result.tasks
    assert (topic.n, topic.agree, stance.agree) == (9, 8, 8)
    expected = cohen_kappa_score([r["topic"] for r in rows_a[:9]], [r["topic"] for r in rows_b])
    assert topic.kappa == pytest.approx(expected)
    assert topic.confusion.loc["bilateral_relations", "ct_cooperation"] == 1
    assert stance.confusion.loc["condemnation", "solidarity"] == 1
    assert stance.confusion.loc["condemnation", "condemnation"] == 2
    assert label.main(["agreement", str(filled), str(sheet_b)]) == 0
    out = capsys.readouterr().out
    assert "1 row(s) only in A: morocco/4" in out and "raw agreement 0.889 (8/9)" in out


def test_agreement_rejects_unknown_label(filled, tmp_path):
    rows = _sheet(filled)
    rows[2]["stance"] = "angry"
    bad = tmp_path / "bad.csv"
    _write(bad, rows)
    with pytest.raises(DataError, match="bad.csv:4: unknown stance 'angry'"):
        labelling_agreement.agreement(filled, bad)


# -------------------------------------------------------------------------------------- status

def test_log_fit_recovers_the_gain():
    points = [(n, 0.2 + 0.1 * np.log(n)) for n in (1, 2, 3, 4)]
    now, nxt, gain, se = status.fit_log_curve(points, current=5, extra=5)
    assert now == pytest.approx(0.2 + 0.1 * np.log(5))
    assert gain == pytest.approx(0.1 * np.log(2)) and se == pytest.approx(0, abs=1e-9)
    assert status.fit_log_curve(points[:2], 5)[3] is None


def test_status_counts_per_source_and_label(filled, data_copy, capsys):
    labelling_merge.merge_sheet(filled, data_copy, "mona")
    assert label.main(["status", "--data-dir", str(data_copy), "--no-curve"]) == 0
    out = capsys.readouterr().out
    seed = dataset.load_corpus(data_copy, {"seed"})
    assert f"{seed['doc_id'].nunique() + 2} articles" in out
    per_source = out.split("Per source:")[1].split("\n\n")[0]
    assert any(line.split() == ["label:mona", "2", "10"] for line in per_source.splitlines())


def test_status_prints_an_extrapolation_with_its_uncertainty(monkeypatch, capsys):
    curve = [status.CurvePoint(k, 0.2 + 0.05 * np.log(k) + 0.01 * (-1) ** k, 0.02, 3, 0.07)
             for k in (1, 2, 3, 4)]
    monkeypatch.setattr(status, "learning_points",
                        lambda frame, config, n_jobs: (5, {"topic": curve, "stance": curve}))
    assert label.main(["status", "--data-dir", str(REPO / "data")]) == 0
    out = capsys.readouterr().out
    assert "topic: 5 -> 10 articles: macro-F1" in out and "refits leaving one point out" in out
    assert "This is an extrapolation, not a measurement" in out
    assert "0.07" in out.split("Learning curve")[1]  # the majority baseline is shown beside the score


def test_prepare_skips_articles_already_in_the_corpus(articles, data_copy, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no models/latest here
    seed = (data_copy / "raw" / "001_98ab70ee994ce0e9.txt").read_text(encoding="utf-8")
    (articles / "renamed_seed.txt").write_text(seed, encoding="utf-8")
    sheet = tmp_path / "s.csv"
    assert label.main(["prepare", str(articles), "--out", str(sheet), "--data-dir", str(data_copy),
                       "--model", str(tmp_path / "no-model")]) == 1  # an explicit --model must exist
    assert label.main(["prepare", str(articles), "--out", str(sheet), "--data-dir", str(data_copy)]) == 0
    err = capsys.readouterr().err
    assert "renamed_seed.txt: skipped, already in the corpus as 001_98ab70ee994ce0e9" in err
    assert {r["doc_id"] for r in _sheet(sheet)} == {"mogadishu", "morocco"}


# ---------------------------------------------------------------------------------- end to end

def test_prepare_fill_merge_retrain_grows_the_corpus(tmp_path, articles, data_copy, monkeypatch):
    """The issue's "Done when": all inside a temporary copy of data/ (test labels, not corpus labels)."""
    train = pytest.importorskip("kwct_ml.cli.train", reason="kwct_ml.cli.train is not in this checkout yet")
    import json

    from kwct_ml.bundle.store import save_model
    from kwct_ml.config import load_config
    from kwct_ml.training.fit import fit_model

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "fast.toml"  # a cheap model: the test is about the workflow, not the scores
    config.write_text('name = "e2e"\nclassifier = "complement_nb"\ncalibration = "none"\nngram_max = 3\n'
                      "learning_curve = false\ninclude_authored = false\n", encoding="utf-8")
    corpus = dataset.load_corpus(data_copy)
    model_dir = save_model(fit_model(corpus, load_config(config)), "suggester", tmp_path / "models")

    sheet = tmp_path / "sheet.csv"
    assert label.main(["prepare", str(articles), "--out", str(sheet), "--data-dir", str(data_copy),
                       "--model", str(model_dir)]) == 0
    rows = _sheet(sheet)
    assert all(r["suggested_topic"] and r["suggested_stance"] for r in rows)
    for doc in ("mogadishu", "morocco"):  # least confident first within each article
        scores = [min(float(r["topic_score"]), float(r["stance_score"])) for r in rows if r["doc_id"] == doc]
        assert scores == sorted(scores)
    _write(sheet, _fill(rows))
    assert label.main(["merge", str(sheet), "--annotator", "tester", "--data-dir", str(data_copy)]) == 0
    assert dataset.validate(data_copy) == []
    grown = dataset.load_corpus(data_copy)
    assert len(grown) == len(corpus) + 10

    assert train.main(["--config", str(config), "--data-dir", str(data_copy), "--models-dir",
                       str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs"), "--no-report",
                       "--jobs", "1"]) == 0
    manifest = json.loads((tmp_path / "models" / "latest" / "manifest.json").read_text(encoding="utf-8"))
    sizes = manifest["training_sizes"]
    assert sizes["articles"] == corpus.loc[corpus["source"] != "authored", "doc_id"].nunique() + 2
    assert sizes["sentences"] == (grown["source"] != "authored").sum()


def test_status_reuses_the_curve_of_a_run_trained_on_the_same_labels(tmp_path, data_copy, capsys):
    import json

    from kwct_ml.bundle.store import sha256_file

    curve = {"k": [1, 2, 3], "n_articles": 4, "tasks": {t: {"mean": [0.3, 0.4, 0.45], "std": [0.01] * 3,
                                                           "runs": [3, 3, 1], "majority_mean": [0.1] * 3}
                                                       for t in ("topic", "stance")}}
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"learning_curve": curve}), encoding="utf-8")
    files = {f"labels/{n}": sha256_file(data_copy / "labels" / n) for n in ("sentences.csv", "authored.csv")}
    model = tmp_path / "models" / "r1"
    model.mkdir(parents=True)
    (model / "manifest.json").write_text(json.dumps({"run": "r1", "sha256": "0" * 64, "report": str(run),
                                                     "config": {"include_authored": True},
                                                     "data": {"label_files": files}}), encoding="utf-8")
    assert status.cached_points(data_copy, model)[:2] == ("r1", 4)
    assert label.main(["status", "--data-dir", str(data_copy), "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert "curve measured by training run r1" in out and "topic: 4 -> 9 articles" in out
    with open(data_copy / "labels" / "sentences.csv", "a", encoding="utf-8") as handle:
        handle.write("\n")  # the labels changed since that run: the curve must be measured again
    assert status.cached_points(data_copy, model) is None


def test_merge_keeps_a_note_with_a_line_separator_in_its_cell(filled, data_copy):
    """csv writes a U+2028 unquoted; the corpus reader must not end the record there."""
    note = "قارن\u2028بالخبر السابق"
    rows = _sheet(filled)
    rows[0]["note"] = note
    _write(filled, rows)
    labelling_merge.merge_sheet(filled, data_copy, "mona")
    assert dataset.validate(data_copy) == []
    assert note in set(dataset.load_corpus(data_copy)["note"])
