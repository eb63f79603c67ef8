"""``python -m kwct_ml``: list the commands (each is its own module)."""

from __future__ import annotations

import sys

COMMANDS = (
    ("python -m kwct_ml.dataset check", "validate data/ and print the corpus summary"),
    ("python -m kwct_ml.train", "evaluate leave-one-article-out, train, save the model and the report"),
    ("python -m kwct_ml.predict INPUT...", "tag new articles or sentences (csv/tsv/jsonl out)"),
    ("python -m kwct_ml.label prepare|merge|agreement|status", "grow the labelled corpus"),
)


def main(argv: list[str] | None = None) -> int:
    """Print the commands; exit 0 for --help, 2 otherwise (there is nothing to run here)."""
    argv = sys.argv[1:] if argv is None else argv
    width = max(len(command) for command, _ in COMMANDS)
    lines = ["kwct_ml: topic and stance tagging of Arabic diplomatic news. Commands:"]
    lines += [f"  {command:<{width}}  {what}" for command, what in COMMANDS]
    lines.append("Each takes --help. Quick start: make run (README.md).")
    asked = any(arg in ("-h", "--help") for arg in argv)
    print("\n".join(lines), file=sys.stdout if asked else sys.stderr)
    return 0 if asked else 2


if __name__ == "__main__":
    sys.exit(main())
