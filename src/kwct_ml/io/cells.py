"""Spreadsheet formula injection: cells that Excel/LibreOffice would run as formulas, made inert.

A cell starting with ``= + - @`` (or tab, CR) is a formula to a spreadsheet (``=HYPERLINK(...)``,
``+cmd|...``). ``neutralise`` prefixes such a cell with ``'`` (shown as text); ``restore`` undoes it
exactly, so a sheet written and read back gives the original text (a real leading ``'`` before one of
these characters is doubled, so the two cannot be confused).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _risky(value: str) -> bool:
    return value.startswith(FORMULA_STARTS) or (value.startswith(QUOTE) and _risky(value[1:]))


def neutralise(value):
    """``value`` made inert for a spreadsheet (non-strings unchanged)."""
    return QUOTE + value if isinstance(value, str) and _risky(value) else value


def restore(value: str) -> str:
    """The text ``neutralise`` was given (a spreadsheet that dropped the ``'`` gives it too)."""
    return value[1:] if value.startswith(QUOTE) and _risky(value[1:]) else value
