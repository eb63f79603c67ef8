"""Labelled ANT sheets and the earlier tuning sets -> data/labels/ant.csv (standoff rows, no text).

    python experiments/labelling/collect_ant.py --changes experiments/labelling/relabel/v1.1-real.tsv

Sources (ANT text is licensed: sheets live outside git, only references are committed):
- tuning sets A and B (experiments/tuneset/labels*.csv + articles*.csv): batch a / b, pass 1; set B's
  blind second pass (labels_b_second.csv): pass 2. Since issue 14 they are training articles.
- set C (experiments/tuneset/articles_c.csv), labelled for issue 14 by five annotators reading under
  codebook v1.1 (sheets in --sheets-dir/first1..5/out), pass 1; a blind second annotator on 42 of its
  articles (--sheets-dir/second/out), pass 2.
- set D (experiments/tuneset/articles_d.csv, 150 more articles), labelled the same way by three
  annotators (--sheets-dir/d1..d3/out), pass 1; a blind second annotator on 24 of its articles
  (--sheets-dir/second_d/out), pass 2.
- ``--changes``: relabelling decisions (set, doc, idx, old_topic, old_stance, new_topic, new_stance,
  rule) applied to the tuning-set rows (set tuneA/tuneB), each checked against the old labels.
Needs ANT (../shared) to hash the sentences of sets A and B.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import sys
from pathlib import Path

import pandas as pd

from kwct_ml.corpus.external import CORPORA, default_paths, read_corpus
from kwct_ml.corpus.standoff import STANDOFF_COLUMNS, sentence_sha
from kwct_ml.io.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[2]
TUNE = REPO / "experiments" / "tuneset"
OUT = REPO / "data" / "labels" / "ant.csv"


def _read(path: Path, **kw) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, **kw)


def _changes(paths: list[Path]) -> dict[tuple[str, str, str], dict]:
    out = {}
    for path in paths:
        for r in _read(path, sep="\t").to_dict("records"):
            out[(r["set"], r["doc"], str(r["idx"]))] = r
    return out


def _tuneset_rows(batch: str, articles: Path, labels: Path, pass_: str, annotator: str, ant: dict,
                  changes: dict, set_name: str) -> list[dict]:
    docno = dict(zip(_read(articles)["article"], _read(articles)["ant_docno"], strict=True))
    rows = []
    for r in _read(labels).to_dict("records"):
        text = ant[docno[r["article"]]][int(r["start"]):int(r["end"])]
        if sentence_sha(text)[:len(r["sha"])] != r["sha"]:
            sys.exit(f"{labels}: {r['article']} {r['idx']}: text does not match its sha")
        topic, stance, note = r["topic"], r["stance"], ""
        change = changes.pop((set_name, r["article"], str(r["idx"])), None) if pass_ == "1" else None
        if change is not None:
            if (change["old_topic"], change["old_stance"]) != (topic, stance):
                sys.exit(f"change for {set_name} {r['article']} {r['idx']} expects {change['old_topic']}/"
                         f"{change['old_stance']}, the labels say {topic}/{stance}")
            topic, stance, note = change["new_topic"], change["new_stance"], f"v1.1 relabel: {change['rule']}"
        rows.append({"corpus": "ant", "docno": docno[r["article"]], "start": r["start"], "end": r["end"],
                     "sha": sentence_sha(text), "topic": topic, "stance": stance, "annotator": annotator,
                     "pass": pass_, "batch": batch, "note": note})
    return rows


def _sheet_rows(folder: Path, docno: dict[str, str], pass_: str, annotator: str, ant: dict,
                batch: str) -> list[dict]:
    rows = []
    for path in sorted(glob.glob(str(folder / "*.tsv"))):
        for r in _read(Path(path), sep="\t").to_dict("records"):
            text = ant[docno[r["article"]]][int(r["start"]):int(r["end"])]
            if text != r["text"].replace("\r", "") and text != r["text"]:
                sys.exit(f"{path}: {r['article']} {r['idx']}: sheet text differs from ANT")
            rows.append({"corpus": "ant", "docno": docno[r["article"]], "start": r["start"], "end": r["end"],
                         "sha": sentence_sha(text), "topic": r["topic"], "stance": r["stance"],
                         "annotator": annotator, "pass": pass_, "batch": batch, "note": r.get("note", "")})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sheets-dir", type=Path, default=Path("/work/labelling"),
                        help="folder holding first1..first5/out and second/out (default: %(default)s)")
    parser.add_argument("--changes", type=Path, nargs="*", default=[], help="relabel change files (TSV)")
    args = parser.parse_args(argv)
    ant, why = read_corpus("ant", default_paths(REPO)["ant"])
    if ant is None:
        sys.exit(f"ANT is needed: {why}")
    changes = _changes(args.changes)
    rows = _tuneset_rows("a", TUNE / "articles.csv", TUNE / "labels.csv", "1", "tuneset-a", ant, changes, "tuneA")
    rows += _tuneset_rows("b", TUNE / "articles_b.csv", TUNE / "labels_b.csv", "1", "tuneset-b", ant, changes,
                          "tuneB")
    rows += _tuneset_rows("b", TUNE / "articles_b.csv", TUNE / "labels_b_second.csv", "2", "tuneset-b-second",
                          ant, {}, "tuneB")
    docno = {}
    for name in ("articles_c.csv", "articles_d.csv"):
        docno |= dict(zip(_read(TUNE / name)["article"], _read(TUNE / name)["ant_docno"], strict=True))
    for k in range(1, 6):
        rows += _sheet_rows(args.sheets_dir / f"first{k}" / "out", docno, "1", f"c{k}", ant, "c")
    rows += _sheet_rows(args.sheets_dir / "second" / "out", docno, "2", "c-second", ant, "c")
    for k in range(1, 4):
        rows += _sheet_rows(args.sheets_dir / f"d{k}" / "out", docno, "1", f"d{k}", ant, "d")
    rows += _sheet_rows(args.sheets_dir / "second_d" / "out", docno, "2", "d-second", ant, "d")
    leftover = [k for k in changes if k[0] in ("tuneA", "tuneB")]
    if leftover:
        sys.exit(f"{len(leftover)} changes name no tuning-set row, e.g. {leftover[0]}")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=STANDOFF_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(OUT, out.getvalue())
    frame = pd.DataFrame(rows)
    print(f"{len(frame)} rows -> {OUT}: " + ", ".join(
        f"batch {b} pass {p}: {n}" for (b, p), n in frame.groupby(["batch", "pass"]).size().items()))
    print(f"{sum(1 for k in changes if k[0] == 'seed')} seed changes left for data/labels/sentences.csv")
    assert set(CORPORA) >= set(frame["corpus"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
