"""Scaling out (issue 15): ``predict`` on ANT articles in 1 process, ``--jobs 2`` and ``--scheduler local:2``.

Writes the first ``--limit`` ANT articles (../shared/data/ant) as .txt files (``--copies K``
repeats them K times: a synthetic larger archive), runs each mode in one run, and reports
sentences/s, the peak memory of the largest process (a worker) and the fixed start-up cost (the
same mode on 8 articles). ``--table`` writes them as one CSV table instead (docno, text; tagged
with ``--unit article``), which ``local:2`` cuts into pieces of ``--partition-size`` rows on its
workers. docs/scale.md projects 10M/100M articles from these figures.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, record
from predict_speed import ant_articles, find_model

MODES = {"one": [], "jobs2": ["--jobs", "2"], "local2": ["--scheduler", "local:2"]}


def write_articles(limit: int | None, copies: int, folder: Path) -> int:
    folder.mkdir(parents=True)
    articles = ant_articles(limit)
    for k in range(copies):
        for docno, text in zip(articles.docno, articles.text, strict=True):
            (folder / f"{k}_{docno}.txt").write_text(text, encoding="utf-8")
    return len(articles) * copies


def write_table(limit: int | None, copies: int, path: Path, head: int | None = None) -> int:
    import pandas as pd

    articles = ant_articles(limit)
    frame = pd.concat([articles.assign(docno=f"{k}_" + articles.docno) for k in range(copies)])
    frame = frame.head(head) if head else frame
    frame[["docno", "text"]].to_csv(path, index=False)
    return len(frame)


def run_mode(mode: str, inputs: Path, model: Path, out: Path, partition: int,
             extra: tuple[str, ...] = ()) -> dict:
    """Wall seconds, sentences, peak RSS (largest process, whole tree) of one predict run, and the
    machine's 1-minute load at its start and end (the machine may be shared: contention)."""
    import psutil

    from kwct_ml.io import parquet

    out = out.with_suffix(".parquet") if mode == "one" or mode == "jobs2" else out
    command = [sys.executable, "-m", "kwct_ml.predict", str(inputs), "--model", str(model),
               "--output", str(out), "--no-progress", *MODES[mode], *extra]
    if mode == "local2":
        command += ["--partition-size", str(partition)]
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(process.pid)
    peak_tree = peak_single = 0
    while process.poll() is None:
        sizes = []
        try:
            for member in [parent, *parent.children(recursive=True)]:
                try:
                    sizes.append(member.memory_info().rss)
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        peak_tree, peak_single = max(peak_tree, sum(sizes)), max(peak_single, max(sizes, default=0))
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read()
    if process.returncode not in (0, 2):
        raise SystemExit(f"kwct_ml.predict exited {process.returncode}: {stderr[-2000:]}")
    return {"seconds": round(seconds, 1), "sentences": parquet.count_rows(out),
            "peak_rss_mb_largest_process": round(peak_single / 2**20),
            "peak_rss_mb_tree": round(peak_tree / 2**20),
            "load_1min": [round(load_start, 1), round(os.getloadavg()[0], 1)]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--limit", type=int, help="first N ANT articles (default: all)")
    p.add_argument("--copies", type=int, default=1, help="repeat the articles K times")
    p.add_argument("--partition-size", type=int, default=256)
    p.add_argument("--model", help="model folder (default models/latest, else a temporary one)")
    p.add_argument("--table", action="store_true", help="one CSV table of articles, not .txt files")
    args = p.parse_args(argv)
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model, result["model"] = find_model(args.model, work)
        extra: tuple[str, ...] = ()
        if args.table:
            inputs, small = work / "ant.csv", work / "small.csv"
            result["articles"] = write_table(args.limit, args.copies, inputs)
            write_table(args.limit, 1, small, head=8)
            extra = ("--unit", "article", "--id-column", "docno")
        else:
            inputs, small = work / "articles", work / "small"
            result["articles"] = write_articles(args.limit, args.copies, inputs)
            small.mkdir()
            for path in sorted(inputs.glob("*.txt"))[:8]:
                (small / path.name).write_bytes(path.read_bytes())
        for mode in MODES:
            start = run_mode(mode, small, model, work / f"small_{mode}", args.partition_size, extra)
            run = run_mode(mode, inputs, model, work / f"out_{mode}", args.partition_size, extra)
            rate = (run["sentences"]) / max(run["seconds"] - start["seconds"], 1e-9)
            result[mode] = {**run, "startup_seconds": start["seconds"],
                            "sentences_per_second": round(run["sentences"] / run["seconds"], 1),
                            "sentences_per_second_after_startup": round(rate, 1)}
    result["sentences"] = result["one"]["sentences"]
    result["local2_vs_one"] = round(result["local2"]["sentences_per_second"]
                                    / result["one"]["sentences_per_second"], 2)
    result["jobs2_vs_one"] = round(result["jobs2"]["sentences_per_second"]
                                   / result["one"]["sentences_per_second"], 2)
    record("Scale-out: 1 process, --jobs 2, --scheduler local:2 (issue 15)",
           ["articles", "sentences", "one", "jobs2", "local2", "jobs2_vs_one", "local2_vs_one"],
           result, note=f"partition size {args.partition_size}, copies {args.copies}, input "
                        f"{'one CSV table' if args.table else '.txt files'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
