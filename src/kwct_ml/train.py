"""``python -m kwct_ml.train``: the command lives in kwct_ml.cli.train."""

from kwct_ml.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())
