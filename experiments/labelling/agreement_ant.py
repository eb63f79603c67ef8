"""Agreement between the pass-1 labels of data/labels/ant.csv and the blind second passes, per batch.

    python experiments/labelling/agreement_ant.py

Rows are matched by (docno, start, end, sha); raw agreement and Cohen's kappa per task.
"""

from __future__ import annotations

from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from kwct_ml.corpus.standoff import read_standoff

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    ant = read_standoff(REPO / "data" / "labels" / "ant.csv")
    for batch, rows in ant.groupby("batch"):
        first, second = rows[rows["pass"] == "1"], rows[rows["pass"] == "2"]
        if second.empty:
            continue
        both = first.merge(second, on=["docno", "start", "end", "sha"], suffixes=("_1", "_2"))
        print(f"batch {batch}: {len(both)} sentences in {both['docno'].nunique()} articles labelled twice")
        for task in ("topic", "stance"):
            a, b = both[f"{task}_1"], both[f"{task}_2"]
            print(f"  {task}: agree {int((a == b).sum())}/{len(both)} = {(a == b).mean():.3f}, "
                  f"Cohen's kappa {cohen_kappa_score(a, b):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
