"""``python -m kwct_ml.label``: the command lives in kwct_ml.cli.label."""

from kwct_ml.cli.label import main

if __name__ == "__main__":
    raise SystemExit(main())
