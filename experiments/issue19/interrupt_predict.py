"""Ctrl-C stress for `predict --jobs 2`: SIGINT a few ms after the first checkpoints, N times.

Usage: python experiments/issue19/interrupt_predict.py RAW_DIR MODEL_DIR OUT_DIR [RUNS]
RAW_DIR: many .txt articles (e.g. 80 copies of data/raw's five); prints each run ending in a
traceback or an exit code other than 0 (finished first) or 130, then the count.
"""

import pathlib
import random
import signal
import subprocess
import sys
import time


def main() -> int:
    raw, model, out_dir = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 30
    rng = random.Random(19)
    bad = 0
    for n in range(runs):
        out = pathlib.Path(out_dir) / f"o{n}.csv"
        for old in out.parent.glob(f"{out.name}*"):
            old.unlink()
        argv = [sys.executable, "-m", "kwct_ml.predict", raw, "--model", model, "-o", str(out), "--jobs", "2"]
        proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
        ckpt = pathlib.Path(f"{out}.partial.ckpt")
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() - start < 60:
            if ckpt.exists() and len(ckpt.read_text().splitlines()) >= 1 + n % 4:
                break
            time.sleep(0.002)
        time.sleep(rng.random() * 0.05)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate()[1].decode()
        if "Traceback" in err or proc.returncode not in (0, 130):
            bad += 1
            print("run", n, "exit", proc.returncode, err[-2000:])
    print(f"{bad} of {runs} runs ended in a traceback or an unexpected exit code")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
