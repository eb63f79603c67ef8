"""The headline scores (CV and eval-set macro-F1/accuracy per task and system), built once.

The console, the model card, the report and the manifest all show these numbers; each formats
the same rows, taken from the unrounded scores. Beside each macro-F1 stands its article-bootstrap
95% interval when the run measured one.
"""

from __future__ import annotations

from collections.abc import Iterator

from kwct_ml.training.cv import SYSTEMS


def cv_label(results: dict) -> str:
    """What the main CV was ('5-fold grouped CV', 'LOAO CV'); runs before issue 14 were LOAO."""
    return results.get("cv_name", "LOAO CV")


def _rows(results: dict, key: str = "cv") -> Iterator[tuple[str, str, dict, dict | None]]:
    """(task, system, CV scores, eval-set scores or None) in results order."""
    external = (results.get("eval_set") or {}).get("tasks", {}) if key == "cv" else {}
    for task, systems in results[key].items():
        for system, m in systems.items():
            yield task, system, m, external[task][system] if external else None


def has_eval_set(results: dict) -> bool:
    """True when the run scored an eval set (the headline then has its two columns)."""
    return bool((results.get("eval_set") or {}).get("tasks"))


def _ci(scores: dict) -> str:
    interval = scores.get("interval")
    return f"{interval['low']:.3f}-{interval['high']:.3f}" if interval else ""


def headline_rows(results: dict, key: str = "cv") -> list[list]:
    """Table rows: task, system, CV macro-F1, its interval, CV accuracy[, eval macro-F1, interval, acc]."""
    rows = []
    for task, system, m, e in _rows(results, key):
        row = [task, SYSTEMS[system], m["macro_f1"], _ci(m), m["accuracy"]]
        if e is not None:
            row += [e["macro_f1"], _ci(e), e["accuracy"]]
        rows.append(row)
    return rows


def headline(results: dict) -> dict:
    """Compact scores for the manifest and the run record: task -> system -> numbers (4 places)."""
    out: dict = {task: {} for task in results["cv"]}
    for task, system, m, e in _rows(results):
        row = {"cv_macro_f1": round(m["macro_f1"], 4), "cv_accuracy": round(m["accuracy"], 4)}
        if e is not None:
            row |= {"eval_macro_f1": round(e["macro_f1"], 4), "eval_accuracy": round(e["accuracy"], 4)}
        out[task][system] = row
    if results.get("loao_seed"):
        for task, system, m, _ in _rows(results, "loao_seed"):
            out[task][system]["seed_loao_macro_f1"] = round(m["macro_f1"], 4)
    return out


def format_headline(results: dict) -> str:
    """The console table: macro-F1 (95% interval) and accuracy with baselines, eval-set columns when
    given, then leave-one-article-out over the project's own articles when the main CV is grouped.

    Formatted from the unrounded scores, so it shows what the report shows (0.57749 -> 0.577).
    """
    external = has_eval_set(results)
    name = cv_label(results)
    lines = [f"{'task':<7} {'system':<22} {name + ' macro-F1 [95%]':>34} {'acc':>6}"
             + (f" {'eval macro-F1 [95%]':>26} {'acc':>6}" if external else "")]
    for task, system, f1, ci, acc, *rest in headline_rows(results):
        line = f"{task:<7} {system:<22} {f1:>20.3f} [{ci:>11}] {acc:>6.3f}"
        if external:
            line += f" {rest[0]:>12.3f} [{rest[1]:>11}] {rest[2]:>6.3f}"
        lines.append(line)
    if results.get("loao_seed"):
        lines.append("leave-one-article-out over the project's own (seed) articles:")
        for task, system, f1, ci, acc in headline_rows(results, "loao_seed"):
            lines.append(f"{task:<7} {system:<22} {f1:>20.3f} [{ci:>11}] {acc:>6.3f}")
    return "\n".join(lines)
