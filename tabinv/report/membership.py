"""Membership inference in the reports: the one home of its table, sentences and section.

An assessment scenario may hold ``membership_inference``: a list of
:meth:`tabinv.membership.MembershipResult.to_dict` entries, each with a ``rating`` (from
the interval of AUC - 0.5, :func:`tabinv.vocabulary.rating`) and a one-sentence
``verdict``. Without that key nothing here adds anything to a report.

The strongest membership attack is the one whose AUC interval has the highest lower end
(then the highest AUC): the attack the measurement is surest does better than a coin
toss, not the luckiest point estimate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..membership.verdict import ATTACK_NAMES, strongest_membership
from ..vocabulary import RATINGS, RESOLUTION, rating
from .blocks import Block, figure_blocks, heading, paragraph, table
from .document import fmt, rating_of, scenarios, strongest, triple
from .figure import Figure
from .threat import listing

__all__ = ["ATTACK_NAMES", "EXPLANATION", "KEY", "attack_name", "calibrated_sentence",
           "has_membership", "leak_paragraph", "membership_blocks", "membership_header",
           "membership_rating", "membership_results", "membership_table_rows",
           "percent", "resolution_note", "strongest_attack", "summary_text",
           "terminal_lines", "tpr_levels", "unresolvable"]

#: the key of a scenario that holds membership results
KEY = "membership_inference"


EXPLANATION = (
    "Membership inference asks a different question from the attacks above: not what a "
    "person's hidden value is, but whether their record was used to train the model at "
    "all, which is itself sensitive when the training data are, say, the patients of one "
    "clinic. Each attack gives every member and non-member a score and calls the "
    "highest-scoring records members. The loss threshold attack (Yeom et al., 2018) "
    "scores a record by the model's confidence in its true label: models are more "
    "confident on records they were trained on. LiRA (Carlini et al., 2022) compares that "
    "confidence with those of shadow models the attacker trains like the target, with the "
    "record (IN) and without it (OUT; the offline variant uses OUT shadows only). RMIA "
    "(Zarifzadeh et al., 2024) asks how much more likely the model finds the record than "
    "reference models do, compared with the same ratio on population records. Two "
    "attacks need only the label the model predicts, so they also attack a model that "
    "answers labels only (Choquette-Choo et al., 2021): the gap attack calls a record a "
    "member when the model labels it correctly, and the noise-robustness attack asks how "
    "many slightly perturbed copies of the record keep that label, read as the "
    "attacker's shadow models show. The "
    "membership AUC is the chance that a random member scores above a random non-member: "
    "0.5 is a coin toss, 1 is perfect. An average can hide the few people an attack "
    "exposes with confidence, so the table also gives the true positive rate (TPR) at a "
    "low false positive rate (FPR): the share of members found when only 0.1% or 1% of "
    "non-members are wrongly flagged (Carlini et al., 2022); 0.001 at 0.1% FPR is what "
    "guessing achieves. The advantage is the largest gap, over thresholds, between the "
    "share of members and the share of non-members flagged. The rating reads the AUC's "
    "95% interval: leaks when it lies wholly above 0.5, no measurable leakage when it "
    f"lies wholly below {0.5 + RESOLUTION:.2f}, inconclusive otherwise.")


def membership_results(scenario: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The scenario's membership entries (empty without the key)."""
    return [item for item in scenario.get(KEY) or [] if isinstance(item, Mapping)]


def has_membership(document: Mapping[str, Any]) -> bool:
    """True when any assessment of ``document`` holds membership results."""
    return any(membership_results(s) for s in scenarios(document))


def attack_name(item: Mapping[str, Any]) -> str:
    """``LiRA online`` for ``lira-online``; an unknown attack as it is."""
    name = str(item.get("attack", "?"))
    return ATTACK_NAMES.get(name, name)


def _metrics(item: Mapping[str, Any]) -> Mapping[str, Any]:
    metrics = item.get("metrics")
    return metrics if isinstance(metrics, Mapping) else {}


def membership_rating(item: Mapping[str, Any]) -> str:
    """The entry's rating, or the rating of its AUC - 0.5 interval when it has none."""
    if item.get("rating") in RATINGS:
        return str(item["rating"])
    auc = triple(_metrics(item).get("auc"))
    return rating(auc[1] - 0.5, auc[2] - 0.5) if auc else "inconclusive"


def percent(fpr: float) -> str:
    """``0.1%`` for 0.001."""
    return f"{100 * fpr:g}%"


def tpr_levels(results: Sequence[Mapping[str, Any]]) -> list[float]:
    """The FPRs the entries report a TPR at, in order of first appearance."""
    levels = [float(point["fpr"]) for item in results
              for point in _metrics(item).get("tpr_at_fpr") or [] if point.get("fpr")]
    return list(dict.fromkeys(levels))


def _smallest_fpr(item: Mapping[str, Any]) -> float:
    metrics = _metrics(item)
    value = metrics.get("smallest_fpr")
    if value is None and metrics.get("n_non_members"):
        value = 1.0 / float(metrics["n_non_members"])
    return math.nan if value is None else float(value)


def unresolvable(item: Mapping[str, Any], fpr: float) -> bool:
    """True when ``fpr`` is below the smallest FPR the non-members can resolve
    (1 / their number): a TPR there is the TPR with no false positive, not a
    measurement at ``fpr``."""
    return _smallest_fpr(item) > fpr * (1 + 1e-9)


def _tpr_cell(item: Mapping[str, Any], fpr: float) -> str:
    point = next((p for p in _metrics(item).get("tpr_at_fpr") or []
                  if p.get("fpr") is not None and math.isclose(float(p["fpr"]), fpr)), None)
    if point is None:
        return "-"
    return "not resolvable" if unresolvable(item, fpr) else fmt(point)


def _shadows(item: Mapping[str, Any]) -> str:
    count = item.get("n_shadows") or 0
    return f"{count} ({item['shadows']})" if count and item.get("shadows") else \
        str(count) if count else "none"


def membership_header(results: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    return ("attack", "shadow models", "membership AUC [95% CI]",
            *(f"TPR at {percent(f)} FPR [95% CI]" for f in tpr_levels(results)),
            "membership advantage [95% CI]", "rating")


def membership_table_rows(results: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """One row per attack: name, shadows, AUC, TPR at each FPR, advantage, rating."""
    levels = tpr_levels(results)
    return [(attack_name(item), _shadows(item), fmt(_metrics(item).get("auc")),
             *(_tpr_cell(item, f) for f in levels), fmt(_metrics(item).get("advantage")),
             membership_rating(item)) for item in results]


def resolution_note(results: Sequence[Mapping[str, Any]]) -> str:
    """Why a TPR cell says ``not resolvable`` (empty when none does)."""
    hidden = [f for f in tpr_levels(results) if any(unresolvable(i, f) for i in results)]
    if not hidden:
        return ""
    smallest = max(_smallest_fpr(i) for i in results)
    count = round(1 / smallest)
    levels = " and ".join(percent(f) for f in hidden)
    return (f"With {count} non-members the smallest false positive rate that can be "
            f"measured is 1/{count} = {100 * smallest:.2g}%: one wrongly flagged "
            f"non-member already exceeds {levels}. A TPR at {levels} FPR would be the share "
            "of members flagged with no false positive at all, not a measurement at that "
            f"rate, so it is shown as 'not resolvable'; measuring it needs at least "
            f"{math.ceil(1 / min(hidden) - 1e-9)} non-members.")


def calibrated_sentence(results: Sequence[Mapping[str, Any]]) -> str:
    """The loss attack at the threshold the attacker calibrated on its own sample."""
    item = next((i for i in results if isinstance(i.get("calibrated"), Mapping)), None)
    if item is None:
        return ""
    calibrated, params = item["calibrated"], item.get("params") or {}
    target = f" for a {percent(float(params['fpr']))} false positive rate" \
        if isinstance(params.get("fpr"), (int, float)) else ""
    return (f"Without knowing the best threshold, the {attack_name(item)} attack calibrated "
            f"its threshold on its own reference sample{target}: it then flags "
            f"{fmt(calibrated.get('tpr'))} of the members (TPR) and "
            f"{fmt(calibrated.get('fpr'))} of the non-members (FPR).")


def strongest_attack(results: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The entry whose AUC interval has the highest lower end (then the highest AUC;
    the first on a tie); None when no entry has an AUC."""
    def auc_of(item: Mapping[str, Any]) -> tuple[float, float] | None:
        auc = triple(_metrics(item).get("auc"))
        return None if auc is None else (auc[0], auc[1])

    return strongest_membership(results, auc_of)


def _low_tpr(item: Mapping[str, Any]) -> str:
    """``at a 1% false positive rate it finds 3.3% of the members`` at the lowest FPR
    the non-members resolve; empty when none is."""
    for point in sorted(_metrics(item).get("tpr_at_fpr") or [],
                        key=lambda p: float(p.get("fpr") or 1.0)):
        numbers = triple(point)
        if numbers is not None and point.get("fpr") and not unresolvable(
                item, float(point["fpr"])):
            return (f"; when it may wrongly flag only {percent(float(point['fpr']))} of "
                    f"non-members it finds {100 * numbers[0]:.1f}% of the members")
    return ""


_MEMBERSHIP_WORDS = {
    "leaks": "an attacker can tell, better than a coin toss, whether a person's record "
             "was used to train the model",
    "inconclusive": "these measurements cannot tell whether an attacker could tell "
                    "members from non-members (the AUC interval includes 0.5 but also "
                    f"{0.5 + RESOLUTION:.2f} or more)",
    "no measurable leakage": "no attack told members from non-members measurably better "
                             f"than a coin toss (the AUC interval lies below "
                             f"{0.5 + RESOLUTION:.2f})",
}


def summary_text(item: Mapping[str, Any]) -> str:
    """The strongest membership attack in one clause: rating, name, AUC."""
    return (f"{membership_rating(item)}: the strongest attack, {attack_name(item)}, "
            f"separates members from non-members with AUC {fmt(_metrics(item).get('auc'))}"
            f" (0.5 is a coin toss){_low_tpr(item)}")


def _attribute_part(document: Mapping[str, Any]) -> tuple[str, str]:
    """The worst rating over the inferred attributes, and a clause per rating."""
    worst: dict[str, str] = {}
    for scenario in scenarios(document):
        for item in strongest(scenario):
            name, found = str(item["sensitive"]), rating_of(item)
            found = found if found in RATINGS else "inconclusive"
            if name not in worst or RATINGS.index(found) < RATINGS.index(worst[name]):
                worst[name] = found
    if not worst:
        return "", "no attribute inference attack was scored against a baseline"
    groups = {r: [n for n, found in worst.items() if found == r] for r in RATINGS}
    words = {"leaks": "it reveals {} beyond what population statistics allow",
             "inconclusive": "for {} the measurements cannot tell",
             "no measurable leakage": "it reveals nothing measurable about {} beyond "
                                      "what population statistics allow"}
    parts = [words[r].format(listing(groups[r])) for r in RATINGS if groups[r]]
    return next(r for r in RATINGS if groups[r]), "; ".join(parts)


def leak_paragraph(document: Mapping[str, Any]) -> str:
    """"What the model leaks": the attribute verdict next to the strongest membership
    attack, in plain words; empty without membership results."""
    results = [i for s in scenarios(document) for i in membership_results(s)]
    top = strongest_attack(results)
    if top is None:
        return ""
    attribute, attributes = _attribute_part(document)
    member = membership_rating(top)
    if attribute == "leaks" and member == "leaks":
        end = "The model gives away both who was in its training data and some of their "\
              "sensitive values."
    elif member == "leaks":
        end = "The model gives away who was in its training data, even where it does not "\
              "measurably give away their sensitive values."
    elif attribute == "leaks":
        end = "The model gives away sensitive values of the people it was trained on, even "\
              "though its membership could not be measurably detected."
    elif member == attribute == "no measurable leakage":
        end = "Neither membership nor the sensitive values are measurably given away by "\
              "these attacks."
    else:
        end = "More records would be needed to settle what the model gives away."
    return (f"What the model leaks, in plain words. About the sensitive values of the "
            f"people it was trained on: {attributes}. About whether a person was in its "
            f"training data: {_MEMBERSHIP_WORDS[member]} ({summary_text(top)}). {end}")


def membership_blocks(scenario: Mapping[str, Any], found: Sequence[Figure]) -> list[Block]:
    """The "Membership inference" section of one scenario: what the attacks are, the
    table, notes, the ROC figure (``found``); empty without membership results."""
    results = membership_results(scenario)
    if not results:
        return []
    top = strongest_attack(results)
    chosen = (f"The strongest attack, the one whose AUC interval has the highest lower "
              f"end, is {attack_name(top)}: {membership_rating(top)}. Picking the best of "
              f"{len(results)} attacks measured on the same records slightly favours a "
              "lucky one.") if top is not None and len(results) > 1 else ""
    notes = [text for text in (resolution_note(results), calibrated_sentence(results))
             if text]
    header = membership_header(results)
    return [heading("Membership inference", 3), paragraph(EXPLANATION),
            *table(header, membership_table_rows(results), (0, len(header) - 1)),
            *([paragraph(chosen)] if chosen else []),
            *(Block("note", text) for text in notes), *figure_blocks(list(found))]


def terminal_lines(scenario: Mapping[str, Any]) -> list[str]:
    """The terminal's line for one scenario's membership results (none without)."""
    top = strongest_attack(membership_results(scenario))
    hidden = " + ".join(str(s) for s in scenario.get("threat", {}).get("sensitive", []))
    where = f" [{hidden} hidden]" if hidden else ""
    return [] if top is None else [f"[membership{where}] {summary_text(top)}."]
