"""A tiny document (headings, paragraphs, tables, images) rendered to Markdown and self-contained HTML.

Every report page (training, evaluation, run comparison) is built with it, so all pages share the
same look: inline PNGs, Arabic cells right to left, readable at 700 px wide.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np

from kwct_ml.io.atomic import atomic_write_bytes, atomic_write_text


class Error(str):
    """A table cell that shows an error (a wrong prediction): marked ✗ in Markdown, highlighted in HTML."""

    def __str__(self) -> str:
        return f"✗ {str.__str__(self)}"


class Document:
    """A tiny document (headings, paragraphs, tables, images) rendered to Markdown and HTML."""

    def __init__(self):
        self.blocks: list[tuple] = []

    def h(self, level: int, text: str):
        self.blocks.append(("h", level, text))

    def p(self, text: str):
        self.blocks.append(("p", text))

    def code(self, text: str):
        self.blocks.append(("code", text))

    def table(self, headers: list[str], rows: list[list], rtl: tuple[int, ...] = ()):
        self.blocks.append(("table", headers, rows, rtl))

    def img(self, name: str, data: bytes, alt: str):
        self.blocks.append(("img", name, data, alt))

    def markdown(self) -> str:
        out = []
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out.append("#" * block[1] + " " + block[2])
            elif kind == "p":
                out.append(block[1])
            elif kind == "code":
                out.append(f"```\n{block[1]}\n```")
            elif kind == "table":
                _, headers, rows, _ = block
                cells = [[_md_cell(c) for c in row] for row in rows]
                out.append("\n".join(["| " + " | ".join(headers) + " |",
                                      "|" + "|".join("---" for _ in headers) + "|",
                                      *("| " + " | ".join(row) + " |" for row in cells)]))
            elif kind == "img":
                out.append(f"![{block[3]}](plots/{block[1]})")
        return "\n\n".join(out) + "\n"

    def html(self, title: str) -> str:
        out = [f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>"]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out.append(f"<h{block[1]}>{_inline(block[2])}</h{block[1]}>")
            elif kind == "p":
                out.append(f"<p>{_inline(block[1])}</p>")
            elif kind == "code":
                out.append(f"<pre><code>{html.escape(block[1])}</code></pre>")
            elif kind == "table":
                _, headers, rows, rtl = block
                head = "".join(f"<th>{_breakable(html.escape(h))}</th>" for h in headers)
                body = []
                for row in rows:
                    cells = []
                    for i, cell in enumerate(row):
                        text = html.escape(_fmt(cell))
                        if i not in rtl:
                            text = _breakable(text)
                        if isinstance(cell, Error):
                            cells.append(f'<td class="err">{text}</td>')
                        elif i in rtl:
                            cells.append(f'<td dir="rtl" lang="ar" class="ar">{text}</td>')
                        else:
                            cells.append(f"<td>{text}</td>")
                    body.append("<tr>" + "".join(cells) + "</tr>")
                # a table wider than the page (a confusion matrix of 8 labels at 700 px) scrolls by itself
                out.append(f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>\n'
                           + "\n".join(body) + "\n</tbody></table></div>")
            elif kind == "img":
                data = base64.b64encode(block[2]).decode("ascii")
                out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block[3])}">'
                           f"<figcaption>{html.escape(block[3])}</figcaption></figure>")
        out.append("</body>\n</html>\n")
        return "\n".join(out)


_CSS = ("body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
        "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:.9em}td,th{border:1px solid #ccc;"
        "padding:3px 6px;vertical-align:top;overflow-wrap:break-word}th{background:#f0f0f0}"
        "td.ar{font-size:1.15em;text-align:right;max-width:640px;overflow-wrap:anywhere}td.err{background:#fbd5d0;font-weight:bold}"
        ".wide{overflow-x:auto}img{max-width:100%}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}"
        "code{background:#f6f6f6}")


def _fmt(value) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.3f}"
    return str(value)


_HEX_RUN = re.compile(r"([0-9a-f]{16})(?=[0-9a-f]{8})")


def _breakable(text: str) -> str:
    """Line-break points (``<wbr>``) after underscores and inside long hex digests, so that label and
    hash cells wrap at 700 px without breaking words such as ``terror_attack`` mid-letter."""
    return _HEX_RUN.sub(r"\1<wbr>", text.replace("_", "_<wbr>"))


def _md_cell(value) -> str:
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def _inline(text: str) -> str:
    """Escape, then render `code` spans (the only Markdown used in prose)."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def write_document(doc: Document, out_dir: str | Path, title: str) -> Path:
    """plots/*.png, report.md and report.html into ``out_dir`` (atomic writes); returns the HTML path."""
    out_dir = Path(out_dir)
    for block in doc.blocks:
        if block[0] == "img":
            atomic_write_bytes(out_dir / "plots" / block[1], block[2])
    atomic_write_text(out_dir / "report.md", doc.markdown())
    path = out_dir / "report.html"
    atomic_write_text(path, doc.html(title))
    return path
