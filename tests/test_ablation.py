"""experiments/ablation.py: the LOAO-only selection rule and the in-place markdown section."""

from __future__ import annotations

import pytest

from kwct_ml.errors import ConfigError


@pytest.fixture(scope="module")
def ablation(load_script):
    return load_script("experiments/ablation.py")


def _row(name, topic, stance, changes=(), dev=(0.9, 0.9), base=False):
    scores = {"topic": {"model": {"loao_f1": topic, "dev_f1": dev[0]}},
              "stance": {"model": {"loao_f1": stance, "dev_f1": dev[1]}}}
    return {"id": name, "scores": scores, "loao_mean": (topic + stance) / 2, "is_base": base,
            "changes": dict.fromkeys(changes, True)}


def test_rule_uses_loao_only_and_needs_margin_and_no_drop(ablation):
    base = _row("base", 0.70, 0.60, base=True, dev=(0.1, 0.1))
    rows = [base,
            _row("drops-topic", 0.69, 0.80, ["a"]),           # best mean, but topic LOAO drops
            _row("small-gain", 0.708, 0.61, ["b"]),            # +0.009: under the margin
            _row("dev-star", 0.70, 0.60, ["c"], dev=(0.99, 0.99))]  # dev must not matter
    chosen, eligible = ablation.choose(rows)
    assert chosen == "base"
    assert "drops-topic" not in eligible and {"base", "small-gain", "dev-star"} <= set(eligible)
    rows.append(_row("winner", 0.72, 0.62, ["d", "e"]))
    assert ablation.choose(rows)[0] == "winner"
    rows.append(_row("simpler-tie", 0.7195, 0.62, ["f"]))  # within 0.001: fewer changes wins
    assert ablation.choose(rows)[0] == "simpler-tie"


def test_rule_needs_one_base(ablation):
    with pytest.raises(ConfigError, match="base"):
        ablation.choose([_row("a", 0.5, 0.5)])


def test_section_replaced_in_place(ablation, tmp_path):
    path = tmp_path / "g.md"
    ablation.write_section(path, f"{ablation.BEGIN}\nfirst\n{ablation.END}")
    text = path.read_text(encoding="utf-8")
    path.write_text("# head\n\n" + text + "\n\n## tail\n", encoding="utf-8")
    ablation.write_section(path, f"{ablation.BEGIN}\nsecond\n{ablation.END}")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# head") and text.rstrip().endswith("## tail")
    assert "second" in text and "first" not in text and text.count(ablation.BEGIN) == 1
