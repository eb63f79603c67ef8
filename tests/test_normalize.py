"""Arabic normalisation: one test per rule, the composed normaliser on seed sentences, properties."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kwct_ml.text import normalize as nz

from .conftest import CONDEMNATION, FURNITURE, SOLIDARITY, SUPPORT, TATWEEL, examples

FATHA, DAMMA, KASRA, SHADDA, SUKUN = "\u064e", "\u064f", "\u0650", "\u0651", "\u0652"
FATHATAN, DAMMATAN, KASRATAN, SUPERSCRIPT_ALEF = "\u064b", "\u064c", "\u064d", "\u0670"
TATWEEL_CHAR = "\u0640"
INVISIBLE = (["\u200b", "\u200c", "\u200d", "\u200e", "\u200f"]
             + [chr(c) for c in range(0x202A, 0x202F)]
             + [chr(c) for c in range(0x2066, 0x206A)]
             + ["\ufeff", "\u061c", "\u00ad", "\u2060"])
# Every nonspacing mark in the Arabic blocks (base, Supplement, Extended-A/B): none may survive.
ARABIC_MARKS = "".join(chr(c) for c in [*range(0x0600, 0x0700), *range(0x0750, 0x0780),
                                        *range(0x0870, 0x0900)]
                       if unicodedata.category(chr(c)) == "Mn")
# Presentation forms that have a compatibility decomposition (a few symbols in the block have none).
FOLDABLE = "".join(chr(c) for c in [*range(0xFB50, 0xFE00), *range(0xFE70, 0xFEFF)]
                   if unicodedata.normalize("NFKC", chr(c)) != chr(c))
_FORBIDDEN = re.compile(f"[{ARABIC_MARKS}{TATWEEL_CHAR}{''.join(INVISIBLE)}{FOLDABLE}]")


# --- one test per rule ------------------------------------------------------------------------

@pytest.mark.parametrize("marked, bare", [
    ("كَتَبَ", "كتب"),                                  # fatha
    ("الكُتُبُ", "الكتب"),                               # damma
    ("بِسمِ", "بسم"),                                   # kasra
    ("الشدّة", "الشدة"),                                 # shadda
    ("مُحَمَّدٌ", "محمد"),                                  # shadda + dammatan
    ("أفرادًا", "أفرادا"),                               # fathatan (as in the seed article)
    ("كتابٍ", "كتاب"),                                  # kasratan
    ("قُلْ", "قل"),                                     # sukun
    ("هٰذا", "هذا"),                                    # superscript alef
    ("رحمه الله\u0610", "رحمه الله"),                    # honorific sign
])
def test_strip_diacritics(marked, bare):
    assert nz.strip_diacritics(marked) == bare


def test_strip_diacritics_keeps_letters_and_hamza_forms():
    text = "أإآءؤئ ة ى 123 abc"
    assert nz.strip_diacritics(text) == text


@pytest.mark.parametrize("stretched, plain", [
    ("أشـــاد", "أشاد"),
    ("الديبـلــوماســـي", "الديبلوماسي"),
    ("ـ", ""),
])
def test_strip_tatweel(stretched, plain):
    assert nz.strip_tatweel(stretched) == plain


def test_normalize_tatweel_word_from_seed():
    assert nz.normalize("أشـــاد") == "اشاد"


@pytest.mark.parametrize("form", ["\u0623", "\u0625", "\u0622", "\u0671"])  # أ إ آ ٱ
def test_normalize_alef_each_form(form):
    assert nz.normalize_alef(f"{form}حمد") == "احمد"


def test_normalize_alef_leaves_other_hamza_alone():
    assert nz.normalize_alef("سؤال مسائل ءا") == "سؤال مسائل ءا"


def test_normalize_alef_maksura():
    assert nz.normalize_alef_maksura("على مستوى") == "علي مستوي"


def test_teh_marbuta_on_by_default():
    assert nz.normalize_teh_marbuta("الخارجية") == "الخارجيه"
    assert nz.normalize("وزارة الخارجية") == "وزاره الخارجيه"


def test_teh_marbuta_kept_by_variant():
    assert nz.normalize_keep_teh_marbuta("وزارة الخارجية") == "وزارة الخارجية"
    # every other rule still applies
    assert nz.normalize_keep_teh_marbuta("أشـــاد بِالمبادرةِ") == "اشاد بالمبادرة"


def test_normalize_keep_teh_marbuta_is_a_named_module_function():
    # pipelines pickle it by reference, so it must be importable under its own name
    assert nz.normalize_keep_teh_marbuta.__qualname__ == "normalize_keep_teh_marbuta"


@pytest.mark.parametrize("digits", ["٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"])
def test_normalize_digits(digits):
    assert nz.normalize_digits(digits) == "0123456789"


def test_normalize_digits_in_text():
    assert nz.normalize("عام ٢٠٢٤ و ۱۰۰ مليون") == "عام 2024 و 100 مليون"


@pytest.mark.parametrize("variant, ascii_", [
    ("«داعش»", '"داعش"'),
    ("“الواضح والحازم”", '"الواضح والحازم"'),
    ("الكويت، باكستان", "الكويت, باكستان"),
    ("أولا؛ ثانيا", "أولا; ثانيا"),
    ("لماذا؟", "لماذا?"),
    ("2020–2024", "2020-2024"),
    ("الكويت — باكستان", "الكويت - باكستان"),
    ("وغيرها…", "وغيرها..."),
    ("٣٫٥", "٣.٥"),
])
def test_normalize_punctuation(variant, ascii_):
    assert nz.normalize_punctuation(variant) == ascii_


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_remove_invisible_each_char(char):
    assert nz.remove_invisible(f"الكو{char}يت") == "الكويت"


def test_invisible_chars_do_not_split_words_after_normalize():
    assert nz.normalize("\u202bالكو\u200cيت\u202c\u200f") == "الكويت"


def test_fold_presentation_forms_lam_alef_ligature():
    assert nz.fold_presentation_forms("\ufefb") == "\u0644\u0627"   # ﻻ -> لا
    assert nz.normalize("\ufef7") == "لا"                             # ﻷ -> لأ -> لا


def test_fold_presentation_forms_contextual_letters():
    # isolated/final/initial/medial forms of kaf, waw, yeh, teh marbuta
    assert nz.fold_presentation_forms("\ufedb\ufeed\ufef3\ufe97") == "كويت"
    assert nz.normalize("\ufe94") == "ه"  # final teh marbuta, then the teh marbuta rule


@pytest.mark.parametrize("spaced, single", [
    ("الكويت\u00a0تدين", "الكويت تدين"),            # NBSP
    ("  الكويت \t\tتدين  ", "الكويت تدين"),
    ("سطر\r\nسطر\nسطر\u2028سطر", "سطر سطر سطر سطر"),
    ("\u202fتدين\u3000", "تدين"),
])
def test_normalize_whitespace(spaced, single):
    assert nz.normalize_whitespace(spaced) == single


def test_lowercase_latin():
    assert nz.lowercase_latin("ISIS Print Friendly") == "isis print friendly"
    assert nz.lowercase_latin("الكويت") == "الكويت"


# --- the composed normaliser on real seed sentences ---------------------------------------------

def test_normalize_seed_condemnation():
    out = nz.normalize(CONDEMNATION)
    assert out.startswith("اعربت دوله الكويت عن ادانتها واستنكارها")
    assert "افرادا" in out and "," in out and "،" not in out


def test_normalize_seed_tatweel():
    out = nz.normalize(TATWEEL)
    assert out.startswith("اشاد عميد السلك الديبلوماسي سفير طاجيكستان د.زبيد الله")


def test_normalize_seed_support_quotes():
    assert '"الواضح والحازم"' in nz.normalize(SUPPORT)


def test_normalize_seed_solidarity_and_furniture():
    assert nz.normalize(SOLIDARITY).startswith("عبرت وزاره الخارجيه الكويتيه عن اصدق التعازي")
    assert nz.normalize(FURNITURE) == "اضف تعليق"
    assert nz.normalize("أضف تعليقك") == "اضف تعليقك"


def test_normalize_all_seed_fixtures(arabic_sentences):
    for text in arabic_sentences.values():
        out = nz.normalize(text)
        assert out and not _FORBIDDEN.search(out)
        assert nz.normalize(out) == out


# --- properties ---------------------------------------------------------------------------------

ARABIC_HEAVY = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),
        st.characters(min_codepoint=0x0750, max_codepoint=0x077F),
        st.characters(min_codepoint=0x0870, max_codepoint=0x08FF),
        st.characters(min_codepoint=0xFB50, max_codepoint=0xFDFF),
        st.characters(min_codepoint=0xFE70, max_codepoint=0xFEFF),
        st.sampled_from([*INVISIBLE, " ", "\u00a0", "\n", "\r", "\t", "\u2028", ".", "«", "»", "…",
                         "“", "”", "–", "A", "z", "İ", "ß", "5"]),
    ),
    max_size=60,
)
PROPERTY = settings(max_examples=examples(300), deadline=None)


def _check(text: str) -> None:
    out = nz.normalize(text)
    assert nz.normalize(out) == out
    assert not _FORBIDDEN.search(out), [f"U+{ord(c):04X}" for c in _FORBIDDEN.findall(out)]
    assert out == out.strip() and "  " not in out
    assert not re.search(r"\s", out.replace(" ", ""))
    kept = nz.normalize_keep_teh_marbuta(text)
    assert nz.normalize_keep_teh_marbuta(kept) == kept


@PROPERTY
@given(st.text())
def test_normalize_idempotent_on_any_unicode(text):
    _check(text)


@PROPERTY
@given(ARABIC_HEAVY)
def test_normalize_idempotent_on_arabic_heavy_text(text):
    _check(text)


@PROPERTY
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_each_rule_is_idempotent(text):
    rules = [nz.remove_invisible, nz.fold_presentation_forms, nz.strip_diacritics, nz.strip_tatweel,
             nz.normalize_alef, nz.normalize_alef_maksura, nz.normalize_teh_marbuta,
             nz.normalize_digits, nz.normalize_punctuation, nz.lowercase_latin,
             nz.normalize_whitespace]
    for rule in rules:
        once = rule(text)
        assert rule(once) == once, rule.__name__


# --- the fast composed normaliser equals the rule functions applied in order ----------------------

def _by_rules(text: str, teh_marbuta: bool = True) -> str:
    """The rule functions called one by one, in ``normalize``'s documented order."""
    for rule in [nz.remove_invisible, nz.fold_presentation_forms, nz.strip_diacritics, nz.strip_tatweel,
                 nz.normalize_alef, nz.normalize_alef_maksura,
                 *([nz.normalize_teh_marbuta] if teh_marbuta else []),
                 nz.normalize_digits, nz.normalize_punctuation, nz.lowercase_latin, nz.remove_invisible,
                 nz.normalize_whitespace]:
        text = rule(text)
    return text


def _same_as_rules(text: str) -> None:
    assert nz.normalize(text) == _by_rules(text) == nz.normalize_by_rules(text)
    assert nz.normalize_keep_teh_marbuta(text) == _by_rules(text, teh_marbuta=False)


def test_fast_normalize_equals_rules_on_seed_articles(repo_dir, arabic_sentences):
    paths = sorted((repo_dir / "data" / "raw").glob("*.txt"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        _same_as_rules(text)
        for line in text.splitlines():
            _same_as_rules(line)
    for text in arabic_sentences.values():
        _same_as_rules(text)


@pytest.mark.parametrize("text", [
    "", " ", "\u200b", "\u200b \u200c", " \t\n", "a", "\u00a0ا\u00a0", "ﻻ", "ﻷ مرحبا", "\ufe70",
    "وغيرها…", "STRASSE ß İstanbul", "ΣΑΣ", "😀 تدين 😀", "\ud800", "x\u0301", "ا\u200b\u0640\u064e",
])
def test_fast_normalize_equals_rules_on_edge_cases(text):
    _same_as_rules(text)


def test_fast_table_is_consistent_with_each_character():
    # every character of the Arabic blocks and Latin-1 on its own, as the table maps it
    for code in [*range(0x0000, 0x0250), *range(0x0600, 0x0900), *range(0x2000, 0x2070),
                 *range(0xFB50, 0xFF00)]:
        _same_as_rules(chr(code))


@PROPERTY
@given(st.text())
def test_fast_normalize_equals_rules_on_any_unicode(text):
    _same_as_rules(text)


@PROPERTY
@given(ARABIC_HEAVY)
def test_fast_normalize_equals_rules_on_arabic_heavy_text(text):
    _same_as_rules(text)
