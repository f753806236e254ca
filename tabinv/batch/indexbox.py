"""The top of the batch index: the summary box, and the cells every part of the page
shares (ratings as badges, intervals that never wrap, utility, links).

Each model is shown by its deciding measurement (:func:`deciding`): of its rows
(attribute x population), the one with the most severe rating
(:data:`tabinv.vocabulary.RATINGS`), and among those the largest leakage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..report.glossary import anchor, cell_anchor
from ..text import html_text, link_target
from ..vocabulary import ACCESS_LEVELS, RATINGS, UTILITY_NAMES
from .entry import Entry

__all__ = ["attribute", "badge", "deciding", "entry_link", "interval", "linked", "number",
           "rating_of", "summary_box", "utility_cell"]

_NOT_MEASURED = "not measured"
_SEVERITY = {**{rating: rank for rank, rating in enumerate(RATINGS)}, "": len(RATINGS)}
esc = html_text


# -- what each model shows --------------------------------------------------------------

def _rank(row: Mapping[str, Any]) -> tuple[int, float]:
    leakage = row.get("leakage")
    value = float(leakage) if isinstance(leakage, (int, float)) else math.nan
    return (_SEVERITY.get(_verdict(row), len(RATINGS)),
            -value if not math.isnan(value) else math.inf)


def deciding(ok: pd.DataFrame) -> list[dict[str, Any]]:
    """Per assessed entry, its deciding row; entries in that order (worst first)."""
    rows = [dict(row) for _, row in ok.iterrows()]
    best: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=_rank):
        best.setdefault(str(row["entry"]), row)
    return list(best.values())


def _verdict(row: Mapping[str, Any]) -> str:
    """The row's rating word; empty when it has none (a missing value is not a word)."""
    verdict = row.get("verdict")
    return verdict if isinstance(verdict, str) else ""


def rating_of(row: Mapping[str, Any]) -> str:
    """The row's rating, or "not measured" (no baseline to measure the leakage over)."""
    return _verdict(row) or _NOT_MEASURED


def number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def interval(value: Any, low: Any, high: Any, digits: int = 3, sign: str = "+") -> str:
    """``+0.083 [+0.027, +0.143]`` that never wraps; a dash when undefined."""
    numbers = [number(v) for v in (value, low, high)]
    if math.isnan(numbers[0]):
        return "&ndash;"
    shown = [f"{v:{sign}.{digits}f}" for v in numbers]
    spread = "" if any(math.isnan(v) for v in numbers[1:]) else \
        f" <span class='range'>[{shown[1]}, {shown[2]}]</span>"
    return f"<span class='ci'>{shown[0]}{spread}</span>"


def badge(rating: str) -> str:
    target = cell_anchor(rating)
    style = f"badge b-{anchor(rating)[2:]}"
    if target is None:
        return f"<span class='{style}'>{esc(rating)}</span>"
    return f"<a class='{style}' href='#{target}'>{esc(rating)}</a>"


def linked(text: str) -> str:
    """An attack or baseline name linked to its glossary entry."""
    target = cell_anchor(text)
    return f"<a href='#{target}'>{esc(text)}</a>" if target else esc(text)


def utility_cell(row: Mapping[str, Any]) -> tuple[str, bool]:
    """The model's utility on non-members, and whether it is an R^2 below -1 (shown as
    ``< -1`` with a footnote)."""
    metric = str(row.get("utility_metric") or "")
    value = number(row.get("utility"))
    if not metric or math.isnan(value):
        return "&ndash;", False
    name = esc(UTILITY_NAMES.get(metric, metric))
    if metric == "r2" and value < -1:
        return f"{name} <span class='ci'>&lt; -1</span><sup>*</sup>", True
    return f"{name} {interval(value, row.get('utility_low'), row.get('utility_high'), 2, '')}", \
        False


def attribute(row: Mapping[str, Any]) -> str:
    name, hidden = str(row.get("sensitive") or ""), str(row.get("hidden") or "")
    if hidden and hidden != name and " + " in hidden:
        if name == hidden.replace(" + ", "+"):
            return f"{esc(name)} (jointly)"
        return f"{esc(name)} <small>(with {esc(hidden)} hidden)</small>"
    return esc(name)


def entry_link(name: str) -> str:
    return f"entries/{esc(link_target(name, safe=''))}/report.html"


# -- the summary box ----------------------------------------------------------------------

def _counts(models: Sequence[Mapping[str, Any]], failed: int, ok: pd.DataFrame) -> str:
    items = []
    for rating in (*RATINGS, _NOT_MEASURED):
        chosen = [m for m in models if rating_of(m) == rating]
        if not chosen:
            continue
        rows = int((ok["verdict"].fillna("").replace("", _NOT_MEASURED) == rating).sum())
        noun = "model" if len(chosen) == 1 else "models"
        items.append(f"<li>{badge(rating)} {len(chosen)} {noun} "
                     f"<small>({rows} of {len(ok)} measurements)</small></li>")
    if failed:
        items.append(f"<li>{badge('failed')} {failed} "
                     f"{'entry' if failed == 1 else 'entries'} could not be assessed</li>")
    leaking = sum(rating_of(m) == "leaks" for m in models)
    assessed = f"{len(models)} assessed {'model' if len(models) == 1 else 'models'}"
    head = (f"{leaking} of {assessed} {'leaks' if leaking == 1 else 'leak'} a sensitive "
            "attribute beyond what population statistics reveal.")
    return f"<p>{head}</p><ul>{''.join(items)}</ul>"


def _population(row: Mapping[str, Any]) -> str:
    population = str(row.get("population") or "")
    return {"members": "its training members", "non-members": "non-members"}.get(
        population, esc(population))


def _worst(row: Mapping[str, Any], description: str) -> str:
    """The worst model in one sentence: attack, attribute, population, size in words."""
    name = str(row["entry"])
    noted = f" <small>({esc(description)})</small>" if description else ""
    over = str(row.get("over") or "")
    shown = interval(row.get("leakage"), row.get("leakage_low"), row.get("leakage_high"))
    measured = f"leakage {shown} over {linked(over)}" if over else \
        "no baseline to measure it against"
    n = number(row.get("n"))
    records = "" if math.isnan(n) else f", {int(n)} records"
    size = esc(str(row.get("size") or "was not scored"))
    utility, _ = utility_cell(row)
    return (f"<p><span class='label'>Worst:</span> {badge(rating_of(row))} "
            f"<a href='{entry_link(name)}'>{esc(name)}</a>{noted}: the attack "
            f"{linked(str(row.get('attack') or ''))} {size} on {_population(row)} "
            f"<small>({measured}{records})</small>. The model's own utility on "
            f"non-members: {utility}.</p>")


def _threat(row: Mapping[str, Any], entry: Entry | None) -> str:
    """The threat model of the worst entry in one sentence."""
    access = str(row.get("access") or (entry.access if entry else ""))
    sees = ACCESS_LEVELS.get(access, access)
    if access == "rounded" and entry is not None and entry.decimals is not None:
        sees += f" ({entry.decimals} decimals)"
    known = "every other column of a person's record" if entry is None or entry.known is None \
        else "the columns " + ", ".join(entry.known)
    holds = "model-predicted" if entry is not None and entry.label_source != "true" \
        else "true"
    hidden = str(row.get("hidden") or row.get("sensitive") or "")
    return (f"<p><span class='label'>Threat:</span> the attacker wants {esc(hidden)} of a "
            f"person, knows {esc(known)} and the {holds} label {esc(str(row.get('label')))}, "
            "holds a sample of the same population (not the training records) and gets "
            f"from the model {esc(sees)}.</p>")


def _downloads(names: Sequence[str]) -> str:
    links = " &middot; ".join(f"<a href='{esc(link_target(n, safe=''))}'>{esc(n)}</a>"
                              for n in names)
    return (f"<p><span class='label'>Data:</span> every measurement in {links}; each model's "
            "name links to its full report.</p>") if links else ""


def summary_box(models: Sequence[Mapping[str, Any]], failed: int, ok: pd.DataFrame,
                descriptions: Mapping[str, str], entries: Mapping[str, Entry],
                links: Sequence[str]) -> list[str]:
    """The box on top: models per rating, the worst model in words, its threat model in
    one sentence, and the summary files."""
    box = ["<div class='summary' role='region' aria-label='Summary'><h2>Summary</h2>",
           _counts(models, failed, ok)]
    if models:
        worst = models[0]
        box += [_worst(worst, descriptions.get(str(worst["entry"])) or ""),
                _threat(worst, entries.get(str(worst["entry"])))]
    return [*box, _downloads(links), "</div>"]

