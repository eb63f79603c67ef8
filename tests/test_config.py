"""TrainConfig: validation names the key, sectioned TOML round-trips, overrides resolve as before."""

from __future__ import annotations

import json
import tomllib

import pytest

from kwct_ml.config import NO_PROVENANCE, SECTIONS, TrainConfig, load_config
from kwct_ml.errors import ConfigError


def test_default_toml_matches_dataclass_defaults(repo_dir):
    assert load_config(repo_dir / "experiments" / "default.toml") == TrainConfig()


def test_none_gives_defaults():
    assert load_config(None) == TrainConfig()


def test_toml_round_trip(tmp_path):
    config = TrainConfig(name="x1", ngram_max=4, C=0.5, word_ngrams=True, calibration="isotonic")
    path = tmp_path / "c.toml"
    path.write_text(config.to_toml(), encoding="utf-8")
    assert load_config(path) == config


def test_int_accepted_for_float():
    assert TrainConfig(C=2).C == 2.0


@pytest.mark.parametrize(("changes", "key"), [
    ({"analyzer": "word"}, "analyzer"),
    ({"ngram_min": 0}, "ngram_min"),
    ({"ngram_min": 4, "ngram_max": 3}, "ngram_max"),
    ({"C": 0.0}, "C"),
    ({"C": "big"}, "C"),
    ({"classifier": "bert"}, "classifier"),
    ({"calibration": "platt"}, "calibration"),
    ({"class_weight": "auto"}, "class_weight"),
    ({"use_cues": "yes"}, "use_cues"),
    ({"max_df": 1.5}, "max_df"),
    ({"min_df": 2.5}, "min_df"),
    ({"name": "a b/c"}, "name"),
    ({"calibration_cv": 1}, "calibration_cv"),
    ({"prior_smoothing": -0.1}, "prior_smoothing"),
    ({"prior_smoothing": 1}, "prior_smoothing"),
    ({"real_weight": 0.0}, "real_weight"),
    ({"real_weight": float("inf")}, "real_weight"),
    ({"classifier": "linear_svc", "calibration": "none"}, "calibration"),
])
def test_bad_values_name_the_key(changes, key):
    with pytest.raises(ConfigError, match=rf"^{key}:"):
        TrainConfig(**changes)


def test_unknown_toml_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('ngram_max = 4\nngrm_min = 2\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="ngrm_min"):
        load_config(path)


def test_bad_toml_value_names_file_and_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('C = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.toml: C:"):
        load_config(path)


def test_invalid_toml_and_missing_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('C = = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_replace_validates():
    with pytest.raises(ConfigError, match="^C:"):
        TrainConfig().replace(C=-3.0)


# --------------------------------------------------------------------------- sections, extends, provenance

def test_every_experiment_config_resolves_to_its_values_before_the_overrides(repo_dir):
    """The fixture holds each file's settings read from its full flat TOML, before the rewrite as
    overrides (``extends``): the overrides must resolve to exactly those values."""
    expected = json.loads((repo_dir / "tests" / "fixtures" / "experiment_configs.json").read_text())
    files = ["experiments/default.toml", "experiments/tuneset/reference.toml",
             *(str(p.relative_to(repo_dir)) for folder in ("experiments/ablation", "experiments/tuneset/rows")
               for p in sorted((repo_dir / folder).glob("*.toml")))]
    assert sorted(files) == sorted(expected)
    for name in files:
        resolved = load_config(repo_dir / name).to_dict()
        assert resolved == expected[name], name
        assert all(type(resolved[k]) is type(v) for k, v in expected[name].items()), name
    overrides = tomllib.loads((repo_dir / "experiments" / "ablation" / "01-authored-off.toml").read_text())
    assert overrides == {"extends": "00-base.toml", "name": "abl-authored-off",
                         "data": {"include_authored": False}}  # only the key it changes


def test_a_flat_config_as_written_before_sections_still_loads(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('name = "old"\nanalyzer = "char"\nclassifier = "logreg"\nC = 0.5\ntopic_context = 0.0\n'
                    "learning_curve = false\n", encoding="utf-8")
    assert load_config(path) == TrainConfig(name="old", analyzer="char", classifier="logreg", C=0.5,
                                            topic_context=0.0, learning_curve=False)


def test_to_toml_is_sectioned(tmp_path):
    data = tomllib.loads(TrainConfig(provenance='say "why"\nhere').to_toml())
    assert set(data) == {"name", "meta", *SECTIONS}
    assert data["classifier"]["C"] == 3.0 and data["context"]["topic_context"] == 0.5
    assert data["eval"]["seed"] == 13 and data["meta"]["provenance"] == 'say "why"\nhere'


@pytest.mark.parametrize(("text", "message"), [
    ("[features]\nC = 2.0\n", r"c\.toml: \[features\] C: belongs in \[classifier\]$"),
    ("[classifier]\nCC = 2.0\n", r"c\.toml: \[classifier\] unknown key 'CC'"),
    ("[model]\nC = 2.0\n", r"c\.toml: unknown table \[model\]"),
    ("[eval]\nname = 'x'\n", r"\[eval\] name: belongs in the top level"),
    ("provenance = 'x'\n", r"provenance: belongs in \[meta\]"),
    ("C = 2.0\n[classifier]\nC = 3.0\n", r"C: given twice"),
    ("[classifier]\nC = -1.0\n", r"c\.toml: C: must be"),
    ("extends = 3\n", r"extends: expected"),
    ("extends = 'absent.toml'\n", r"extends: .*absent\.toml is not a file"),
])
def test_section_errors_are_one_line_naming_the_key(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert "\n" not in str(caught.value)


def test_extends_overrides_a_base_relative_to_the_file_but_not_its_provenance(tmp_path):
    (tmp_path / "base.toml").write_text('name = "base"\n[meta]\nprovenance = "chosen by hand"\n'
                                        "[classifier]\nC = 0.5\nclassifier = 'logreg'\n", encoding="utf-8")
    (tmp_path / "rows").mkdir()
    row = tmp_path / "rows" / "row.toml"
    row.write_text('extends = "../base.toml"\nname = "row"\n[classifier]\nC = 2.0\n', encoding="utf-8")
    config = load_config(row)
    assert (config.name, config.C, config.classifier) == ("row", 2.0, "logreg")
    assert config.provenance == NO_PROVENANCE  # the base's history does not describe the row
    (tmp_path / "base.toml").write_text('extends = "rows/row.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="extends itself"):
        load_config(row)


def test_the_default_provenance_lives_in_default_toml(repo_dir):
    config = load_config(repo_dir / "experiments" / "default.toml")
    assert config.provenance.startswith("How settings were chosen")
    assert "topic_context = 0.5" in config.provenance
    assert TrainConfig().provenance == NO_PROVENANCE  # a config built in code claims no history
    assert config.to_dict() == TrainConfig().to_dict() and "provenance" not in config.to_dict()


def test_classifier_and_calibration_choices_come_from_the_registry():
    from kwct_ml.pipeline.classifiers import CLASSIFIERS, make_classifier

    for name, entry in CLASSIFIERS.items():
        assert set(entry.keys) <= set(TrainConfig().to_dict())
        calibration = "sigmoid" if entry.needs_calibration else "none"
        made = make_classifier(TrainConfig(classifier=name, calibration=calibration))
        assert made.estimator.get_params()  # the factory accepted exactly its listed keys
        if entry.needs_calibration:
            with pytest.raises(ConfigError, match="^calibration:"):
                TrainConfig(classifier=name, calibration="none")
