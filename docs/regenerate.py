"""Regenerate every shown output in README.md, docs/predict.md and docs/labelling.md (``make docs``).

Each output sits between ``<!-- BEGIN generated: NAME -->`` and ``<!-- END generated -->``; this
script runs the commands of each block with the current code in a scratch copy of the project and
pastes their output there. The model is trained there on data/ (seed + authored sentences) without
the ANT standoff labels, so the outputs are the same on every machine, with or without ../shared.
Things that change from run to run are normalised: the scratch folder reads ``/tmp/kwct-demo``, run
ids ``<run>``, seconds ``N.N s``.

    python docs/regenerate.py            # rewrite the blocks
    python docs/regenerate.py --check    # exit 1 (naming the blocks) when a doc differs
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "docs" / "predict.md", REPO / "docs" / "labelling.md"]
SHOWN_ROOT = "/tmp/kwct-demo"
BLOCK = re.compile(r"(<!-- BEGIN generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END generated -->)",
                   re.S)
RUN_ID = re.compile(r"\b\d{8}-\d{6}-[\w.-]*?(default|demo)\b")
SECONDS = re.compile(r"\b\d+\.\d+ s\b")


def _test_data() -> dict:
    """The two news items and their labels written for tests/test_label.py (one source for both)."""
    tree = ast.parse((REPO / "tests" / "test_label.py").read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("ATTACK", "VISIT", "GOLD"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


class Project:
    """A scratch copy of the project; ``sh`` runs a shell line there as a reader would type it."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(REPO / "data", root / "data")
        bin_dir = root.parent / "bin"
        bin_dir.mkdir()
        (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n', encoding="utf-8")
        (bin_dir / "python").chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                    "PYTHONUNBUFFERED": "1", "COLUMNS": "100", "KWCT_HOME": str(root)}
        self.env.pop("PYTHONWARNINGS", None)

    def sh(self, line: str, shown: str | None = None) -> str:
        """'$ line' and what it printed (stdout and stderr in order), normalised."""
        done = subprocess.run(["bash", "-c", line + " 2>&1"], cwd=self.root, env=self.env,
                              stdout=subprocess.PIPE, text=True, encoding="utf-8", check=False)
        return f"$ {shown or line}\n{self.normalise(done.stdout)}"

    def normalise(self, text: str) -> str:
        text = text.replace(str(self.root.resolve()), SHOWN_ROOT).replace(str(self.root), SHOWN_ROOT)
        return SECONDS.sub("N.N s", RUN_ID.sub("<run>", text))


def _fence(*parts: str, lang: str = "") -> str:
    return f"```{lang}\n" + "".join(p if p.endswith("\n") else p + "\n" for p in parts) + "```\n"


def _train(p: Project) -> str:
    from kwct_ml.config import load_config

    config = load_config(REPO / "experiments" / "default.toml").replace(use_standoff=False)
    (p.root / "demo.toml").write_text(config.to_toml(), encoding="utf-8")
    return p.sh("python -m kwct_ml.train --config demo.toml --no-report")


def predict_blocks(p: Project) -> dict[str, str]:
    out: dict[str, str] = {}
    out["train-demo"] = _fence(_train(p))
    run = p.sh("python -m kwct_ml.predict data/raw --output out/docrun/tags.csv "
               "--summary out/docrun/summary.csv")
    out["predict-run"] = _fence(run, p.sh("echo $?"), p.sh("head -4 out/docrun/tags.csv"))
    summary = pd.read_csv(p.root / "out/docrun/summary.csv", dtype=str, keep_default_na=False)
    cols = ["doc_id", "n_sentences", "dominant_topic", "dominant_stance"]
    out["summary-table"] = _fence(summary[cols].to_string(index=False))
    out["summary-row"] = _fence("\n".join(f"{k}: {v}" for k, v in summary.iloc[0].items()))
    stdin = ("printf 'تعرب دولة الكويت عن إدانتها الشديدة للتفجير الإرهابي الذي استهدف مسجدا.\\n"
             "اضف تعليق\\n' \\\n    | python -m kwct_ml.predict - --unit sentence --format jsonl "
             "--explain 3 --min-confidence 0.6")
    out["stdin-jsonl"] = _fence(p.sh(stdin))
    kw = p.root / "kw"
    kw.mkdir()
    (kw / "bad.txt").write_bytes(b"\x00\x01binary")
    (kw / "empty.txt").write_bytes(b"")
    bad = ("python -m kwct_ml.predict data/raw/001_98ab70ee994ce0e9.txt kw/bad.txt kw/empty.txt \\\n"
           "    data/labels/authored.csv -o out/docrun/mixed.csv --text-column nosuch")
    out["bad-inputs"] = _fence(p.sh(bad), p.sh("cat out/docrun/mixed.csv.errors.jsonl"))
    api = ("from kwct_ml import Tagger\n"
           "tagger = Tagger.load()\n"
           "tags = tagger.tag_article(open('data/raw/001_98ab70ee994ce0e9.txt', encoding='utf-8').read(),"
           " doc_id='001')\n"
           "print('>>> len(tags), tags[1]')\n"
           "print((len(tags), tags[1]))\n"
           "print('>>> s = tagger.summarise(tags)[0]; '\n"
           "      's.dominant_topic, s.dominant_stance, s.stance_counts')\n"
           "s = tagger.summarise(tags)[0]\n"
           "print((s.dominant_topic, s.dominant_stance, s.stance_counts))\n")
    (p.root / "api.py").write_text(api, encoding="utf-8")
    shown = p.sh("python api.py").split("\n", 1)[1]
    out["python-api"] = _fence(">>> tagger = Tagger.load()\n", shown, lang="python")
    readme = p.sh("python -m kwct_ml.predict data/raw --output out/readme/tags.csv "
                  "--summary out/readme/summary.csv")
    out["readme-run"] = _fence(readme, p.sh("head -3 out/readme/tags.csv"))
    out["readme-summary"] = out["summary-table"]
    return out


def labelling_blocks(p: Project) -> dict[str, str]:
    data = _test_data()
    new = p.root / "new_articles"
    new.mkdir()
    (new / "mogadishu.txt").write_text(data["ATTACK"], encoding="utf-8")
    (new / "morocco.txt").write_text(data["VISIT"], encoding="utf-8")
    out: dict[str, str] = {}
    out["label-prepare"] = _fence(p.sh("python -m kwct_ml.label prepare new_articles --out sheet.csv"))
    out["label-sheet-head"] = _fence(p.sh("head -4 sheet.csv").split("\n", 1)[1].lstrip("\ufeff"))
    sheet = pd.read_csv(p.root / "sheet.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for i, row in sheet.iterrows():
        sheet.loc[i, ["topic", "stance"]] = data["GOLD"][row["doc_id"]][int(row["sent_id"])]
    sheet.to_csv(p.root / "sheet_mona.csv", index=False, encoding="utf-8-sig")
    typo = sheet.copy()
    typo.loc[typo["topic"].eq("bilateral_relations").idxmax(), "topic"] = "bilateral"
    typo.loc[typo["doc_id"].eq("mogadishu").idxmax(), "stance"] = ""
    typo.to_csv(p.root / "sheet_typo.csv", index=False, encoding="utf-8-sig")
    ali = sheet.copy()  # a second annotator (invented): three sentences differ, one row left out
    key = ali["doc_id"] + "/" + ali["sent_id"]
    ali.loc[key.eq("mogadishu/2"), "topic"] = "terror_attack"
    ali.loc[key.eq("morocco/3"), "topic"] = "bilateral_relations"
    ali.loc[key.eq("morocco/1"), "stance"] = "support"
    ali[~key.eq("mogadishu/4")].to_csv(p.root / "sheet_ali.csv", index=False, encoding="utf-8-sig")
    out["label-merge-typo"] = _fence(p.sh("python -m kwct_ml.label merge sheet_typo.csv --annotator mona"))
    out["label-merge"] = _fence(p.sh("python -m kwct_ml.label merge sheet_mona.csv --annotator mona"),
                                p.sh("python -m kwct_ml.dataset check | tail -1"))
    out["label-merge-again"] = _fence(p.sh("python -m kwct_ml.label merge sheet_mona.csv --annotator mona"))
    out["label-agreement"] = _fence(p.sh("python -m kwct_ml.label agreement sheet_mona.csv sheet_ali.csv"))
    out["label-retrain"] = _fence(_train(p), p.sh("python -m kwct_ml.label status --no-curve"))
    return out


def generate() -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="kwct-docs-") as tmp:
        project = Project(Path(tmp) / "kwct-demo")
        blocks = predict_blocks(project)
        blocks.update(labelling_blocks(project))
    return blocks


def apply(text: str, blocks: dict[str, str], missing: set[str]) -> str:
    def put(match: re.Match) -> str:
        name = match["name"]
        if name not in blocks:
            missing.add(name)
            return match[0]
        return match[1] + blocks[name] + match[4]
    return BLOCK.sub(put, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a doc differs")
    args = parser.parse_args(argv)
    blocks = generate()
    missing: set[str] = set()
    stale = []
    for doc in DOCS:
        old = doc.read_text(encoding="utf-8")
        new = apply(old, blocks, missing)
        if new != old:
            stale.append(doc)
            changed = [m["name"] for m, n in zip(BLOCK.finditer(old), BLOCK.finditer(new), strict=True)
                       if m["body"] != n["body"]]
            if args.check:
                print(f"{doc.relative_to(REPO)}: out of date: {', '.join(changed)} (run: make docs)",
                      file=sys.stderr)
            else:
                doc.write_text(new, encoding="utf-8")
                print(f"{doc.relative_to(REPO)}: regenerated {', '.join(changed)}", file=sys.stderr)
    if missing:
        print(f"unknown generated blocks: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    used = {m["name"] for doc in DOCS for m in BLOCK.finditer(doc.read_text(encoding="utf-8"))}
    unused = sorted(set(blocks) - used)
    if unused:
        print(f"generated but shown nowhere: {', '.join(unused)}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
