"""Issue 19: memory per input is bounded and nothing blocks: devices, FIFOs, endless stdin, huge articles."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kwct_ml.errors import DataError
from kwct_ml.io import limits
from kwct_ml.pipeline import scoring as scoring_module

from .conftest import CONDEMNATION, SOLIDARITY
from .test_predict import run as _run_fixture

run = _run_fixture

SRC = Path(__file__).resolve().parents[1] / "src"
#: A child predict gets this much address space: ample for tagging, far below an endless read.
CHILD_MEMORY = 3 << 30
#: BLAS thread pools reserve address space per core; one thread keeps the limit meaningful anywhere.
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def _limit_memory():  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


def _predict_child(args: list[str], stdin=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """A real ``python -m kwct_ml.predict`` (memory-capped, timed out) with ``args``."""
    return subprocess.run([sys.executable, "-m", "kwct_ml.predict", *args], stdin=stdin,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=_limit_memory,
                          env={**os.environ, "PYTHONPATH": str(SRC), **ONE_THREAD})


@pytest.fixture
def article(tmp_path) -> Path:
    path = tmp_path / "ok.txt"
    path.write_text(f"{CONDEMNATION}\n{SOLIDARITY}\n", encoding="utf-8")
    return path


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_linked_as_txt_is_one_line_and_the_rest_is_tagged(model_dir, tmp_path, article):
    zero = tmp_path / "zero.txt"
    zero.symlink_to("/dev/zero")
    out = tmp_path / "out.csv"
    done = _predict_child([str(zero), str(article), "-o", str(out), "--model", str(model_dir)])
    assert done.returncode == 2, done.stderr
    assert f"skipped {zero}: {limits.NOT_REGULAR}" in done.stderr
    assert out.read_text(encoding="utf-8").count("\n") == 3  # header + 2 sentences


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_on_standard_input_is_one_line_not_an_endless_read(model_dir, tmp_path):
    with open("/dev/zero", "rb") as zero:
        done = _predict_child(["-", "--model", str(model_dir), "--max-article-bytes", "1000000"], stdin=zero)
    assert done.returncode == 1, done.stderr
    assert "<stdin>: is longer, over the limit of 1,000,000 bytes per article; not read" in done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr


def test_a_fifo_named_txt_is_skipped_without_opening_it(model_dir, tmp_path, article):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # nobody ever writes to it: open() would wait forever
    out = tmp_path / "out.csv"
    done = _predict_child([str(fifo), str(article), "-o", str(out), "--model", str(model_dir)], timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"skipped {fifo}: {limits.NOT_REGULAR} ({limits.NOT_REGULAR_HINT})" in done.stderr
    assert out.read_text(encoding="utf-8").count("\n") == 3


def test_read_file_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        limits.read_file(fifo, 100)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_article_over_the_byte_limit_is_skipped_with_one_line(run, tmp_path, article, monkeypatch, how):
    big = tmp_path / "big.txt"
    big.write_text(f"{CONDEMNATION}\n" * 20, encoding="utf-8")
    size = big.stat().st_size
    extra = ["--max-article-bytes", "1000"] if how == "option" else []
    if how == "environment":
        monkeypatch.setenv(limits.ENV, "1000")
    out = tmp_path / "out.csv"
    code, err = run(big, article, "-o", out, *extra)
    assert code == 2
    assert f"skipped {big}: is {size:,} bytes, over the limit of 1,000 bytes per article; not read" in err
    records = [json.loads(line) for line in Path(f"{out}.errors.jsonl").read_text("utf-8").splitlines()]
    assert [r["input"] for r in records] == [str(big)]
    assert out.read_text(encoding="utf-8").count("\n") == 3  # the small article is tagged


def test_standard_input_over_the_limit_is_one_line(run, monkeypatch):
    monkeypatch.setattr(sys, "stdin", _Stdin(f"{CONDEMNATION}\n".encode() * 10))
    code, err = run("-", "--max-article-bytes", "500")
    assert code == 1
    assert "skipped <stdin>: is longer, over the limit of 500 bytes per article" in err


@pytest.mark.parametrize("value", ["lots", "0"])
def test_a_bad_limit_in_the_environment_is_one_line(run, article, monkeypatch, value):
    monkeypatch.setenv(limits.ENV, value)
    code, err = run(article)
    assert code == 1 and limits.ENV in err and len(err.strip().splitlines()) == 1


class _Stdin:
    def __init__(self, data: bytes):
        import io

        self.buffer = io.BytesIO(data)


def test_long_articles_are_scored_in_chunks_with_the_same_probabilities(model_dir, monkeypatch):
    from kwct_ml.bundle.store import load_model

    model, _ = load_model(model_dir)
    texts = [f"{CONDEMNATION} {i}" for i in range(25)] + [f"{SOLIDARITY} {i}" for i in range(25)]
    groups = [0] * 50
    whole = model.predict_tasks(texts, groups)
    whole_proba = model.predict_proba("topic", texts, groups)
    sizes = []
    scorer_call = type(model._scorer).predict_proba

    def spy(self, batch, tasks=None):
        sizes.append(len(batch))
        return scorer_call(self, batch, tasks)

    monkeypatch.setattr(scoring_module, "SCORE_CHUNK", 7)
    monkeypatch.setattr(type(model._scorer), "predict_proba", spy)
    chunked = model.predict_tasks(texts, groups)
    assert max(sizes) == 7 and sum(sizes) == 50
    for task in ("topic", "stance"):
        assert chunked[task][0] == whole[task][0]
        np.testing.assert_allclose(chunked[task][1], whole[task][1], rtol=0, atol=1e-12)
    pipeline = model.pipelines["topic"]
    sizes.clear()
    monkeypatch.setattr(pipeline, "predict_proba", lambda batch: sizes.append(len(batch)) or
                        type(pipeline).predict_proba(pipeline, batch))
    np.testing.assert_allclose(model.predict_proba("topic", texts, groups), whole_proba, rtol=0, atol=1e-12)
    assert max(sizes) == 7 and sum(sizes) == 50
