"""``python -m kwct_ml.dataset``: the command lives in kwct_ml.cli.dataset."""

from kwct_ml.cli.dataset import main

if __name__ == "__main__":
    raise SystemExit(main())
