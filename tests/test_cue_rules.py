"""Phrase-aware cues (issue 17): words with a second sense fire only in their stance context,
the cue block sits on the scale of one character n-gram, and explanations name the matched words."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from kwct_ml.config import TrainConfig
from kwct_ml.errors import ConfigError
from kwct_ml.pipeline.cues import NGRAMS_PER_LETTER, CueFeatures, load_cues
from kwct_ml.pipeline.model import KwctModel, build_pipeline
from kwct_ml.schema import TASKS
from kwct_ml.text.normalize import normalize

from .conftest import REPO

COND, SOL = "cue:stance=condemnation", "cue:stance=solidarity"


def fired(sentence: str) -> set[str]:
    cf = CueFeatures().fit()
    row = cf.transform([sentence]).toarray()[0]
    return {name for name, value in zip(cf.get_feature_names_out(), row, strict=True) if value > 0}


# Wrong senses seen in issue 17 (confident condemnation/solidarity tags on 300 ANT articles).
WRONG_SENSES = [
    ("وفي حال رفض أحد المجلسين مشروع أي قانون يعاد إلى المجلس الآخر", COND),   # a vote on a bill
    ("وبحث الجانبان التعاون في مكافحة الجريمة المنظمة وتهريب المخدرات", COND),  # a policy field
    ("وتسعى الدول إلى تعزيز التعاون ضد الجرائم الإلكترونية", COND),
    ("قالت الوزير المعني بشؤون التضامن الاجتماعي إن الحكومة ستصرف المعونات", SOL),  # a ministry
    ("وتعرضت مناطق في حي التضامن جنوب دمشق لقصف مدفعي", SOL),             # a Damascus district
    ("وأكد المتحدث وقوف سلاح الجو الإسرائيلي خلف تلك الغارة", SOL),        # who was behind a strike
]


@pytest.mark.parametrize(("text", "column"), WRONG_SENSES)
def test_wrong_senses_fire_no_stance_cue(text, column):
    assert column not in fired(text)


TRUE_SENSES = [
    ("تدين الكويت بشدة الهجوم الإرهابي الذي استهدف مسجدا", COND, ["تدين"]),
    ("وجددت الكويت رفض الكويت القاطع للإرهاب بكافة أشكاله", COND, ["رفض الكويت"]),
    ("وأكدت رفضها لهذه الأعمال الإجرامية", COND, ["رفضها", "الاجراميه"]),
    ("ووصف البيان الهجوم بأنه جريمة نكراء", COND, ["جريمه", "نكراء"]),
    ("وتعرب دولة الكويت عن تضامنها مع جمهورية مصر العربية الشقيقة", SOL, ["تضامنها مع"]),
    ("وأكد التضامن الكامل مع الشعب الفرنسي", SOL, ["التضامن الكامل"]),
    ("مؤكدا وقوف الكويت إلى جانب الأشقاء في هذا المصاب", SOL, ["وقوف الكويت"]),
]


@pytest.mark.parametrize(("text", "column", "words"), TRUE_SENSES)
def test_true_senses_fire_and_name_their_words(text, column, words):
    cf = CueFeatures().fit()
    assert column in fired(text)
    assert cf.matched_words(text)[column] == words
    assert cf.describe(column, text) == f"{column} «{'، '.join(words)}»"
    assert cf.describe("cue:topic=other", text) == "cue:topic=other"  # nothing matched: name alone


def test_ngram_scale_puts_a_cue_at_the_value_of_one_char_ngram():
    text = "تدين الكويت وتستنكر الهجوم"
    letters = sum(ch.isalnum() for ch in normalize(text))
    scaled = CueFeatures(tasks=("stance",), scale="ngram").fit()
    j = list(scaled.get_feature_names_out()).index(COND)
    expected = math.log1p(2) / math.sqrt(NGRAMS_PER_LETTER * letters)
    assert scaled.transform([text]).toarray()[0, j] == pytest.approx(expected)
    raw = CueFeatures(tasks=("stance",), scale="none").fit()
    assert raw.transform([text]).toarray()[0, j] == pytest.approx(math.log1p(2))
    with pytest.raises(ConfigError, match="scale"):
        CueFeatures(scale="huge").fit()


def test_pickles_from_before_scale_keep_unscaled_counts():
    cf = CueFeatures(tasks=("stance",), scale="none").fit()
    state = cf.__getstate__()
    del state["scale"]
    old = CueFeatures.__new__(CueFeatures)
    old.__setstate__(state)
    text = "تدين الكويت الهجوم"
    assert old.scale == "none"
    assert (old.transform([text]) != cf.transform([text])).nnz == 0
    assert pickle.loads(pickle.dumps(old)).scale == "none"


def test_cue_values_on_the_char_ngram_scale():
    """The issue's symptom: cue weights were ~1-2 against <= 0.09 for any char n-gram. On the
    ngram scale the largest cue value in a sentence is no larger than its largest n-gram value."""
    raw = sorted((REPO / "data" / "raw").glob("*.txt"))
    texts = [p.read_text(encoding="utf-8").splitlines()[0] for p in raw]
    pipe = build_pipeline(TrainConfig(), "stance").set_params(features__cues__scale="ngram")
    union = pipe.named_steps["features"].fit(texts)
    char = dict(union.transformer_list)["char"].transform(texts)
    cues = dict(union.transformer_list)["cues"].transform(texts)
    assert cues.nnz
    for i in range(len(texts)):
        if cues[i].nnz:
            assert cues[i].max() <= 1.5 * char[i].max()


def test_explain_names_the_matched_words():
    texts = ["تدين الكويت بشدة الهجوم الإرهابي", "وتعرب الكويت عن تضامنها مع الشعب الشقيق",
             "استقبل الوزير السفير في مكتبه", "وتدين الوزارة التفجير الإرهابي",
             "وتعرب الوزارة عن تضامنها مع أسر الضحايا", "وعقد الجانبان جلسة مباحثات"] * 3
    labels = ["condemnation", "solidarity", "neutral"] * 6
    pipe = build_pipeline(TrainConfig(calibration="none", classifier="logreg"), "stance").fit(texts, labels)
    explained = KwctModel({"stance": pipe}).explain("stance", texts[:2], 10_000)  # every feature of the text
    names = [name for items in explained for name, _ in items if name.startswith("cue:")]
    assert f"{COND} «تدين»" in names
    assert f"{SOL} «تضامنها مع»" in names
    assert all("«" in name for name in names)


def _write(tmp_path, rule: str):
    body = "".join(f'[{t}.{lab}]\ncues = ["كلمة{i}"]\nwhy = "x"\n'
                   for t in TASKS for i, lab in enumerate(TASKS[t]))
    path = tmp_path / "cues.toml"
    path.write_text(body + rule, encoding="utf-8")
    return path


@pytest.mark.parametrize(("rule", "message"), [
    ('[[stance.solidarity.rules]]\ncue = "تضامن"\nwhy = "x"\n', "at least one of"),
    ('[[stance.solidarity.rules]]\ncue = "تضامن"\nnext = ["مع"]\n', "needs `why`"),
    ('[[stance.solidarity.rules]]\ncue = "تضامن"\nnxt = ["مع"]\nwhy = "x"\n', "unknown key"),
    ('[[stance.solidarity.rules]]\ncue = "تضامن"\nnext = "مع"\nwhy = "x"\n', "must be a list"),
    ('[[stance.solidarity.rules]]\ncue = "كلمة1"\nnext = ["مع"]\nwhy = "x"\n', "also a bare cue"),
])
def test_bad_rules_raise_config_error(tmp_path, rule, message):
    with pytest.raises(ConfigError, match=message):
        load_cues(_write(tmp_path, rule))


def test_packaged_rules_each_say_why():
    rules = [c for tables in load_cues().values() for cues in tables.values()
             for c in cues if isinstance(c, dict)]
    assert {r["cue"] for r in rules} >= {"رفض", "جريمة", "تضامن", "وقوف"}
    assert all(r["why"].strip() for r in rules)
    assert np.all([normalize(r["cue"]) for r in rules])
