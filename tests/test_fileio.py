"""Decoding the encodings Arabic users meet, clear errors for everything else, atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kwct_ml.errors import DataError
from kwct_ml.io.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from kwct_ml.io.encoding import decode_bytes, read_text

from .conftest import CONDEMNATION, SUPPORT, TATWEEL

ARTICLE = f"{TATWEEL}\n{CONDEMNATION}\n{SUPPORT}\n"


def write(tmp_path: Path, data: bytes, name: str = "article.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_one_line_error(exc: pytest.ExceptionInfo, path: Path, line: int | None = None) -> str:
    message = str(exc.value)
    assert "\n" not in message and str(path) in message
    assert exc.value.path == path
    if line is not None:
        assert exc.value.line == line and f"{path}:{line}:" in message
    return message


# --- encodings -----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, prefix", [
    ("utf-8", b""),
    ("utf-8", b"\xef\xbb\xbf"),          # UTF-8 with BOM (Notepad)
    ("utf-16-le", b"\xff\xfe"),
    ("utf-16-be", b"\xfe\xff"),
    ("cp1256", b""),                     # Windows Arabic
])
def test_read_text_detects_encoding(tmp_path, encoding, prefix):
    path = write(tmp_path, prefix + ARTICLE.encode(encoding))
    assert read_text(path) == ARTICLE


def test_read_text_cp1256_real_sentence(tmp_path):
    text = "الكويت تدين الهجوم الإرهابي في باكستان وتعرب عن تعازيها، وتؤكد رفضها للإرهاب.\r\n"
    assert read_text(write(tmp_path, text.encode("cp1256"))) == text


def test_bom_is_not_part_of_the_text(tmp_path):
    text = read_text(write(tmp_path, b"\xef\xbb\xbf" + "نص".encode()))
    assert not text.startswith("\ufeff")


@pytest.mark.parametrize("encoding", ["cp1256", "utf-16-le", "iso-8859-6", "utf-8"])
def test_forced_encoding(tmp_path, encoding):
    text = f"{TATWEEL}\n{CONDEMNATION}\n"  # no curly quotes: ISO-8859-6 has none
    path = write(tmp_path, text.encode(encoding))
    assert read_text(path, encoding=encoding) == text


def test_forced_encoding_drops_a_bom(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + ARTICLE.encode())
    assert read_text(path, encoding="utf-8") == ARTICLE


def test_wrong_forced_encoding_names_file_and_line(tmp_path):
    data = b"line one\nline two\n" + "الكويت".encode("cp1256") + b"\n"
    path = write(tmp_path, data)
    with pytest.raises(DataError) as exc:
        read_text(path, encoding="utf-8")
    assert "utf-8" in assert_one_line_error(exc, path, line=3)


def test_unknown_forced_encoding(tmp_path):
    path = write(tmp_path, ARTICLE.encode())
    with pytest.raises(DataError) as exc:
        read_text(path, encoding="no-such-codec")
    assert "no-such-codec" in assert_one_line_error(exc, path)


def test_forced_encoding_still_refuses_binary(tmp_path):
    path = write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(DataError) as exc:
        read_text(path, encoding="latin-1")
    assert "binary" in assert_one_line_error(exc, path)


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, line", [
    (b"\x00" * 64, 1),
    ("سطر أول\nسطر\x00 ثان".encode(), 2),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", 3),
    (bytes(range(256)) * 4, 1),
    ("نص\x07 فيه جرس".encode(), 1),
])
def test_binary_is_refused(tmp_path, data, line):
    path = write(tmp_path, data)
    with pytest.raises(DataError) as exc:
        read_text(path)
    assert "binary" in assert_one_line_error(exc, path, line=line) or "not UTF-8" in str(exc.value)


def test_utf16_with_nul_characters_is_refused(tmp_path):
    path = write(tmp_path, b"\xff\xfe" + "نص\x00نص".encode("utf-16-le"))
    with pytest.raises(DataError) as exc:
        read_text(path)
    assert "binary" in assert_one_line_error(exc, path)


@pytest.mark.parametrize("text", [
    "Café crème, naïve résumé à la française.\nGrüße aus München, Straße.\n",
    "Ça coûte élevé: é è ê ë à â î ï ô û ù ç\n",
])
def test_latin1_non_arabic_text_is_refused(tmp_path, text):
    path = write(tmp_path, text.encode("latin-1"))
    with pytest.raises(DataError) as exc:
        read_text(path)
    message = assert_one_line_error(exc, path, line=1)
    assert "not UTF-8" in message and "--encoding" in message


def test_broken_utf16_after_bom(tmp_path):
    path = write(tmp_path, b"\xff\xfe" + "نص".encode("utf-16-le") + b"\x00")  # odd byte count
    with pytest.raises(DataError) as exc:
        read_text(path)
    assert_one_line_error(exc, path)


@pytest.mark.parametrize("data", [b"", b"   \n\t\r\n  ", b"\xef\xbb\xbf", "\u00a0\u2028".encode()])
def test_empty_or_whitespace_only_is_refused(tmp_path, data):
    path = write(tmp_path, data)
    with pytest.raises(DataError) as exc:
        read_text(path)
    assert "empty" in assert_one_line_error(exc, path)


def test_empty_allowed_when_asked(tmp_path):
    assert read_text(write(tmp_path, b""), allow_empty=True) == ""


@pytest.mark.parametrize("make", [lambda d: d / "missing.txt", lambda d: d])  # missing; a directory
def test_unreadable_path(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(DataError) as exc:
        read_text(path)
    assert "cannot read" in assert_one_line_error(exc, path)


def test_decode_bytes_default_path_label():
    with pytest.raises(DataError, match="<input>"):
        decode_bytes(b"\x00")
    assert decode_bytes("نص".encode()) == "نص"


# --- atomic writes -------------------------------------------------------------------------------

def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_text_writes_exactly(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    atomic_write_text(path, ARTICLE + "سطر\r\n")  # newline="": no translation of \r\n or \n
    assert path.read_bytes() == (ARTICLE + "سطر\r\n").encode()
    atomic_write_text(path, "جديد")
    assert path.read_text(encoding="utf-8") == "جديد" and leftovers(path.parent) == []


def test_atomic_write_bytes_replaces(tmp_path):
    path = tmp_path / "m.bin"
    atomic_write_bytes(path, b"old")
    atomic_write_bytes(path, b"\x00new")
    assert path.read_bytes() == b"\x00new" and leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_writer_raising_midway_keeps_old_file(tmp_path, error):
    path = tmp_path / "sentences.csv"
    path.write_text("old content\n", encoding="utf-8")
    with pytest.raises(error):
        with atomic_open(path) as handle:
            handle.write("half of the new rows\n" * 1000)
            handle.flush()
            raise error("interrupted")
    assert path.read_text(encoding="utf-8") == "old content\n"
    assert leftovers(tmp_path) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["sentences.csv"]


def test_atomic_write_text_encoding_error_keeps_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "ascii first, then Arabic: الكويت", encoding="ascii")
    assert path.read_text(encoding="utf-8") == "old" and leftovers(tmp_path) == []


def test_failed_first_write_leaves_nothing(tmp_path):
    path = tmp_path / "new.txt"
    with pytest.raises(ValueError):
        with atomic_open(path) as handle:
            handle.write("partial")
            raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_round_trip_through_read_text(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(path, ARTICLE)
    assert read_text(path) == ARTICLE


def test_cp1256_table_with_mostly_latin_columns(tmp_path):
    """A spreadsheet re-saved as Windows-1256: Latin headers and labels, Arabic sentences."""
    rows = ["doc_id;sent_id;start;end;topic;stance;note;text"]
    rows += [f"mogadishu_{i};{i};0;30;terror_attack;condemnation;checked by annotator;الكويت تدين"
             for i in range(20)]
    text = "\r\n".join(rows) + "\r\n"
    assert read_text(write(tmp_path, text.encode("cp1256"))) == text


def test_spanish_latin1_is_refused(tmp_path):
    path = write(tmp_path, "Añoranza, señor niño de España, ¿qué tal?\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_text(path)


def test_atomic_write_new_file_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "new.csv", "a\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o644  # not mkstemp's 0600


def test_atomic_write_keeps_mode_of_replaced_file(tmp_path):
    target = tmp_path / "shared.csv"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o664)
    atomic_write_text(target, "new\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o664
    assert target.read_text(encoding="utf-8") == "new\n"
