"""``python -m kwct_ml.predict``: the command lives in kwct_ml.cli.predict."""

from kwct_ml.cli.predict import main

if __name__ == "__main__":
    raise SystemExit(main())
