"""Apply relabelling decisions (set, doc, idx, old/new topic and stance, rule) to a project label CSV.

    python experiments/labelling/apply_relabel.py data/labels/authored.csv experiments/labelling/relabel/v1.1-authored.tsv

Every change must name an existing row (doc_id, sent_id) whose labels are the change's old labels;
the row's note gets the rule appended, so the file says why it changed. Prints before/after counts.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from kwct_ml.io.atomic import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    labels_path, changes_path = map(Path, argv)
    labels = pd.read_csv(labels_path, dtype=str, keep_default_na=False)
    newline = "\r\n" if b"\r\n" in labels_path.read_bytes()[:4096] else "\n"  # keep the file's own
    changes = pd.read_csv(changes_path, sep="\t", dtype=str, keep_default_na=False)
    before = {t: Counter(labels[t]) for t in ("topic", "stance")}
    index = {(d, s): i for i, (d, s) in enumerate(zip(labels["doc_id"], labels["sent_id"], strict=True))}
    for c in changes.itertuples():
        i = index.get((c.doc, c.idx))
        if i is None:
            sys.exit(f"{changes_path}: {c.doc} {c.idx} is no row of {labels_path}")
        if (labels.at[i, "topic"], labels.at[i, "stance"]) != (c.old_topic, c.old_stance):
            sys.exit(f"{changes_path}: {c.doc} {c.idx}: expected {c.old_topic}/{c.old_stance}, "
                     f"found {labels.at[i, 'topic']}/{labels.at[i, 'stance']}")
        labels.at[i, "topic"], labels.at[i, "stance"] = c.new_topic, c.new_stance
        note = labels.at[i, "note"]
        labels.at[i, "note"] = f"{note}; v1.1 relabel: {c.rule}" if note else f"v1.1 relabel: {c.rule}"
    atomic_write_text(labels_path, labels.to_csv(index=False, lineterminator=newline))
    print(f"{len(changes)} rows changed in {labels_path}")
    for task in ("topic", "stance"):
        after = Counter(labels[task])
        print(f"{task}: " + ", ".join(f"{k} {before[task][k]}->{after[k]}" for k in sorted(before[task] | after)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
