"""Two train run folders wrote the same results: predictions.csv byte for byte, metrics.json equal except
timing, created, run id, model_dir, command and the run name; and their models' probabilities on an
eval set are identical.  Usage: python compare_runs.py RUN_A RUN_B [EVAL_TSV]"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from kwct_ml.bundle.store import load_model


def metrics(run: Path) -> dict:
    data = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    for key in ("timing", "created", "run", "model_dir", "command"):
        data.pop(key, None)
    data["config"].pop("name", None)
    return data


a, b = Path(sys.argv[1]), Path(sys.argv[2])
print("predictions.csv identical:", (a / "predictions.csv").read_bytes() == (b / "predictions.csv").read_bytes())
print("metrics.json equal (but timing/created/run/model_dir/command/name):", metrics(a) == metrics(b))
if len(sys.argv) > 3:
    dev = pd.read_csv(sys.argv[3], sep="\t", dtype=str, keep_default_na=False)
    ma = load_model(json.loads((a / "metrics.json").read_text())["model_dir"])[0]
    mb = load_model(json.loads((b / "metrics.json").read_text())["model_dir"])[0]
    for task in ("topic", "stance"):
        pa, pb = (m.predict_proba(task, dev["text"].tolist(), dev["doc"].tolist()) for m in (ma, mb))
        print(f"model {task} probabilities on {len(dev)} sentences identical:", np.array_equal(pa, pb))
