"""Batch scoring speed (issue 4): ``python -m kwct_ml.predict`` on the ANT articles, by sentence.

Writes the ANT articles (../shared/data/ant) to a temporary CSV, runs
``python -m kwct_ml.predict ARTICLES.csv --unit article --jobs N`` for each N, and reports
sentences/s, MB/s (UTF-8 input text), sentences per CPU second of the process tree (user + system,
start-up included: on a shared machine wall time measures the queue) and the peak resident memory
of the whole process tree.
The model is ``--model DIR``, else models/latest, else (or with ``--model temporary``) a temporary
model trained on data/ with the default config and the fast vectoriser.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from _common import REPO, record, shared_path


def ant_articles(limit: int | None = None) -> pd.DataFrame:
    """All ANT articles with a text (duplicates kept: this is a throughput test), docno and text."""
    path = shared_path("ant", "ant_multisource_v2.1.csv.gz")
    frame = pd.read_csv(path, keep_default_na=False, usecols=["docno", "text"])
    frame = frame[frame.text.str.strip() != ""]  # two empty articles: predict would skip them (exit 2)
    return frame.head(limit) if limit else frame


def find_model(model: str | None, workdir: Path, fast: bool = True) -> tuple[Path, str]:
    """(model folder, description): given, models/latest, or trained now into ``workdir``."""
    if model and model != "temporary":
        return Path(model), model
    latest = REPO / "models" / "latest"
    if latest.exists() and model != "temporary":
        return latest, f"models/latest -> {latest.resolve().name}"
    from kwct_ml.bundle.store import save_model
    from kwct_ml.config import TrainConfig
    from kwct_ml.corpus.dataset import load_corpus
    from kwct_ml.training.fit import fit_model

    config = TrainConfig(fast_vectorizer=fast)
    fitted = fit_model(load_corpus(REPO / "data"), config)
    folder = save_model(fitted, "bench", workdir / "models", manifest={"config": config.to_dict()},
                        update_latest=False)
    return Path(folder), f"temporary: default config, fast_vectorizer={fast}, trained on data/"


def run_predict(articles_csv: Path, model: Path, jobs: int, out: Path) -> dict:
    """One ``python -m kwct_ml.predict`` run: wall seconds and peak RSS of the process tree."""
    import psutil

    command = [sys.executable, "-m", "kwct_ml.predict", str(articles_csv), "--unit", "article",
               "--text-column", "text", "--id-column", "docno", "--model", str(model),
               "--jobs", str(jobs), "--output", str(out), "--no-progress"]
    import resource

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(process.pid)
    peak_tree = peak_single = 0
    while process.poll() is None:
        try:
            members = [parent, *parent.children(recursive=True)]
            sizes = []
            for member in members:
                try:
                    sizes.append(member.memory_info().rss)
                except psutil.Error:
                    pass
            peak_tree, peak_single = max(peak_tree, sum(sizes)), max(peak_single, max(sizes, default=0))
        except psutil.Error:
            pass
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    stderr = process.stderr.read()
    if process.returncode != 0:
        raise SystemExit(f"kwct_ml.predict exited {process.returncode}: {stderr[-2000:]}")
    with out.open(encoding="utf-8", newline="") as handle:
        sentences = sum(1 for _ in csv.reader(handle)) - 1
    return {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "sentences": sentences,
            "peak_rss_mb": round(peak_tree / 2**20),
            "peak_rss_mb_largest_process": round(peak_single / 2**20)}


def measure(jobs_list: list[int], limit: int | None, model_arg: str | None, fast: bool = True,
            keep_sentences: bool = False) -> dict:
    """Per --jobs value: sentences/s, MB/s, peak RSS; plus the shared facts of the run (and, with
    ``keep_sentences``, the tagged sentence texts under ``"_sentences"``)."""
    articles = ant_articles(limit)
    megabytes = sum(len(t.encode("utf-8")) for t in articles.text) / 1e6
    result = {"articles": len(articles), "input_mb": round(megabytes, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model, description = find_model(model_arg, workdir, fast)
        result["model"] = description
        articles_csv = workdir / "ant_articles.csv"
        articles.to_csv(articles_csv, index=False)
        outputs = []
        for jobs in jobs_list:
            out = workdir / f"tags_jobs{jobs}.csv"
            run = run_predict(articles_csv, model, jobs, out)
            outputs.append(out)
            rate, per_cpu = run["sentences"] / run["seconds"], run["sentences"] / run["cpu_seconds"]
            result[f"jobs{jobs}"] = {**run, "sentences_per_second": round(rate, 1),
                                     "sentences_per_cpu_second": round(per_cpu, 1),
                                     "mb_per_second": round(megabytes / run["seconds"], 3)}
        same = all(o.read_bytes() == outputs[0].read_bytes() for o in outputs[1:])
        result["same_output_for_all_jobs"] = same
        result["sentences"] = result[f"jobs{jobs_list[0]}"]["sentences"]
        if keep_sentences:
            tags = pd.read_csv(outputs[0], keep_default_na=False, usecols=["text"])
            result["_sentences"] = tags.text.tolist()
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="--jobs values to time")
    p.add_argument("--limit", type=int, default=None, help="only the first N articles (quick check)")
    p.add_argument("--model", default=None,
                   help="model folder, or 'temporary' (default: models/latest, else a temporary one)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    result = measure(args.jobs, args.limit, args.model)
    columns = ["articles", "sentences", "input_mb"] + [f"jobs{j}" for j in args.jobs] + [
        "same_output_for_all_jobs", "model"]
    record("Batch scoring speed (bench/predict_speed.py)", columns, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
