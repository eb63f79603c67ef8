"""Start-up of ``python -m kwct_ml.predict`` (issue 20): ``--help`` and the import of the CLI load no
plotting, table or learning library (they cost seconds); a whole run with a compiled model imports no
learning library either (tests/test_predict_compiled.py)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "pandas", "sklearn", "scipy", "pyarrow", "dask")

PROBE = """
import json, sys
import kwct_ml.predict
from kwct_ml.cli import predict
try:
    predict.main(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_predict_help_imports_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "kwct_ml" in loaded and "usage:" in done.stdout
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
