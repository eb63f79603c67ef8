"""The report pages in a real browser (headless Chromium): they load, show tables and images, and
Arabic cells are right to left. Skips when /usr/bin/chromium is absent (``apt-get install chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kwct_ml.cli import evaluate
from tests.test_predict import train_tiny_model

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium is not installed (apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def render(page: Path, png: Path) -> str:
    """The DOM Chromium built from ``page`` (and a 700 px wide screenshot into ``png``)."""
    url = page.resolve().as_uri()
    subprocess.run([CHROMIUM, *FLAGS, "--window-size=700,2400", f"--screenshot={png}", url],
                   capture_output=True, timeout=120, check=True)
    return subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", url], capture_output=True, text=True,
                          timeout=120, check=True).stdout


def check_page(dom: str, png: Path, arabic: bool = True) -> None:
    """Tables present, every Arabic cell right to left (and some when ``arabic``), not blank."""
    assert "<table>" in dom and "</html>" in dom
    dom = dom.replace("<wbr>", "")  # line-break points in label and hash cells
    cells = re.findall(r'<td dir="rtl" lang="ar" class="ar">([^<]*)</td>', dom)
    # sentence columns are right to left (page furniture such as "Print Friendly" included)
    assert (cells and any(re.search("[\u0600-\u06ff]", c) for c in cells)) or not arabic
    plain = re.findall(r"<td>([^<]*)</td>", dom)
    assert not [c for c in plain if re.search("[\u0600-\u06ff]", c)]  # no Arabic cell left to right
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[1] == 700 and np.std(pixels) > 0.05  # not a blank page


MEASURE = ("<script>document.body.setAttribute('data-wide', Array.from(document.querySelectorAll('table'))"
           ".filter(t => t.querySelector('td.ar') && t.offsetWidth > t.parentElement.clientWidth)"
           ".map(t => t.offsetWidth + '>' + t.parentElement.clientWidth).join(' '));</script>")


def arabic_tables_too_wide(page: Path, tmp_path: Path) -> str:
    """Tables with Arabic sentences that do not fit the page at 700 px ("" when all fit), measured by
    Chromium in a copy of ``page`` with a measuring script (the pages themselves have no script)."""
    copy = tmp_path / "measured.html"
    html = page.read_text(encoding="utf-8")
    copy.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = subprocess.run([CHROMIUM, *FLAGS, "--window-size=700,2400", "--dump-dom", copy.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return re.search(r'<body data-wide="([^"]*)"', dom)[1]


def test_evaluation_page_in_chromium(tmp_path, repo_dir, capsys):
    model = train_tiny_model(repo_dir, tmp_path / "models")
    out = tmp_path / "eval"
    labels = repo_dir / "data" / "labels" / "sentences.csv"
    assert evaluate.main(["--model", str(model), str(labels), "--report", str(out), "--draws", "20"]) == 0
    dom = render(out / "report.html", tmp_path / "eval.png")
    check_page(dom, tmp_path / "eval.png")
    assert dom.count('<img src="data:image/png;base64,') >= 3  # confusions + calibration, inline
    assert arabic_tables_too_wide(out / "report.html", tmp_path) == ""


def test_training_report_with_an_eval_set_in_chromium(eval_run, tmp_path):
    """The training report: its eval-set section (confusion and calibration images inline, the
    misclassified sentences) and the per-article view with Arabic right to left and errors flagged."""
    png = tmp_path / "train.png"
    dom = render(eval_run["run"] / "report.html", png)
    check_page(dom, png)
    assert dom.count('<img src="data:image/png;base64,') >= 7  # LOAO 2 + calibration + n-grams 2 + eval 3
    assert "<h4>article e1</h4>" in dom and '<td class="err">✗ ' in dom
    assert "Real-news evaluation set" in dom
    # every table with Arabic sentences (per-article view, errors) fits 700 px: no sideways scrolling
    assert arabic_tables_too_wide(eval_run["run"] / "report.html", tmp_path) == ""
