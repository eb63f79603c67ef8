"""predict with the compiled scorer (issue 20): no scikit-learn or pickle, the same bytes as the pipelines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kwct_ml.bundle import store
from kwct_ml.bundle.manifest import MANIFEST_FILE, SCORER_FILE
from kwct_ml.cli import predict

from .test_predict import train_tiny_model

HEAVY = ("sklearn", "joblib", "pandas", "matplotlib")

PROBE = """
import json, sys
from kwct_ml.cli import predict
code = predict.main(sys.argv[1:])
print(json.dumps([code, sorted({m.split(".")[0] for m in sys.modules})]))
"""


@pytest.fixture(scope="module")
def folders(tmp_path_factory, repo_dir) -> tuple[Path, Path]:
    """(a model folder with scorer.npz, the same model without it, as saved before it existed)."""
    compiled = train_tiny_model(repo_dir, tmp_path_factory.mktemp("models"))
    pipelines = shutil.copytree(compiled, tmp_path_factory.mktemp("old") / "tiny")
    manifest = json.loads((pipelines / MANIFEST_FILE).read_text(encoding="utf-8"))
    del manifest["scorer"]
    (pipelines / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    (pipelines / SCORER_FILE).unlink()
    return compiled, pipelines


def test_a_compiled_run_imports_no_learning_library(folders, repo_dir, tmp_path):
    out = tmp_path / "o.csv"
    done = subprocess.run([sys.executable, "-c", PROBE, str(repo_dir / "data" / "raw"), "--model",
                           str(folders[0]), "-o", str(out)], capture_output=True, text=True, check=True)
    code, loaded = json.loads(done.stdout.splitlines()[-1])
    assert code == 0 and "kwct_ml" in loaded and out.read_text(encoding="utf-8").count("\n") > 100
    assert not set(loaded) & set(HEAVY), sorted(set(loaded) & set(HEAVY))


@pytest.mark.parametrize("options", [["--unit", "article"], ["--unit", "article", "--jobs", "2"],
                                     ["--unit", "sentence"], ["--unit", "sentence", "--jobs", "2"],
                                     ["--top-k", "3", "--min-confidence", "0.6"]])
def test_compiled_output_is_byte_identical_to_the_pipelines(folders, repo_dir, tmp_path, monkeypatch,
                                                            options, capsys):
    source = repo_dir / ("data/labels/sentences.csv" if "sentence" in options else "data/raw")
    compiled, pipelines = folders
    expected, got = tmp_path / "pipelines.csv", tmp_path / "compiled.csv"
    assert predict.main([str(source), "--model", str(pipelines), "-o", str(expected), *options]) == 0
    monkeypatch.setattr(store, "load_model", _no_pickle)  # the compiled run must not unpickle
    assert predict.main([str(source), "--model", str(compiled), "-o", str(got), *options]) == 0
    assert got.read_bytes() == expected.read_bytes()
    assert got.read_text(encoding="utf-8").count("\n") > 100
    capsys.readouterr()


def _no_pickle(*args, **kwargs):
    raise AssertionError("load_model called: the pickle was loaded")


def test_a_changed_scorer_stops_predict_in_one_line(folders, repo_dir, tmp_path, capsys):
    folder = shutil.copytree(folders[0], tmp_path / "m")
    data = bytearray((folder / SCORER_FILE).read_bytes())
    data[-100] ^= 1
    (folder / SCORER_FILE).write_bytes(bytes(data))
    out = tmp_path / "o.csv"
    code = predict.main([str(repo_dir / "data" / "raw"), "--model", str(folder), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "scorer.npz: sha256 does not match manifest.json" in err[0]
    assert not out.exists()


def test_explain_loads_the_pipelines_of_a_compiled_model(folders, repo_dir, tmp_path, capsys):
    compiled, pipelines = folders
    article = repo_dir / "data" / "raw" / "000_0ab1c133074eaba5.txt"
    outs = []
    for k, folder in enumerate((compiled, pipelines)):
        outs.append(tmp_path / f"{k}.jsonl")
        options = ["--model", str(folder), "-o", str(outs[-1]), "--explain", "3"]
        assert predict.main([str(article), *options]) == 0
    rows = [json.loads(line) for line in outs[0].read_text(encoding="utf-8").splitlines()]
    assert rows and all(len(row["topic_explain"]) == 3 for row in rows)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    capsys.readouterr()


def test_dask_workers_load_the_compiled_scorer_unless_explaining(folders):
    from kwct_ml.inference import distributed
    from kwct_ml.pipeline.compiled import CompiledScorer
    from kwct_ml.pipeline.model import KwctModel

    sha = store.read_manifest(folders[0])["sha256"]
    assert isinstance(distributed.worker_tagger(str(folders[0]), sha, compiled=True).model, CompiledScorer)
    assert isinstance(distributed.worker_tagger(str(folders[0]), sha, compiled=False).model, KwctModel)
