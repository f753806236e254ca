"""The plain-words verdict of an epsilon sweep: where the attack's advantage vanishes and
what utility costs there."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..evaluation.estimate import Estimate
from ..vocabulary import method_label

__all__ = ["find_row", "fmt_epsilon", "sweep_verdict"]


def _beats(estimate: Mapping[str, float] | Estimate) -> bool:
    """The advantage is measurably above 0 (its lower bound; the mean with one seed)."""
    e = estimate if isinstance(estimate, Estimate) else Estimate(**estimate)
    return e.low > 0 if not math.isnan(e.low) else e.value > 0


def fmt_epsilon(epsilon: float) -> str:
    return f"{epsilon:g}"


def _stable_from(series: Sequence[tuple[float, Any]]) -> int:
    """Index of the smallest epsilon from which the advantage stays measurable (len: never)."""
    index = len(series)
    while index > 0 and _beats(series[index - 1][1]):
        index -= 1
    return index


def _vanishing(series: Sequence[tuple[float, Any]], plain: Any, over: str) -> str:
    if not _beats(plain):
        return (f"it is not measurably better than {over} even without DP "
                f"({plain.value:+.3f})")
    start = _stable_from(series)
    head = f"its advantage over {over} ({plain.value:+.3f} without DP)"
    if start == 0:
        return (f"{head} is still there at the smallest epsilon tried, "
                f"{fmt_epsilon(series[0][0])} ({series[0][1].value:+.3f})")
    blips = [fmt_epsilon(e) for e, estimate in series[:start] if _beats(estimate)]
    noise = f" (apart from epsilon {', '.join(blips)}, where it shows by chance)" \
        if blips else ""
    if start == len(series):
        return (f"{head} is not measurable at the largest epsilon tried, "
                f"{fmt_epsilon(series[-1][0])}{noise}")
    return (f"{head} is gone for epsilon <= {fmt_epsilon(series[start - 1][0])}{noise} and "
            f"measurable from epsilon {fmt_epsilon(series[start][0])} on "
            f"({series[start][1].value:+.3f})")


def find_row(rows: Sequence[Mapping[str, Any]], **match: str) -> Mapping[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def sweep_verdict(points: Sequence[Mapping[str, Any]], metrics: Sequence[str],
                  threat: Mapping[str, Any]) -> str:
    """One paragraph: where each attack's advantage vanishes and what utility costs there."""
    plain, grid = points[0], points[1:]
    sentences: list[str] = []
    cutoff: float | None = None
    for row in plain["attacks"]:
        if row["population"] != "members" or "+" in row["sensitive"]:
            continue
        name = method_label(row["method"], row["variant"])
        match = {"method": row["method"], "variant": row["variant"],
                 "sensitive": row["sensitive"], "population": "members"}
        found = [(p["epsilon"], find_row(p["attacks"], **match)) for p in grid]
        series = [(e, r) for e, r in found if r is not None]
        prior = [(e, r["advantage_over_prior_mode"]) for e, r in series]
        imputed = [(e, r["advantage"]) for e, r in series]
        head = (f"Without DP, {name} recovers {row['sensitive']} for "
                f"{row['accuracy'].value:.3f} of the training members")
        over_prior, over_imputation = row["advantage_over_prior_mode"], row["advantage"]
        if not (_beats(over_prior) or _beats(over_imputation)):
            sentences.append(f"{head}, no better than prior-mode ({over_prior.value:+.3f}) "
                             f"or imputation ({over_imputation.value:+.3f}): there is "
                             "nothing for DP to remove.")
        else:
            sentences.append(f"{head}; {_vanishing(prior, over_prior, 'prior-mode')}; "
                             f"{_vanishing(imputed, over_imputation, 'imputation')}.")
        start = _stable_from(prior)
        if cutoff is None and _beats(row["advantage_over_prior_mode"]) and start > 0:
            cutoff = prior[start - 1][0]
    sentences.append(_utility_sentence(plain, grid, metrics, cutoff))
    return " ".join(sentences)


def _utility_sentence(plain: Mapping[str, Any], grid: Sequence[Mapping[str, Any]],
                      metrics: Sequence[str], cutoff: float | None) -> str:
    metric = "within_20" if "within_20" in metrics else metrics[0]
    names = {"within_20": "the share of patients dosed within 20% of their stable dose",
             "r2": "R^2", "accuracy": "accuracy", "auc": "AUC"}
    reference = plain["utility"][metric]
    at = next((p for p in grid if p["epsilon"] == cutoff), grid[0])
    value = at["utility"][metric]
    where = (f"at epsilon {fmt_epsilon(at['epsilon'])}, the largest epsilon where the first attack "
             "does not beat prior-mode," if cutoff is not None
             else f"at the smallest epsilon tried, {fmt_epsilon(at['epsilon'])},")
    recovered = next((p["epsilon"] for p in grid
                      if p["utility"][metric].value >= (reference.low if not
                                                        math.isnan(reference.low)
                                                        else reference.value)), None)
    back = (f"; it reaches the non-private level from epsilon {fmt_epsilon(recovered)}"
            if recovered is not None else "; it stays below the non-private level at every "
            "epsilon tried")
    return (f"The cost: {where} {names[metric]} is {value.value:.3f} "
            f"[{value.low:.3f}, {value.high:.3f}] against {reference.value:.3f} without DP"
            f"{back}.")


# -- the 2014 warfarin reproduction ----------------------------------------------------
#: Fredrikson et al. (2014)'s grid, then the points that show diffprivlib's transition
