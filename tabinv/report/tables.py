"""Results as rows of text, for the terminal (rich), Markdown and HTML.

Every function takes the dict form of the results (see :mod:`tabinv.report.document`);
the ones the CLI uses also accept live :class:`Assessment` objects (converted by
:func:`~tabinv.report.document.as_document`: convert once and pass the scenarios of
that document when rendering several tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..evaluation.results import Assessment
from ..text import markdown_text
from .document import (
    as_document,
    epsilon_text,
    fmt,
    is_baseline,
    leakage_of,
    method_key,
    rating_of,
    reading,
    scenarios,
    signed,
    strongest,
    sweep_points,
    triple,
    utility_text,
)
from .document import headlines as _headlines
from .membership import attack_name
from .threat import threat_sentence as _threat_sentence

__all__ = ["SUMMARY_HEADER", "POSITIVE_METRICS", "assessment_markdown", "fmt", "headlines",
           "markdown_table", "summary_rows", "threat_sentence", "populations",
           "method_rows", "method_header", "leakage_rows", "membership_rows",
           "positive_table", "per_value_rows", "count_text", "suppression_note",
           "cleaning_rows", "timing_rows", "utility_rows", "sweep_attack_rows",
           "sweep_baseline_rows", "SWEEP_BASELINE_HEADER", "LEAKAGE_HEADER", "leakage_cells",
           "baselines_text", "STRONGEST_HEADER", "strongest_rows", "SWEEP_MEMBERSHIP_HEADER",
           "sweep_membership_rows"]

SUMMARY_HEADER = ("hidden", "inferred", "method", "members acc [95% CI]", "AUC",
                  "non-members acc [95% CI]", "AUC", "members: leakage, rating")
POSITIVE_METRICS = ("precision", "recall", "f1", "g_mean", "mcc", "fpr")


def _scenario(assessment: Assessment | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(assessment, Assessment):
        return scenarios(as_document(assessment))[0]
    return assessment


def _scenarios(source: Any) -> list[dict[str, Any]]:
    return scenarios(as_document(source))


def _find(scenario: Mapping[str, Any], row: Mapping[str, Any], population: str
          ) -> Mapping[str, Any] | None:
    for other in scenario.get("results", []):
        if (other["sensitive"], other["method"], other.get("variant", ""),
                other["population"]) == (row["sensitive"], row["method"],
                                         row.get("variant", ""), population):
            return other
    return None


def _unique(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The first result of each (sensitive, method, variant)."""
    seen, unique = set(), []
    for row in rows:
        key = (row["sensitive"], row["method"], row.get("variant", ""))
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique


def summary_rows(assessment: Assessment | Mapping[str, Any]) -> list[tuple[str, ...]]:
    """One row per (sensitive attribute, method): members next to non-members."""
    scenario = _scenario(assessment)
    hidden = " + ".join(scenario["threat"]["sensitive"])
    leaks = {(i["method"], i.get("variant", ""), i["sensitive"], i["population"]): i
             for i in scenario.get("leakage", [])}
    rows: list[tuple[str, ...]] = []
    for result in _unique(scenario.get("results", [])):
        first = _find(scenario, result, "members") or _find(scenario, result, "given")
        outside = _find(scenario, result, "non-members")
        key = (result["method"], result.get("variant", ""), result["sensitive"])
        leak = leaks.get((*key, "members")) or leaks.get((*key, "given"))
        rows.append((
            hidden if not rows else "", result["sensitive"], method_key(result),
            fmt(first["accuracy"]) if first else "-",
            fmt(first.get("auc"), interval=False) if first else "-",
            fmt(outside["accuracy"]) if outside else "-",
            fmt(outside.get("auc"), interval=False) if outside else "-",
            leakage_cells(leak) if leak else "",
        ))
    return rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GFM table; every cell escaped by :func:`tabinv.text.markdown_text`."""
    lines = ["| " + " | ".join(markdown_text(c) for c in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown_text(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def headlines(assessment: Assessment | Mapping[str, Any]) -> list[str]:
    """Per inferred attribute: the strongest attack on members, against imputation and
    against non-members, in one sentence each."""
    return _headlines(_scenario(assessment))


def threat_sentence(assessment: Assessment | Mapping[str, Any]) -> str:
    """The threat model in plain words (from an assessment or its ``threat`` dict)."""
    scenario = _scenario(assessment)
    return _threat_sentence(scenario.get("threat", scenario))


def assessment_markdown(assessments: Any) -> str:
    """A Markdown summary: one table for all scenarios, then the verdicts."""
    items = _scenarios(assessments)
    rows = [row for scenario in items for row in summary_rows(scenario)]
    text = [markdown_table(SUMMARY_HEADER, rows), ""]
    for scenario in items:
        text += [f"- {markdown_text(line, start=True)}" for line in _headlines(scenario)]
    return "\n".join(text) + "\n"


# -- the full report's tables ----------------------------------------------------------

def populations(scenario: Mapping[str, Any]) -> list[str]:
    """Populations in order of appearance (members, non-members, given ...)."""
    return list(dict.fromkeys(r["population"] for r in scenario.get("results", [])))


def method_header(scenario: Mapping[str, Any]) -> tuple[str, ...]:
    columns: list[str] = ["inferred", "method", "kind"]
    for population in populations(scenario):
        columns += [f"{population}: accuracy [95% CI]", f"{population}: AUC [95% CI]"]
    return tuple(columns)


def method_rows(scenario: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Every attack and every baseline, one row each, populations side by side."""
    rows = []
    unique = _unique(scenario.get("results", []))
    attributes = list(dict.fromkeys(r["sensitive"] for r in unique))
    ordered = sorted(unique, key=lambda r: (attributes.index(r["sensitive"]), is_baseline(r)))
    for result in ordered:
        cells = [result["sensitive"], method_key(result),
                 "baseline" if is_baseline(result) else "attack"]
        for population in populations(scenario):
            match = _find(scenario, result, population)
            cells += [fmt(match["accuracy"]) if match else "-",
                      fmt(match.get("auc")) if match else "-"]
        rows.append(tuple(cells))
    return rows


def leakage_cells(item: Mapping[str, Any]) -> str:
    """``+0.042 [+0.027, +0.056] leaks``: the leakage and its rating."""
    return f"{signed(leakage_of(item))} {rating_of(item)}"


LEAKAGE_HEADER = ("inferred", "attack", "population", "model-free baselines",
                  "best baseline", "leakage [95% CI]", "rating")


def baselines_text(item: Mapping[str, Any]) -> str:
    """``prior-mode 0.320, imputation 0.263``: each model-free baseline's accuracy on the
    records the leakage is measured on ("-" when the document does not record them)."""
    found = item.get("baselines") or {}
    return ", ".join(f"{name} {fmt(value, interval=False)}" for name, value in found.items()
                     ) or "-"


def leakage_rows(scenario: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Each attack's accuracy minus the best model-free baseline's, on the same records."""
    return [(str(item["sensitive"]), method_key(item), str(item["population"]),
             baselines_text(item), str(item.get("over") or "-"), signed(leakage_of(item)),
             rating_of(item))
            for item in scenario.get("leakage", [])]


STRONGEST_HEADER = ("inferred", "population", "strongest attack", "chosen by",
                    "attacks compared", "accuracy (cross-fitted) [95% CI]",
                    "leakage [95% CI]", "over",
                    "rating")


def strongest_rows(scenario: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Per attribute and population, the strongest attack chosen out of fold."""
    rows = []
    for item in scenario.get("strongest", []):
        selection = item.get("selection") or {}
        votes = (selection.get("chosen") or {}).get(method_key(item), 0)
        rows.append((str(item["sensitive"]), str(item["population"]), method_key(item),
                     f"{votes} of {selection.get('folds', '?')} folds",
                     str(len(selection.get("considered") or [])),
                     fmt(item.get("accuracy")),
                     signed(leakage_of(item)), str(item.get("over") or "-"),
                     rating_of(item)))
    return rows


def membership_rows(scenario: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Each attack on members next to the same attack on non-members."""
    rows: list[tuple[str, ...]] = []
    for item in scenario.get("membership", []):
        row = {**item, "population": "members"}
        inside, outside = _find(scenario, row, "members"), _find(scenario, row, "non-members")
        rows.append((str(item["sensitive"]), method_key(item),
                     fmt(inside["accuracy"]) if inside else "-",
                     fmt(outside["accuracy"]) if outside else "-",
                     signed(item["difference"]),
                     reading(item["difference"], "members easier", "non-members easier",
                             "no difference")))
    return rows


def positive_table(scenario: Mapping[str, Any]
                   ) -> tuple[tuple[str, ...], list[tuple[str, ...]]] | None:
    """Precision, recall ... of the positive value (``--positive``), if any."""
    scored = [r for r in scenario.get("results", []) if "precision" in r]
    if not scored:
        return None
    top = next((k for r in scored for k in r if k.startswith("top_")), None)
    metrics = [*POSITIVE_METRICS, *([top] if top else [])]
    header = ("inferred", "method", "population",
              *(m.replace("_", "-", 1).replace("_", " ") for m in metrics))
    rows = [(r["sensitive"], method_key(r), r["population"],
             *(fmt(r.get(m)) for m in metrics)) for r in scored]
    return header, rows


def per_value_rows(scenario: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Per hidden value: precision and recall of the strongest attack on members
    (counts of records per value, never which records)."""
    rows: list[tuple[str, ...]] = []
    for item in strongest(scenario):
        row = _find(scenario, item, item["population"])
        below = (row or {}).get("suppressed_below")
        for entry in (row or {}).get("per_value", []):
            rows.append((str(item["sensitive"]), method_key(item), str(entry.get("value")),
                         count_text(entry.get("support", "-"), below),
                         count_text(entry.get("predicted", "-"), below),
                         fmt(entry.get("precision")), fmt(entry.get("recall"))))
    return rows


def count_text(count: Any, below: Any) -> str:
    """A count of a per-value or confusion table; a withheld small count (None) as
    ``<N`` (:mod:`tabinv.evaluation.smallcells`)."""
    return f"<{below}" if count is None and below else str(count)


def suppression_note(scenario: Mapping[str, Any]) -> str:
    """The sentence saying that small counts are withheld, or "" when none is."""
    below = {r.get("suppressed_below") for r in scenario.get("results", [])} - {None, 0}
    if not below:
        return ""
    return (f"Counts of fewer than {max(below)} records are withheld and shown as "
            f"\"<{max(below)}\" (small-cell suppression, --min-cell; precision and recall "
            "that would reveal them are left out too); accuracy and the other metrics use "
            "every record.")


def cleaning_rows(dataset: Mapping[str, Any]) -> list[tuple[str, ...]]:
    return [(str(step.get("step")), str(step.get("dropped", 0)), str(step.get("changed", 0)))
            for step in dataset.get("cleaning", [])]


def timing_rows(settings: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Seconds per step (``timings_seconds``), then the total (``seconds``) if recorded."""
    steps = dict(settings.get("timings_seconds") or {})
    if settings.get("seconds") is not None:
        steps["total"] = settings["seconds"]
    return [(str(step), f"{float(seconds):.3f}") for step, seconds in steps.items()]


# -- sweeps ------------------------------------------------------------------------------

def utility_rows(document: Mapping[str, Any]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """Utility of the target at each epsilon, mean and interval over seeds (one epsilon
    column: the epsilon each model spent)."""
    metrics = list(document.get("utility_metrics") or [])
    header = ("epsilon", *metrics)
    rows = [(epsilon_text(point.get("epsilon")),
             *(utility_text(m, point.get("utility", {}).get(m)) for m in metrics))
            for point in sweep_points(document)]
    return header, rows


SWEEP_ATTACK_HEADER = ("epsilon", "attack", "members: accuracy [95% CI]",
                       "members: leakage [95% CI]", "rating", "non-members: accuracy",
                       "non-members: leakage")
SWEEP_BASELINE_HEADER = ("baseline", "members: accuracy [95% CI]",
                         "non-members: accuracy [95% CI]")


def _entry(entries: Sequence[Mapping[str, Any]], name: str, population: str
           ) -> Mapping[str, Any]:
    return next((e for e in entries if method_key(e) == name
                 and e.get("population") == population), {})


def sweep_attack_rows(document: Mapping[str, Any], sensitive: str) -> list[tuple[str, ...]]:
    """Per epsilon, every attack: its accuracy and its leakage over the best baseline,
    members next to non-members (the baselines have their own table)."""
    rows: list[tuple[str, ...]] = []
    for point in sweep_points(document):
        epsilon = epsilon_text(point.get("epsilon"))
        chosen = [e for e in point.get("attacks", []) if e.get("sensitive") == sensitive]
        for n, name in enumerate(dict.fromkeys(method_key(e) for e in chosen)):
            inside, outside = _entry(chosen, name, "members"), _entry(chosen, name,
                                                                      "non-members")
            rows.append((epsilon if n == 0 else "", name, fmt(inside.get("accuracy")),
                         signed(leakage_of(inside)), rating_of(inside) if inside else "-",
                         fmt(outside.get("accuracy"), interval=False),
                         fmt(leakage_of(outside), interval=False, sign="+")))
    return rows


SWEEP_MEMBERSHIP_HEADER = ("epsilon", "membership attack", "AUC [95% CI]",
                           "TPR at 0.1% FPR", "TPR at 1% FPR", "rating",
                           "largest attribute leakage (members)")


def sweep_membership_rows(document: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Per epsilon, each membership attack's AUC and TPR at low FPR with its rating,
    beside the largest attribute leakage on members at that epsilon (and its rating),
    so the reader sees which risk DP removes first."""
    rows: list[tuple[str, ...]] = []
    for point in sweep_points(document):
        attacks = [e for e in point.get("attacks", []) if e.get("population") == "members"
                   and triple(leakage_of(e)) is not None]
        top = max(attacks, key=lambda e: triple(leakage_of(e))[0], default=None)
        attribute = "-" if top is None else (f"{method_key(top)} on {top['sensitive']}: "
                                             f"{signed(leakage_of(top))} ({rating_of(top)})")
        for n, item in enumerate(point.get("membership", [])):
            tpr = {float(t["fpr"]): t for t in item.get("tpr_at_fpr", [])}
            rows.append((epsilon_text(point.get("epsilon")) if n == 0 else "",
                         attack_name(item), fmt(item.get("auc")),
                         fmt(tpr.get(0.001)), fmt(tpr.get(0.01)),
                         str(item.get("rating", "-")), attribute if n == 0 else ""))
    return rows


def sweep_baseline_rows(document: Mapping[str, Any], sensitive: str
                        ) -> list[tuple[str, ...]]:
    """Each model-free baseline once (it does not use the model, so it is the same at
    every epsilon): taken from the first point that has it."""
    found: dict[str, list[Mapping[str, Any]]] = {}
    for point in sweep_points(document):
        chosen = [e for e in point.get("baselines", []) if e.get("sensitive") == sensitive]
        for name in dict.fromkeys(method_key(e) for e in chosen):
            found.setdefault(name, chosen)
    return [(name, fmt(_entry(entries, name, "members").get("accuracy")),
             fmt(_entry(entries, name, "non-members").get("accuracy")))
            for name, entries in found.items()]
