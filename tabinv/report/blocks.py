"""The pieces a report is made of (:class:`Block`) and the helpers that make them; the
outlines in :mod:`tabinv.report.outline` assemble them, the writers render them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .figure import Figure

__all__ = ["Block", "figure_blocks", "heading", "paragraph", "table"]


@dataclass(frozen=True)
class Block:
    """One piece of a report: heading, paragraph, note, warning, list, table, figure,
    the summary box (``header``: labels, ``items``: their texts) or the glossary
    (``rows``: anchor, term, meaning, kind).

    A heading's ``anchor`` is its id; a table's ``links`` are the columns whose cells
    name an attack, baseline or rating (linked to the glossary entry).
    """

    kind: str
    text: str = ""
    level: int = 2
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    items: tuple[str, ...] = ()
    figure: Figure | None = None
    anchor: str = ""
    links: tuple[int, ...] = ()


def heading(text: str, level: int = 2, anchor: str = "") -> Block:
    return Block("heading", text, level, anchor=anchor)


def paragraph(text: str) -> Block:
    return Block("paragraph", text)


def table(header: Any, rows: Any, links: tuple[int, ...] = ()) -> list[Block]:
    return [Block("table", header=tuple(header), rows=tuple(tuple(r) for r in rows),
                  links=links)] if rows else []


def figure_blocks(found: list[Figure]) -> list[Block]:
    return [Block("figure", figure.caption, figure=figure) for figure in found]
