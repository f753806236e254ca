"""Result documents as plain dicts: the one input every report writer renders from.

A *document* is what ``tabinv ... --json`` prints (and what ``--out x.json`` stores):

- an assessment document: ``{"kind": "assessment", "schema_version", "dataset",
  "model", "results", "leakage", "assessments": [{"threat", "settings", "results",
  "leakage", "membership", "verdicts"}, ...]}``;
- a sweep document: ``{"kind": "sweep", "schema_version", "dataset", "model", "threat",
  "epsilons", "seeds", "utility_metrics", "points": [...], "verdict", "settings"}``.

Their JSON Schemas ship in :mod:`tabinv.schemas` (``tabinv schema KIND``). A stored
document without ``schema_version`` (written before version 1) still renders.

Optional keys any document may hold: ``command`` (the command that produced it),
``notes`` (paragraphs to print, e.g. how a reproduction differs from the paper) and
``records`` (a per-record table, only with ``--include-records``: personal data).

Writers take the document :func:`as_document` makes, once, from live assessments or a
stored JSON file alike (NaN as ``None``, tuples as lists, no code-span marks), so both
give byte-identical reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..evaluation.estimate import Estimate
from ..evaluation.results import Assessment
from ..exceptions import TabinvError
from ..schemas import stamp
from ..text import shorten
from ..vocabulary import (
    BASELINES,
    RATINGS,
    method_label,
    rating,
    size_words,
)
from .json import Document, plain

__all__ = ["SWEEP", "Document", "as_document", "combine", "scenarios", "triple", "fmt",
           "signed", "reading", "is_baseline", "method_key", "strongest", "selection_words",
           "headlines",
           "verdict_paragraph", "epsilon_text",
           "has_records", "sweep_points", "with_command", "leakage_of", "rating_of",
           "size_of", "OFF_SCALE", "utility_text"]

SWEEP = "sweep"
ASSESSMENT = "assessment"


def combine(assessments: Sequence[Assessment]) -> dict[str, Any]:
    """One document for several assessments of the same data and model.

    Parameters
    ----------
    assessments : sequence of Assessment
        At least one; the first gives the dataset and model facts.

    Returns
    -------
    dict
        The document with live values (NaN, tuples): :func:`as_document` makes it plain.
    """
    if not assessments:
        raise TabinvError("no assessment to combine into a document")
    parts = [a.to_dict() for a in assessments]
    return stamp({"dataset": parts[0]["dataset"], "model": parts[0]["model"],
            "results": [row for part in parts for row in part["results"]],
            "leakage": [row for part in parts for row in part["leakage"]],
            "assessments": [{k: v for k, v in part.items() if k not in ("dataset", "model")}
                            for part in parts]}, ASSESSMENT)


def as_document(source: Any) -> Document:
    """The document of ``source``, made of plain JSON values: the one conversion.

    Parameters
    ----------
    source : Assessment, sequence of Assessment, or mapping
        Live results, a stored document (assessment or sweep), or one
        ``Assessment.to_dict()``. A :class:`Document` is returned as it is.

    Returns
    -------
    Document
        NaN as ``None``, tuples as lists, texts without code-span marks (only the
        writers add them): the same for live results and their stored JSON.

    Raises
    ------
    TabinvError
        When ``source`` is none of these.
    """
    if isinstance(source, Document):
        return source
    if isinstance(source, Assessment):
        source = [source]
    if isinstance(source, Mapping):
        document = dict(source)
        if document.get("kind") != SWEEP and "assessments" not in document \
                and "threat" in document:
            document = _wrap(document)
    elif isinstance(source, Sequence) and source and all(
            isinstance(item, Assessment) for item in source):
        document = combine(source)
    else:
        raise TabinvError(f"cannot report on {type(source).__name__}: expected an "
                          "Assessment, a list of them, or a tabinv JSON document")
    _check(document)
    return Document(plain(document, marks=False))


def with_command(document: Any, command: str) -> Document:
    """The document of ``document`` recording the command that made it (if any)."""
    converted = as_document(document)
    return Document({**converted, "command": command}) if command else converted


def _wrap(single: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in single.items() if k not in ("dataset", "model")}
    return {"dataset": single.get("dataset", {}), "model": single.get("model", {}),
            "results": single.get("results", []), "leakage": single.get("leakage", []),
            "assessments": [rest]}


def _check(document: Mapping[str, Any]) -> None:
    if document.get("kind") not in (None, SWEEP, ASSESSMENT):
        raise TabinvError(f"a tabinv {shorten(document.get('kind'))} document is not a "
                          "report: give an assessment or sweep document")
    needed = ("dataset", "model", "points") if document.get("kind") == SWEEP else \
        ("dataset", "model", "assessments")
    missing = [key for key in needed if key not in document]
    if missing:
        kind = "sweep" if document.get("kind") == SWEEP else "assessment"
        raise TabinvError(f"not a tabinv {kind} document: missing {', '.join(missing)} "
                          f"(has {', '.join(sorted(map(str, document))) or 'no keys'})")


def scenarios(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each assessment of a document, with the shared dataset and model put back."""
    return [{**item, "dataset": document.get("dataset", {}),
             "model": document.get("model", {})} for item in document.get("assessments", [])]


def has_records(document: Mapping[str, Any]) -> bool:
    """True when the document carries per-record data (``--include-records``)."""
    return bool(document.get("records"))


# -- numbers -------------------------------------------------------------------------

def triple(estimate: Any) -> tuple[float, float, float] | None:
    """``(value, low, high)`` of an Estimate or its dict; None when undefined."""
    if estimate is None:
        return None
    values: tuple[Any, Any, Any]
    if isinstance(estimate, Estimate):
        values = (estimate.value, estimate.low, estimate.high)
    elif isinstance(estimate, Mapping):
        values = (estimate.get("value"), estimate.get("low"), estimate.get("high"))
    else:
        values = (estimate, None, None)
    value, low, high = (math.nan if v is None else float(v) for v in values)
    return None if math.isnan(value) else (value, low, high)


def _number(x: float, sign: str = "") -> str:
    """Three decimals; three significant digits for huge values (a DP model's R^2)."""
    return f"{x:{sign}.3f}" if abs(x) < 1e4 else f"{x:{sign}.3g}"


def fmt(estimate: Any, interval: bool = True, sign: str = "") -> str:
    """``0.572 [0.551, 0.593]``, or ``-`` when undefined."""
    numbers = triple(estimate)
    if numbers is None:
        return "-"
    value, low, high = numbers
    if not interval or math.isnan(low) or math.isnan(high):
        return _number(value, sign)
    return f"{_number(value, sign)} [{_number(low, sign)}, {_number(high, sign)}]"


#: the footnote of a utility shown as "< -1"
OFF_SCALE = ("< -1: R^2 below -1 (the model's predictions are far worse than predicting "
             "the mean; a differentially private regression at small epsilon can reach "
             "-10^7), shown as < -1 because only its sign matters.")


def utility_text(metric: str, estimate: Any) -> str:
    """A utility for reading: like :func:`fmt`, but an R^2 below -1 is ``< -1``
    (see :data:`OFF_SCALE`)."""
    numbers = triple(estimate)
    if numbers is None or metric != "r2" or min(numbers) >= -1 or math.isnan(numbers[1]):
        return fmt(estimate)
    value, low, high = (x if x >= -1 else None for x in numbers)
    show = (lambda x: "< -1" if x is None else _number(x))  # noqa: E731
    return f"{show(value)} [{show(low)}, {show(high)}]"


def signed(estimate: Any) -> str:
    """``+0.042 [+0.027, +0.056]`` (a difference), or ``-`` when undefined."""
    return fmt(estimate, sign="+")


def reading(difference: Any, above: str = "leaks", below: str = "below",
            neither: str = "no gain") -> str:
    """One word for a difference's interval: above 0, below 0, or containing 0."""
    numbers = triple(difference)
    if numbers is None or math.isnan(numbers[1]) or math.isnan(numbers[2]):
        return ""
    return above if numbers[1] > 0 else below if numbers[2] < 0 else neither


def sweep_points(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A sweep's points by increasing epsilon, the non-private model last."""
    return sorted(document.get("points", []), key=lambda p: (
        p.get("epsilon") is None, p.get("epsilon") or 0.0))


def epsilon_text(epsilon: Any) -> str:
    """``non-private`` for None, else the epsilon in short form (``0.25``, ``100``)."""
    return "non-private" if epsilon is None else f"{float(epsilon):g}"


# -- leakage -------------------------------------------------------------------------

#: ratings from the worst (for the summary box) to the best


def leakage_of(item: Mapping[str, Any]) -> Any:
    """The leakage estimate of a leakage entry or sweep attack entry: ``leakage``, or
    the ``difference`` / ``advantage`` of documents written before it had that name."""
    for key in ("leakage", "difference", "advantage"):
        if item.get(key) is not None:
            return item[key]
    return None


def rating_of(item: Mapping[str, Any]) -> str:
    """The entry's rating (:data:`tabinv.vocabulary.RATINGS`), from its interval when an
    older document did not record one."""
    if item.get("rating"):
        return str(item["rating"])
    numbers = triple(leakage_of(item))
    return rating(numbers[1], numbers[2]) if numbers else "inconclusive"


def size_of(item: Mapping[str, Any]) -> str:
    """The size of the entry's leakage in plain words."""
    if item.get("size"):
        return str(item["size"])
    numbers = triple(leakage_of(item))
    return size_words(numbers[0] if numbers else math.nan, item.get("sensitive", "?"))


# -- methods -------------------------------------------------------------------------

def is_baseline(row: Mapping[str, Any]) -> bool:
    return row.get("method") in BASELINES


def method_key(row: Mapping[str, Any]) -> str:
    """The row's :func:`tabinv.vocabulary.method_label`: ``map (learned prior)``, or
    the bare method name without a variant."""
    return method_label(row.get("method"), row.get("variant"))


def strongest(scenario: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per inferred attribute, the strongest attack on members (or on the given records
    when there are no members): the entry chosen out of fold (``strongest``, its
    ``selection`` says how); in documents written before it existed, the leakage entry
    of the most accurate attack."""
    chosen = [dict(item) for item in scenario.get("strongest", [])
              if item["population"] in ("members", "given")]
    if chosen:
        return chosen
    accuracy = {(r["method"], r.get("variant", ""), r["sensitive"], r["population"]):
                (triple(r.get("accuracy")) or (-1.0,))[0] for r in scenario.get("results", [])}
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    for item in scenario.get("leakage", []):
        if item["population"] not in ("members", "given"):
            continue
        score = accuracy.get((item["method"], item.get("variant", ""), item["sensitive"],
                              item["population"]), -1.0)
        if item["sensitive"] not in best or score > best[item["sensitive"]][0]:
            best[item["sensitive"]] = (score, item)
    return [pair[1] for pair in best.values()]


def headlines(scenario: Mapping[str, Any]) -> list[str]:
    """Per inferred attribute: the strongest attack against imputation and against
    non-members, in one sentence each."""
    gaps = {(m["method"], m.get("variant", ""), m["sensitive"]): m["difference"]
            for m in scenario.get("membership", [])}
    hidden = " + ".join(scenario.get("threat", {}).get("sensitive", []))
    lines = []
    for item in strongest(scenario):
        text = item["verdict"]
        gap = gaps.get((item["method"], item.get("variant", ""), item["sensitive"]))
        if triple(gap) is not None:
            effect = reading(gap, "members are easier to attack",
                             "non-members are easier to attack",
                             "no measurable membership effect")
            text += f" Members vs non-members: {signed(gap)} ({effect})."
        lines.append(f"[{hidden} hidden] {text}")
    return lines


# -- sentences -----------------------------------------------------------------------

def _scope(item: Mapping[str, Any], hidden: Sequence[str], several: bool) -> str:
    name = str(item["sensitive"])
    if len(hidden) > 1 and name == "+".join(hidden):  # not a column whose name has a '+'
        return f"{name} jointly"
    if several and list(hidden) != [name]:
        return f"{name} (with {' and '.join(hidden)} hidden)"
    return name


def selection_words(item: Mapping[str, Any]) -> str:
    """How the strongest attack was chosen, as a parenthesis (empty for a single attack
    or an entry without a selection)."""
    selection = item.get("selection") or {}
    considered, chosen = selection.get("considered") or [], selection.get("chosen") or {}
    if len(considered) < 2:
        return ""
    votes = chosen.get(method_key(item), 0)
    return (f" (chosen out of fold among {len(considered)} attacks: by {votes} of "
            f"{selection.get('folds', '?')} folds)")


def _finding(item: Mapping[str, Any], scope: str, gap: Any) -> str:
    population = "the given records" if item["population"] == "given" else item["population"]
    text = (f"{scope}: the strongest attack on {population}, {method_key(item)}"
            f"{selection_words(item)}, "
            f"{size_of(item)} ({signed(leakage_of(item))} over {item.get('over') or '?'}; "
            f"{rating_of(item)})")
    if triple(gap) is not None:
        effect = reading(gap, "members are easier to attack",
                         "non-members are easier to attack", "no membership effect")
        text += f"; members vs non-members {signed(gap)}, {effect}"
    return text + "."


def verdict_paragraph(document: Mapping[str, Any]) -> str:
    """One paragraph: the sweep's own verdict, or, for assessments, the strongest attack
    per attribute against the best model-free baseline and against non-members."""
    if document.get("kind") == SWEEP:
        return str(document.get("verdict") or "The sweep document holds no verdict.")
    items = scenarios(document)
    rated: dict[str, list[str]] = {name: [] for name in RATINGS}
    findings: list[str] = []
    for scenario in items:
        hidden = scenario.get("threat", {}).get("sensitive", [])
        gaps = {(m["method"], m.get("variant", ""), m["sensitive"]): m["difference"]
                for m in scenario.get("membership", [])}
        for item in strongest(scenario):
            scope = _scope(item, hidden, len(items) > 1)
            rated.setdefault(rating_of(item), []).append(scope)
            findings.append(_finding(item, scope, gaps.get(
                (item["method"], item.get("variant", ""), item["sensitive"]))))
    if not findings:
        return "No attack was scored against a baseline, so there is no verdict."
    parts = []
    if rated["leaks"]:
        parts.append(f"The model leaks {', '.join(rated['leaks'])}: the strongest attack "
                     "infers it more accurately than the best model-free baseline (the "
                     "whole 95% interval of the leakage is above 0).")
    if rated["inconclusive"]:
        parts.append(f"Inconclusive for {', '.join(rated['inconclusive'])}: the interval "
                     "includes 0 but cannot exclude a gain of 5 points or more.")
    if rated["no measurable leakage"]:
        parts.append(f"No measurable leakage of {', '.join(rated['no measurable leakage'])}.")
    return " ".join([*parts, *findings])
