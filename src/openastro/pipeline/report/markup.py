"""HTML pieces of the nightly report: the page shell, tables, notes and image cards (no template engine)."""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

MISSING = "—"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; }
header { border-bottom: 2px solid #334; margin-bottom: 1rem; }
h1 { margin-bottom: 0.3rem; }
h2 { border-bottom: 1px solid #ccd; padding-bottom: 0.2rem; margin-top: 2rem; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ccd; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #eef; }
td.text, th.text { text-align: left; }
p.caption { color: #555; font-size: 0.88rem; max-width: 60rem; }
p.note { background: #fff8e0; border-left: 4px solid #e0b000; padding: 0.4rem 0.7rem; }
ul.notes { color: #8a5a00; font-size: 0.88rem; }
div.gallery { display: flex; flex-wrap: wrap; gap: 0.8rem; }
figure.frame { margin: 0; width: 256px; }
figure.frame img { width: 256px; image-rendering: pixelated; border: 1px solid #889; }
figure.frame figcaption { font-size: 0.8rem; color: #444; }
div.pair { display: flex; flex-wrap: wrap; gap: 1rem; }
div.pair > div.plot { flex: 1 1 480px; min-width: 0; }
footer { margin-top: 2rem; color: #777; font-size: 0.8rem; }
"""


def esc(value: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape("" if value is None else str(value))


def fmt(value: Any, digits: int = 2) -> str:
    """A number rounded to `digits` decimals, or a dash when missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, numbers.Real):
        return f"{float(value):.{digits}f}" if math.isfinite(value) else MISSING
    return esc(value)


def sci(value: Any, digits: int = 1) -> str:
    """A number in scientific notation (e.g. a false-alarm probability), or a dash when missing."""
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return f"{float(value):.{digits}e}"
    return MISSING


def plot_box(content: str, **data: Any) -> str:
    """A chart fragment in a <div class="plot"> with data-* attributes (e.g. plot, star-id) to find it by."""
    attrs = "".join(f' data-{esc(k.replace("_", "-"))}="{esc(v)}"' for k, v in data.items())
    return f'<div class="plot"{attrs}>{content}</div>'


def pair(*parts: str) -> str:
    """Fragments side by side, wrapping on narrow screens."""
    return '<div class="pair">' + "".join(parts) + "</div>"


def note(text: str) -> str:
    """A highlighted one-paragraph note (e.g. 'no photometry yet')."""
    return f'<p class="note">{esc(text)}</p>'


def caption(text: str) -> str:
    """A caption paragraph under a table or chart."""
    return f'<p class="caption">{esc(text)}</p>'


def notes_list(items: Sequence[str]) -> str:
    """A small list of skipped-item notes; empty when there are none."""
    if not items:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def section(title: str, *parts: str, anchor: str = "") -> str:
    """An <h2> section holding already-rendered parts."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>\n" + "\n".join(p for p in parts if p) + "\n</section>"


def table(rows: Iterable[Sequence[str]], headers: Sequence[str], text_cols: int = 1,
          row_attrs: Sequence[str] | None = None) -> str:
    """A table of pre-formatted (already escaped) cells; the first `text_cols` columns are left-aligned."""
    def cell(tag: str, i: int, content: str) -> str:
        cls = ' class="text"' if i < text_cols else ""
        return f"<{tag}{cls}>{content}</{tag}>"

    head = "<tr>" + "".join(cell("th", i, esc(h)) for i, h in enumerate(headers)) + "</tr>"
    body = []
    for r, row in enumerate(rows):
        attrs = f" {row_attrs[r]}" if row_attrs else ""
        body.append(f"<tr{attrs}>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>")
    return f"<table>\n<thead>{head}</thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>"


def facts(items: Sequence[tuple[str, str]]) -> str:
    """A definition list of label/value pairs (values are escaped here)."""
    return '<dl class="facts">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def image_card(data_uri: str, text: str) -> str:
    """An embedded PNG with a caption."""
    return (f'<figure class="frame"><img src="{data_uri}" alt="{esc(text)}">'
            f"<figcaption>{esc(text)}</figcaption></figure>")


def gallery(cards: Sequence[str]) -> str:
    """A wrapping row of image cards."""
    return '<div class="gallery">' + "".join(cards) + "</div>" if cards else ""


def page(title: str, header: str, sections: Sequence[str], footer: str) -> str:
    """The whole self-contained HTML document."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header>{header}</header>\n" + "\n".join(sections) +
            f"\n<footer>{esc(footer)}</footer>\n</body>\n</html>\n")
