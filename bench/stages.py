"""Where predict's time goes (issue 20): sentences/s of each scoring stage on ANT sentences.

Prints a markdown table (CPU seconds of this process, median of rounds): each stage of
``python -m kwct_ml.predict``'s tagging in turn, then the whole tagging of work items as predict
makes it, and fastText (topic, and topic + stance, one sentence at a time, trained on data/) on the
same sentences in the same run when it is installed. ``--markdown FILE`` also writes the table
into FILE between the ``<!-- stages:begin -->`` and ``<!-- stages:end -->`` lines (docs/benchmarks.md).
Works against older checkouts too (``PYTHONPATH=OLD/src``): stages they lack are left out.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import sys
import time
from pathlib import Path

import numpy as np

from _common import REPO, shared_path

BEGIN, END = "<!-- stages:begin -->", "<!-- stages:end -->"


def ant_articles(limit: int) -> tuple[list[str], list[str], list[int]]:
    """The first ANT articles holding ``limit``-odd sentences: (articles, sentences, article of each)."""
    from kwct_ml.text.segment import segment

    csv.field_size_limit(10**9)
    articles, texts, groups = [], [], []
    with gzip.open(shared_path("ant", "ant_multisource_v2.1.csv.gz"), "rt", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            sentences = [s.text for s in segment(row["text"])]
            if not sentences:
                continue
            texts += sentences
            groups += [len(articles)] * len(sentences)
            articles.append(row["text"])
            if len(texts) >= limit:
                break
    return articles, texts, groups


def _cut(texts: list[str], groups: list[int], articles_per_call: int) -> list[tuple[list[str], list[int]]]:
    keys = np.asarray(groups) // articles_per_call
    parts = np.split(np.arange(len(texts)), np.flatnonzero(np.diff(keys)) + 1)
    return [([texts[i] for i in ix], [groups[i] for i in ix]) for ix in parts]


def _fasttext_stages(texts: list[str]) -> list:
    try:
        import fasttext  # noqa: F401

        from _common import fasttext_predict, fasttext_train
    except ImportError:
        return []
    from kwct_ml.corpus.dataset import load_corpus

    corpus = load_corpus(REPO / "data")
    models = [fasttext_train(corpus.text.tolist(), corpus[task].tolist(), minn=2, maxn=5, wordNgrams=2,
                             epoch=25, bucket=200_000, thread=1, seed=0) for task in ("topic", "stance")]
    return [("fastText topic, one sentence at a time", lambda: fasttext_predict(models[0], texts)),
            ("fastText topic + stance, one sentence at a time",
             lambda: [fasttext_predict(m, texts) for m in models])]


def stages(model, articles: list[str], texts: list[str], groups: list[int], compiled=None) -> list:
    """(name, callable) of every stage this checkout has (``compiled``: the model's CompiledScorer)."""
    from kwct_ml.inference import batch
    from kwct_ml.inference.tagger import Tagger
    from kwct_ml.io.sources import Document
    from kwct_ml.text.normalize import normalize
    from kwct_ml.text.segment import segment

    items = _cut(texts, groups, batch.ARTICLE_ROWS_PER_ITEM)
    per_call = getattr(batch, "ITEMS_PER_CALL", 1) * batch.ARTICLE_ROWS_PER_ITEM
    calls = _cut(texts, groups, per_call)
    blocks = dict(model.pipelines["topic"][0].transformer_list)
    char, cues = blocks["char"], blocks.get("cues")
    out = [("segment ANT articles", lambda: [segment(a) for a in articles]),
           ("normalise (project)", lambda: [normalize(t) for t in texts]),
           ("char TF-IDF transform, one batch (warm word cache)", lambda: char.transform(texts))]
    if cues is not None:
        out.append(("cue features (CueFeatures.transform), one batch", lambda: cues.transform(texts)))
    out += [("per-task pipelines, one batch", lambda: [model.predict(t, texts, groups) for t in model.tasks]),
            ("stacked predict_tasks, one batch", lambda: model.predict_tasks(texts, groups)),
            (f"stacked predict_tasks, {batch.ARTICLE_ROWS_PER_ITEM}-article calls (one work item)",
             lambda: [model.predict_tasks(t, g) for t, g in items])]
    if per_call != batch.ARTICLE_ROWS_PER_ITEM:
        out.append((f"stacked predict_tasks, {per_call}-article calls (ITEMS_PER_CALL work items)",
                    lambda: [model.predict_tasks(t, g) for t, g in calls]))
    if compiled is not None:
        out += [("compiled scorer predict_tasks, one batch", lambda: compiled.predict_tasks(texts, groups)),
                (f"compiled scorer predict_tasks, {per_call}-article calls",
                 lambda: [compiled.predict_tasks(t, g) for t, g in calls])]
    opts = batch.Options(None, 0, None)
    docs = [Document(f"a{k}", a) for k, a in enumerate(articles)]
    work = [batch.WorkItem("article", docs[i:i + batch.ARTICLE_ROWS_PER_ITEM])
            for i in range(0, len(docs), batch.ARTICLE_ROWS_PER_ITEM)]
    taggers = [("pipelines", Tagger(model))] + ([] if compiled is None else [("compiled", Tagger(compiled))])
    for name, tagger in taggers:
        out.append((f"predict's tagging of work items (segment, both tasks, article context, rows), {name}",
                    lambda tagger=tagger: list(batch.ordered_results(iter(work), 1, tagger, opts))))
    return out


def load_compiled(model_dir):
    """The folder's compiled scorer (scorer.npz), or None (older checkouts, models without one)."""
    from kwct_ml.bundle import store

    if not hasattr(store, "load_scorer"):
        return None
    loaded = store.load_scorer(model_dir)
    return None if loaded is None else loaded[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model folder (default: models/latest)")
    p.add_argument("--sentences", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--markdown", type=Path, metavar="FILE",
                   help=f"also write the table into FILE between {BEGIN} and {END}")
    args = p.parse_args(argv)
    started = time.process_time()
    from kwct_ml.bundle.store import load_model

    model, _ = load_model(args.model)
    load_seconds = time.process_time() - started
    articles, texts, groups = ant_articles(args.sentences)
    model.predict_tasks(texts, groups)  # warm the word cache, the cue memo and the scorer
    compiled = load_compiled(args.model)
    if compiled is not None:
        compiled.predict_tasks(texts, groups)
    runs = stages(model, articles, texts, groups, compiled) + _fasttext_stages(texts)
    lines = [f"{len(texts):,} ANT sentences ({len(articles):,} articles); CPU seconds of one process, "
             f"median of {args.rounds} rounds; model load (import + unpickle) {load_seconds:.2f} s CPU",
             "", "| stage | sentences/s |", "|---|---|"]
    for name, run in runs:
        times = []
        for _ in range(args.rounds):
            started = time.process_time()
            run()
            times.append(time.process_time() - started)
        lines.append(f"| {name} | {len(texts) / float(np.median(times)):,.0f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        text = args.markdown.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
        if not pattern.search(text):
            raise SystemExit(f"{args.markdown}: no {BEGIN} ... {END} lines to replace")
        args.markdown.write_text(pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
