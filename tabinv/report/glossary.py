"""The report's glossary: every term, attack and baseline in one plain sentence, each
with an anchor (``g-`` and a slug of the term) the tables link to."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..vocabulary import ATTACK_MEANINGS, BASELINE_MEANINGS, GLOSSARY, RATING_MEANINGS
from .figure import slug

__all__ = ["Entry", "anchor", "cell_anchor", "entries", "header_anchor", "method_anchor"]


@dataclass(frozen=True)
class Entry:
    """One glossary entry: its anchor id, the term, what it means, and what kind of term
    it is (``attack``, ``baseline``, ``rating`` or ``term``)."""

    anchor: str
    term: str
    meaning: str
    kind: str


def anchor(term: object) -> str:
    """The anchor id of a glossary term: ``g-`` and its slug (``g-95-interval``)."""
    return "g-" + (slug(term) or "term")


def method_anchor(method: object) -> str | None:
    """The anchor of an attack or baseline's entry (without its variant), if it has one."""
    name = str(method)
    return anchor(name) if name in ATTACK_MEANINGS or name in BASELINE_MEANINGS else None


def cell_anchor(text: str) -> str | None:
    """The anchor a table cell links to: a rating's, or the attack or baseline named
    (``map (learned prior)`` links to ``map``); None for anything else."""
    if text in RATING_MEANINGS:
        return anchor(text)
    return method_anchor(text.split(" (", 1)[0])


def header_anchor(text: str) -> str | None:
    """The anchor a column header links to, when it names a glossary term
    (``members: AUC [95% CI]`` -> AUC, ``top-100 precision`` -> top-k precision)."""
    name = text.split(": ", 1)[-1].replace("[95% CI]", "").strip().lower()
    name = re.sub(r"^top-\d+ ", "top-k ", name)
    terms = {term.lower(): term for term in GLOSSARY}
    terms.update({"epsilon": "epsilon (privacy budget)", "r2": "R^2"})
    return anchor(terms[name]) if name in terms else None


def entries(methods: Iterable[str]) -> list[Entry]:
    """The entries of a report: its attacks and baselines (those it shows, in order),
    the ratings, then every term of :data:`tabinv.vocabulary.GLOSSARY`."""
    found = []
    for name in dict.fromkeys(methods):
        meaning = ATTACK_MEANINGS.get(name) or BASELINE_MEANINGS.get(name)
        if meaning:
            kind = "baseline" if name in BASELINE_MEANINGS else "attack"
            found.append(Entry(anchor(name), name, meaning, kind))
    found += [Entry(anchor(name), name, meaning, "rating")
              for name, meaning in RATING_MEANINGS.items()]
    found += [Entry(anchor(term), term, meaning, "term") for term, meaning in GLOSSARY.items()]
    return found
