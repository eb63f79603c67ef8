"""Shared fixtures: real Arabic sentences from the seed corpus, paths, ../shared detection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


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
