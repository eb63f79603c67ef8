"""Shared benchmark plumbing: ../shared detection, machine description, results log, fastText peer.

Every benchmark prints one JSON object on standard output and appends a row (command, date,
machine, figures) to its table in experiments/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: ../shared beside the checkout; KWCT_SHARED points elsewhere (the skip test points it nowhere).
SHARED = Path(os.environ.get("KWCT_SHARED") or REPO.parent / "shared")
RESULTS = REPO / "experiments" / "benchmarks.md"
sys.path.insert(0, str(REPO / "src"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; when absent, say so, print a JSON note and exit 0."""
    path = SHARED.joinpath("data", *parts)
    if not path.exists():
        message = f"{path} is absent (the licensed benchmark data lives in ../shared); skipping"
        print(message, file=sys.stderr)
        print(json.dumps({"skipped": message}))
        raise SystemExit(0)
    return path


def require_fasttext() -> None:
    """Stop with one line before any work when the peer (fastText) is not installed."""
    try:
        import fasttext  # noqa: F401
    except ImportError:
        print("fasttext is not installed: pip install -e '.[bench]' (fastText 0.9.3 is the peer "
              "these benchmarks compare with)", file=sys.stderr)
        raise SystemExit(1) from None


def command() -> str:
    """The command line that ran this benchmark, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return " ".join(["python", str(script), *sys.argv[1:]])


def machine() -> str:
    """nproc, CPU model, Python and library versions, commit: enough to compare runs."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for name in ("numpy", "scipy", "scikit-learn", "pandas", "fasttext", "joblib"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"nproc {os.cpu_count()}, {cpu}, load {load:.1f}, Python {platform.python_version()}, "
            f"{', '.join(versions)}, commit {commit}")


def record(section: str, columns: list[str], result: dict, note: str = "") -> None:
    """Print ``result`` as one JSON object and append a row to ``section``'s table."""
    print(json.dumps(result, ensure_ascii=False))
    from kwct_ml.io.atomic import atomic_write_text

    date = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    cells = [f"`{command()}`", date] + [_cell(result.get(c)) for c in columns] + [note or ""]
    row = "| " + " | ".join(cells) + " |"
    header = "| command | date | " + " | ".join(columns) + " | note |"
    rule = "|" + "---|" * (len(columns) + 3)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    body, _, machines = text.partition("\n## Machines\n")
    heading = f"## {section}"
    if heading not in body:
        body = body.rstrip("\n") + f"\n\n{heading}\n\n{header}\n{rule}\n"
    lines = body.rstrip("\n").splitlines()
    start = lines.index(heading)
    end = start + 1
    while end < len(lines) and not lines[end].startswith("## "):
        end += 1
    last_row = max(i for i in range(start, end) if lines[i].startswith("|"))
    lines.insert(last_row + 1, row)
    machines = machines.strip("\n") or "Machine and load of each run (date, benchmark: machine)."
    text = ("\n".join(lines) + "\n\n## Machines\n\n" + machines
            + f"\n- {date}, {section}: {machine()}\n")
    atomic_write_text(RESULTS, text)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False).replace("|", "/")
    return str(value).replace("|", "/")


# --------------------------------------------------------------------------- fastText peer

@contextlib.contextmanager
def quiet():
    """Silence C-level stdout/stderr (fastText prints progress and warnings there)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


_SPACE = re.compile(r"\s+")


def fasttext_line(text: str) -> str:
    """fastText reads one example per line: fold new lines and other white space."""
    return _SPACE.sub(" ", text).strip()


def fasttext_train(texts, labels, **params):
    """``fasttext.train_supervised`` on a temporary file; labels may contain spaces."""
    import fasttext

    names = {f"__label__{str(label).replace(' ', '_')}": label for label in set(labels)}
    encoded = {label: name for name, label in names.items()}
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as handle:
        for text, label in zip(texts, labels, strict=True):
            handle.write(f"{encoded[label]} {fasttext_line(text)}\n")
        name = handle.name
    try:
        with quiet():
            model = fasttext.train_supervised(input=name, verbose=0, **params)
    finally:
        os.unlink(name)
    model.kwct_labels = names
    return model


def fasttext_predict(model, texts) -> list[str]:
    """Top label per text via ``model.f.predict`` (``model.predict`` breaks under numpy 2)."""
    predict, names = model.f.predict, model.kwct_labels
    out = []
    for text in texts:
        best = predict(fasttext_line(text) + "\n", 1, 0.0, "strict")
        out.append(names[best[0][1]] if best else "")
    return out
