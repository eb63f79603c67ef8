"""Start-up cost of tagging (issue 20): CPU seconds to import the model loader, load a model and
make the first call, in a fresh process. Run one process per model and path:
``python bench/startup.py DIR`` (the pickle: joblib + scikit-learn, as ``load_model``) and
``python bench/startup.py DIR --compiled`` (scorer.npz, as predict loads it: ``load_scorer``).
"""

from __future__ import annotations

import sys
import time


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    compiled = "--compiled" in args
    paths = [a for a in args if a != "--compiled"]
    model_dir = paths[0] if paths else None
    t0 = time.process_time()
    import numpy  # noqa: F401

    t1 = time.process_time()
    from kwct_ml.bundle import store

    t2 = time.process_time()
    if compiled:
        loaded = store.load_scorer(model_dir)
        if loaded is None:
            print(f"{model_dir}: no scorer.npz (saved before it, or not compiled)")
            return 1
        model, _ = loaded
    else:
        model, _ = store.load_model(model_dir)
    t3 = time.process_time()
    model.predict_tasks(["تدين دولة الكويت الهجوم الإرهابي"], [0])
    t4 = time.process_time()
    heavy = sorted({"sklearn", "joblib", "pandas", "scipy"} & {m.split(".")[0] for m in sys.modules})
    how = "load_scorer (scorer.npz)" if compiled else "load_model (scikit-learn import + unpickle)"
    print(f"{model_dir or 'models/latest'}: numpy {t1 - t0:.2f} s, kwct_ml.bundle.store {t2 - t1:.2f} s, "
          f"{how} {t3 - t2:.2f} s, first call {t4 - t3:.2f} s, total {t4 - t0:.2f} s CPU; "
          f"loaded: {', '.join(heavy) or 'none of sklearn, joblib, pandas, scipy'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
