"""Wall time of train's cross-validation with 2 processes: kwct_ml's pool (training/pool.py) against
the joblib/loky pool it replaced (issue 17), alternated in one process so both see the same load.

    python experiments/issue17/pool_timing.py [--ant ANT.csv.gz] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from joblib import Parallel, delayed

from kwct_ml.config import load_config
from kwct_ml.corpus.dataset import load_corpus
from kwct_ml.training import cv

REPO = Path(__file__).resolve().parents[2]


def joblib_run_jobs(jobs, n_jobs, bar):
    """run_jobs as it was before issue 17 (joblib's reusable loky pool)."""
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    return list(parallel(delayed(cv.predict_systems)(*job) for job in jobs))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ant", help="the ANT corpus file: train with its standoff labels too (default: without)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    config = load_config(REPO / "experiments" / "default.toml").replace(use_standoff=bool(args.ant))
    corpora = {"ant": Path(args.ant).resolve()} if args.ant else None
    corpus = load_corpus(REPO / "data", corpora=corpora)
    ours = cv.run_jobs
    times = {"kwct_ml pool": [], "joblib loky": []}
    first = None
    for _ in range(args.rounds):
        for name, impl in (("kwct_ml pool", ours), ("joblib loky", joblib_run_jobs)):
            cv.run_jobs = impl
            t = time.perf_counter()
            metrics, _ = cv.cross_validate(corpus, config, n_jobs=2)
            times[name].append(time.perf_counter() - t)
            f1 = metrics["stance"]["model"]["macro_f1"]
            first = f1 if first is None else first
            assert f1 == first, "the two pools must give the same predictions"
    cv.run_jobs = ours
    for name, ts in times.items():
        print(f"{name}: " + ", ".join(f"{t:.1f}" for t in ts) + f" s (median {sorted(ts)[len(ts) // 2]:.1f})")
    ratio = sorted(times["kwct_ml pool"])[args.rounds // 2] / sorted(times["joblib loky"])[args.rounds // 2]
    print(f"ratio kwct_ml pool / joblib loky (medians): {ratio:.2f}; load average {os.getloadavg()[0]:.1f}; "
          f"{len(corpus)} sentences; stance macro-F1 identical ({first:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
