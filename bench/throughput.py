"""Tagging throughput (issue 7): the shipped tagger on every ANT article, sentence by sentence.

Runs ``python -m kwct_ml.predict --unit article --jobs N`` (N = 1, 2) on all ANT articles through
bench/predict_speed.py, then times fastText predicting a topic, and a topic and a stance, for the
same sentences, one sentence at a time (trained on the project's labelled sentences in data/; its
accuracy is not the point here, its speed is). The note gives our jobs-1 rate over fastText's.
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import REPO, fasttext_predict, fasttext_train, record, require_fasttext, shared_path
from predict_speed import measure

#: The --jobs values with columns in experiments/benchmarks.md's table (others are in the JSON).
TABLE_JOBS = (1, 2)


def fasttext_rates(sentences: list[str]) -> tuple[float, float, float]:
    """fastText sentences/s, one process, same sentences: topic alone, topic + stance (two models,
    each sentence through both, as our run tags both tasks), and topic + stance per CPU second."""
    from kwct_ml.corpus.dataset import load_corpus

    corpus = load_corpus(REPO / "data")
    models = [fasttext_train(corpus.text.tolist(), corpus[task].tolist(), minn=2, maxn=5, wordNgrams=2,
                             epoch=25, bucket=200_000, thread=1, seed=0) for task in ("topic", "stance")]
    started = time.perf_counter()
    fasttext_predict(models[0], sentences)
    topic = len(sentences) / (time.perf_counter() - started)
    cpu = time.process_time()
    started = time.perf_counter()
    for model in models:
        fasttext_predict(model, sentences)
    both = len(sentences) / (time.perf_counter() - started)
    return topic, both, len(sentences) / (time.process_time() - cpu)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--limit", type=int, default=None, help="only the first N articles (quick check)")
    p.add_argument("--model", default=None,
                   help="model folder, or 'temporary' (default: models/latest, else a temporary one)")
    args = p.parse_args(argv)
    shared_path("ant", "ant_multisource_v2.1.csv.gz")  # absent: a JSON note and exit 0
    require_fasttext()
    result = measure(args.jobs, args.limit, args.model, keep_sentences=True)
    sentences = result.pop("_sentences")
    topic, both, both_cpu = fasttext_rates(sentences)
    result["fasttext_sentences_per_second"] = round(topic, 1)
    result["fasttext_topic_stance_sentences_per_second"] = round(both, 1)
    result["fasttext_topic_stance_sentences_per_cpu_second"] = round(both_cpu, 1)
    for jobs in args.jobs:
        run = result[f"jobs{jobs}"]
        result[f"sentences_per_second_jobs{jobs}"] = run["sentences_per_second"]
        result[f"mb_per_second_jobs{jobs}"] = run["mb_per_second"]
        result[f"peak_rss_mb_jobs{jobs}"] = run["peak_rss_mb"]
    columns = ["articles", "sentences", "input_mb"]
    for jobs in TABLE_JOBS:  # the table's header: a run without one of them leaves its cells empty
        columns += [f"{key}_jobs{jobs}" for key in ("sentences_per_second", "mb_per_second", "peak_rss_mb")]
    columns += ["fasttext_sentences_per_second", "same_output_for_all_jobs", "model"]
    ours = result[f"sentences_per_second_jobs{args.jobs[0]}"]
    ours_cpu = result[f"jobs{args.jobs[0]}"]["sentences_per_cpu_second"]
    note = (f"fastText topic + stance {both:,.0f}/s; jobs {args.jobs[0]} / fastText topic + stance = "
            f"{ours / both:.2f}x, / fastText topic = {ours / topic:.2f}x (same run, wall); per CPU "
            f"second (whole predict process, start-up included) {ours_cpu:,.0f} / {both_cpu:,.0f} = "
            f"{ours_cpu / both_cpu:.2f}x")
    record("Tagging throughput (bench/throughput.py)", columns, result, note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
