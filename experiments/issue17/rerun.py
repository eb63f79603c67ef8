"""Issue 17's 2,000-article ANT run, repeated with the current code (results: rerun.md).

Steps (each writes only under --work, never into the repository; no licensed text is committed):

    python experiments/issue17/rerun.py sample  --ant ANT.csv.gz --work /tmp/i17run
    python -m kwct_ml.predict /tmp/i17run/articles.csv -o /tmp/i17run/out.csv \
        --summary /tmp/i17run/sum.csv --model MODEL
    python -m kwct_ml.predict /tmp/i17run/articles300.csv -o /tmp/i17run/explain.csv --explain 3 --model MODEL
    python experiments/issue17/rerun.py measure --work /tmp/i17run
    python experiments/issue17/rerun.py read    --work /tmp/i17run      # 20 sentences, no tags
    python experiments/issue17/rerun.py compare --work /tmp/i17run --mine experiments/issue17/read20.csv

``sample``: 2,000 ANT articles (docno, title, text as ANT has them) not in data/labels/ant.csv, drawn
with seed 17, and the first 300 of them. ``read`` prints 20 random tagged sentences (seed 17) without
their tags, so a person labels them against the codebook before seeing the model's labels;
``compare`` then sets those labels beside the model's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
SEED = 17
N_ARTICLES, N_EXPLAIN, N_READ = 2000, 300, 20


def sample(ant: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(ant, dtype=str, keep_default_na=False, usecols=["docno", "title", "text"])
    labelled = set(pd.read_csv(REPO / "data" / "labels" / "ant.csv", dtype=str)["docno"])
    pool = frame[~frame["docno"].isin(labelled) & frame["text"].str.strip().ne("")]
    rows = np.random.default_rng(SEED).choice(len(pool), size=N_ARTICLES, replace=False)
    chosen = pool.iloc[rows].reset_index(drop=True)
    chosen.to_csv(work / "articles.csv", index=False)
    chosen.head(N_EXPLAIN).to_csv(work / "articles300.csv", index=False)
    print(json.dumps({"ant_articles": len(frame), "labelled_excluded": len(labelled),
                      "pool": len(pool), "sampled": len(chosen),
                      "median_chars": int(chosen["text"].str.len().median())}))


def _top(cell: str) -> str:
    pairs = json.loads(cell) if cell else []
    return pairs[0][0] if pairs else ""


def measure(work: Path) -> None:
    out = pd.read_csv(work / "out.csv", dtype={"doc_id": str}, keep_default_na=False)
    explain = pd.read_csv(work / "explain.csv", dtype={"doc_id": str}, keep_default_na=False)
    summary = pd.read_csv(work / "sum.csv", dtype={"doc_id": str}, keep_default_na=False)
    result: dict = {"articles": int(out["doc_id"].nunique()), "sentences": len(out),
                    "explain_articles": int(explain["doc_id"].nunique()), "explain_sentences": len(explain)}
    for task in ("topic", "stance"):
        top = explain[f"{task}_explain"].map(_top)
        cue = top.str.startswith("cue:")
        result[f"{task}_cue_top_share"] = round(float(cue.mean()), 3)
        result[f"{task}_cue_top_n"] = int(cue.sum())
    condemn = explain["stance"].eq("condemnation")
    led = explain.loc[condemn, "stance_explain"].map(_top).str.startswith("cue:")
    result["condemnation_predictions"] = int(condemn.sum())
    result["condemnation_cue_led_share"] = round(float(led.mean()), 3) if len(led) else None
    # (b) summaries: the new rule (dominant_stance column) and the old one, recomputed on the same tags
    stances = ["condemnation", "solidarity", "support", "commitment", "concern"]
    counts = summary[[f"stance_{s}" for s in stances]].astype(int)
    # old rule: the most frequent stance other than neutral (ties then went to the higher summed score,
    # which sum.csv does not keep: counted here as condemnation only when condemnation is alone on top)
    top = counts.max(axis=1)
    old_condemn = counts["stance_condemnation"].eq(top) & top.gt(0) & counts.eq(top, axis=0).sum(axis=1).eq(1)
    new_condemn = summary["dominant_stance"].eq("condemnation")
    n_condemn = summary["stance_condemnation"].astype(int)
    result.update({
        "summary_articles": len(summary),
        "old_rule_condemnation_dominant": int(old_condemn.sum()),
        "old_rule_condemnation_on_one_sentence": int((old_condemn & n_condemn.eq(1)).sum()),
        "new_rule_condemnation_dominant": int(new_condemn.sum()),
        "new_rule_condemnation_on_one_sentence": int((new_condemn & n_condemn.eq(1)).sum()),
        "articles_with_any_condemnation": int(n_condemn.gt(0).sum()),
        "articles_with_one_condemnation_sentence": int(n_condemn.eq(1).sum()),
        "new_rule_any_dominant_stance": int(summary["dominant_stance"].ne("").sum()),
        "new_rule_dominant_stance_mixed": int(summary["dominant_stance"].eq("mixed").sum()),
        "new_rule_any_dominant_topic": int(summary["dominant_topic"].ne("").sum()),
        "new_rule_dominant_stance_counts": summary["dominant_stance"].replace("", "(none)")
        .value_counts().to_dict(),
    })
    print(json.dumps(result, ensure_ascii=False, indent=1))


def _read_rows(work: Path) -> pd.DataFrame:
    out = pd.read_csv(work / "out.csv", dtype={"doc_id": str}, keep_default_na=False)
    rows = np.random.default_rng(SEED).choice(len(out), size=N_READ, replace=False)
    return out.iloc[sorted(rows)]


def read(work: Path) -> None:
    """The 20 sentences to label, without the model's tags (with the sentence before, for context)."""
    out = pd.read_csv(work / "out.csv", dtype={"doc_id": str}, keep_default_na=False)
    for i, row in _read_rows(work).iterrows():
        before = out.loc[i - 1, "text"] if i > 0 and out.loc[i - 1, "doc_id"] == row["doc_id"] else ""
        print(f"## {row['doc_id']} {row['sent_id']}\n(before: {before[:200]})\n{row['text']}\n")


def compare(work: Path, mine: Path) -> None:
    read20 = pd.read_csv(mine, dtype={"doc_id": str, "sent_id": str}, keep_default_na=False)
    model = _read_rows(work).astype({"sent_id": str})[["doc_id", "sent_id", "topic", "stance"]]
    both = read20.merge(model, on=["doc_id", "sent_id"], suffixes=("_mine", "_model"), validate="1:1")
    assert len(both) == N_READ, "the labels must be of the 20 sentences `read` prints"
    for task in ("topic", "stance"):
        agree = both[f"{task}_mine"].eq(both[f"{task}_model"])
        print(f"{task}: {int(agree.sum())}/{N_READ} agree")
    cols = ["doc_id", "sent_id", "excerpt", "topic_mine", "topic_model", "stance_mine", "stance_model"]
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in both[cols].itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=["sample", "measure", "read", "compare"])
    p.add_argument("--work", type=Path, required=True, help="scratch folder outside the repository")
    p.add_argument("--ant", type=Path, default=REPO.parent / "shared/data/ant/ant_multisource_v2.1.csv.gz")
    p.add_argument("--mine", type=Path, default=Path(__file__).with_name("read20.csv"))
    args = p.parse_args(argv)
    if args.step == "sample":
        sample(args.ant, args.work)
    elif args.step == "measure":
        measure(args.work)
    elif args.step == "read":
        read(args.work)
    else:
        compare(args.work, args.mine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
