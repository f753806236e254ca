"""The plain-words verdict of an epsilon sweep: from which epsilon each attack's leakage
over the best model-free baseline is gone (its rating), and what utility is left there."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..evaluation.estimate import Estimate
from ..membership.verdict import attack_subject, strongest_membership
from ..vocabulary import method_label

__all__ = ["find_row", "fmt_epsilon", "sweep_verdict", "utility_words"]


def fmt_epsilon(epsilon: float) -> str:
    return f"{epsilon:g}"


def _figures(row: Mapping[str, Any]) -> str:
    e = _estimate(row["leakage"])
    bounds = "" if math.isnan(e.low) else f" [{e.low:+.3f}, {e.high:+.3f}]"
    return f"{e.value:+.3f}{bounds} over {row['over']}"


def _estimate(value: Mapping[str, float] | Estimate) -> Estimate:
    return value if isinstance(value, Estimate) else Estimate(**value)


def _stable_from(series: Sequence[tuple[float, Mapping[str, Any]]]) -> int:
    """Index of the smallest epsilon from which the attack leaks at every larger one
    (``len(series)``: it does not leak at the largest)."""
    index = len(series)
    while index > 0 and series[index - 1][1]["rating"] == "leaks":
        index -= 1
    return index


#: what the attack does at a point where it no longer leaks, by rating
_FALLS = {"no measurable leakage": "falls to the baseline",
          "inconclusive": "no longer measurably leaks"}


def _with_dp(series: Sequence[tuple[float, Mapping[str, Any]]]) -> tuple[str, float | None]:
    """What DP does to a leaking attack, and the largest epsilon where it stops leaking."""
    start = _stable_from(series)
    if start == 0:
        first, row = series[0]
        return (f"it still leaks at the smallest epsilon tried, {fmt_epsilon(first)} "
                f"({row['size']}, {_figures(row)})", None)
    epsilon, row = series[start - 1]
    blips = [fmt_epsilon(e) for e, r in series[:start - 1] if r["rating"] == "leaks"]
    noise = f" (apart from epsilon {', '.join(blips)}, where it leaks by chance)" \
        if blips else ""
    text = (f"at epsilon {fmt_epsilon(epsilon)} the attack {_FALLS[row['rating']]} "
            f"({_figures(row)}){noise}")
    if start < len(series):
        higher, leaking = series[start]
        text += f" and it leaks again from epsilon {fmt_epsilon(higher)} on " \
                f"({leaking['size']})"
    return text, epsilon


def find_row(rows: Sequence[Mapping[str, Any]], **match: str) -> Mapping[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def sweep_verdict(points: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                  threat: Mapping[str, Any]) -> str:
    """One paragraph: each attack's rating without DP, from which epsilon its leakage
    over the best baseline is gone, and what utility is left at that epsilon.

    Examples
    --------
    >>> def point(epsilon, value, low, high, rating, within):
    ...     return {"epsilon": epsilon,
    ...             "utility": {"within_20": Estimate(within, within - .02, within + .02)},
    ...             "attacks": [{"method": "map", "variant": "", "sensitive": "vkorc1",
    ...                          "population": "members", "accuracy": Estimate(.7, .6, .8),
    ...                          "leakage": Estimate(value, low, high), "over": "imputation",
    ...                          "rating": rating, "size": f"size {value}"}]}
    >>> text = sweep_verdict([point(None, .1, .08, .12, "leaks", .47),
    ...                       point(100, .0, -.02, .02, "no measurable leakage", .43),
    ...                       point(1000, .09, .07, .11, "leaks", .46)], ["within_20"], {})
    >>> "at epsilon 100 the attack falls to the baseline" in text
    True
    >>> "At epsilon 100, 43% of patients are dosed within 20%" in text
    True
    """
    plain, grid = points[0], points[1:]
    sentences: list[str] = []
    cutoff: float | None = None
    quiet: dict[str, list[Mapping[str, Any]]] = {}
    for row in plain["attacks"]:
        if row["population"] != "members" or "+" in row["sensitive"]:
            continue
        if row["rating"] != "leaks":
            quiet.setdefault(row["rating"], []).append(row)
            continue
        name = method_label(row["method"], row["variant"])
        match = {"method": row["method"], "variant": row["variant"],
                 "sensitive": row["sensitive"], "population": "members"}
        series = [(p["epsilon"], found) for p in grid
                  if (found := find_row(p["attacks"], **match)) is not None]
        head = f"Without DP, {name} {row['size']} ({_figures(row)})"
        if not series:
            sentences.append(f"{head}: it leaks.")
            continue
        text, stops = _with_dp(series)
        sentences.append(f"{head}: it leaks; with DP, {text}.")
        cutoff = stops if cutoff is None else cutoff
    others = bool(sentences)  # some attack leaks: the quiet ones are the others
    sentences += [_quiet_sentence(found, rows, others) for found, rows in quiet.items()]
    if plain.get("membership"):
        sentences.append(_membership_sentence(plain, grid, cutoff, bool(others)))
    if grid:
        sentences.append(_utility_sentence(plain, grid, metrics, cutoff))
    return " ".join(sentences)


#: what a membership attack does at a point where it no longer leaks, by rating
_MEMBERSHIP_FALLS = {"no measurable leakage": "falls to chance",
                     "inconclusive": "no longer measurably leaks"}


def _auc_text(row: Mapping[str, Any]) -> str:
    e = _estimate(row["auc"])
    bounds = "" if math.isnan(e.low) else f" [{e.low:.3f}, {e.high:.3f}]"
    return f"AUC {e.value:.3f}{bounds}"


def _membership_sentence(plain: Mapping[str, Any], grid: Sequence[Mapping[str, Any]],
                         attribute_cutoff: float | None, attribute_leaks: bool) -> str:
    """The strongest membership attack without DP (the highest AUC lower end, as in
    the assessment report), from which epsilon DP
    stops it, and which risk DP removes first (at the larger epsilon)."""
    row = strongest_membership(plain["membership"], lambda r: (_estimate(r["auc"]).value,
                                                               _estimate(r["auc"]).low))
    head = f"Membership: without DP, {attack_subject(row['attack'], False)} tells members from " \
           "non-members with " \
           f"{_auc_text(row)} ({row['rating']})"
    if row["rating"] != "leaks":
        return f"{head}; there is no membership leakage for DP to remove."
    series = [(p["epsilon"], found) for p in grid
              if (found := find_row(p.get("membership", []), attack=row["attack"]))
              is not None]
    if not series:
        return f"{head}."
    start = _stable_from(series)
    if start == 0:
        first, kept = series[0]
        return (f"{head}; it still leaks at the smallest epsilon tried, "
                f"{fmt_epsilon(first)} ({_auc_text(kept)}).")
    stops, kept = series[start - 1]
    text = f"{head}; at epsilon {fmt_epsilon(stops)} it " \
           f"{_MEMBERSHIP_FALLS[kept['rating']]} ({_auc_text(kept)})"
    if start < len(series):
        higher, leaking = series[start]
        text += f", and it leaks from epsilon {fmt_epsilon(higher)} on " \
                f"({_auc_text(leaking)})"
    if attribute_leaks and attribute_cutoff is not None:
        if stops > attribute_cutoff:
            text += (". DP removes membership leakage first: it is gone from epsilon "
                     f"{fmt_epsilon(stops)} down, attribute leakage only from "
                     f"{fmt_epsilon(attribute_cutoff)} down")
        elif stops < attribute_cutoff:
            text += (". DP removes attribute leakage first: it is gone from epsilon "
                     f"{fmt_epsilon(attribute_cutoff)} down, membership leakage only "
                     f"from {fmt_epsilon(stops)} down")
        else:
            text += (f". DP removes both at the same epsilon, "
                     f"{fmt_epsilon(stops)}")
    return text + "."


#: what a rating other than "leaks" without DP means for the defence
_NOTHING = {"no measurable leakage": "there is nothing for DP to remove",
            "inconclusive": "these records cannot tell whether there is anything for DP "
                            "to remove"}


def _quiet_sentence(found: str, rows: Sequence[Mapping[str, Any]], others: bool) -> str:
    """The attacks that do not leak without DP, in one sentence per rating."""
    if len(rows) == 1:
        row = rows[0]
        name = method_label(row["method"], row["variant"])
        return (f"Without DP, {name} {row['size']} ({_figures(row)}): {found}; "
                f"{_NOTHING.get(found, '')}.")
    listed = "; ".join(f"{method_label(r['method'], r['variant'])} on {r['sensitive']} "
                       f"{_figures(r)}" for r in rows)
    which = "these other attacks" if others else "these attacks"
    return f"Without DP, {found} for {which} ({listed}): {_NOTHING.get(found, '')}."


def utility_words(metric: str, value: Estimate) -> str:
    """A utility value in words: ``43% of patients are dosed within 20% of their stable
    dose [40%, 46%]``, ``R^2 is 0.412 [0.380, 0.440]``."""
    if metric == "within_20":
        bounds = "" if math.isnan(value.low) else \
            f" [{round(100 * value.low)}%, {round(100 * value.high)}%]"
        return (f"{round(100 * value.value)}% of patients are dosed within 20% of their "
                f"stable dose{bounds}")
    names = {"r2": "R^2", "accuracy": "the model's accuracy", "auc": "its AUC"}
    shown = "< -1" if metric == "r2" and value.value < -1 else f"{value.value:.3f}"
    bounds = "" if math.isnan(value.low) or shown == "< -1" else \
        f" [{value.low:.3f}, {value.high:.3f}]"
    return f"{names.get(metric, metric)} is {shown}{bounds}"


def _utility_sentence(plain: Mapping[str, Any], grid: Sequence[Mapping[str, Any]],
                      metrics: Sequence[str], cutoff: float | None) -> str:
    metric = "within_20" if "within_20" in metrics else metrics[0]
    reference = plain["utility"][metric]
    at = next((p for p in grid if p["epsilon"] == cutoff), grid[0])
    value = at["utility"][metric]
    where = (f"At epsilon {fmt_epsilon(at['epsilon'])}, " if cutoff is not None
             else f"The cost of DP: at the smallest epsilon tried ({fmt_epsilon(at['epsilon'])}), ")
    without = utility_words(metric, reference).split(" [")[0]
    recovered = next((p["epsilon"] for p in grid
                      if p["utility"][metric].value >= (reference.low if not
                                                        math.isnan(reference.low)
                                                        else reference.value)), None)
    back = (f"; utility reaches the non-private level from epsilon {fmt_epsilon(recovered)}"
            if recovered is not None else "; utility stays below the non-private level at "
            "every epsilon tried")
    return f"{where}{utility_words(metric, value)} (without DP: {without}){back}."


# -- the 2014 warfarin reproduction ----------------------------------------------------
#: Fredrikson et al. (2014)'s grid, then the points that show diffprivlib's transition
