"""Decoding text in the encodings Arabic users meet: BOM, else UTF-8, else Windows-1256.

One rule, decided on the evidence of the WHOLE input, for whole files (``decode``/``read_text``)
and for streamed tables (``judge_file``/``open_text``): valid UTF-8 but for a few bad bytes or a
character cut at the end is UTF-8 (bad bytes become U+FFFD); Windows-1256 only when the input as
a whole reads as Arabic in it. What was decided, when the user should know, is a one-line
``Decision.note``. Binary data, UTF-16 without a BOM and HTML pages are refused with a
``DataError`` naming the file and line.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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
#: UTF-8 with bad bytes is still UTF-8 while its valid non-ASCII characters outnumber the bad
#: sequences this many times (Windows-1256 Arabic read as UTF-8 has about one bad sequence per
#: letter and only chance valid pairs, such as a letter before an Arabic comma).
UTF8_MAJORITY = 2
#: Bytes read at a time when judging a file; a line longer than ``4 * BLOCK_BYTES`` is cut.
BLOCK_BYTES = 1 << 20
#: Bytes whose high bytes show UTF-16 text without a BOM.
SNIFF_BYTES = 1 << 16
_REPLACEMENT = b"\xef\xbf\xbd"


@dataclass(frozen=True)
class Decision:
    """How an input's bytes are decoded, and what the user should be told about it (or None)."""

    codec: str
    errors: str = "strict"  # "replace": bad UTF-8 bytes become U+FFFD
    note: str | None = None


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _byte_class(byte: int) -> bytes:
    char = bytes([byte]).decode("cp1256")
    if _ARABIC_LETTER.match(char):
        return b"a"
    if char.isascii() and char.isalpha():
        return b"l"
    return b"f" if _WORD.match(char) else b" "


#: Each byte's letter class read as cp1256: Arabic, ASCII (Latin), other (foreign) letter, or none.
_CP1256_CLASSES = b"".join(_byte_class(b) for b in range(256))
_PURE_ARABIC = re.compile(rb"(?<![alf])a+(?![alf])")
_PURE_LATIN = re.compile(rb"(?<![alf])l+(?![alf])")


def _cp1256_counts(data: bytes) -> tuple[int, int]:
    """(Arabic, foreign) letters of ``data`` read as cp1256: Arabic words come out whole; Latin-1/1252
    text decodes to words mixing Latin and Arabic letters ('Grüكe') or to Latin accented letters.
    ASCII-only words (CSV headers, labels, Latin names) do not count either way. (Byte classes, so a
    large table is judged quickly.)"""
    classes = data.translate(_CP1256_CLASSES)
    arabic = len(b"".join(_PURE_ARABIC.findall(classes)))
    latin = len(b"".join(_PURE_LATIN.findall(classes)))
    letters = len(classes) - classes.count(b" ")
    return arabic, letters - arabic - latin


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when ``data`` (holding NUL bytes) reads as UTF-16 text without a BOM:
    nearly every high byte is 0x00 (ASCII) or 0x06 (Arabic) and the text has no control characters."""
    sample = data[: min(len(data), SNIFF_BYTES) // 2 * 2]
    for codec, high in (("utf-16-le", sample[1::2]), ("utf-16-be", sample[0::2])):
        if not high or high.count(0) + high.count(6) < 0.9 * len(high):
            continue
        text = sample.decode(codec, errors="replace")
        if _WORD.search(text) and not _CONTROL.search(text):
            return codec
    return None


def _refuse_binary(block: bytes, text: str, path, first_line: int) -> None:
    """Raise for NUL bytes (or UTF-16 without a BOM) and control characters in one block."""
    nul = block.find(b"\x00")
    if nul >= 0:
        codec = _utf16_without_bom(block) if first_line == 1 else None
        if codec:
            raise DataError("looks like UTF-16 text without a byte-order mark", path,
                            fix=f"pass --encoding {codec}, or re-save it as UTF-8")
        raise DataError(f"looks binary (NUL byte at offset {nul})" if first_line == 1 else
                        "looks binary (NUL byte)", path, first_line - 1 + _line_of(block, nul),
                        fix="pass a text file")
    control = _CONTROL.search(text)
    if control:
        raise DataError(f"looks binary (control character U+{ord(control.group()):04X})", path,
                        first_line + text.count("\n", 0, control.start()), fix="pass a text file")


@dataclass
class _Utf8Evidence:
    valid: int = 0  # non-ASCII characters in valid UTF-8
    bad: int = 0  # invalid UTF-8 sequences
    cut: bool = False  # the input ends inside a character
    first_bad: tuple[int, int] | None = None  # (byte offset, line) of the first bad sequence
    controls: int = 0  # control characters after the first block (kept: the head shows text)
    first_control: tuple[str, int] | None = None  # (character, line) of the first of them


def _utf8_evidence(blocks: Iterable[bytes], path) -> _Utf8Evidence:
    """Count valid and bad UTF-8 over every block (blocks end at line ends, except the last)."""
    found = _Utf8Evidence()
    offset, line = 0, 1
    for block in blocks:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            text = decoder.decode(block)  # a character cut at the end stays pending
            found.cut = found.cut or bool(decoder.getstate()[0])
            bad = max(0, text.count("\ufffd") - block.count(_REPLACEMENT))  # not the U+FFFD it held
            if bad > 0:
                found.bad += bad
                if found.first_bad is None:
                    found.first_bad = (offset + exc.start, line + text.count("\n", 0, text.find("\ufffd")))
            found.valid -= bad
        if line == 1:  # a binary file shows in its head; a stray control byte in row 9,346 does not
            _refuse_binary(block, text, path, line)  # make a 200 MB table binary
        else:
            controls = _CONTROL.findall(text)
            if controls and found.first_control is None:
                at = _CONTROL.search(text).start()
                found.first_control = (controls[0], line + text.count("\n", 0, at))
            found.controls += len(controls)
        found.valid += len(text) - len(text.encode("ascii", "ignore"))
        offset += len(block)
        line += block.count(b"\n")
    return found


def _cp1256_evidence(blocks: Iterable[bytes]) -> tuple[int, int, list[int]]:
    """(Arabic letters, foreign letters, lines that are UTF-8 Arabic) of the input read as cp1256;
    the UTF-8 lines (a mixed file) do not count as foreign."""
    arabic = foreign = 0
    utf8_lines: list[int] = []
    line = 1
    for block in blocks:
        a, f = _cp1256_counts(block)
        for number, raw in enumerate(block.split(b"\n"), line):
            if raw.isascii():
                continue
            try:
                if not _ARABIC_LETTER.search(raw.decode("utf-8")):
                    continue
            except UnicodeDecodeError:
                continue
            utf8_lines.append(number)
            la, lf = _cp1256_counts(raw)
            a, f = a - la, f - lf
        arabic, foreign = arabic + a, foreign + f
        line += block.count(b"\n")
    return arabic, foreign, utf8_lines


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:5])) + (" ..." if len(numbers) > 5 else "")
    return f"line{'s' if len(numbers) > 1 else ''} {shown}"


def _judge(blocks: Callable[[], Iterable[bytes]], path, bom: bool = False) -> Decision:
    """The decision for an input whose blocks ``blocks()`` yields (called once or twice);
    ``bom``: a UTF-8 BOM was seen, so UTF-8 it is."""
    utf8 = _utf8_evidence(blocks(), path)
    codec = "utf-8-sig" if bom else "utf-8"
    controls = []
    if utf8.controls:
        character, line = utf8.first_control
        controls.append(f"{utf8.controls} control character{'s' if utf8.controls > 1 else ''} kept "
                        f"in the text (first U+{ord(character):04X} on line {line})")
    if not utf8.bad and not utf8.cut:
        return Decision(codec, note="read as UTF-8; " + controls[0] if controls else None)
    if bom or utf8.valid > UTF8_MAJORITY * utf8.bad or not utf8.bad:
        parts = controls
        if utf8.bad:
            parts.append(f"{utf8.bad} invalid UTF-8 byte sequence{'s' if utf8.bad > 1 else ''} "
                         f"replaced by U+FFFD (first on line {utf8.first_bad[1]})")
        if utf8.cut:
            parts.append("its last character is cut (a truncated file) and replaced by U+FFFD")
        return Decision(codec, "replace", "read as UTF-8; " + "; ".join(parts))
    arabic, foreign, utf8_lines = _cp1256_evidence(blocks())
    if arabic > 0 and foreign <= 0.1 * arabic:
        mixed = (f"; {_lines(utf8_lines)} {'is' if len(utf8_lines) == 1 else 'are'} UTF-8 (mixed "
                 "encodings) and read as mojibake: re-save the file in one encoding") if utf8_lines else ""
        return Decision("cp1256", note=f"decoded as Windows-1256 (not UTF-8){mixed}")
    offset, line = utf8.first_bad
    raise DataError(f"not UTF-8 (byte {offset}) and not Arabic Windows-1256", path, line, fix=ENCODING_HINT)


def decode(data: bytes, path: str | Path = "<input>", encoding: str | None = None) -> tuple[str, Decision]:
    """(text, decision) of ``data``: forced ``encoding``, else BOM, else the evidence rule above.

    Binary data (NUL bytes, control characters) and text in none of these encodings raise a
    ``DataError`` naming the file and line.
    """
    if encoding:
        try:
            return _check_binary(data.decode(encoding).removeprefix("\ufeff"), path), Decision(encoding)
        except LookupError:
            raise DataError(f"unknown encoding {encoding!r}", path,
                            fix="use a Python codec name such as utf-8 or cp1256") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"not valid {encoding} at byte {exc.start}", path,
                            _line_of(data, exc.start), fix="check --encoding") from None
    for bom, codec in BOMS[1:]:
        if data.startswith(bom):
            try:
                return _check_binary(data.decode(codec), path), Decision(codec)
            except UnicodeDecodeError as exc:
                raise DataError(f"invalid {codec} after its byte-order mark", path,
                                fix=ENCODING_HINT) from exc
    decision = _judge(lambda: [data], path, bom=data.startswith(BOMS[0][0]))
    return _check_binary(data.decode(decision.codec, decision.errors), path), decision


def decode_bytes(data: bytes, path: str | Path = "<input>", encoding: str | None = None) -> str:
    """The text of ``data`` (see ``decode``)."""
    return decode(data, path, encoding)[0]


def _check_binary(text: str, path: str | Path) -> str:
    """Refuse decoded text holding NUL or other control characters (a binary file)."""
    control = _CONTROL.search(text)
    if control:
        raise DataError(f"looks binary (control character U+{ord(control.group()):04X})", path,
                        text.count("\n", 0, control.start()) + 1, fix="pass a text file")
    return text


def read_text(path: str | Path, encoding: str | None = None, allow_empty: bool = False,
              notes: list[str] | None = None, html_ok: bool = False, max_bytes: int | None = None) -> str:
    """Read a whole text file (see ``decode``); empty files and (unless ``html_ok``: a table of
    sentences) HTML pages are errors, and so are files that are not regular or (``max_bytes``) too
    long (``io/limits.py``). The decision's note, if any, is appended to ``notes``."""
    try:
        data = limits.read_file(path, max_bytes)
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path) from None
    text, decision = decode(data, path, encoding)
    if notes is not None and decision.note:
        notes.append(decision.note)
    if not allow_empty and not text.strip():
        raise DataError("is empty", path, fix="remove it or add text")
    return text if html_ok else check_not_html(text, path)


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


def _file_blocks(path: str | Path) -> Iterator[bytes]:
    """The bytes of ``path`` in blocks of whole lines (a very long line is cut before a UTF-8
    character), so a file of any size is judged in bounded memory."""
    with open(path, "rb") as handle:
        carry = b""
        while chunk := handle.read(BLOCK_BYTES):
            carry += chunk
            cut = carry.rfind(b"\n") + 1
            if not cut and len(carry) >= 4 * BLOCK_BYTES:
                cut = len(carry) - 1
                while cut > len(carry) - 4 and 0x80 <= carry[cut] < 0xC0:
                    cut -= 1
            if cut:
                yield carry[:cut]
                carry = carry[cut:]
        if carry:
            yield carry


_JUDGED: dict[tuple, Decision] = {}


def judge_file(path: str | Path, encoding: str | None = None) -> Decision:
    """The decision for streaming ``path``, from the evidence of the whole file (as ``decode``
    judges bytes in hand); remembered while the file is unchanged."""
    if encoding:
        decode(b"", path, encoding)  # validates the codec name
        return Decision(encoding)
    stat = Path(path).stat()
    key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _JUDGED:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        for bom, codec in BOMS[1:]:
            if head.startswith(bom):
                decode(head[: len(head) - len(head) % 2], path)  # raises for binary after the BOM
                _JUDGED[key] = Decision(codec)
                break
        else:
            _JUDGED[key] = _judge(lambda: _file_blocks(path), path, bom=head.startswith(BOMS[0][0]))
        while len(_JUDGED) > 256:
            del _JUDGED[next(iter(_JUDGED))]
    return _JUDGED[key]


def open_decided(path: str | Path, encoding: str | None = None):
    """(handle, decision): ``path`` opened for streaming text reads (``newline=''``, for csv) as
    ``judge_file`` decided."""
    try:
        decision = judge_file(path, encoding)
        return open(path, encoding=decision.codec, errors=decision.errors, newline=""), decision
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", path) from None


def open_text(path: str | Path, encoding: str | None = None):
    """``path`` opened for streaming text reads in its decided encoding (see ``open_decided``)."""
    return open_decided(path, encoding)[0]
