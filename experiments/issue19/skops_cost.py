"""Cost of skops' trusted-type loading of a model's pipelines against joblib (issue 19).

Usage: python experiments/issue19/skops_cost.py MODEL_FOLDER  (needs `pip install skops`; not a
dependency). Prints the types skops asks to trust, file sizes, and best-of-5 load times of the same
pipelines saved both ways (joblib with compress=3, as bundle/store saves; skops zip-deflated).
skops cannot build ``re.Pattern``: the cue patterns are saved as (source, flags) and compiled after
loading, which is what unpickling does too, so both timings include compiling them.
"""

from __future__ import annotations

import copy
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import joblib
import skops.io as sio

from kwct_ml.bundle.store import load_model
from kwct_ml.pipeline.cues import CueFeatures

TEXTS = ["الكويت تدين الهجوم الإرهابي", "وزير الخارجية يستقبل سفير اليابان"]


def cue_blocks(pipeline):
    return [step for _, step in pipeline.named_steps["features"].transformer_list
            if isinstance(step, CueFeatures)]


def skops_load(path: Path, trusted: list[str]) -> dict:
    loaded = sio.load(path, trusted=trusted)
    for pipeline in loaded.values():
        for cues in cue_blocks(pipeline):
            cues.patterns_ = [re.compile(source, flags) for source, flags in cues.patterns_]
    return loaded


def best(load, n: int = 5) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    model, _ = load_model(sys.argv[1])
    pipes = dict(model.pipelines)
    plain = copy.deepcopy(pipes)
    for pipeline in plain.values():
        for cues in cue_blocks(pipeline):
            cues.patterns_ = [(p.pattern, p.flags) for p in cues.patterns_]
    with tempfile.TemporaryDirectory() as tmp:
        jl, sk = Path(tmp) / "model.joblib", Path(tmp) / "model.skops"
        joblib.dump(pipes, jl, compress=3)
        sio.dump(plain, sk, compression=zipfile.ZIP_DEFLATED)
        trusted = sio.get_untrusted_types(file=sk)
        print(f"types skops asks to trust ({len(trusted)}): {', '.join(trusted)}")
        t_joblib = best(lambda: joblib.load(jl))
        t_skops = best(lambda: skops_load(sk, trusted))
        print(f"joblib: {jl.stat().st_size:,} bytes, load {t_joblib:.3f} s (best of 5)")
        print(f"skops:  {sk.stat().st_size:,} bytes, load {t_skops:.3f} s (best of 5), "
              f"{t_skops / t_joblib:.1f}x joblib")
        loaded = skops_load(sk, trusted)
        for task, pipeline in pipes.items():
            same = (loaded[task].predict_proba(TEXTS) == pipeline.predict_proba(TEXTS)).all()
            print(f"{task}: same probabilities after the skops round trip: {bool(same)}")


if __name__ == "__main__":
    main()
