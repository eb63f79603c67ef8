"""``python -m kwct_ml.evaluate``: the command lives in kwct_ml.cli.evaluate."""

from kwct_ml.cli.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
