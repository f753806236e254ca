"""The report's glossary: every term, attack and baseline in one plain sentence, each
with an anchor (``g-`` and a slug of the term) the tables link to."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..vocabulary import ATTACK_MEANINGS, BASELINE_MEANINGS, GLOSSARY, RATING_MEANINGS
from .figure import slug

__all__ = ["Entry", "MEMBERSHIP_TERMS", "anchor", "cell_anchor", "entries", "header_anchor",
           "method_anchor"]

#: the words of membership inference, listed only in reports that hold its results
MEMBERSHIP_TERMS = {
    "membership inference": "deciding, from the model's answers, whether a given person's "
                            "record was among the records the model was trained on",
    "loss threshold": "a membership attack that calls a record a member when the model is "
                      "confident enough in its true label (its loss is low), since models "
                      "fit their training records best (Yeom et al., 2018)",
    "LiRA": "likelihood ratio attack: compares the model's confidence on a record with "
            "the confidences of shadow models trained with it (IN) and without it (OUT); "
            "the offline variant uses OUT shadows only (Carlini et al., 2022)",
    "RMIA": "robust membership inference attack: how much more likely the model finds "
            "the record than reference models do, compared with the same ratio on "
            "population records (Zarifzadeh et al., 2024)",
    "shadow model": "a model the attacker trains the way the target was trained, on data "
                    "it holds, to see how such a model treats records it did and did not "
                    "train on",
    "membership AUC": "the chance that a membership attack scores a random member above "
                      "a random non-member: 0.5 is a coin toss, 1 is perfect",
    "TPR at FPR": "true positive rate at a fixed false positive rate: the share of "
                  "members an attack finds when it may wrongly flag only that share of "
                  "non-members (say 0.1%); it shows the few people an attack exposes with "
                  "confidence, which an average such as the AUC hides (Carlini et al., 2022)",
    "membership advantage": "the largest gap, over thresholds, between the share of "
                            "members and the share of non-members a membership attack "
                            "flags (TPR - FPR): 0 is a coin toss, 1 is perfect (Yeom et al., "
                            "2018)",
}
#: membership table cells -> their glossary term
_MEMBERSHIP_CELLS = {"loss threshold": "loss threshold", "LiRA offline": "LiRA",
                     "LiRA online": "LiRA", "RMIA": "RMIA"}


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
    if text in _MEMBERSHIP_CELLS:
        return anchor(_MEMBERSHIP_CELLS[text])
    return method_anchor(text.split(" (", 1)[0])


def header_anchor(text: str) -> str | None:
    """The anchor a column header links to, when it names a glossary term
    (``members: AUC [95% CI]`` -> AUC, ``top-100 precision`` -> top-k precision)."""
    name = text.split(": ", 1)[-1].replace("[95% CI]", "").strip().lower()
    name = re.sub(r"^top-\d+ ", "top-k ", name)
    name = re.sub(r"^tpr at [0-9.]+% fpr$", "tpr at fpr", name)
    terms = {term.lower(): term for term in (*GLOSSARY, *MEMBERSHIP_TERMS)}
    terms.update({"epsilon": "epsilon (privacy budget)", "r2": "R^2"})
    return anchor(terms[name]) if name in terms else None


def entries(methods: Iterable[str], membership: bool = False) -> list[Entry]:
    """The entries of a report: its attacks and baselines (those it shows, in order),
    the ratings, every term of :data:`tabinv.vocabulary.GLOSSARY`, then (``membership``:
    the report shows membership inference) :data:`MEMBERSHIP_TERMS`."""
    found = []
    for name in dict.fromkeys(methods):
        meaning = ATTACK_MEANINGS.get(name) or BASELINE_MEANINGS.get(name)
        if meaning:
            kind = "baseline" if name in BASELINE_MEANINGS else "attack"
            found.append(Entry(anchor(name), name, meaning, kind))
    found += [Entry(anchor(name), name, meaning, "rating")
              for name, meaning in RATING_MEANINGS.items()]
    found += [Entry(anchor(term), term, meaning, "term") for term, meaning in GLOSSARY.items()]
    if membership:
        found += [Entry(anchor(term), term, meaning, "term")
                  for term, meaning in MEMBERSHIP_TERMS.items()]
    return found
