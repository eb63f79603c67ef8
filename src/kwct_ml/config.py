"""Training configuration: a validated dataclass, loaded from and saved as TOML.

Every run saves its config beside its metrics, so a score can always be traced to its settings.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from kwct_ml.errors import ConfigError
from kwct_ml.pipeline.classifiers import CLASSIFIERS
from kwct_ml.pipeline.context import (
    TEMPERATURE_RULE,
    WEIGHT_RULE,
    valid_context_weight,
    valid_temperature,
)

ANALYZERS = ("char", "char_wb")
NORMALIZERS = ("normalize", "normalize_keep_teh_marbuta")
CLASS_WEIGHTS = ("balanced", "none")
CALIBRATIONS = ("sigmoid", "isotonic", "temperature", "none")
#: TOML tables of the settings; ``name``, ``extends`` and ``[meta]`` sit beside them.
SECTIONS = ("features", "classifier", "context", "data", "eval")
META = "meta"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


NO_PROVENANCE = ("How settings were chosen: every hyper-parameter comes from the config as written, with no "
                 "inner search in this run; the config records no more ([meta] provenance).")


def _in(section: str, default):
    """A setting that lives in the TOML table ``[section]`` (the attribute name is its key there)."""
    return field(default=default, metadata={"section": section})


@dataclass
class TrainConfig:
    """Settings for both task pipelines and for the evaluation. Defaults = experiments/default.toml.

    Attributes are flat (``config.C``); in TOML each lives in its section (``SECTIONS``). How the
    default's values were chosen is its ``[meta] provenance`` in experiments/default.toml, copied into
    every run's card and report; it is metadata, so two configs with equal settings compare equal.
    """

    name: str = "default"
    # -- character n-gram TF-IDF and the extra feature blocks (FeatureUnion beside the char n-grams)
    analyzer: str = _in("features", "char_wb")
    ngram_min: int = _in("features", 2)
    ngram_max: int = _in("features", 5)
    min_df: int = _in("features", 1)
    max_df: float = _in("features", 1.0)
    max_features: int = _in("features", 0)  # 0 = no limit
    sublinear_tf: bool = _in("features", True)
    normalizer: str = _in("features", "normalize")
    fast_vectorizer: bool = _in("features", True)  # kwct_ml.pipeline.char_tfidf's (same output)
    word_ngrams: bool = _in("features", False)  # word uni+bigram TF-IDF
    word_ngram_max: int = _in("features", 2)
    use_cues: bool = _in("features", True)  # kwct_ml.pipeline.cues.CueFeatures (cue counts per label)
    # -- classifier (kwct_ml.pipeline.classifiers) and probabilities
    classifier: str = _in("classifier", "linear_svc")
    C: float = _in("classifier", 3.0)
    alpha: float = _in("classifier", 1e-4)  # SGD regularisation; ComplementNB smoothing uses nb_alpha
    nb_alpha: float = _in("classifier", 0.3)
    class_weight: str = _in("classifier", "balanced")
    max_iter: int = _in("classifier", 5000)
    calibration: str = _in("classifier", "sigmoid")
    calibration_cv: int = _in("classifier", 3)  # lowered automatically to the smallest class count (min 2)
    prior_smoothing: float = _in("classifier", 0.0)  # p = (1 - s) * p + s * training class prior; 0 = off
    # -- article context (kwct_ml.pipeline.context)
    topic_context: float = _in("context", 0.5)  # p = (1 - w) * p + w * mean p of the sentence's article
    stance_context: float = _in("context", 0.0)  # the same for stance
    topic_context_temperature: float = _in("context", 0.7)  # after the mix: p ** (1 / T), renormalised
    stance_context_temperature: float = _in("context", 1.0)  # the same for stance
    # -- data
    include_authored: bool = _in("data", True)  # authored sentences: always training-only
    real_weight: float = _in("data", 1.0)  # sample weight of real-article sentences (authored ones weigh 1)
    use_standoff: bool = _in("data", True)  # data/labels/ant.csv: real articles of licensed corpora
    ant_corpus: str = _in("data", "../shared/data/ant/ant_multisource_v2.1.csv.gz")  # from the project
    # -- evaluation
    seed: int = _in("eval", 13)
    cv_folds: int = _in("eval", 5)  # article-grouped K-fold over real articles; 0 = leave-one-article-out
    learning_curve: bool = _in("eval", False)
    learning_curve_repeats: int = _in("eval", 3)
    # -- how the values were chosen ([meta]; not a setting, not compared)
    provenance: str = field(default=NO_PROVENANCE, compare=False, metadata={"section": "meta"})

    def __post_init__(self) -> None:
        self._check_types()
        self._check_values()

    # ------------------------------------------------------------------ validation
    def _check_types(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = _KINDS[f.name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                setattr(self, f.name, value)
            if kind is bool and not isinstance(value, bool):
                raise ConfigError(f"{f.name}: expected true or false, got {value!r}")
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{f.name}: expected a whole number, got {value!r}")
            if kind is float and (isinstance(value, bool) or not isinstance(value, float)):
                raise ConfigError(f"{f.name}: expected a number, got {value!r}")
            if kind is str and not isinstance(value, str):
                raise ConfigError(f"{f.name}: expected a string, got {value!r}")

    def _check_values(self) -> None:
        def choice(key: str, options: tuple[str, ...]) -> None:
            if getattr(self, key) not in options:
                raise ConfigError(f"{key}: {getattr(self, key)!r} is not one of {', '.join(options)}")

        def at_least(key: str, low: float) -> None:
            if getattr(self, key) < low:
                raise ConfigError(f"{key}: must be >= {low}, got {getattr(self, key)!r}")

        def positive(key: str) -> None:
            value = getattr(self, key)
            if not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{key}: must be a positive finite number, got {value!r}")

        if not _NAME.match(self.name):
            raise ConfigError(f"name: {self.name!r} must be letters, digits, '_', '.' or '-'")
        choice("analyzer", ANALYZERS)
        choice("normalizer", NORMALIZERS)
        choice("classifier", tuple(CLASSIFIERS))
        choice("class_weight", CLASS_WEIGHTS)
        choice("calibration", CALIBRATIONS)
        at_least("ngram_min", 1)
        if self.ngram_max < self.ngram_min:
            raise ConfigError(f"ngram_max: must be >= ngram_min ({self.ngram_min}), got {self.ngram_max}")
        if self.ngram_max > 8:
            raise ConfigError(f"ngram_max: at most 8 (more only memorises sentences), got {self.ngram_max}")
        at_least("min_df", 1)
        if self.cv_folds == 1 or self.cv_folds < 0:
            raise ConfigError(f"cv_folds: 0 (leave-one-article-out) or at least 2, got {self.cv_folds}")
        if not 0 < self.max_df <= 1:
            raise ConfigError(f"max_df: must be in (0, 1], got {self.max_df!r}")
        at_least("max_features", 0)
        at_least("word_ngram_max", 1)
        for key in ("C", "alpha", "nb_alpha", "real_weight"):
            positive(key)
        for key in ("topic_context_temperature", "stance_context_temperature"):
            if not valid_temperature(getattr(self, key)):
                raise ConfigError(f"{key}: must be {TEMPERATURE_RULE}, got {getattr(self, key)!r}")
        at_least("max_iter", 100)
        at_least("calibration_cv", 2)
        for key in ("prior_smoothing", "topic_context", "stance_context"):
            if not valid_context_weight(getattr(self, key)):  # prior smoothing is a mixing weight too
                raise ConfigError(f"{key}: must be {WEIGHT_RULE}, got {getattr(self, key)!r}")
        at_least("seed", 0)
        at_least("learning_curve_repeats", 1)
        if self.calibration == "none" and CLASSIFIERS[self.classifier].needs_calibration:
            raise ConfigError(f"calibration: {self.classifier} has no probabilities of its own; "
                              "use sigmoid, isotonic or temperature")

    # ------------------------------------------------------------------ TOML
    def to_dict(self) -> dict:
        """The settings and the name, flat (``[meta]`` left out: it says how they were chosen)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "provenance"}

    def to_toml(self) -> str:
        """The config as sectioned TOML that ``load_config`` reads back to an equal config."""
        lines = ["# kwct_ml training config (see docs/training.md)", f"name = {_toml_value(self.name)}",
                 "", f"[{META}]", f"provenance = {_toml_value(self.provenance)}"]
        for section in SECTIONS:
            lines += ["", f"[{section}]"]
            lines += [f"{key} = {_toml_value(getattr(self, key))}" for key, where in SECTION_OF.items()
                      if where == section]
        return "\n".join(lines) + "\n"

    def corpora(self, project_dir: Path) -> dict[str, Path]:
        """Local files of the licensed corpora that standoff labels point into (relative: to the project)."""
        return {"ant": (Path(project_dir) / self.ant_corpus).resolve()}

    def context(self) -> dict[str, float]:
        """Article-context weight per task (``KwctModel`` mixes in the article's mean probabilities)."""
        return {"topic": self.topic_context, "stance": self.stance_context}

    def context_temperature(self) -> dict[str, float]:
        """Sharpening per task after the article-context mix (its averaging flattens probabilities)."""
        return {"topic": self.topic_context_temperature, "stance": self.stance_context_temperature}

    def replace(self, **changes) -> TrainConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


_KINDS = {f.name: {"str": str, "int": int, "float": float, "bool": bool}[f.type]
          for f in fields(TrainConfig)}
#: setting -> its TOML table (``name`` is top-level).
SECTION_OF = {f.name: f.metadata["section"] for f in fields(TrainConfig) if "section" in f.metadata}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    # a JSON string is a TOML basic string once DEL, the one control character JSON keeps, is escaped
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _flatten(data: dict, source: str) -> dict:
    """A sectioned (or old flat) TOML mapping -> flat ``{attribute: value}`` plus ``extends``.

    Every key is checked here: unknown keys, unknown tables and keys in the wrong table are
    one-line errors naming the key and where it belongs.
    """
    flat: dict = {}

    def put(key: str, value, table: str | None) -> None:
        where = f"[{table}] " if table else ""
        if key not in _KINDS:
            raise ConfigError(f"{source}: {where}unknown key {key!r} "
                              f"(known keys: {', '.join(sorted(_KINDS))})")
        home = SECTION_OF.get(key)
        if table is not None and home != table:
            raise ConfigError(f"{source}: [{table}] {key}: belongs in "
                              + (f"[{home}]" if home else "the top level, before any table"))
        if key == "provenance" and table is None:
            raise ConfigError(f"{source}: provenance: belongs in [{META}]")
        if isinstance(value, dict):
            raise ConfigError(f"{source}: {where}{key}: expected a value, got a table")
        if key in flat:
            raise ConfigError(f"{source}: {key}: given twice (at the top level and in [{home}])")
        flat[key] = value

    for key, value in data.items():
        if key == "extends":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{source}: extends: expected the relative path of a base config, "
                                  f"got {value!r}")
            flat["extends"] = value
        elif (key in SECTIONS or key == META) and (isinstance(value, dict) or key not in _KINDS):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key}: expected a table [{key}], got {value!r}")
            for inner, inner_value in value.items():
                put(inner, inner_value, key)
        elif isinstance(value, dict):
            raise ConfigError(f"{source}: unknown table [{key}] (tables: {', '.join(SECTIONS + (META,))})")
        else:  # a flat (pre-section) config keeps its keys at the top level
            put(key, value, None)
    return flat


def config_from_dict(data: dict, source: str = "config") -> TrainConfig:
    """Build a ``TrainConfig`` from a sectioned or flat mapping (no ``extends``); errors name the key."""
    flat = _flatten(data, source)
    if "extends" in flat:
        raise ConfigError(f"{source}: extends: only a config file can extend another; use load_config")
    return _build(flat, source)


def _build(flat: dict, source: str) -> TrainConfig:
    try:
        return TrainConfig(**flat)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the config as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _resolve(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """The flat settings of ``path`` over those of its ``extends`` base (whose [meta] is not inherited)."""
    if path.resolve() in chain:
        raise ConfigError(f"{path}: extends itself through {' -> '.join(str(p) for p in chain)}")
    flat = _flatten(_read_toml(path), str(path))
    base = flat.pop("extends", None)
    if base is None:
        return flat
    base_path = path.parent / base
    if Path(base).is_absolute():
        raise ConfigError(f"{path}: extends: {base!r} must be relative to this file's folder")
    if not base_path.is_file():
        raise ConfigError(f"{path}: extends: {base_path} is not a file; give a path relative to "
                          f"{path.parent}")
    inherited = _resolve(base_path, (*chain, path.resolve()))
    inherited.pop("provenance", None)  # how the base's values were chosen says nothing of these
    return {**inherited, **flat}


def load_config(path: str | Path | None = None) -> TrainConfig:
    """Read a TOML config (sectioned, or flat as before sections; ``extends`` = a base it overrides).

    ``None`` gives the built-in defaults (the settings of experiments/default.toml).
    """
    if path is None:
        return TrainConfig()
    path = Path(path)
    return _build(_resolve(path), str(path))
