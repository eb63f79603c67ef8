"""predict gives no silently wrong answers: the unit of a table, doc ids, runs that tag nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kwct_ml.cli import predict
from kwct_ml.text.segment import segment
from tests.test_predict import read


@pytest.fixture
def raw(tmp_path, repo_dir) -> Path:
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


def _articles(raw_dir) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(raw_dir.glob("*.txt"))[:3]]


def test_table_of_articles_is_tagged_as_articles_with_its_id_column(run, raw, tmp_path):
    texts = _articles(raw)
    src = tmp_path / "news.csv"
    pd.DataFrame({"ID": ["n1", "n2", "n3"], "text": texts}).to_csv(src, index=False)
    out = tmp_path / "o.csv"
    code, err = run(src, "-o", out)
    assert code == 0, err
    first = err.splitlines()[0]
    assert "news.csv: article per row" in first and "--unit sentence" in first
    assert "doc_id from column 'ID'" in first
    df = read(out)
    # before: one row per table row, each whole article tagged as one "sentence"
    assert len(df) == sum(len(segment(t)) for t in texts)
    assert list(dict.fromkeys(df.doc_id)) == ["n1", "n2", "n3"]


def test_jsonl_of_articles_without_id_column_says_so(run, raw, tmp_path):
    src = tmp_path / "news.jsonl"
    src.write_text("".join(json.dumps({"body": t}, ensure_ascii=False) + "\n" for t in _articles(raw)),
                   encoding="utf-8")
    code, err = run(src, "--text-column", "body", "-o", tmp_path / "o.jsonl")
    assert code == 0, err
    assert "article per row" in err.splitlines()[0] and "no id column found" in err.splitlines()[0]
    assert list(dict.fromkeys(read(tmp_path / "o.jsonl").doc_id)) == ["news:0", "news:1", "news:2"]


def test_table_of_sentences_stays_sentences_and_unit_flag_wins(run, tmp_path, arabic_sentences):
    src = tmp_path / "s.tsv"
    pd.DataFrame({"docno": ["d"] * len(arabic_sentences), "text": list(arabic_sentences.values())}) \
        .to_csv(src, sep="\t", index=False)
    code, err = run(src, "-o", tmp_path / "o.csv")
    assert code == 0, err
    assert "s.tsv: sentence per row (0 of the first" in err.splitlines()[0]
    df = read(tmp_path / "o.csv")
    assert len(df) == len(arabic_sentences) and set(df.doc_id) == {"d"}
    code, err = run(src, "--unit", "article", "-o", tmp_path / "o2.csv")
    assert "article per row (--unit article)" in err.splitlines()[0]


def test_txt_inputs_name_their_unit(run, raw, tmp_path):
    code, err = run(raw, "-o", tmp_path / "o.csv")
    assert code == 0
    n = len(list(raw.glob("*.txt")))
    assert err.splitlines()[0] == f"kwct_ml.predict: unit: {n} text inputs: article (default)"


def test_nothing_tagged_exits_1_and_writes_no_output(run, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n", encoding="utf-8")
    for inputs in ([tmp_path / "missing_folder"], [table]):
        out, summary = tmp_path / "o.csv", tmp_path / "s.csv"
        code, err = run(*inputs, "-o", out, "--summary", summary)
        assert code == 1, err
        assert not out.exists() and not summary.exists()
        assert not list(tmp_path.glob("o.csv.partial*"))
        assert "nothing was tagged" in err.splitlines()[-1]
        assert (tmp_path / "o.csv.errors.jsonl").exists()  # why, for the record


def test_help_shows_defaults_and_no_raw_markup(capsys):
    from kwct_ml.cli import train

    with pytest.raises(SystemExit):
        predict.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: text)" in text and "tagging processes (default: 1)" in text
    with pytest.raises(SystemExit):
        train.main(["--help"])
    assert "``" not in capsys.readouterr().out


def test_installed_commands_point_at_cli_mains(repo_dir):
    import importlib
    import tomllib

    scripts = tomllib.loads((repo_dir / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert {"kwct-train", "kwct-predict", "kwct-label"} <= set(scripts)
    for target in scripts.values():
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func))


def test_top_k_gives_the_k_best_labels_and_probabilities(run, raw, tmp_path, model_dir):
    from kwct_ml.inference.tagger import Tagger
    from kwct_ml.schema import STANCES, TOPICS

    article = raw / "000_0ab1c133074eaba5.txt"
    csv_out, jsonl_out = tmp_path / "o.csv", tmp_path / "o.jsonl"
    assert run(article, "--top-k", "3", "-o", csv_out)[0] == 0
    assert run(article, "--top-k", "3", "-o", jsonl_out)[0] == 0
    df, rows = read(csv_out), read(jsonl_out)
    assert list(df.columns)[-2:] == ["topic_top", "stance_top"]
    model = Tagger.load(model_dir).model
    text = article.read_text(encoding="utf-8")
    proba = model.predict_proba("stance", [s.text for s in segment(text)], groups=[0] * len(df))
    for i, (cell, pairs) in enumerate(zip(df.stance_top, rows.stance_top, strict=True)):
        labels = [part.split(":")[0] for part in cell.split("|")]
        assert len(labels) == 3 and set(labels) <= set(STANCES)
        assert labels[0] == df.stance[i] and [p[0] for p in pairs] == labels
        probs = [p[1] for p in pairs]
        assert probs == sorted(probs, reverse=True) and probs[0] == float(df.stance_score[i])
        assert abs(probs[1] - sorted(proba[i])[-2]) < 1e-4
    assert all(len(cell.split("|")) == 3 and cell.split(":")[0] in TOPICS for cell in df.topic_top)


def test_progress_bar_has_a_total_and_time_left(run, raw, tmp_path, arabic_sentences):
    table = tmp_path / "t.csv"
    pd.DataFrame({"text": list(arabic_sentences.values())}).to_csv(table, index=False)
    n = len(list(raw.glob("*.txt"))) + len(arabic_sentences)
    code, err = run(raw, table, "-o", tmp_path / "o.csv", "--progress")
    assert code == 0, err
    bar = err.replace("\r", "\n").splitlines()
    assert any(f"{n}/{n} [" in line and "<00:00" in line for line in bar), err
