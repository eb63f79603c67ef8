"""Licensed corpora that standoff labels point into: one reader per corpus, found by name.

Adding a corpus is one reader function and one ``CORPORA`` entry. Texts are read once per process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def ant_article(title: str, body: str) -> str:
    """An ANT article as the project labels it: headline, newline, body (both stripped)."""
    return f"{title.strip()}\n{body.strip()}"


def read_ant(path: Path) -> dict[str, str]:
    """ANT multi-source v2.1 (csv.gz with docno, title, text): docno -> article text."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["docno", "title", "text"])
    columns = zip(frame["docno"], frame["title"], frame["text"], strict=True)
    return {docno: ant_article(title, body) for docno, title, body in columns}


#: Corpus name -> (reader, default location relative to the project folder).
CORPORA: dict[str, tuple[Callable[[Path], dict[str, str]], str]] = {
    "ant": (read_ant, "../shared/data/ant/ant_multisource_v2.1.csv.gz"),
}


@functools.lru_cache(maxsize=4)
def _read_cached(corpus: str, path: Path, mtime_ns: int) -> dict[str, str]:
    return CORPORA[corpus][0](path)


def read_corpus(corpus: str, path: Path | None) -> tuple[dict[str, str] | None, str]:
    """(docno -> text, "") for a readable corpus file, else (None, why it is unavailable)."""
    if path is None:
        return None, "no path configured"
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None, f"{path} is absent"
    try:
        return _read_cached(corpus, path.resolve(), mtime), ""
    except (OSError, ValueError, KeyError) as exc:
        return None, f"{path} is unreadable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"


def default_paths(project_dir: Path) -> dict[str, Path]:
    """Each corpus at its default location beside the project (``../shared/data/...``)."""
    return {name: (project_dir / rel).resolve() for name, (_, rel) in CORPORA.items()}
