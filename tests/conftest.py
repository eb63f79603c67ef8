"""Shared fixtures: real Arabic sentences from the seed corpus, paths, ../shared detection."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import signal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

# Property tests: CI replays the same examples every run (derandomize) and prints a reproduction blob
# on failure; HYPOTHESIS_PROFILE=dev searches longer with fresh random examples (for local runs).
# Loaded here, before the test modules build their own ``settings(...)``, so theirs inherit it.
settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", derandomize=False, print_blob=True, deadline=None, max_examples=1000,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

# A suite started from a shell that ignores Ctrl-C (a background job) would pass SIG_IGN on to the
# child processes that the signal tests interrupt; they must start with Python's own handler.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def examples(n: int) -> int:
    """A property test's example count: ``n`` in CI, ten times more under the dev profile."""
    return n * 10 if PROFILE == "dev" else n

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def load_script():
    """Import a script of the repository (``experiments/...py``) as a module, by its path."""
    def load(relative: str):
        path = REPO / relative
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, repo_dir) -> Path:
    """A real tiny model (seed labels), shared by the session: tests read its folder, never change
    it (copy it first, as the tampering tests do)."""
    from .test_predict import train_tiny_model

    return train_tiny_model(repo_dir, tmp_path_factory.mktemp("models"))


def run_predict(model_dir: Path, *args) -> tuple[int, str]:
    """predict.main in-process; returns (exit code, stderr). Usable inside hypothesis tests."""
    from kwct_ml.cli import predict

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = predict.main([*map(str, args), "--model", str(model_dir)])
    return code, err.getvalue()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared/data is absent (a user's clone has no licensed data); skipping")
    return SHARED


@pytest.fixture(scope="session")
def devset_path(shared_dir: Path) -> Path:
    path = shared_dir / "data" / "devset" / "sentences.tsv"
    if not path.is_file():
        pytest.skip(f"{path} is absent; skipping")
    return path


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A private copy of the project's data/ folder, safe to modify."""
    dst = tmp_path / "data"
    shutil.copytree(REPO / "data", dst)
    return dst


def cut_to_smallest(data: Path, n: int = 3) -> Path:
    """A copy of data/ cut, in place, to its ``n`` smallest articles (and without authored sentences)."""
    labels = pd.read_csv(data / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    keep = list(labels["doc_id"].value_counts().sort_values().index[:n])
    labels[labels["doc_id"].isin(keep)].to_csv(data / "labels" / "sentences.csv", index=False)
    index = pd.read_csv(data / "raw" / "articles.csv", dtype=str, keep_default_na=False)
    for doc in set(index["doc_id"]) - set(keep):
        (data / "raw" / f"{doc}.txt").unlink()
    index[index["doc_id"].isin(keep)].to_csv(data / "raw" / "articles.csv", index=False)
    (data / "labels" / "authored.csv").unlink(missing_ok=True)
    return data


@pytest.fixture
def small_data(data_copy):
    """data_copy cut to the three smallest articles (and without authored sentences)."""
    return cut_to_smallest(data_copy)


#: Real sentences from the seed articles (data/raw), one per typical label.
CONDEMNATION = ("أعربت دولة الكويت عن إدانتها واستنكارها الشديدين للهجوم الإرهابي الذي استهدف "
                "أفرادًا من الشرطة الباكستانية في إقليم خيبر بختونخوا بجمهورية باكستان الإسلامية الصديقة، "
                "والذي أسفر عن سقوط ضحايا من عناصر الأمن.")
SOLIDARITY = ("عبرت وزارة الخارجية الكويتية عن أصدق التعازي والمواساة لحكومة وشعب جمهورية باكستان "
              "الإسلامية الصديقة، ولأسر الضحايا.")
SUPPORT = ("جدد نائب وزير الخارجية خالد الجارالله التأكيد على موقف الكويت “الواضح والحازم” في دعم "
           "ومساندة التحالف الدولي ضد ما يسمى تنظيم داعش.")
TATWEEL = ("أشـــاد عمـيــد السلــك الديبـلــوماســـي سفـيـــــر طاجيكستان د.زبيد الله زبيدف "
           "بمشاركة الكويت في المؤتمر")
FURNITURE = "اضف تعليق"


@pytest.fixture(scope="session")
def arabic_sentences() -> dict[str, str]:
    return {"condemnation": CONDEMNATION, "solidarity": SOLIDARITY, "support": SUPPORT,
            "tatweel": TATWEEL, "furniture": FURNITURE}


@pytest.fixture(scope="session")
def seed_labels(repo_dir) -> pd.DataFrame:
    """The seed corpus's labelled sentences (data/labels/sentences.csv)."""
    return pd.read_csv(repo_dir / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def seed_articles(repo_dir) -> tuple[list[str], list[int]]:
    """Every sentence of the seed articles in data/raw, with its article (repeats included)."""
    from kwct_ml.text.segment import segment

    texts, groups = [], []
    for k, path in enumerate(sorted((repo_dir / "data" / "raw").glob("*.txt"))):
        sentences = [s.text for s in segment(path.read_text(encoding="utf-8"))]
        texts += sentences
        groups += [k] * len(sentences)
    return texts + texts[:7], groups + [99] * 7  # a repeated block: scored once, placed twice


@pytest.fixture(scope="session")
def fit_seed_model(seed_labels):
    """``fit_seed_model(**config)``: a KwctModel of both tasks fitted on the seed labels."""

    def fit(**config):
        from kwct_ml.config import TrainConfig
        from kwct_ml.pipeline.model import KwctModel, build_pipeline

        cfg = TrainConfig(**config)
        pipes = {t: build_pipeline(cfg, t).fit(seed_labels.text.tolist(), seed_labels[t].tolist())
                 for t in ("topic", "stance")}
        return KwctModel(pipes, cfg.context(), cfg.context_temperature())

    return fit


def write_eval_tsv(path: Path) -> Path:
    """A tiny eval set in the dev set's layout (doc, idx, text, topic, stance): real sentences of the seed
    articles with their labels in data/labels/sentences.csv, as two articles; the furniture line is
    deliberately mislabelled so that both tasks have an error."""
    rows = [("e1", 0, CONDEMNATION, "terror_attack", "condemnation"),
            ("e1", 1, SOLIDARITY, "terror_attack", "solidarity"),
            ("e1", 2, FURNITURE, "terror_financing", "support"),  # wrong on purpose: page furniture
            ("e2", 0, SUPPORT, "ct_cooperation", "support"),
            ("e2", 1, TATWEEL, "ct_cooperation", "support")]
    pd.DataFrame(rows, columns=["doc", "idx", "text", "topic", "stance"]).to_csv(path, sep="\t", index=False)
    return path


@pytest.fixture(scope="session")
def eval_run(tmp_path_factory) -> dict:
    """One fast training run with a report and an eval set (shared by the report and browser tests):
    paths of its run folder, model folder and eval TSV."""
    from kwct_ml.cli import train
    from kwct_ml.config import TrainConfig

    root = tmp_path_factory.mktemp("eval_run")
    data = cut_to_smallest(Path(shutil.copytree(REPO / "data", root / "data")))
    eval_tsv = write_eval_tsv(root / "eval.tsv")
    config = root / "fast.toml"
    config.write_text(TrainConfig(ngram_max=3, classifier="complement_nb", calibration="none",
                                  learning_curve=False, provenance="Fast settings for tests.").to_toml(),
                      encoding="utf-8")
    assert train.main(["--config", str(config), "--data-dir", str(data), "--eval-set", str(eval_tsv),
                       "--models-dir", str(root / "models"), "--runs-dir", str(root / "runs"),
                       "--jobs", "1"]) == 0
    (run_dir,) = (root / "runs").iterdir()
    return {"run": run_dir, "model": root / "models" / run_dir.name, "eval_tsv": eval_tsv}
