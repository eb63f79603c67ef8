"""Decoding text in the encodings Arabic users meet: BOM, else UTF-8, else Windows-1256.

One rule for whole files (``read_text``/``decode_bytes``) and for streamed tables
(``sniff_encoding``/``open_text``, which judge the codec from a file's first bytes); binary data
and HTML pages are refused with a ``DataError`` naming the file and line.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from kwct_ml.errors import DataError
from kwct_ml.io import limits

#: Byte-order marks and the codec each announces (checked in this order).
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3]")
_WORD = re.compile(r"[^\W\d_]+")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
ENCODING_HINT = "re-save it as UTF-8 or pass --encoding"
# A web page: a document-level tag, or several tags of common HTML elements.
_HTML_PAGE = re.compile(r"<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?(?:a|b|i|p|br|em|strong|span|div|li|ul|ol|td|tr|th|table|h[1-6]|img|meta|link"
                       r"|script|style|article|section|header|footer|nav)\b[^<>]{0,500}>", re.IGNORECASE)
HTML_TAGS_NEEDED = 3
HTML_HINT = ("extract the article text first (copy it from the browser or use a text extractor) and "
             "save it as a UTF-8 .txt file")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _looks_arabic(text: str) -> bool:
    """Whether cp1256-decoded ``text`` reads as Arabic rather than another 8-bit encoding.

    Arabic words come out whole; Latin-1/1252 text decodes to words mixing Latin and Arabic
    letters ('Grüكe') or to Latin accented letters. ASCII-only words (CSV headers, labels,
    Latin names) do not count either way.
    """
    arabic = foreign = 0
    for word in _WORD.findall(text):
        n = len(_ARABIC_LETTER.findall(word))
        if n == len(word):
            arabic += n
        elif n or not word.isascii():  # 'Grüكe', 'café'
            foreign += len(word)
    return arabic > 0 and foreign <= 0.1 * arabic


def decode_bytes(data: bytes, path: str | Path = "<input>", encoding: str | None = None) -> str:
    """Decode ``data``: forced ``encoding``, else BOM, else UTF-8, else Windows-1256.

    Binary data (NUL bytes, control characters) and text in none of these encodings raise a
    ``DataError`` naming the file and line.
    """
    if encoding:
        try:
            return _check_binary(data.decode(encoding).removeprefix("\ufeff"), path)
        except LookupError:
            raise DataError(f"unknown encoding {encoding!r}", path,
                            fix="use a Python codec name such as utf-8 or cp1256") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not valid {encoding} at byte {exc.start}", path,
                            _line_of(data, exc.start), fix="check --encoding") from None
    for bom, codec in BOMS:
        if data.startswith(bom):
            try:
                return _check_binary(data.decode(codec), path)
            except UnicodeDecodeError as exc:
                raise DataError(f"invalid {codec} after its byte-order mark", path,
                                fix=ENCODING_HINT) from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataError(f"looks binary (NUL byte at offset {nul})", path, _line_of(data, nul),
                        fix="pass a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("cp1256", errors="replace")
        if "\ufffd" in text or not _looks_arabic(text):
            raise DataError(f"not UTF-8 (byte {exc.start}) and not Arabic Windows-1256", path,
                            _line_of(data, exc.start), fix=ENCODING_HINT) from None
    return _check_binary(text, path)


def _check_binary(text: str, path: str | Path) -> str:
    """Refuse decoded text holding NUL or other control characters (a binary file)."""
    control = _CONTROL.search(text)
    if control:
        raise DataError(f"looks binary (control character U+{ord(control.group()):04X})", path,
                        text.count("\n", 0, control.start()) + 1, fix="pass a text file")
    return text


def read_text(path: str | Path, encoding: str | None = None, allow_empty: bool = False,
              max_bytes: int | None = None) -> str:
    """Read a whole text file (see ``decode_bytes``); empty files and HTML pages are errors, and so
    are files that are not regular or (``max_bytes``) too long (``io/limits.py``)."""
    try:
        data = limits.read_file(path, max_bytes)
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path) from None
    text = decode_bytes(data, path, encoding)
    if not allow_empty and not text.strip():
        raise DataError("is empty", path, fix="remove it or add text")
    return check_not_html(text, path)


def html_evidence(text: str) -> re.Match | None:
    """The tag showing ``text`` is HTML markup rather than plain text, or None.

    HTML is a ``<!DOCTYPE html>``, ``<html>``, ``<head>`` or ``<body>`` tag anywhere, or at least
    ``HTML_TAGS_NEEDED`` tags of common elements (``<p>``, ``</div>``, ``<br>``...).
    """
    page = _HTML_PAGE.search(text)
    if page:
        return page
    tags = _HTML_TAG.finditer(text)
    first = next(tags, None)
    if first is None or sum(1 for _ in itertools.islice(tags, HTML_TAGS_NEEDED - 1)) < HTML_TAGS_NEEDED - 1:
        return None
    return first


def check_not_html(text: str, path: str | Path = "<input>", line_offset: int = 0) -> str:
    """Return ``text``; raise a ``DataError`` when it is an HTML page (tags are not stripped)."""
    evidence = html_evidence(text)
    if evidence is not None:
        line = text.count("\n", 0, evidence.start()) + 1 + line_offset
        raise DataError(f"looks like an HTML page ({evidence.group()[:40]!r}), not plain text", path, line,
                        fix=HTML_HINT)
    return text


#: Bytes read to judge a streamed file's encoding.
SNIFF_BYTES = 1 << 16


def sniff_encoding(head: bytes, path: str | Path = "<input>", encoding: str | None = None) -> str:
    """The codec to stream a file with, judged from its first bytes as ``decode_bytes`` would.

    Raises ``DataError`` when the head is binary or in no supported encoding; a bad byte later
    in the file surfaces as ``UnicodeDecodeError`` while reading.
    """
    if encoding:
        decode_bytes(b"", path, encoding)  # validates the codec name
        return encoding
    for bom, codec in BOMS:
        if head.startswith(bom):
            decode_bytes(head[: len(head) - len(head) % 2] if codec == "utf-16" else head, path)
            return codec
    if len(head) >= SNIFF_BYTES and b"\n" in head:  # do not judge a character cut in two
        head = head[: head.rfind(b"\n") + 1]
    decode_bytes(head, path)  # raises DataError for binary or undecodable text
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1256"
    return "utf-8"


def open_text(path: str | Path, encoding: str | None = None):
    """Open ``path`` for streaming text reads (``newline=''``, for csv) in its sniffed encoding."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        codec = sniff_encoding(head, path, encoding)
        return open(path, encoding=codec, newline="")
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path) from None
