"""Named character sets shared by the text rules (segmentation, normalisation, predict's lines).

Each is the body of a regular-expression character class (ranges allowed) or a plain string.
"""

#: Line breaks: exactly those of ``str.splitlines`` (LF, CR, VT, FF, FS, GS, RS, NEL, LS, PS).
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
#: Bullets that start a new sentence (and are trimmed from its start).
BULLETS = "\u2022\u25cf\u25aa\u25e6\u2023\u2043\u25a0\u25a1\u2219"
#: Arabic marks written on letters: honorific signs (0610-061A), harakat, tanween, shadda,
#: sukun and maddah/hamza marks (064B-065F), superscript alef (0670). A class body with ranges.
ARABIC_MARKS = "\u0610-\u061a\u064b-\u065f\u0670"
