"""The headline scores (LOAO and eval-set macro-F1/accuracy per task and system), built once.

The console, the model card, the report and the manifest all show these numbers; each formats
the same rows, taken from the unrounded scores.
"""

from __future__ import annotations

from collections.abc import Iterator

from kwct_ml.training.cv import SYSTEMS


def _rows(results: dict) -> Iterator[tuple[str, str, dict, dict | None]]:
    """(task, system, LOAO scores, eval-set scores or None) in results order."""
    external = (results.get("eval_set") or {}).get("tasks", {})
    for task, systems in results["cv"].items():
        for system, m in systems.items():
            yield task, system, m, external[task][system] if external else None


def has_eval_set(results: dict) -> bool:
    """True when the run scored an eval set (the headline then has its two columns)."""
    return bool((results.get("eval_set") or {}).get("tasks"))


def headline_rows(results: dict) -> list[list]:
    """Table rows: task, system name, LOAO macro-F1, LOAO accuracy[, eval macro-F1, eval accuracy]."""
    rows = []
    for task, system, m, e in _rows(results):
        row = [task, SYSTEMS[system], m["macro_f1"], m["accuracy"]]
        if e is not None:
            row += [e["macro_f1"], e["accuracy"]]
        rows.append(row)
    return rows


def headline(results: dict) -> dict:
    """Compact scores for the manifest and the run record: task -> system -> numbers (4 places)."""
    out: dict = {task: {} for task in results["cv"]}
    for task, system, m, e in _rows(results):
        row = {"loao_macro_f1": round(m["macro_f1"], 4), "loao_accuracy": round(m["accuracy"], 4)}
        if e is not None:
            row |= {"eval_macro_f1": round(e["macro_f1"], 4), "eval_accuracy": round(e["accuracy"], 4)}
        out[task][system] = row
    return out


def format_headline(results: dict) -> str:
    """The console table: macro-F1 and accuracy with baselines (and eval-set columns when given).

    Formatted from the unrounded scores, so it shows what the report shows (0.57749 -> 0.577).
    """
    external = has_eval_set(results)
    lines = [f"{'task':<7} {'system':<22} {'LOAO macro-F1':>13} {'LOAO acc':>9}"
             + (f" {'eval macro-F1':>13} {'eval acc':>9}" if external else "")]
    for task, name, *scores in headline_rows(results):
        line = f"{task:<7} {name:<22} {scores[0]:>13.3f} {scores[1]:>9.3f}"
        if external:
            line += f" {scores[2]:>13.3f} {scores[3]:>9.3f}"
        lines.append(line)
    return "\n".join(lines)
