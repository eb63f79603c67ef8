"""Arabic text normalisation: small pure functions, one rule each, composed by ``normalize``.

Normalised text is only fed to vectorisers; the raw sentence is always kept for display.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

from kwct_ml.text.charsets import ARABIC_MARKS

# Harakat, tanween, shadda, sukun (064B-0652), maddah/hamza marks (0653-065F), superscript
# alef (0670), honorific signs (0610-061A) and Quranic annotation marks (06D6-06ED and the
# Arabic Extended-A/B marks 0898-089F, 08CA-08FF except the format character 08E2).
_DIACRITICS = re.compile(f"[{ARABIC_MARKS}\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"
                         "\u0898-\u089f\u08ca-\u08e1\u08e3-\u08ff]")
_TATWEEL = "\u0640"
_ALEF = str.maketrans({"\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627"})
_ALEF_MAKSURA = str.maketrans({"\u0649": "\u064a"})
_TEH_MARBUTA = str.maketrans({"\u0629": "\u0647"})
_DIGITS = str.maketrans({**{chr(0x0660 + i): str(i) for i in range(10)},
                         **{chr(0x06F0 + i): str(i) for i in range(10)}})
_PUNCTUATION = str.maketrans({
    "\u060c": ",", "\u061b": ";", "\u061f": "?", "\u066a": "%", "\u066b": ".", "\u066c": ",",
    "\u06d4": ".", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...",
})
# Zero-width characters, bidi embeddings/overrides/isolates and marks, BOM, soft hyphen.
_INVISIBLE = re.compile("[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufefe]+")
_WHITESPACE = re.compile(r"\s+")


def remove_invisible(text: str) -> str:
    """Drop zero-width and bidi control characters (they split words invisibly)."""
    return _INVISIBLE.sub("", text)


def fold_presentation_forms(text: str) -> str:
    """Map Arabic presentation forms (e.g. the lam-alef ligature) to their base letters."""
    return _PRESENTATION_FORMS.sub(_nfkc_match, text)


def _nfkc_match(match: re.Match) -> str:
    return unicodedata.normalize("NFKC", match.group())


def strip_diacritics(text: str) -> str:
    """Remove tashkeel: news text is mostly unvocalised, so marks only split n-grams."""
    return _DIACRITICS.sub("", text)


def strip_tatweel(text: str) -> str:
    """Remove the tatweel (kashida) used to stretch words, as in 'أشـــاد'."""
    return text.replace(_TATWEEL, "")


def normalize_alef(text: str) -> str:
    """Unify hamzated and wasla alef forms (أ إ آ ٱ) to bare alef (ا)."""
    return text.translate(_ALEF)


def normalize_alef_maksura(text: str) -> str:
    """Write alef maksura (ى) as yeh (ي); writers use them interchangeably."""
    return text.translate(_ALEF_MAKSURA)


def normalize_teh_marbuta(text: str) -> str:
    """Write teh marbuta (ة) as heh (ه); writers use them interchangeably at word end."""
    return text.translate(_TEH_MARBUTA)


def normalize_digits(text: str) -> str:
    """Map Arabic-Indic and Extended Arabic-Indic digits to ASCII digits."""
    return text.translate(_DIGITS)


def normalize_punctuation(text: str) -> str:
    """Map Arabic punctuation and typographic quotes/dashes to their ASCII counterparts."""
    return text.translate(_PUNCTUATION)


def lowercase_latin(text: str) -> str:
    """Case-fold (only Latin and other cased scripts change; Arabic has no case)."""
    return text.casefold()


def normalize_whitespace(text: str) -> str:
    """Collapse every run of whitespace (including NBSP and line breaks) to one space; trim."""
    return _WHITESPACE.sub(" ", text).strip()


def normalize(text: str, *, teh_marbuta: bool = True) -> str:
    """Apply every rule in a fixed order; idempotent: normalize(normalize(x)) == normalize(x).

    Same output as ``normalize_by_rules``, in one table look-up per character (see ``_table``).
    """
    if not text:
        return ""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    mapped = _table(teh_marbuta)[codes]
    if mapped.min() == _COMPLEX:  # a presentation form or a character that becomes several
        return normalize_by_rules(text, teh_marbuta=teh_marbuta)
    mapped = mapped[mapped != _DELETE]
    space = mapped == _SPACE
    # drop a space that follows a space or starts the text, then a trailing one
    drop = space.copy()
    drop[1:] &= space[:-1]
    mapped = mapped[~drop]
    if len(mapped) and mapped[-1] == _SPACE:
        mapped = mapped[:-1]
    return mapped.astype(np.uint32).tobytes().decode("utf-32-le", "surrogatepass")


def normalize_by_rules(text: str, *, teh_marbuta: bool = True) -> str:
    """The reference composition of the rule functions, in order (``normalize`` is its fast twin)."""
    text = remove_invisible(text)
    text = fold_presentation_forms(text)
    text = _character_rules(text, teh_marbuta)
    return normalize_whitespace(text)


def _character_rules(text: str, teh_marbuta: bool) -> str:
    """The rules after presentation-form folding and before white space, in order."""
    text = strip_diacritics(text)
    text = strip_tatweel(text)
    text = normalize_alef(text)
    text = normalize_alef_maksura(text)
    if teh_marbuta:
        text = normalize_teh_marbuta(text)
    text = normalize_digits(text)
    text = normalize_punctuation(text)
    text = lowercase_latin(text)
    return remove_invisible(text)


_DELETE, _COMPLEX, _SPACE = -1, -2, ord(" ")


@functools.cache
def _table(teh_marbuta: bool) -> np.ndarray:
    """Code point -> code point of its normalised form (every white space -> space), ``_DELETE``
    if the rules remove it, ``_COMPLEX`` if it becomes several characters or is a presentation
    form (folded by runs: such text takes ``normalize_by_rules``).

    Built once: every rule but folding and white space maps characters one by one, so their
    composition is a per-character table; only the characters some rule touches are examined.
    """
    touched, spaces, forms = _special_characters()
    table = np.arange(0x110000, dtype=np.int32)
    for char in touched:
        out = _character_rules(char, teh_marbuta)
        table[ord(char)] = _DELETE if not out else ord(out) if len(out) == 1 else _COMPLEX
    for char in spaces:
        if table[ord(char)] == ord(char):
            table[ord(char)] = _SPACE
        else:  # no rule maps white space today; if one did, take the reference path
            table[ord(char)] = _COMPLEX
    for char in forms:
        table[ord(char)] = _COMPLEX
    table.flags.writeable = False
    return table


@functools.cache
def _special_characters() -> tuple[set[str], str, str]:
    """(characters a per-character rule may change, white space, presentation forms): members of
    the rules' character classes and tables, and the characters case folding changes."""
    everything = "".join(map(chr, range(0x110000)))
    touched = set(_DIACRITICS.findall(everything)) | set(_INVISIBLE.findall(everything))
    touched |= {_TATWEEL} | {chr(c) for table in (_ALEF, _ALEF_MAKSURA, _TEH_MARBUTA, _DIGITS,
                                                  _PUNCTUATION) for c in table}
    step = 4096
    for start in range(0, len(everything), step):
        block = everything[start:start + step]
        # case folding never shortens a character, so an unchanged block has no changed character
        if block.casefold() != block:
            touched.update(c for c in block if c.casefold() != c)
    return (touched, "".join(_WHITESPACE.findall(everything)),
            "".join(_PRESENTATION_FORMS.findall(everything)))


def normalize_keep_teh_marbuta(text: str) -> str:
    """``normalize`` without the teh marbuta rule (a named function, so pipelines pickle)."""
    return normalize(text, teh_marbuta=False)
