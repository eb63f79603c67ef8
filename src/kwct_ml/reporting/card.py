"""The model card (README.md of a model folder), one template for every model.

A training run fills in its data, command and headline scores; a model saved without a run
(``save_model`` with no card) gets the same card without those two sections.
"""

from __future__ import annotations

from string import Template

from kwct_ml.bundle.manifest import MANIFEST_FILE, MODEL_FILE, SCORER_FILE
from kwct_ml.reporting.headline import format_headline

CARD = Template("""\
# kwct_ml model `$run`

Tags sentences of Arabic diplomatic news with a topic and a stance (calibrated probabilities).

Load: `kwct_ml.bundle.store.load_model(PATH)`; tag: `python -m kwct_ml.predict --model PATH`.

${run_sections}## Labels

$labels

## Files

- `$model_file`: sha256 `$sha256` (checked on load; loading runs code: only load models you trust)
$scorer_line- `$manifest_file`: versions, config, data checksums, sizes, metrics

## Environment

$environment
""")

RUN_SECTIONS = Template("""\
## Training data

$data

## Scores

Made by:

    $command

LOAO = leave-one-article-out cross-validation on the project corpus$eval_note.
$eval_sets
```
$headline
```

$selection

""")


def _bullets(lines) -> str:
    return "\n".join(f"- {line}" for line in lines)


def eval_set_lines(entries: list[dict]) -> list[str]:
    """One line per evaluation set of the manifest: path, sha256 and size identify its version."""
    return [f"Eval set `{e['path']}`: sha256 `{e['sha256']}`, {e['size']} bytes"
            + (f", {e['n']} sentences in {e['n_docs']} articles" if "n" in e else "") for e in entries]


def _run_sections(results: dict, manifest: dict) -> str:
    data = results["data"]
    sizes = (f"{data['n_evaluated']} labelled sentences from {data['n_articles']} articles"
             + (f" plus {data['n_authored']} authored sentences (training only)"
                if data["n_authored"] else ""))
    hashes = (f"`{name}` sha256 `{digest}`" for name, digest in data["label_files"].items())
    return RUN_SECTIONS.substitute(
        data=_bullets([sizes, *hashes]),
        command=results["command"],
        eval_note="; eval = the final model on the eval set" if results.get("eval_set") else "",
        eval_sets="".join(f"\n{line}\n" for line in eval_set_lines(manifest.get("eval_sets") or [])),
        headline=format_headline(results), selection=results["selection"])


def _scorer_line(manifest: dict) -> str:
    """The card's line on scorer.npz (the compiled scorer predict uses), or why there is none."""
    entry = manifest.get("scorer")
    if not isinstance(entry, dict):
        return ""
    if entry.get("file") is None:
        return f"- no `{SCORER_FILE}`: {entry.get('why', 'not compiled')} (predict loads `{MODEL_FILE}`)\n"
    return (f"- `{SCORER_FILE}`: sha256 `{entry.get('sha256', '?')}` (checked on load; plain arrays, no "
            "code: what predict scores with unless an option such as --explain needs the pipelines)\n")


def model_card(manifest: dict, results: dict | None = None) -> str:
    """README.md of a model folder from its full manifest (and the training run's results, if any)."""
    return CARD.substitute(
        run=manifest.get("run", "?"),
        run_sections=_run_sections(results, manifest) if results else "",
        labels=_bullets(f"{task}: {', '.join(names)}" for task, names in manifest.get("labels", {}).items()),
        model_file=MODEL_FILE, sha256=manifest.get("sha256", "?"), scorer_line=_scorer_line(manifest),
        manifest_file=MANIFEST_FILE,
        environment=_bullets(f"{k}: {v}" for k, v in manifest.get("versions", {}).items()))
