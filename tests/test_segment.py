"""Sentence segmentation: the rules in DEVELOPERS.md, the seed articles, and offset properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kwct_ml.text.segment import Sentence, segment, segment_lines

from .conftest import REPO, TATWEEL, examples

LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # exactly str.splitlines' boundaries


def texts(raw: str) -> list[str]:
    return [s.text for s in segment(raw)]


def check_invariants(raw: str, sentences: list[Sentence]) -> None:
    assert [s.sent_id for s in sentences] == list(range(len(sentences)))
    previous_end = 0
    for s in sentences:
        assert raw[s.start:s.end] == s.text
        assert s.text.strip(), "empty or whitespace-only sentence"
        assert any(c.isalnum() for c in s.text), "a sentence needs a letter or digit"
        assert s.text == s.text.rstrip()
        assert not any(c in LINE_BREAKS for c in s.text)
        assert previous_end <= s.start < s.end
        previous_end = s.end



def test_segment_lines_breaks_lines_where_segment_does():
    raw = LINE_BREAKS.join(f"  سطر رقم {i}  " for i in range(len(LINE_BREAKS) + 1)) + "\n \n---\n"
    lines = segment_lines(raw)
    assert [s.text for s in lines] == [f"سطر رقم {i}" for i in range(len(LINE_BREAKS) + 1)]
    assert lines == segment(raw)[:len(lines)]
    check_invariants(raw, lines)

# --- lines ---------------------------------------------------------------------------------------

def test_headline_lines_are_sentences_of_their_own():
    raw = ("الكويت تُدين بشدة الهجوم الإرهابي في باكستان وتُعرب عن تعازيها\n"
           "أعربت دولة الكويت عن إدانتها للهجوم. وأكدت رفضها للإرهاب.\n"
           "تفاصيل الهجوم وتداعياته\n")
    assert texts(raw) == ["الكويت تُدين بشدة الهجوم الإرهابي في باكستان وتُعرب عن تعازيها",
                          "أعربت دولة الكويت عن إدانتها للهجوم.", "وأكدت رفضها للإرهاب.",
                          "تفاصيل الهجوم وتداعياته"]


def test_line_without_punctuation_is_one_sentence():
    raw = "سفير طاجيكستان تعاون وثيق مع الكويت لمكافحة الإرهاب"
    assert segment(raw) == [Sentence(0, 0, len(raw), raw)]


def test_blank_lines_and_edges_are_skipped():
    raw = "\n\n   الكويت تدين   \n\n\t\n"
    [s] = segment(raw)
    assert s.text == "الكويت تدين" and raw[s.start:s.end] == s.text


@pytest.mark.parametrize("eol", ["\r\n", "\r", "\n", "\u2028", "\u2029", "\x85", "\x0c", "\x1c"])
def test_line_endings_split_lines(eol):
    raw = f"عنوان الخبر{eol}نص الخبر هنا.{eol}"
    assert texts(raw) == ["عنوان الخبر", "نص الخبر هنا."]
    check_invariants(raw, segment(raw))


def test_windows_line_endings_keep_carriage_return_out_of_text():
    raw = "الكويت محليات\r\nالجارالله: الكويت تدعم التحالف.\r\n\r\nاضف تعليق\r\n"
    sentences = segment(raw)
    assert [s.text for s in sentences] == ["الكويت محليات", "الجارالله: الكويت تدعم التحالف.",
                                           "اضف تعليق"]
    assert all("\r" not in s.text for s in sentences)


def test_page_furniture_lines_are_kept():
    raw = "Print Friendly\nأحمد سالم\nاضف تعليق\nاضف تعليق\nلاتوجد تعليقات\n"
    assert texts(raw) == ["Print Friendly", "أحمد سالم", "اضف تعليق", "اضف تعليق", "لاتوجد تعليقات"]


def test_span_without_letter_or_digit_is_dropped():
    assert texts("***\n— — —\n...\n• •\n___\nنص") == ["نص"]


# --- bullets -------------------------------------------------------------------------------------

def test_bullet_at_line_start_is_not_part_of_the_text():
    raw = "  • شارك\n• اقرأ أيضا"
    sentences = segment(raw)
    assert [s.text for s in sentences] == ["شارك", "اقرأ أيضا"]
    assert raw[sentences[0].start] == "ش"


@pytest.mark.parametrize("bullet", ["•", "●", "▪", "◦", "‣"])
def test_bullet_mid_line_starts_a_new_sentence(bullet):
    raw = f"الكويت تدين الهجوم {bullet} الكويت تعزي باكستان"
    assert texts(raw) == ["الكويت تدين الهجوم", "الكويت تعزي باكستان"]


def test_leading_dashes_are_not_part_of_the_text_but_inner_dashes_are():
    raw = "- الإرهاب يتنافى مع القيم - الكويت تستضيف مؤتمر"
    assert texts(raw) == ["الإرهاب يتنافى مع القيم - الكويت تستضيف مؤتمر"]


# --- terminators ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mark", [".", "!", "?", "؟", "؛", "…"])
def test_terminators_split(mark):
    raw = f"هل تدين الكويت الهجوم{mark} نعم تدينه"
    assert texts(raw) == [f"هل تدين الكويت الهجوم{mark}", "نعم تدينه"]


def test_arabic_comma_does_not_split():
    raw = "أعربت الكويت عن إدانتها، وأكدت رفضها، ودعت إلى التعاون."
    assert texts(raw) == [raw]


def test_terminator_needs_following_space():
    assert texts("د.زبيد الله زبيدف.الكويت") == ["د.زبيد الله زبيدف.الكويت"]


@pytest.mark.parametrize("raw", [
    "ارتفع المؤشر 3.5 في المئة. ثم تراجع",
    "ارتفع المؤشر ٣.٥ في المئة. ثم تراجع",
])
def test_decimal_numbers_do_not_split(raw):
    assert len(texts(raw)) == 2 and texts(raw)[0].endswith("في المئة.")


@pytest.mark.parametrize("raw", [
    "أشاد د. محمد الصباح بالمؤتمر.",
    "أشاد سفير طاجيكستان د.زبيد الله زبيدف بالمؤتمر.",
    "قال م. أحمد إن الاجتماع مثمر.",
    "قال Dr. Smith إن الاجتماع مثمر.",
    "said Prof. Jones and Mr. Brown.",
    "الصفحة ص. 12 من التقرير.",
    "وقع الحادث عام 1445 هـ. في رمضان",
    "قال أ. د. فلان إن الاجتماع مثمر.",
    "قال دُ. محمد إن الاجتماع مثمر.",   # a vocalised abbreviation
])
def test_abbreviations_do_not_split(raw):
    assert texts(raw) == [raw]


def test_seed_abbreviation_sentence_is_whole():
    assert texts(TATWEEL + ".") == [TATWEEL + "."]


def test_long_word_ending_in_a_letter_still_splits():
    assert texts("أكدت الوزارة موقف الكويت. وأضافت") == ["أكدت الوزارة موقف الكويت.", "وأضافت"]


def test_single_digit_before_dot_splits():
    assert texts("وصل عدد الضحايا إلى 5. وقال المسؤول") == ["وصل عدد الضحايا إلى 5.", "وقال المسؤول"]


@pytest.mark.parametrize("dots", ["..", "..."])
def test_dotted_ellipsis_inside_a_line_joins_clauses(dots):
    raw = f"الكويت تدين الهجوم{dots} وتعزي باكستان"
    assert texts(raw) == [raw]


def test_ellipsis_at_line_end_is_kept_on_the_sentence():
    assert texts("الكويت تدين الهجوم...\nسطر ثان") == ["الكويت تدين الهجوم...", "سطر ثان"]


@pytest.mark.parametrize("opening, closing", [("«", "»"), ("“", "”"), ('"', '"'), ("(", ")"),
                                              ("”", "“")])
def test_closing_quote_stays_with_its_sentence(opening, closing):
    raw = f"وتابع: {opening}قدمت الكويت 100 مليون دولار.{closing} وأكد تقدير الكويت."
    assert texts(raw) == [f"وتابع: {opening}قدمت الكويت 100 مليون دولار.{closing}", "وأكد تقدير الكويت."]


def test_quoted_speech_with_inner_sentences_from_seed():
    raw = ("وأردف: «حالياً نجن نواجه التحدي الصعب. ولذلك فإنه من الضروري أن نضمن ذلك».\n"
           "وبين أنه استدلالاً على الجهود")
    assert texts(raw) == ["وأردف: «حالياً نجن نواجه التحدي الصعب.",
                          "ولذلك فإنه من الضروري أن نضمن ذلك».", "وبين أنه استدلالاً على الجهود"]


def test_quote_after_terminator_and_line_end():
    assert texts('قال الجارالله "كانت مثمرة."\nسطر') == ['قال الجارالله "كانت مثمرة."', "سطر"]


# --- the seed articles ---------------------------------------------------------------------------

SEED_COUNTS = {
    "000_0ab1c133074eaba5": 36,
    "001_98ab70ee994ce0e9": 8,
    "002_c6e343133ec51b8e": 30,
    "003_f87deceac6bf3a27": 32,
    "004_9c1e41bddcf48cae": 14,
}


@pytest.mark.parametrize("doc_id, count", SEED_COUNTS.items())
def test_seed_article_sentence_counts(doc_id, count):
    raw = (REPO / "data" / "raw" / f"{doc_id}.txt").read_text(encoding="utf-8")
    sentences = segment(raw)
    assert len(sentences) == count, "segmenter output changed: re-check data/labels/sentences.csv"
    check_invariants(raw, sentences)


def test_seed_corpus_total_and_file_set():
    files = sorted(p.stem for p in (REPO / "data" / "raw").glob("*.txt"))
    assert files == sorted(SEED_COUNTS) and sum(SEED_COUNTS.values()) == 120


def test_seed_furniture_and_headlines():
    raw = (REPO / "data" / "raw" / "002_c6e343133ec51b8e.txt").read_text(encoding="utf-8")
    got = texts(raw)
    assert got[0] == 'الجارالله: الكويت تدعم التحالف ضد "داعش" - الوطن العربي'
    assert got[-6:-2] == ["Print Friendly", "أحمد سالم", "اضف تعليق", "اضف تعليق"]


# --- properties ----------------------------------------------------------------------------------

SPECIAL = st.sampled_from([*LINE_BREAKS, " ", "\t", "\u00a0", "\x00", "\u200f", "\u202b", "\u2066",
                           "\ufeff", "\u061c", ".", "..", "...", "!", "?", "؟", "؛", "…", "،", "•",
                           "●", "-", "—", "«", "»", "“", "”", '"', ")", "د.", "Dr.", "3.5", "_"])
ARABIC = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
MIXED = st.lists(st.one_of(SPECIAL, st.text(ARABIC, min_size=1, max_size=6),
                           st.text(max_size=4)), max_size=40).map("".join)
PROPERTY = settings(max_examples=examples(300), deadline=None)


@PROPERTY
@given(st.text())
def test_property_any_unicode(raw):
    check_invariants(raw, segment(raw))


@PROPERTY
@given(MIXED)
def test_property_arabic_punctuation_and_controls(raw):
    check_invariants(raw, segment(raw))


@PROPERTY
@given(MIXED)
def test_property_every_line_with_content_gives_a_sentence(raw):
    sentences = segment(raw)
    for line in raw.splitlines():
        if any(c.isalnum() for c in line):
            assert any(s.text in line for s in sentences)


@settings(max_examples=examples(50), deadline=None)
@given(MIXED)
def test_property_crlf_gives_same_texts_as_lf(raw):
    lf = raw.replace("\r", "")
    assert texts(lf.replace("\n", "\r\n")) == texts(lf)


def test_twenty_megabyte_single_line_returns():
    raw = "الكويت تدين الهجوم الإرهابي " * 750_000  # ~21 M characters, no line break
    assert len(raw) > 20_000_000
    [s] = segment(raw)
    assert (s.start, s.end) == (0, len(raw) - 1)


def test_twenty_megabyte_line_of_sentences_returns():
    raw = ("كلمة " * 200 + "نهاية. ") * 19_500  # a dot every ~1000 characters
    sentences = segment(raw)
    assert len(raw) > 19_000_000 and len(sentences) == 19_500
    assert raw[sentences[-1].start:sentences[-1].end] == sentences[-1].text


def test_long_run_of_dots_returns():
    raw = "." * 1_000_000 + "x"
    assert texts(raw) == [raw]
