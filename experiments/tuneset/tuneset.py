"""A tuning set of real articles for issue 5, disjoint from the dev set, rebuilt from ANT.

Five seed articles make leave-one-article-out a noisy guide. This script picks real articles of
the genre from the ANT corpus (../shared/data/ant), never a dev-set article nor one that shares
text with a dev article, and turns our sentence labels for them into a TSV that
``python -m kwct_ml.train --eval-set`` reads. ANT text is licensed and never committed: the
project keeps only our labels keyed by ANT docno and sentence offsets (``labels.csv``) and
rebuilds the text from ../shared when it is there.

    python experiments/tuneset/tuneset.py select      # articles.csv + labelling sheets (once)
    python experiments/tuneset/tuneset.py build       # labels.csv + ANT -> sentences.tsv (local)

``--set b`` does the same for tuning set B (round 3), a fresh draw disjoint from the dev set and
from set A: set A guided the authored sentences of round 2, so its scores are optimistic.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import re
import sys
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from kwct_ml.corpus.external import ant_article
from kwct_ml.io.atomic import atomic_write_text
from kwct_ml.schema import TASKS
from kwct_ml.text.segment import segment

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared" / "data"
ANT = SHARED / "ant" / "ant_multisource_v2.1.csv.gz"
DEV = SHARED / "devset" / "articles.tsv"
DEV_TEXTS = SHARED / "devset" / "articles"
ARTICLES = HERE / "articles.csv"
LABELS = HERE / "labels.csv"
SHEETS = HERE / "work"  # gitignored: holds ANT text
OUT = HERE / "sentences.tsv"  # gitignored: holds ANT text


class TuneSet(NamedTuple):
    """Where one tuning set keeps its files, and how its articles are drawn and named."""

    articles: Path
    labels: Path
    sheets: Path  # gitignored: holds ANT text
    out: Path  # gitignored: holds ANT text
    seed: int
    prefix: str
    excludes: tuple[Path, ...]  # article lists of earlier sets, kept disjoint from this one


SETS = {
    "a": TuneSet(ARTICLES, LABELS, SHEETS, OUT, 20261126, "t", ()),
    "b": TuneSet(HERE / "articles_b.csv", HERE / "labels_b.csv", HERE / "work_b",
                 HERE / "sentences_b.tsv", 20261127, "u", (ARTICLES,)),
    # issue 14: real training articles (not a tuning set), disjoint from dev v2, A and B
    "c": TuneSet(HERE / "articles_c.csv", HERE / "labels_c.csv", HERE / "work_c",
                 HERE / "sentences_c.tsv", 20261203, "v", (ARTICLES, HERE / "articles_b.csv")),
    "d": TuneSet(HERE / "articles_d.csv", HERE / "labels_d.csv", HERE / "work_d",
                 HERE / "sentences_d.tsv", 20261204, "w",
                 (ARTICLES, HERE / "articles_b.csv", HERE / "articles_c.csv")),
}
#: Genre filter on the headline (selection only; labels come from reading the sentences).
GENRE = re.compile("إرهاب|ارهاب|داعش|تدين|يدين|تستنكر|يستنكر|تعزي(?!ز)|يعزي(?!ز)|تعازي|هجوم|تفجير|"
                   "الكويت|كويتي|تمويل|التطرف|متطرف")
KUWAIT = re.compile("الكويت|كويتي")
#: Official statements in the headline: the dev set's core genre (condemnation, condolence, listing).
STATEMENT = re.compile("تدين|يدين|تستنكر|يستنكر|تعزي(?!ز)|يعزي(?!ز)|ترحب|يرحب|تمويل|مكافحة الإرهاب")
MIN_SENTENCES, MAX_SENTENCES = 3, 18
#: An ANT article sharing this fraction of its 6-word shingles with a dev article is excluded.
MAX_DEV_OVERLAP = 0.05


def article_text(row) -> str:
    """Headline and body, as the dev set's articles are made (the corpus reader's one rule)."""
    return ant_article(row.title, row.text)


def _shingles(text: str, n: int = 6) -> set[int]:
    words = re.findall(r"\w+", text)
    return {hash(" ".join(words[i:i + n])) for i in range(max(0, len(words) - n + 1))}


def load_ant() -> pd.DataFrame:
    """ANT without exact duplicate texts (the first docno of each text is kept)."""
    frame = pd.read_csv(ANT, dtype=str, keep_default_na=False)
    frame["article"] = [article_text(r) for r in frame.itertuples()]
    return frame.drop_duplicates("text").reset_index(drop=True)


def select(quota: dict[str, int], ts: TuneSet = SETS["a"]) -> None:
    """Sample genre articles not in (and not overlapping) the dev set or earlier sets; write sheets."""
    ant = load_ant()
    dev = pd.read_csv(DEV, sep="\t", dtype=str)
    dev_shingles = [_shingles(p.read_text(encoding="utf-8")) for p in sorted(DEV_TEXTS.glob("*.txt"))]
    taken = set(dev.ant_docno)
    for path in ts.excludes:
        earlier = set(pd.read_csv(path, dtype=str).ant_docno)
        taken |= earlier
        dev_shingles += [_shingles(t) for t in ant[ant.docno.isin(earlier)].article]
    pool = ant[ant.category.isin(["middleEast", "internationalNews"])
               & ~ant.docno.isin(taken) & ant.title.str.contains(GENRE)]
    rng = random.Random(ts.seed)
    order = list(pool.index)
    rng.shuffle(order)
    chosen: list[tuple[str, list]] = []
    counts = dict.fromkeys(quota, 0)
    for i in order:
        row = ant.loc[i]
        kind = ("statement" if STATEMENT.search(row.title) else
                "kuwait" if KUWAIT.search(row.article) else "other")
        if counts[kind] >= quota[kind]:
            continue
        sentences = segment(row.article)
        if not MIN_SENTENCES <= len(sentences) <= MAX_SENTENCES:
            continue
        mine = _shingles(row.article)
        if any(len(mine & d) > MAX_DEV_OVERLAP * max(1, len(mine)) for d in dev_shingles):
            continue
        counts[kind] += 1
        chosen.append((row.docno, sentences, kind, row.source))
        if counts == quota:
            break
    lines = ["article,ant_docno,source,kind,sentences"]
    for k, (docno, sentences, kind, source) in enumerate(chosen, 1):
        lines.append(f"{ts.prefix}{k:03d},{docno},{source},{kind},{len(sentences)}")
    atomic_write_text(ts.articles, "\n".join(lines) + "\n")
    ts.sheets.mkdir(exist_ok=True)
    for k, (_, sentences, _, _) in enumerate(chosen, 1):
        name = f"{ts.prefix}{k:03d}"
        with open(ts.sheets / f"{name}.tsv", "w", encoding="utf-8", newline="") as fh:
            out = csv.writer(fh, delimiter="\t")
            out.writerow(["article", "idx", "start", "end", "topic", "stance", "text"])
            for s in sentences:
                out.writerow([name, s.sent_id, s.start, s.end, "", "", s.text])
    print(f"{len(chosen)} articles ({counts}), "
          f"{sum(len(s) for _, s, _, _ in chosen)} sentences -> {ts.articles}, sheets in {ts.sheets}")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def collect(ts: TuneSet = SETS["a"], second: bool = False) -> None:
    """Filled sheets -> labels.csv (no ANT text: offsets and a short hash to check the rebuild).

    ``second``: the blind second annotator's sheets (``<sheets>/second``) -> ``<labels>_second.csv``.
    """
    sheets = ts.sheets / "second" if second else ts.sheets
    target = ts.labels.with_name(f"{ts.labels.stem}_second.csv") if second else ts.labels
    rows = []
    for path in sorted(sheets.glob(f"{ts.prefix}*.tsv")):
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        for r in frame.itertuples():
            for task in ("topic", "stance"):
                if getattr(r, task) not in TASKS[task]:
                    sys.exit(f"{path}:{r.Index + 2}: {task} {getattr(r, task)!r} is not a label; "
                             f"use one of {', '.join(TASKS[task])}")
            rows.append(f"{r.article},{r.idx},{r.start},{r.end},{_digest(r.text)},{r.topic},{r.stance}")
    atomic_write_text(target, "article,idx,start,end,sha,topic,stance\n" + "\n".join(rows) + "\n")
    print(f"{len(rows)} labelled sentences -> {target}")


def agreement(ts: TuneSet = SETS["a"]) -> None:
    """Cohen's kappa and raw agreement between the labels and the blind second annotator's."""
    from sklearn.metrics import cohen_kappa_score

    path = ts.labels.with_name(f"{ts.labels.stem}_second.csv")
    if not path.is_file():
        sys.exit(f"{path}: no second annotation of this set (set b has one: --set b agreement)")
    first = pd.read_csv(ts.labels, dtype=str, keep_default_na=False)
    second = pd.read_csv(path, dtype=str, keep_default_na=False)
    both = first.merge(second, on=["article", "idx", "sha"], suffixes=("_1", "_2"))
    print(f"{len(both)} sentences in {both.article.nunique()} articles labelled twice")
    for task in ("topic", "stance"):
        a, b = both[f"{task}_1"], both[f"{task}_2"]
        print(f"{task}: agree {int((a == b).sum())}/{len(both)} = {(a == b).mean():.3f}, "
              f"Cohen's kappa {cohen_kappa_score(a, b):.3f}")


def build(out: Path | None = None, ts: TuneSet = SETS["a"]) -> None:
    """labels.csv + ANT -> sentences.tsv (doc, idx, text, topic, stance), checked against the hashes."""
    out = ts.out if out is None else out
    articles = pd.read_csv(ts.articles, dtype=str)
    labels = pd.read_csv(ts.labels, dtype=str, keep_default_na=False)
    ant = load_ant().set_index("docno")
    rows = []
    for a in articles.itertuples():
        raw = ant.loc[a.ant_docno, "article"]
        for r in labels[labels.article == a.article].itertuples():
            text = raw[int(r.start):int(r.end)]
            if _digest(text) != r.sha:
                sys.exit(f"{ts.labels}: {r.article} sentence {r.idx} does not match ANT "
                         "(another ANT version?); rebuild needs ANT v2.1")
            rows.append({"doc": r.article, "idx": r.idx, "text": text, "topic": r.topic, "stance": r.stance})
    frame = pd.DataFrame(rows)
    if len(frame) != len(labels):
        sys.exit(f"{ts.labels}: {len(labels) - len(frame)} label rows name no article of {ts.articles}")
    frame.to_csv(out, sep="\t", index=False)
    print(f"{len(rows)} sentences in {len(articles)} articles -> {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="experiments/tuneset/tuneset.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=sorted(SETS), default="a",
                        help="which tuning set: a (round 2) or b (round 3) (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("select", help="pick the articles and write labelling sheets")
    s.add_argument("--statement", type=int, default=14, help="articles with a statement headline")
    s.add_argument("--kuwait", type=int, default=18, help="other articles that mention Kuwait")
    s.add_argument("--other", type=int, default=18, help="other genre articles")
    c = sub.add_parser("collect", help="filled sheets -> labels.csv")
    c.add_argument("--second", action="store_true", help="the blind second pass (sheets in <work>/second)")
    sub.add_parser("agreement", help="kappa between the labels and the second pass")
    b = sub.add_parser("build", help="labels.csv + ANT -> sentences.tsv")
    b.add_argument("--out", type=Path, help="where to write (default: the set's sentences*.tsv)")
    args = parser.parse_args(argv)
    if args.command in ("select", "build") and not ANT.is_file():
        print(f"{ANT} is absent (ANT lives in ../shared); nothing to do", file=sys.stderr)
        return 0
    ts = SETS[args.set]
    if args.command == "select":
        select({"statement": args.statement, "kuwait": args.kuwait, "other": args.other}, ts)
    elif args.command == "collect":
        collect(ts, args.second)
    elif args.command == "agreement":
        agreement(ts)
    else:
        build(args.out, ts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
