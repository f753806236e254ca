"""Report figures as PNG bytes (matplotlib, Agg canvas, never pyplot).

Each figure is drawn on its own :class:`matplotlib.figure.Figure` with an Agg canvas, so
nothing global changes for the caller (no backend switch, no open pyplot figures). PNGs
carry no timestamp or version metadata: the same document gives the same bytes.

Sweeps: the privacy-utility curve, attack accuracy against epsilon with the baselines as
bands, and utility against epsilon. Assessments: accuracy per method (members and
non-members side by side), the confusion matrix of the strongest attack (when the
document holds the ``confusion`` counts) and the log-log ROC curves of the membership
attacks (when it holds ``membership_inference``).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .document import (
    SWEEP,
    as_document,
    method_key,
    scenarios,
    strongest,
    triple,
)
from .figure import (
    MAX_CONFUSION,
    PAGE_WIDTH,
    POPULATION_COLOURS,
    SERIES_COLOURS,
    Figure,
    error_bars,
    label_text,
    render_png,
    slug,
)
from .membership import attack_name, membership_results
from .sweep_plots import sweep_figures

__all__ = ["Figure", "ROC_SIZE", "assessment_figures", "bars_size", "confusion_size",
           "figures", "membership_figures", "sweep_figures", "write_png"]


# -- assessments ------------------------------------------------------------------------

def _accuracy_bars(figure: Any, scenario: Mapping[str, Any]) -> None:
    results = scenario.get("results", [])
    attributes = list(dict.fromkeys(r["sensitive"] for r in results))
    methods = list(dict.fromkeys(method_key(r) for r in results))
    populations = list(dict.fromkeys(r["population"] for r in results))
    axes = figure.subplots(1, len(attributes), sharey=True, squeeze=False)[0]
    height = 0.8 / len(populations)
    for ax, attribute in zip(axes, attributes, strict=True):
        for p, population in enumerate(populations):
            found = {method_key(r): triple(r.get("accuracy")) for r in results
                     if r["sensitive"] == attribute and r["population"] == population}
            values, errors = error_bars([found.get(m) for m in methods])
            positions = [i - 0.4 + height * (p + 0.5) for i in range(len(methods))]
            ax.barh(positions, values, height=height, xerr=errors, capsize=2,
                    color=POPULATION_COLOURS.get(population, SERIES_COLOURS[p % 8]),
                    label=population, error_kw={"elinewidth": 0.8})
        ax.set_xlim(0, 1)
        ax.set_title(label_text(attribute), fontsize=10)
        ax.set_xlabel("accuracy (95% CI)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(methods)), [label_text(m) for m in methods])
    axes[0].invert_yaxis()
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center",
                  ncols=len(populations), fontsize=8, frameon=False)


def _confusion(figure: Any, row: Mapping[str, Any]) -> None:
    # a withheld small count (None, tabinv.evaluation.smallcells) is left blank: NaN
    counts = [[math.nan if c is None else float(c) for c in line] for line in row["confusion"]]
    labels = [label_text(v.get("value")) for v in row.get("per_value", [])] or \
        [str(i) for i in range(len(counts))]
    shares = [[c / (math.fsum(x for x in line if not math.isnan(x)) or 1.0) for c in line]
              for line in counts]
    ax = figure.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    if len(labels) <= 6:  # side by side, long values wrapped onto short lines
        ax.set_xticks(range(len(labels)), [textwrap.fill(x, 10) for x in labels],
                      fontsize=7 if len(labels) > 4 else 8)
    else:  # upright, so that neighbours cannot collide
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("inferred value")
    ax.set_ylabel("true value")
    if len(labels) <= 8:
        for i, line in enumerate(counts):
            for j, count in enumerate(line):
                shown = f"<{row.get('suppressed_below')}" if math.isnan(count) \
                    else f"{count:.0f}"
                ax.text(j, i, shown, ha="center", va="center", fontsize=8,
                        color="white" if shares[i][j] > 0.6 else "black")
    figure.colorbar(image, ax=ax, label="share of the true value's records", shrink=0.8)
    figure.suptitle(label_text(f"{method_key(row)} on {row['sensitive']} "
                               f"({row['population']})"), fontsize=9)


def bars_size(attributes: int, bars: int) -> tuple[float, float]:
    """Inches of the accuracy bars: a panel per attribute, a line per bar."""
    return min(PAGE_WIDTH, 2.2 + 2.6 * attributes), 1.2 + 0.22 * bars


def confusion_size(values: int) -> tuple[float, float]:
    """Inches of a confusion matrix of ``values`` values: room for each value's label
    (wrapped onto lines of 10 characters), at most a printed line wide."""
    return min(PAGE_WIDTH, 3.4 + 0.7 * values), min(PAGE_WIDTH, 2.8 + 0.4 * values)


def _result_of(scenario: Mapping[str, Any], item: Mapping[str, Any]
               ) -> Mapping[str, Any] | None:
    key = (item["method"], item.get("variant", ""), item["sensitive"], item["population"])
    return next((r for r in scenario.get("results", []) if (
        r["method"], r.get("variant", ""), r["sensitive"], r["population"]) == key), None)


#: inches of the membership ROC plot
ROC_SIZE = (4.8, 4.0)


def _floor(results: list[Mapping[str, Any]]) -> float:
    """The smallest FPR every curve resolves (1 / non-members), at most 0.1."""
    smallest = [float(r["metrics"]["smallest_fpr"]) for r in results
                if r["metrics"].get("smallest_fpr")]
    return min(max(smallest, default=1e-4), 0.1)


#: ROC curves with this many points or fewer on the log axes are drawn with markers
FEW_POINTS = 4


def _membership_roc(figure: Any, results: list[Mapping[str, Any]]) -> None:
    floor = _floor(results)
    ax = figure.subplots()
    ax.plot([floor, 1.0], [floor, 1.0], linestyle="--", color="#7f7f7f", linewidth=1,
            label="chance (AUC 0.500)")
    for i, item in enumerate(results):
        points = [(float(f), float(t)) for f, t in item["metrics"].get("roc") or []
                  if f is not None and t is not None and float(f) >= floor * (1 - 1e-9)]
        # a TPR of 0 has no place on a log axis: the curve starts at its first member
        shown = [(f, t if t > 0 else math.nan) for f, t in points]
        auc = triple(item["metrics"].get("auc"))
        label = f"{attack_name(item)} (AUC {auc[0]:.3f})" if auc else attack_name(item)
        # a score with few values (the gap attack: one interior point) leaves a few
        # points on the log axes, perhaps one: marked, so that it shows
        few = sum(not math.isnan(t) for _, t in shown) <= FEW_POINTS
        ax.plot([f for f, _ in shown], [t for _, t in shown], linewidth=1.5, drawstyle="steps-post",
                color=SERIES_COLOURS[i % len(SERIES_COLOURS)], label=label_text(label),
                marker="o" if few else None, markersize=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(floor, 1.0)
    ax.set_xlabel("false positive rate (non-members flagged)")
    ax.set_ylabel("true positive rate (members found)")
    ax.grid(which="major", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def membership_figures(scenario: Mapping[str, Any], index: int = 1) -> list[Figure]:
    """The log-log ROC curves of the scenario's membership attacks (none without)."""
    results = [r for r in membership_results(scenario)
               if isinstance(r.get("metrics"), Mapping)]
    if not results:
        return []
    hidden = "+".join(scenario.get("threat", {}).get("sensitive", [])) or "attack"
    floor = _floor(results)
    return [Figure(slug("membership-roc", index, hidden),
                   f"ROC curves of the membership attacks ({hidden} hidden), both axes "
                   f"logarithmic from {floor:.2g} (one non-member wrongly flagged) to 1; "
                   "the dashed diagonal is a coin toss. A curve far above it on the left "
                   "finds members with few false alarms.",
                   render_png(_membership_roc, ROC_SIZE, results))]


def assessment_figures(scenario: Mapping[str, Any], index: int = 1) -> list[Figure]:
    """Accuracy bars of one assessment, the confusion matrix of its strongest attack
    per attribute when the document holds ``confusion`` counts, and the ROC curves of
    its membership attacks when it holds them."""
    results = scenario.get("results", [])
    if not results:
        return membership_figures(scenario, index)
    hidden = "+".join(scenario.get("threat", {}).get("sensitive", [])) or "attack"
    attributes = len({r["sensitive"] for r in results})
    bars = len({method_key(r) for r in results}) * len({r["population"] for r in results})
    found = [Figure(slug("accuracy", index, hidden),
                    f"Accuracy of every attack and baseline ({hidden} hidden), members and "
                    "non-members side by side, with 95% intervals.",
                    render_png(_accuracy_bars, bars_size(attributes, bars), scenario))]
    for item in strongest(scenario):
        row = _result_of(scenario, item)
        size = len(row.get("confusion") or []) if row is not None else 0
        if row is None or not 2 <= size <= MAX_CONFUSION:  # absent, or too many values
            continue
        found.append(Figure(
            slug("confusion", index, row["sensitive"]),
            f"Confusion matrix of the strongest attack on {row['sensitive']} "
            f"({method_key(row)}, {row['population']}): counts of records per true and "
            "inferred value; colour is the share of each true value.",
            render_png(_confusion, confusion_size(size), row)))
    return found + membership_figures(scenario, index)


# -- sweeps -------------------------------------------------------------------------------


def figures(document: Mapping[str, Any]) -> list[Figure]:
    """Every figure of a document (assessment or sweep), in report order."""
    if document.get("kind") == SWEEP:
        return sweep_figures(document)
    return [figure for index, scenario in enumerate(scenarios(document), start=1)
            for figure in assessment_figures(scenario, index)]


def write_png(document: Any, folder: str | Path) -> list[Path]:
    """Write every figure of ``document`` as ``folder/NAME.png``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for figure in figures(as_document(document)):
        path = folder / f"{figure.name}.png"
        path.write_bytes(figure.png)
        paths.append(path)
    return paths
