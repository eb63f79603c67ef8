"""Normaliser speed on the ANT articles: ``normalize`` (one table look-up per character) against
``normalize_by_rules`` (the rule functions in order, as ``normalize`` was before), same output.

Prints one JSON object and appends a row to experiments/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from _common import record, shared_path
from kwct_ml.text import normalize as nz


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N articles only (0 = all)")
    args = parser.parse_args(argv)
    path = shared_path("ant", "ant_multisource_v2.1.csv.gz")
    texts = pd.read_csv(path, keep_default_na=False).drop_duplicates("text").text.tolist()
    texts = texts[:args.limit] if args.limit else texts
    started = time.perf_counter()
    nz.normalize("x")  # builds the table
    build = time.perf_counter() - started
    result = {"articles": len(texts), "mb": round(sum(len(t.encode()) for t in texts) / 1e6, 1),
              "table_build_seconds": round(build, 2)}
    outputs = {}
    for name, function in (("rules", nz.normalize_by_rules), ("fast", nz.normalize)):
        started = time.perf_counter()
        outputs[name] = [function(t) for t in texts]
        seconds = time.perf_counter() - started
        result[f"{name}_seconds"] = round(seconds, 2)
        result[f"{name}_us_per_article"] = round(seconds / len(texts) * 1e6, 1)
    result["same_output"] = outputs["rules"] == outputs["fast"]
    result["speedup"] = round(result["rules_seconds"] / result["fast_seconds"], 1)
    record("Normaliser speed (bench/normalize_speed.py)",
           ["articles", "mb", "rules_us_per_article", "fast_us_per_article", "speedup", "same_output",
            "table_build_seconds"], result)
    return 0 if result["same_output"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
