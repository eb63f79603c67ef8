"""Start-up cost of tagging (issue 20): CPU seconds to import the model loader, load a model and
make the first call, in a fresh process. Run one process per model: ``python bench/startup.py DIR``.
"""

from __future__ import annotations

import sys
import time


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    model_dir = args[0] if args else None
    t0 = time.process_time()
    import numpy  # noqa: F401

    t1 = time.process_time()
    from kwct_ml.bundle.store import load_model

    t2 = time.process_time()
    model, _ = load_model(model_dir)
    t3 = time.process_time()
    model.predict_tasks(["تدين دولة الكويت الهجوم الإرهابي"], [0])
    t4 = time.process_time()
    print(f"{model_dir or 'models/latest'}: numpy {t1 - t0:.2f} s, kwct_ml.bundle.store (scikit-learn, "
          f"scipy, pandas) {t2 - t1:.2f} s, load_model {t3 - t2:.2f} s, first call {t4 - t3:.2f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
