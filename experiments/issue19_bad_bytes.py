"""Issue 19: how every labelled corpus sentence decodes with one bad byte appended (0xff, 0x80, 0xc7,
0xd8) or cut inside its last character (``kwct_ml.io.encoding.decode_bytes``). Run from the repository
root: ``python experiments/issue19_bad_bytes.py``; the table is in experiments/robustness.md."""

from __future__ import annotations

import collections

import pandas as pd

from kwct_ml.errors import DataError
from kwct_ml.io.encoding import decode_bytes


def outcome(data: bytes, want: str) -> str:
    try:
        got = decode_bytes(data)
    except DataError:
        return "refused"
    return "utf-8 + U+FFFD" if got == want else "other text (mojibake)"


def main() -> None:
    texts: list[str] = []
    for name in ("sentences.csv", "authored.csv"):
        texts += pd.read_csv(f"data/labels/{name}", dtype=str, keep_default_na=False).text.tolist()
    print("sentences", len(texts))
    for byte in (b"\xff", b"\x80", b"\xc7", b"\xd8"):
        counts = collections.Counter(outcome(t.encode() + byte, t + "\ufffd") for t in texts)
        print("appended", byte, dict(counts))
    cut = [t for t in texts if not t[-1].isascii()]
    counts = collections.Counter(outcome(t.encode()[:-1], t[:-1] + "\ufffd") for t in cut)
    print("cut inside the last character", len(cut), dict(counts))


if __name__ == "__main__":
    main()
