"""A report as one self-contained HTML file: inline CSS, inline PNGs, no script.

Nothing in the file refers to anything outside it: images are ``data:`` URIs, the style
sheet is inline and uses the reader's system fonts, the only links are to the report's
own glossary (``#g-...``) and there are no scripts. Every piece of text is escaped; URLs
that appear in text (a citation, say) are shown but their ``://`` is written as a
character reference, so the file holds no ``http(s)://`` at all.

On screens narrower than 40rem every table row becomes a card (each cell labelled with
its column); a print style sheet fits the tables to A4 and Letter (15 mm margins).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from ..text import html_text, spans, without_marks
from .figure import slug
from .glossary import cell_anchor, header_anchor
from .outline import Block, outline

__all__ = ["render_html", "STYLE"]

STYLE = """
:root { color-scheme: light; }
*, *::before, *::after { box-sizing: border-box; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color: #1d232a; background: #fff; margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: 0.5rem 0 0.5rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.2rem;
     border-bottom: 2px solid #d6dde4; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 0.4rem; color: #33414e; }
h4 { font-size: 0.98rem; margin: 1.2rem 0 0.3rem; color: #33414e; }
h1, h2, h3, h4, p, li, dd, dt, td, th, figcaption { overflow-wrap: anywhere; }
p, li, dd { max-width: 48rem; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       background: #f1f4f7; padding: 0 0.25em; border-radius: 3px; }
a { color: #1f5f99; }
.summary { border: 2px solid #1f5f99; border-radius: 6px; padding: 0.8rem 1.1rem;
           margin: 1rem 0 1.4rem; background: #f4f8fc; max-width: 56rem; }
.summary h2 { margin: 0 0 0.4rem; border: 0; font-size: 1.15rem; }
.summary dl { display: grid; grid-template-columns: minmax(7rem, max-content) 1fr;
              gap: 0.35rem 1rem; margin: 0; }
.summary dt { font-weight: 600; }
.summary dd { margin: 0; }
.rating-leaks { color: #b03a2e; }
.rating-inconclusive { color: #8a5a00; }
.rating-no-measurable-leakage { color: #1e7d45; }
.note { font-size: 0.9rem; color: #4a5663; }
.warning { background: #fdf0ef; border-left: 4px solid #c0392b; padding: 0.8rem 1rem;
           font-weight: 600; }
.table { margin: 0.6rem 0 1rem; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.88rem; max-width: 100%; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #e3e8ed; text-align: left;
         vertical-align: top; }
th { background: #f1f4f7; font-weight: 600; }
td { font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.ci { color: #6b7785; white-space: nowrap; }
.leaks { color: #b03a2e; font-weight: 600; }
.safe { color: #1e7d45; }
.unsure { color: #8a5a00; }
dl.glossary dt { font-weight: 600; margin-top: 0.5rem; }
dl.glossary dd { margin: 0 0 0 1.2rem; }
dl.glossary .kind { font-weight: 400; font-size: 0.8rem; color: #6b7785; }
dl.glossary dt:target, dl.glossary dt:target + dd { background: #fff7d6; }
figure { margin: 1rem 0 1.4rem; max-width: 100%; }
figure img { max-width: min(100%, 50rem); height: auto; border: 1px solid #e3e8ed; }
figcaption { font-size: 0.88rem; color: #4a5663; max-width: 48rem; }
@media (max-width: 40rem) {
  main { padding: 1rem 0.8rem 3rem; }
  h1 { font-size: 1.35rem; }
  .summary dl { grid-template-columns: 1fr; }
  .summary dd { margin-bottom: 0.4rem; }
  table, thead, tbody, tr, th, td { display: block; width: 100%; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden;
          clip: rect(0 0 0 0); }
  tr { border: 1px solid #d6dde4; border-radius: 4px; margin: 0 0 0.6rem;
       padding: 0.2rem 0.4rem; }
  td { border: 0; padding: 0.15rem 0; display: grid;
       grid-template-columns: 40% minmax(0, 1fr); gap: 0.6rem; }
  td::before { content: attr(data-label); font-weight: 600; color: #4a5663; }
  td:empty { display: none; }
  tbody tr:nth-child(even) td { background: none; }
}
@page { margin: 15mm; }
@media print {
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  .summary { break-inside: avoid; }
  table { font-size: 7.5pt; width: 100%; table-layout: auto; }
  th, td { padding: 0.15rem 0.25rem; }
  .ci { white-space: normal; }
  tr, figure { break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
  figure img { max-height: 230mm; }
  a { color: inherit; text-decoration: none; }
}
"""

_INTERVAL = re.compile(r"(\[[-+0-9.,e\s]+\])")
_READINGS = {"leaks": "leaks", "members easier": "leaks", "below": "safe",
             "no gain": "safe", "no difference": "safe", "non-members easier": "safe",
             "no measurable leakage": "safe", "inconclusive": "unsure"}


def _text(value: Any) -> str:
    """Escaped text (:func:`tabinv.text.html_text`); code spans as ``<code>``."""
    return "".join(f"<code>{html_text(piece)}</code>" if is_code else html_text(piece)
                   for piece, is_code in spans(str(value)))


def _linked(value: str) -> str:
    """A cell naming an attack, baseline or rating, linked to its glossary entry."""
    target = cell_anchor(value)
    text = _text(value)
    return f'<a href="#{target}">{text}</a>' if target else text


def _header(value: str) -> str:
    """A column header, linked to its glossary term when it names one."""
    target = header_anchor(value)
    return f'<a href="#{target}">{_text(value)}</a>' if target else _text(value)


def _cell(value: str, label: str, link: bool) -> str:
    text = _INTERVAL.sub(r'<span class="ci">\1</span>',
                         _linked(value) if link else _text(value))
    style = _READINGS.get(value, "")
    attributes = f' data-label="{html_text(label)}"' + (f' class="{style}"' if style else "")
    return f"<td{attributes}><span>{text}</span></td>"


def _table(block: Block) -> str:
    head = "".join(f'<th scope="col">{_header(h)}</th>' for h in block.header)
    labels = [str(h) for h in block.header]
    body = "\n".join("<tr>" + "".join(
        _cell(c, labels[i] if i < len(labels) else "", i in block.links)
        for i, c in enumerate(row)) + "</tr>" for row in block.rows)
    return (f'<div class="table"><table>\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table></div>")


def _figure(block: Block) -> str:
    if block.figure is None:
        return ""
    data = base64.b64encode(block.figure.png).decode("ascii")
    alt = html_text(without_marks(block.text))
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
            f"<figcaption>{_text(block.text)}</figcaption></figure>")


def _summary(block: Block) -> str:
    lines = []
    for label, text in zip(block.header, block.items, strict=True):
        style, shown = "", _text(text)
        if label == "Rating":  # the rating word first, in bold, then what it means
            word, _, meaning = text.partition(":")
            style = f' class="rating-{slug(word)}"'
            shown = f"<strong>{_text(word)}</strong>" + (f":{_text(meaning)}" if meaning else "")
        lines.append(f"<dt>{_text(label)}</dt><dd{style}>{shown}</dd>")
    return (f'<section class="summary" aria-label="{html_text(block.text)}">'
            f"<h2>{_text(block.text)}</h2><dl>{''.join(lines)}</dl></section>")


def _glossary(block: Block) -> str:
    items = "".join(f'<dt id="{html_text(anchor)}">{_text(term)}'
                    + ("" if kind == "term" else f' <span class="kind">{_text(kind)}</span>')
                    + f"</dt><dd>{_text(meaning)}.</dd>"
                    for anchor, term, meaning, kind in block.rows)
    return f'<dl class="glossary">{items}</dl>'


def _block(block: Block, after: str | None) -> str:
    if block.kind == "heading":
        anchor = f' id="{html_text(block.anchor)}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{_text(block.text)}</h{block.level}>"
    if block.kind == "summary":
        return _summary(block)
    if block.kind == "glossary":
        return _glossary(block)
    if block.kind == "note":
        return f'<p class="note">{_text(block.text)}</p>'

    if block.kind == "warning":
        return f'<p class="warning" role="alert">{_text(block.text)}</p>'
    if block.kind == "list":
        return "<ul>" + "".join(f"<li>{_text(item)}</li>" for item in block.items) + "</ul>"
    if block.kind == "table":
        return _table(block)
    if block.kind == "figure":
        return _figure(block)
    return f"<p>{_text(block.text)}</p>"


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
