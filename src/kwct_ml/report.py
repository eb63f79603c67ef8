"""``python -m kwct_ml.report``: the command lives in kwct_ml.cli.report."""

from kwct_ml.cli.report import main

if __name__ == "__main__":
    raise SystemExit(main())
