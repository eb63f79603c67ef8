"""Plain-text summaries of a loaded corpus for ``dataset check`` and ``label status``."""

from __future__ import annotations

import pandas as pd

from kwct_ml.corpus.dataset import AUTHORED, Article
from kwct_ml.schema import TASKS


def label_counts(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Sentences per label (rows, codebook order) and source (columns), with a total column."""
    table = pd.crosstab(frame[task], frame["source"]).reindex(TASKS[task], fill_value=0)
    table["total"] = table.sum(axis=1)
    return table


def summary_tables(articles: dict[str, Article], frame: pd.DataFrame) -> str:
    """Plain-text tables: sentences per article and label counts per source."""
    authored = frame["source"].eq(AUTHORED) if "source" in frame else pd.Series(False, frame.index)
    per_doc = frame[~authored].groupby("doc_id").size().rename("sentences")
    titles = pd.Series({d: a.title for d, a in articles.items()}, name="title", dtype=str)
    docs = pd.concat([per_doc, titles], axis=1).fillna({"sentences": 0}).astype({"sentences": int})
    parts = [f"{len(articles)} articles, {len(frame)} labelled sentences "
             f"({', '.join(f'{k}: {v}' for k, v in frame['source'].value_counts().sort_index().items())})",
             "", "Sentences per article:", docs.to_string()]
    if authored.any():  # theme groups of hand-written sentences, not articles: one line for all
        parts.append(f"(+ {int(authored.sum())} authored training-only sentences in "
                     f"{frame.loc[authored, 'doc_id'].nunique()} theme groups, not articles)")
    for task in TASKS:
        parts += ["", f"Counts per {task}:", label_counts(frame, task).to_string()]
    return "\n".join(parts)


def corpus_counts(frame: pd.DataFrame) -> str:
    """Articles and sentences per source, label counts per source."""
    lines = []
    real = frame[frame["source"] != AUTHORED]
    lines.append(f"{real['doc_id'].nunique()} articles, {len(real)} labelled sentences"
                 + (f" (+ {int((frame['source'] == AUTHORED).sum())} authored sentences, training only)"
                    if (frame["source"] == AUTHORED).any() else ""))
    per = frame.groupby("source").agg(articles=("doc_id", "nunique"), sentences=("text", "size"))
    if (frame["source"] == AUTHORED).any():
        per.loc[AUTHORED, "articles"] = 0
    lines += ["", "Per source:", per.to_string()]
    for task in TASKS:
        lines += ["", f"Sentences per {task}:", label_counts(frame, task).to_string()]
    return "\n".join(lines)
