"""Markdown rendering of a report outline (figures linked as PNG files beside it).

Markdown holds no HTML at all (no ``<`` survives escaping), so the glossary is a plain
list under its heading and the table cells are not linked to it (the HTML report's are).
"""

from __future__ import annotations

from typing import Any

from ..text import link_target, markdown_text, without_marks
from .document import with_command
from .outline import Block, outline

__all__ = ["markdown_report", "render_markdown"]


def _md_block(block: Block, images: str | None) -> list[str]:
    """The lines of one block; every text escaped by :func:`tabinv.text.markdown_text`."""
    if block.kind == "heading":
        return ["#" * block.level + " " + markdown_text(block.text)]
    if block.kind == "summary":
        return [f"## {markdown_text(block.text)}", "",
                *(f"- **{markdown_text(label)}:** {markdown_text(text)}"
                  for label, text in zip(block.header, block.items, strict=True))]
    if block.kind == "glossary":
        return [f"- {markdown_text(f'{term}: {meaning}.', start=True)}"
                for _, term, meaning, _ in block.rows]
    if block.kind == "note":
        return [f"*{markdown_text(block.text)}*"]
    if block.kind == "warning":
        return [f"> **Warning.** {markdown_text(block.text)}"]
    if block.kind == "list":
        return [f"- {markdown_text(item, start=True)}" for item in block.items]
    if block.kind == "table":
        return ["| " + " | ".join(markdown_text(c) for c in block.header) + " |",
                "|" + "---|" * len(block.header),
                *("| " + " | ".join(markdown_text(c) for c in row) + " |"
                  for row in block.rows)]
    if block.kind == "figure":
        if images is None or block.figure is None:
            return []
        target = link_target(f"{images}{block.figure.name}.png")
        return [f"![{markdown_text(without_marks(block.text))}]({target})", "",
                f"*{markdown_text(block.text)}*"]
    return [markdown_text(block.text, start=True)]


def render_markdown(document: Any, images: str | None = None) -> str:
    """A Markdown report. Figures are linked as ``{images}NAME.png`` when ``images`` is
    given (e.g. ``"figures/"``; write them with :func:`tabinv.report.plots.write_png`),
    and left out otherwise."""
    lines: list[str] = []
    for block in outline(document, figures=images is not None):
        rendered = _md_block(block, images)
        if rendered:
            lines += [*rendered, ""]
    return "\n".join(lines)


def markdown_report(assessments: Any, command: str = "") -> str:
    """Markdown report of live assessments or their document (kept for callers of the
    first version)."""
    return render_markdown(with_command(assessments, command))
