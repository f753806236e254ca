"""Markdown rendering of a report outline (figures linked as PNG files beside it)."""

from __future__ import annotations

import re
from typing import Any

from .document import (
    as_document,
)
from .outline import (
    Block,
    outline,
)

__all__ = ["markdown_report", "render_markdown"]


_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # what could open an HTML tag in Markdown


def _md_text(text: str) -> str:
    """Escape Markdown outside `code spans`."""
    parts = str(text).split("`")
    for i in range(0, len(parts), 2):
        for char in ("\\", "*", "|"):
            parts[i] = parts[i].replace(char, "\\" + char)
        parts[i] = _TAG.sub(r"\\<", parts[i])
    return "`".join(parts).replace("\n", " ")


def _md_block(block: Block, images: str | None) -> list[str]:
    if block.kind == "heading":
        return ["#" * block.level + " " + _md_text(block.text)]
    if block.kind == "warning":
        return [f"> **Warning.** {_md_text(block.text)}"]
    if block.kind == "list":
        return [f"- {_md_text(item)}" for item in block.items]
    if block.kind == "table":
        return ["| " + " | ".join(_md_text(c) for c in block.header) + " |",
                "|" + "---|" * len(block.header),
                *("| " + " | ".join(_md_text(c) for c in row) + " |" for row in block.rows)]
    if block.kind == "figure":
        if images is None or block.figure is None:
            return []
        return [f"![{_md_text(block.text)}]({images}{block.figure.name}.png)", "",
                f"*{_md_text(block.text)}*"]
    return [_md_text(block.text)]


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
    """Markdown report of live assessments (kept for callers of the first version)."""
    document = as_document(assessments)
    return render_markdown({**document, "command": command} if command else document)
