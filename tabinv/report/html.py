"""A report as one self-contained HTML file: inline CSS, inline PNGs, no script.

Nothing in the file refers to anything outside it: images are ``data:`` URIs, the style
sheet is inline and uses the reader's system fonts, there are no links or scripts. Every
piece of text is escaped; URLs that appear in text (a citation, say) are shown but their
``://`` is written as a character reference, so the file holds no ``http(s)://`` at all.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from ..text import html_text, spans
from .outline import Block, outline

__all__ = ["render_html", "STYLE"]

STYLE = """
:root { color-scheme: light; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: #1d232a; background: #fff; margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: 0.5rem 0 0.5rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.2rem;
     border-bottom: 2px solid #d6dde4; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 0.4rem; color: #33414e; }
p, li { max-width: 48rem; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: #f1f4f7; padding: 0 0.25em; border-radius: 3px; }
.verdict { background: #f4f8fc; border-left: 4px solid #1f5f99; padding: 0.8rem 1rem; }
.warning { background: #fdf0ef; border-left: 4px solid #c0392b; padding: 0.8rem 1rem;
           font-weight: 600; }
.scroll { overflow-x: auto; margin: 0.6rem 0 1rem; }
table { border-collapse: collapse; font-size: 0.88rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #e3e8ed; text-align: left;
         vertical-align: top; }
th { background: #f1f4f7; font-weight: 600; }
td { font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.ci { color: #6b7785; }
td { white-space: nowrap; }
td.wrap { white-space: normal; min-width: 18rem; }
.leaks { color: #b03a2e; font-weight: 600; }
.safe { color: #1e7d45; }
figure { margin: 1rem 0 1.4rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e8ed; }
figcaption { font-size: 0.88rem; color: #4a5663; max-width: 48rem; }
@media print { main { max-width: none; } .scroll { overflow: visible; } }
"""

_INTERVAL = re.compile(r"(\[[-+0-9.,e\s]+\])")
_READINGS = {"leaks": "leaks", "members easier": "leaks", "below": "safe",
             "no gain": "safe", "no difference": "safe", "non-members easier": "safe"}


def _text(value: Any) -> str:
    """Escaped text (:func:`tabinv.text.html_text`); code spans as ``<code>``."""
    return "".join(f"<code>{html_text(piece)}</code>" if is_code else html_text(piece)
                   for piece, is_code in spans(str(value)))


def _cell(value: str) -> str:
    text = _INTERVAL.sub(r'<span class="ci">\1</span>', _text(value))
    style = _READINGS.get(value) or ("wrap" if len(value) > 48 else "")
    return f'<td class="{style}">{text}</td>' if style else f"<td>{text}</td>"


def _table(block: Block) -> str:
    head = "".join(f'<th scope="col">{_text(h)}</th>' for h in block.header)
    body = "\n".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
    return (f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table></div>")


def _figure(block: Block) -> str:
    if block.figure is None:
        return ""
    data = base64.b64encode(block.figure.png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html_text(block.text)}">'
            f"<figcaption>{_text(block.text)}</figcaption></figure>")


def _block(block: Block, after: str | None) -> str:
    if block.kind == "heading":
        return f"<h{block.level}>{_text(block.text)}</h{block.level}>"
    if block.kind == "warning":
        return f'<p class="warning" role="alert">{_text(block.text)}</p>'
    if block.kind == "list":
        return "<ul>" + "".join(f"<li>{_text(item)}</li>" for item in block.items) + "</ul>"
    if block.kind == "table":
        return _table(block)
    if block.kind == "figure":
        return _figure(block)
    style = ' class="verdict"' if after == "Verdict" else ""
    return f"<p{style}>{_text(block.text)}</p>"


def render_html(document: Any) -> str:
    """One self-contained HTML page reporting ``document`` (assessment or sweep).

    Parameters
    ----------
    document : mapping, Assessment or sequence of Assessment
        The JSON document (what ``--json`` prints), or live results.

    Returns
    -------
    str
        The page; write it with UTF-8 encoding.
    """
    blocks = outline(document, figures=True)
    title = next((b.text for b in blocks if b.kind == "heading"), "tabinv report")
    body, previous = [], None
    for block in blocks:
        body.append(_block(block, previous))
        previous = block.text if block.kind == "heading" else None
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html_text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(part for part in body if part) + "\n</main>\n</body>\n</html>\n")
