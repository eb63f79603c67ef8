"""Cue-lexicon features: per (task, label), how many codebook cues occur in a sentence.

The cues live in ``resources/cues.toml`` (readable, each label justified by the codebook). Both the
cues and the sentence are normalised with ``kwct_ml.text.normalize.normalize``; a cue matches at a word
start, optionally after the clitics و/ف, ب/ك/ل/س and the article ال (or لل), so 'تدين' also fires
on 'وتدين', and 'الهجوم' on 'للهجوم' (a cue written with ال needs the article in the text).
A cue whose bare word has other senses is a rule (``[[task.label.rules]]``): the word plus required
or forbidden neighbouring words ('التضامن' + 'مع', never after 'حي' or before 'الاجتماعي'), compiled
into the same regex as lookarounds (issue 17).
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from kwct_ml.errors import ConfigError
from kwct_ml.pipeline.cue_scan import HEAD, CueScanner
from kwct_ml.pipeline.cue_values import NGRAMS_PER_LETTER, SCALES, cue_matrix  # noqa: F401 (re-exported)
from kwct_ml.schema import TASKS
from kwct_ml.text.normalize import normalize

#: Optional clitics before a cue: conjunction, then preposition/future particle, then article.
_PREFIX = "(?:[وف])?(?:[بكلس])?(?:ال|ل)?"
#: Before a cue written with the article: clitics, then the article itself (ال, or لل after ل).
_ARTICLE_PREFIX = "(?:[وف])?(?:[بكلس]?ال|لل)"
_ARTICLE = "ال"
#: Cores this short are whole words (plus an inflection or pronoun suffix), never bare stems,
#: so 'لقي' does not fire on 'لقيادات' nor 'اثم' on 'اثمرت'. They take no implicit article
#: (write 'الدعم' as its own cue), so 'دعا' does not fire on 'الدعاة'.
_SHORT = 3
_SHORT_PREFIX = "(?:[وف])?(?:[بكلس])?"
_SUFFIX = "(?:ت|ه|ها|هم|هما|ا|وا|ين|ون|ات|نا)?(?!\\w)"


def default_path() -> Path:
    """The packaged cue file (``kwct_ml/resources/cues.toml``)."""
    return Path(str(resources.files("kwct_ml").joinpath("resources", "cues.toml")))


#: Keys of a rule: its word, neighbour lists, and why (the codebook sense it keeps).
_RULE_LISTS = ("next", "not_next", "prev", "not_prev")


def _rule_problem(rule, bare: set[str]) -> str | None:
    """Why ``rule`` (one ``[[task.label.rules]]`` table) is invalid, or None."""
    if not isinstance(rule, dict):
        return "a rule must be a table"
    unknown = sorted(set(rule) - {"cue", "why", *_RULE_LISTS})
    if unknown:
        return f"rule has unknown key(s) {unknown}; allowed: cue, why, {', '.join(_RULE_LISTS)}"
    if not isinstance(rule.get("cue"), str) or not normalize(rule["cue"]):
        return "a rule needs a non-empty `cue`"
    if rule["cue"] in bare:
        return f"rule cue {rule['cue']!r} is also a bare cue (a bare cue would fire without the rule)"
    if not isinstance(rule.get("why"), str) or not rule["why"].strip():
        return f"rule {rule['cue']!r} needs `why` (the sense it keeps and the one it leaves out)"
    if not any(rule.get(key) for key in _RULE_LISTS):
        return f"rule {rule['cue']!r} needs at least one of {', '.join(_RULE_LISTS)}"
    for key in _RULE_LISTS:
        words = rule.get(key, [])
        if not isinstance(words, list) or not all(isinstance(w, str) and normalize(w) for w in words):
            return f"rule {rule['cue']!r}: `{key}` must be a list of non-empty words"
    return None


def load_cues(path: str | Path | None = None) -> dict[str, dict[str, list]]:
    """Read and validate a cue file: ``{task: {label: [cues]}}`` for every schema label.

    A cue is a string (the bare word) or a rule dict (``cue`` plus neighbour lists).
    """
    path = Path(path) if path is not None else default_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: cue file not found (pass path=None for the packaged one)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid UTF-8 TOML: {exc}") from None
    extra = sorted(set(data) - set(TASKS))
    if extra:
        raise ConfigError(f"{path}: unknown task table(s) {extra}; expected {sorted(TASKS)}")
    out: dict[str, dict[str, list[str]]] = {}
    for task, labels in TASKS.items():
        tables = data.get(task, {})
        if set(tables) != set(labels):
            raise ConfigError(f"{path}: [{task}.*] tables must be exactly {list(labels)}; "
                              f"missing {sorted(set(labels) - set(tables))}, "
                              f"unknown {sorted(set(tables) - set(labels))}")
        out[task] = {}
        for label in labels:
            table = tables[label]
            cues = table.get("cues") if isinstance(table, dict) else None
            if not isinstance(cues, list) or not cues:
                raise ConfigError(f"{path}: [{task}.{label}] needs a non-empty list `cues`")
            if not isinstance(table.get("why"), str) or not table["why"].strip():
                raise ConfigError(f"{path}: [{task}.{label}] needs `why` citing the codebook")
            for cue in cues:
                if not isinstance(cue, str) or not normalize(cue):
                    raise ConfigError(f"{path}: [{task}.{label}] has an empty or non-string cue {cue!r}")
            rules = table.get("rules", [])
            if not isinstance(rules, list):
                raise ConfigError(f"{path}: [{task}.{label}] `rules` must be an array of tables [[...]]")
            for rule in rules:
                problem = _rule_problem(rule, set(cues))
                if problem:
                    raise ConfigError(f"{path}: [{task}.{label}] {problem}")
            out[task][label] = list(cues) + [dict(rule) for rule in rules]
    return out


def _split_article(norm: str) -> tuple[str, bool]:
    """(core, written with the article) of a normalised cue."""
    if norm.startswith(_ARTICLE) and len(norm) > len(_ARTICLE) + 2:
        return norm[len(_ARTICLE):], True
    return norm, False


def _cue_word(cue: str | dict) -> str:
    return cue["cue"] if isinstance(cue, dict) else cue


def _neighbours(words: list[str]) -> str:
    """Alternation of whole neighbouring words (clitics و/ف, ب/ك/ل before; a short suffix after)."""
    alts = sorted({re.escape(normalize(w)) for w in words}, key=lambda a: (-len(a), a))
    return "(?:[وف])?(?:[بكل])?(?:" + "|".join(alts) + ")" + _SUFFIX


def _rule_pattern(rule: dict, piece: str) -> str:
    """``piece`` (the cue's own regex) inside the rule's lookarounds; a required next word is part
    of the match (so an explanation shows it), forbidden or required previous words end the word
    before the cue ('بشؤون' ends with 'شؤون')."""
    before = "".join(f"(?<!{re.escape(normalize(w))} )" for w in rule.get("not_prev", []))
    if rule.get("prev"):
        before += "(?:" + "|".join(f"(?<={re.escape(normalize(w))} )" for w in rule["prev"]) + ")"
    after = ""
    if rule.get("not_next"):
        after += rf"(?!\w* {_neighbours(rule['not_next'])})"
    if rule.get("next"):
        after += rf"\w* {_neighbours(rule['next'])}"
    return before + piece + after


def cue_pattern(cue: str | dict) -> tuple[int, str]:
    """(core length, regex) for one cue, matched at a word start after optional clitics.

    A cue written with a leading ال must keep an article in the text ('الهجوم' matches 'للهجوم',
    'والهجوم'; 'التزام' does not match 'تزامن'); any other cue may take clitics and an article.
    A core of at most three letters must end the word (allowing a short suffix) and takes no
    implicit article. A rule dict adds its neighbour constraints (``_rule_pattern``).
    """
    if isinstance(cue, dict):
        length, piece = cue_pattern(cue["cue"])
        return length, _rule_pattern(cue, piece)
    core, with_article = _split_article(normalize(cue))
    prefix = _ARTICLE_PREFIX if with_article else _PREFIX
    if len(core) <= _SHORT:
        if prefix == _PREFIX:
            prefix = _SHORT_PREFIX
        return len(core), prefix + re.escape(core) + _SUFFIX
    return len(core), prefix + re.escape(core)


def compile_cues(cues: list) -> re.Pattern:
    """One pattern matching any of ``cues`` at a word start (longest core first)."""
    pieces = sorted({cue_pattern(c) for c in cues}, key=_longest_first)
    alternation = "|".join(piece for _, piece in pieces)
    return re.compile(rf"(?<!\w)(?:{alternation})")


def _longest_first(item: tuple[int, str]) -> tuple[int, str]:
    return (-item[0], item[1])


def count_matches(pattern: re.Pattern, text: str) -> int:
    """Number of non-overlapping cue matches of ``pattern`` in the already normalised ``text``."""
    return sum(1 for _ in pattern.finditer(text))


_WORD_END = re.compile(r"\w*")


def core_starts(cues: list) -> frozenset[str] | None:
    """The first ``HEAD`` letters of every cue's core, or None when a core is shorter than that."""
    cores = [_split_article(normalize(_cue_word(c)))[0] for c in cues]
    return None if any(len(core) < HEAD for core in cores) else frozenset(core[:HEAD] for core in cores)


class CueFeatures(TransformerMixin, BaseEstimator):
    """Raw sentences -> sparse counts of cue matches, one column per (task, label).

    ``path=None`` uses the packaged cues; ``tasks`` picks which tables become columns;
    ``sublinear=True`` gives log1p(count) instead of the raw count; ``scale="ngram"`` puts the
    values on the scale of one character n-gram of the same sentence (``NGRAMS_PER_LETTER``),
    ``"none"`` (the default) leaves them as counts: in grouped CV over real articles the ngram
    scale left the block no better than no cues (experiments/cues.md).
    """

    def __init__(self, path=None, tasks=("topic", "stance"), sublinear=True, scale="none"):
        self.path = path
        self.tasks = tasks
        self.sublinear = sublinear
        self.scale = scale

    def __setstate__(self, state):  # pickles from before `scale` had unscaled counts
        state.setdefault("scale", "none")
        super().__setstate__(state)

    def fit(self, X=None, y=None):
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ConfigError(f"CueFeatures: unknown task(s) {unknown}; expected {sorted(TASKS)}")
        if self.scale not in SCALES:
            raise ConfigError(f"CueFeatures: scale {self.scale!r}; expected one of {list(SCALES)}")
        cues = load_cues(self.path)
        self.columns_ = [(task, label) for task in self.tasks for label in TASKS[task]]
        self.patterns_ = [compile_cues(cues[task][label]) for task, label in self.columns_]
        self.starts_ = [core_starts(cues[task][label]) for task, label in self.columns_]
        self._scanner = CueScanner(self.patterns_, self.starts_)
        return self

    def _texts(self, X) -> list[str]:
        check_is_fitted(self, "patterns_")
        if isinstance(X, str):
            raise TypeError("CueFeatures.transform expects a list of sentences, not one string")
        return [str(t) for t in X]

    def __getstate__(self):  # the scanner (and its memo) is rebuilt on first use, never pickled
        state = super().__getstate__()
        state.pop("_scanner", None)
        return state

    def _scan(self) -> CueScanner:
        scanner = self.__dict__.get("_scanner")
        if scanner is None:
            scanner = self._scanner = CueScanner(self.patterns_, self.starts_)
        return scanner

    def transform(self, X):
        norms = [normalize(text) for text in self._texts(X)]
        return cue_matrix(norms, self._scan(), len(self.patterns_), self.sublinear, self.scale)

    def matched_words(self, text: str) -> dict[str, list[str]]:
        """{feature name: the normalised words each match covers} for one raw sentence (for
        ``--explain``: which words fired a cue column)."""
        norm = normalize(self._texts([text])[0])
        names = self.get_feature_names_out()
        out: dict[str, list[str]] = {}
        for name, pattern in zip(names, self.patterns_, strict=True):
            for match in pattern.finditer(norm):
                end = _WORD_END.match(norm, match.end()).end()  # the whole last word
                out.setdefault(str(name), []).append(norm[match.start():end].strip())
        return out

    def describe(self, name: str, text: str) -> str:
        """``name`` of a cue column with the words that fired it in ``text``:
        'cue:stance=solidarity «تضامنها مع»' (names of other columns unchanged)."""
        words = self.matched_words(text).get(name)
        return f"{name} «{'، '.join(dict.fromkeys(words))}»" if words else name

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # a list of sentences, as for TfidfVectorizer
        tags.input_tags.two_d_array = False
        return tags

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "columns_")
        return np.array([f"cue:{task}={label}" for task, label in self.columns_], dtype=object)
