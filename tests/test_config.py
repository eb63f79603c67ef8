"""TrainConfig: validation names the key, TOML round-trips, default.toml equals the defaults."""

from __future__ import annotations

import pytest

from kwct_ml.config import TrainConfig, load_config
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
