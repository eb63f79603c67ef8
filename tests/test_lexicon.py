"""Cue lexicon: the TOML matches the schema, and CueFeatures fires the expected columns."""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from kwct_ml.errors import ConfigError
from kwct_ml.pipeline import cue_scan
from kwct_ml.pipeline.cue_scan import CueScanner
from kwct_ml.pipeline.cues import (
    CueFeatures,
    compile_cues,
    core_starts,
    count_matches,
    default_path,
    load_cues,
)
from kwct_ml.schema import TASKS
from kwct_ml.text.normalize import normalize

from .conftest import REPO, examples

NO_CUES = "الطقس معتدل في المدينة هذا المساء"


def fired(sentence: str, **kwargs) -> set[str]:
    cf = CueFeatures(**kwargs).fit()
    row = cf.transform([sentence]).toarray()[0]
    return {name for name, value in zip(cf.get_feature_names_out(), row, strict=True) if value > 0}


def test_packaged_file_covers_exactly_the_schema_labels():
    cues = load_cues()
    assert default_path().is_file()
    assert set(cues) == set(TASKS)
    for task, labels in TASKS.items():
        assert set(cues[task]) == set(labels)


def test_every_cue_is_nonempty_after_normalisation():
    for task, tables in load_cues().items():
        for label, cues in tables.items():
            assert cues, (task, label)
            for cue in cues:
                word = cue["cue"] if isinstance(cue, dict) else cue  # a rule or a bare cue
                assert word.strip() and normalize(word), (task, label, cue)


@pytest.mark.parametrize(("key", "expected"), [
    ("condemnation", {"cue:stance=condemnation", "cue:topic=terror_attack"}),
    ("solidarity", {"cue:stance=solidarity"}),
    ("support", {"cue:stance=support", "cue:topic=ct_cooperation"}),
    ("tatweel", {"cue:stance=support", "cue:topic=ct_cooperation"}),
    ("furniture", {"cue:topic=other"}),
])
def test_seed_sentences_fire_expected_columns(arabic_sentences, key, expected):
    assert expected <= fired(arabic_sentences[key])


def test_condemnation_does_not_fire_on_solidarity_sentence(arabic_sentences):
    assert "cue:stance=condemnation" not in fired(arabic_sentences["solidarity"])


def test_sentence_without_cues_gives_zero_row(arabic_sentences):
    X = CueFeatures().fit().transform([NO_CUES, arabic_sentences["condemnation"]])
    assert X.shape[0] == 2
    assert X[0].nnz == 0
    assert X[1].nnz > 0


def test_columns_and_names_follow_schema_order(arabic_sentences):
    cf = CueFeatures().fit()
    names = list(cf.get_feature_names_out())
    assert names == [f"cue:{t}={label}" for t in ("topic", "stance") for label in TASKS[t]]
    assert cf.transform([arabic_sentences["condemnation"]]).shape == (1, len(names))
    stance_only = CueFeatures(tasks=("stance",)).fit()
    assert list(stance_only.get_feature_names_out()) == [f"cue:stance={s}" for s in TASKS["stance"]]


def test_clitics_and_article_match_but_not_inside_words():
    pattern = compile_cues(["الهجوم", "تدين", "لقي", "التزام"])
    assert pattern.search(normalize("وتُدين الكويت"))
    assert pattern.search(normalize("إدانة للهجوم"))
    assert pattern.search(normalize("بالتزامها"))
    assert pattern.search(normalize("لقي مصرعه"))
    assert not pattern.search(normalize("منصات لقيادات الجماعات"))   # short cue is a whole word
    assert not pattern.search(normalize("تزامنا مع الزيارة"))         # a cue with ال needs it
    assert not pattern.search(normalize("المدينة"))                 # no match inside a word


@pytest.mark.parametrize(("text", "column"), [
    ("وبحث الوزيران العلاقات", "cue:stance=commitment"),        # 'حث' is a whole word, not 'بحث'
    ("بحثت اللجنة الملف", "cue:stance=commitment"),
    ("وقال أحد الدعاة في الندوة", "cue:stance=commitment"),      # 'دعا' takes no implicit article
    ("الأسبوع الماضي", "cue:stance=commitment"),                # 'ماضية في' is resolve, 'الماضي' is not
    ("بحسب التقديرات الأولية", "cue:stance=support"),           # 'تقديرها' etc., not 'التقديرات'
    ("سيطرة حركة طالبان", "cue:stance=commitment"),
    ("تعزيز التعاون بين البلدين", "cue:stance=solidarity"),
])
def test_common_words_do_not_fire_lookalike_cues(text, column):
    assert column not in fired(text)


def test_short_cues_take_clitics():
    assert "cue:stance=support" in fired("بدعم من الكويت")
    assert "cue:stance=support" in fired("وثمنت الوزارة")
    assert "cue:stance=commitment" in fired("وحثت الدول الأعضاء")


def test_counts_raw_and_sublinear():
    text = "تدين الكويت وتستنكر وتشجب الهجوم"
    raw = CueFeatures(tasks=("stance",), sublinear=False, scale="none").fit()
    j = list(raw.get_feature_names_out()).index("cue:stance=condemnation")
    assert raw.transform([text]).toarray()[0, j] == 3
    log = CueFeatures(tasks=("stance",), scale="none").fit()
    assert log.transform([text]).toarray()[0, j] == pytest.approx(np.log1p(3))


def test_pickle_and_clone_round_trip(arabic_sentences):
    cf = CueFeatures().fit()
    texts = [arabic_sentences["condemnation"], arabic_sentences["solidarity"], NO_CUES]
    back = pickle.loads(pickle.dumps(cf))
    assert (back.transform(texts) != cf.transform(texts)).nnz == 0
    fresh = clone(cf).fit()
    assert (fresh.transform(texts) != cf.transform(texts)).nnz == 0


def test_bad_files_raise_config_error(tmp_path):
    missing = tmp_path / "cues.toml"
    missing.write_text('[topic.terror_attack]\ncues = ["الهجوم"]\nwhy = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="must be exactly"):
        load_cues(missing)
    empty = tmp_path / "empty.toml"
    body = "".join(f'[{t}.{lab}]\ncues = ["\u064e"]\nwhy = "x"\n' for t in TASKS for lab in TASKS[t])
    empty.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_cues(empty)
    with pytest.raises(ConfigError, match="unknown task"):
        CueFeatures(tasks=("nope",)).fit()


def test_transform_rejects_a_bare_string(arabic_sentences):
    with pytest.raises(TypeError):
        CueFeatures().fit().transform(arabic_sentences["condemnation"])


def _texts_for_equivalence() -> list[str]:
    raw = sorted((REPO / "data" / "raw").glob("*.txt"))
    texts = [p.read_text(encoding="utf-8") for p in raw]  # whole articles: many cues, many words
    texts += ["للهجوم والهجوم فالهجوم وبالهجوم فللارهاب", "تزامن التزام", "وتدين تدين", "FATF و فاتف",
              "", "   ", "x", "الهجومالهجوم", "ـ الهجوم ـ", "1الهجوم", "ال الهجوم"]
    return texts


def _regex_scan(cf: CueFeatures, texts: list[str]) -> np.ndarray:
    """The cue block by its definition: ``finditer`` per column over the normalised text."""
    return np.array([[math.log1p(count_matches(p, normalize(t))) for p in cf.patterns_] for t in texts])


def _scanned(patterns, starts, text: str) -> list[int]:
    counts = CueScanner(patterns, starts).counts(text)
    return [counts.get(j, 0) for j in range(len(patterns))]


def test_scanner_counts_what_finditer_counts_on_real_articles():
    """One pass over word starts (head prefilter, per-column skip) counts exactly what ``finditer``
    counts, for every column, with and without the prefilter (models pickled before ``starts_``)."""
    cues = load_cues()
    columns = [cues[task][label] for task, labels in TASKS.items() for label in labels]
    patterns = [compile_cues(c) for c in columns]
    starts = [core_starts(c) for c in columns]
    assert any(s is not None for s in starts)
    for text in (normalize(t) for t in _texts_for_equivalence()):
        expected = [count_matches(p, text) for p in patterns]
        assert _scanned(patterns, starts, text) == expected
        assert _scanned(patterns, [None] * len(patterns), text) == expected


def test_cue_block_equals_the_regex_scan_on_seed_corpus_and_cue_regressions(monkeypatch):
    """The whole sparse matrix, on every seed sentence and the cue regression sentences of
    tests/test_cue_rules.py; a memo that fills up and restarts gives the same matrix."""
    import pandas as pd

    from . import test_cue_rules

    seed = pd.read_csv(REPO / "data" / "labels" / "sentences.csv", dtype=str, keep_default_na=False)
    texts = seed["text"].tolist() + [t for t, *_ in test_cue_rules.WRONG_SENSES + test_cue_rules.TRUE_SENSES]
    cf = CueFeatures().fit()
    expected = _regex_scan(cf, texts)
    assert np.count_nonzero(expected) > 100
    got = cf.transform(texts)
    assert got.dtype == np.float64 and got.shape == expected.shape
    np.testing.assert_array_equal(got.toarray(), expected)
    monkeypatch.setattr(cue_scan, "MEMO_LIMIT", 7)
    np.testing.assert_array_equal(CueFeatures().fit().transform(texts).toarray(), expected)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.sampled_from(["ال", "و", "ب", "لل", "هجوم", "تدين", "تمويل", "الارهاب", "قلق", " ", "،",
                                 ".", "x", "ين", "ات", "\n", "تضامن", "مع", "حي ", "الاجتماعي", "رفض",
                                 "القاطع", "جريمه", "المنظمه", "مكافحه "]), max_size=30))
def test_scanner_counts_what_finditer_counts_on_generated_text(pieces):
    cues = load_cues()
    columns = [cues[task][label] for task, labels in TASKS.items() for label in labels]
    patterns = [compile_cues(c) for c in columns]
    text = normalize("".join(pieces))
    expected = [count_matches(p, text) for p in patterns]
    assert _scanned(patterns, [core_starts(c) for c in columns], text) == expected


def test_scanner_is_not_pickled_and_is_rebuilt(arabic_sentences):
    cf = CueFeatures().fit()
    cf.transform([arabic_sentences["condemnation"]])
    state = cf.__getstate__()
    assert "_scanner" not in state
    back = pickle.loads(pickle.dumps(cf))
    assert "_scanner" not in back.__dict__
    text = [arabic_sentences["condemnation"]]
    np.testing.assert_array_equal(back.transform(text).toarray(), _regex_scan(cf, text))


def _columns_and_patterns():
    cues = load_cues()
    columns = [cues[task][label] for task, labels in TASKS.items() for label in labels]
    return columns, [compile_cues(c) for c in columns]


#: Clitic and article forms a cue's first word can take in text (which of them a cue accepts is
#: the regex's business: the scanner must agree with ``finditer`` on each).
_CLITICS = ["", "و", "ف", "ب", "ل", "س", "ال", "لل", "وال", "بال", "وبال", "فلل", "ولل", "كال", "وب"]


def test_multi_word_cues_in_every_clitic_form_count_what_finditer_counts():
    """A multi-word cue is tried in the sentence only where its first word (with its clitics) is
    the whole word and the next word begins with its second: every clitic form of every
    multi-word cue of the lexicon, with and without a suffix on the next word, in a sentence."""
    columns, patterns = _columns_and_patterns()
    starts = [core_starts(c) for c in columns]
    scanner = CueScanner(patterns, starts)
    fired_in_context = 0
    for cue in {normalize(c["cue"] if isinstance(c, dict) else c) for cs in columns for c in cs}:
        if " " not in cue:
            continue
        first, rest = cue.split(" ", 1)
        bare = first[2:] if first.startswith("ال") and len(first) > 4 else first
        for clitic in _CLITICS:
            for suffix in ("", "ها"):
                text = normalize(f"وقال المتحدث إن {clitic}{bare} {rest}{suffix} مستمر منذ أمس")
                expected = {j: n for j, p in enumerate(patterns) if (n := count_matches(p, text))}
                assert scanner.counts(text) == expected, text
                fired_in_context += any(count_matches(p, f"{clitic}{bare} {rest}{suffix}")
                                        for p, c in zip(patterns, columns, strict=True))
    assert fired_in_context > 200  # the forms do reach the multi-word alternatives


@pytest.mark.parametrize(("text", "column"), [
    ("أعربت الكويت عن بالغ القلق إزاء الأوضاع في المنطقة", "cue:stance=concern"),  # 'القلق' alone is a cue
    ("انفجرت سيارة مفخخة قرب مركز للشرطة في بغداد", "cue:topic=terror_attack"),    # 'مفخخه' alone is a cue
    ("وشدد على تجفيف منابع التمويل للجماعات المتطرفة", "cue:topic=terror_financing"),
])
def test_a_cue_inside_a_longer_match_of_its_own_column_counts_once(text, column):
    """A word that is a cue on its own but lies inside a multi-word match of the same column (a
    match that runs past its first word) is not counted again, as ``finditer`` does not."""
    cf = CueFeatures(sublinear=False).fit()
    j = list(cf.get_feature_names_out()).index(column)
    assert cf.transform([text]).toarray()[0, j] == 1 == count_matches(cf.patterns_[j], normalize(text))


#: Regex constructs the lexicon does not use today: any character, negated and ranged classes, a
#: bounded repeat, word boundaries, lookarounds past the word, an unbounded tail, IGNORECASE.
_CONSTRUCTS = [
    r"(?<!\w)(?:[وف])?(?:ال)?مجلس الامن",
    r"(?<!\w)(?:[وف])?هجوم\w* (?:علي|ضد)",
    r"(?<!\w)(?:(?<!حي )تضامن(?!\w* الاجتماعي)|قلق{1,2}\b)",
    r"(?<!\w)ب.ل",
    r"(?<!\w)ال[^ .]ه",
    r"(?<!\w)و[^ ]ب",
    r"(?<!\w)[ا-ي]ب(?=\w)",
    r"(?<!\w)(?:لا|لن)(?: |،)(?:بد|يمت)",
    r"(?<!\w)(?:x|X)y(?!\w)",
]
#: One text per construct where a match runs past its first word or depends on a neighbour.
_CONSTRUCT_EXAMPLES = [["و", "مجلس", " ", "الامن"], ["هجوم", "ه", " ", "علي"], ["حي ", "تضامن"],
                       ["تضامن", " ", "الاجتماعي"], ["ب", " ", "ل"], ["ال", "،", "ه"], ["و", "،", "ب"],
                       ["لا", "،", "بد"], ["X", "Y", " ", "Z"], ["قلق", "ق"]]


def _constructs_agree(text: str) -> None:
    patterns = [re.compile(p) for p in _CONSTRUCTS] + [re.compile(r"(?<!\w)xy z", re.IGNORECASE)]
    expected = [count_matches(p, text) for p in patterns]
    assert _scanned(patterns, [None] * len(patterns), text) == expected
    heads = [frozenset({"مجل"}), frozenset({"هجو"})] + [None] * (len(patterns) - 2)
    assert _scanned(patterns, heads, text) == expected


@pytest.mark.parametrize("pieces", _CONSTRUCT_EXAMPLES)
def test_scanner_reads_regex_constructs_beyond_the_lexicon(pieces):
    """Whatever a column's regex holds, a column is either decided by the word or tried in the
    sentence: counts equal ``finditer``'s (with and without head sets, and a case-blind regex)."""
    text = "".join(pieces)
    _constructs_agree(text)


@settings(max_examples=examples(80), deadline=None)
@given(st.lists(st.sampled_from(["ال", "و", "ب", "مجلس", " ", "الامن", "هجوم", "علي", "ضد", "حي ", "تضامن",
                                 "الاجتماعي", "قلق", "،", "لا", "لن", "بد", "يمت", "ه", "x", "X", "y", "Y",
                                 "ل", ".", "\n", "z", "Z"]), max_size=25))
def test_scanner_reads_regex_constructs_in_generated_text(pieces):
    _constructs_agree("".join(pieces))
