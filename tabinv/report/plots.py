"""Report figures as PNG bytes (matplotlib, Agg canvas, never pyplot).

Each figure is drawn on its own :class:`matplotlib.figure.Figure` with an Agg canvas, so
nothing global changes for the caller (no backend switch, no open pyplot figures). PNGs
carry no timestamp or version metadata: the same document gives the same bytes.

Sweeps: the privacy-utility curve, attack accuracy against epsilon with the baselines as
bands, and utility against epsilon. Assessments: accuracy per method (members and
non-members side by side) and the confusion matrix of the strongest attack (when the
document holds the ``confusion`` counts).
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .document import (
    SWEEP,
    epsilon_text,
    method_key,
    scenarios,
    strongest,
    sweep_points,
    triple,
)

__all__ = ["Figure", "figures", "assessment_figures", "sweep_figures", "write_png"]

DPI = 100
#: utilities below this are drawn as an arrow at the axis floor (R^2 can be -1e7)
FLOOR = -1.0
#: larger confusion matrices (joint attributes) are left to the per-value table
MAX_CONFUSION = 12
POPULATION_COLOURS = {"members": "#1f5f99", "non-members": "#e08a1e", "given": "#1f5f99"}
BASELINE_COLOURS = {"prior-mode": "#7f7f7f", "imputation": "#2ca02c", "ideal": "#9467bd",
                    "label-rule": "#8c564b"}
SERIES_COLOURS = ("#1f5f99", "#d62728", "#e08a1e", "#17becf", "#bcbd22", "#e377c2",
                  "#393b79", "#637939")
UTILITY_NAMES = {"r2": "R$^2$", "within_20": "share within 20% of stable dose",
                 "accuracy": "accuracy", "auc": "AUC"}


@dataclass(frozen=True)
class Figure:
    """One rendered figure: file name (``name.png``), caption, PNG bytes."""

    name: str
    caption: str
    png: bytes


def _text(value: Any) -> str:
    """A label safe for matplotlib: no mathtext from ``$`` in data values."""
    return str(value).replace("$", r"\$")


def _render(draw: Any, size: tuple[float, float], *args: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    with warnings.catch_warnings():  # data labels may hold glyphs the font lacks
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        draw(figure, *args)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI,
                       metadata={"Software": None})
    return buffer.getvalue()


def _slug(*parts: Any) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts)


def _errors(estimates: Sequence[tuple[float, float, float] | None]
            ) -> tuple[list[float], list[list[float]]]:
    values, low, high = [], [], []
    for numbers in estimates:
        value, lo, hi = numbers if numbers is not None else (math.nan,) * 3
        values.append(value)
        low.append(0.0 if math.isnan(lo) else max(value - lo, 0.0))
        high.append(0.0 if math.isnan(hi) else max(hi - value, 0.0))
    return values, [low, high]


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
            values, errors = _errors([found.get(m) for m in methods])
            positions = [i - 0.4 + height * (p + 0.5) for i in range(len(methods))]
            ax.barh(positions, values, height=height, xerr=errors, capsize=2,
                    color=POPULATION_COLOURS.get(population, SERIES_COLOURS[p % 8]),
                    label=population, error_kw={"elinewidth": 0.8})
        ax.set_xlim(0, 1)
        ax.set_title(_text(attribute), fontsize=10)
        ax.set_xlabel("accuracy (95% CI)")
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(methods)), [_text(m) for m in methods])
    axes[0].invert_yaxis()
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center",
                  ncols=len(populations), fontsize=8, frameon=False)


def _confusion(figure: Any, row: Mapping[str, Any]) -> None:
    counts = [list(map(float, line)) for line in row["confusion"]]
    labels = [_text(v.get("value")) for v in row.get("per_value", [])] or \
        [str(i) for i in range(len(counts))]
    shares = [[c / (sum(line) or 1.0) for c in line] for line in counts]
    ax = figure.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 4 else 0,
                  ha="right" if len(labels) > 4 else "center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("inferred value")
    ax.set_ylabel("true value")
    if len(labels) <= 8:
        for i, line in enumerate(counts):
            for j, count in enumerate(line):
                ax.text(j, i, f"{count:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if shares[i][j] > 0.6 else "black")
    figure.colorbar(image, ax=ax, label="share of the true value's records", shrink=0.8)
    ax.set_title(_text(f"{method_key(row)} on {row['sensitive']} ({row['population']})"),
                 fontsize=9)


def _result_of(scenario: Mapping[str, Any], item: Mapping[str, Any]
               ) -> Mapping[str, Any] | None:
    key = (item["method"], item.get("variant", ""), item["sensitive"], item["population"])
    return next((r for r in scenario.get("results", []) if (
        r["method"], r.get("variant", ""), r["sensitive"], r["population"]) == key), None)


def assessment_figures(scenario: Mapping[str, Any], index: int = 1) -> list[Figure]:
    """Accuracy bars of one assessment, and the confusion matrix of its strongest attack
    per attribute when the document holds ``confusion`` counts."""
    results = scenario.get("results", [])
    if not results:
        return []
    hidden = "+".join(scenario.get("threat", {}).get("sensitive", [])) or "attack"
    attributes = len({r["sensitive"] for r in results})
    bars = len({method_key(r) for r in results}) * len({r["population"] for r in results})
    found = [Figure(_slug("accuracy", index, hidden),
                    f"Accuracy of every attack and baseline ({hidden} hidden), members and "
                    "non-members side by side, with 95% intervals.",
                    _render(_accuracy_bars, (2.2 + 2.6 * attributes, 1.2 + 0.22 * bars),
                            scenario))]
    for item in strongest(scenario):
        row = _result_of(scenario, item)
        size = len(row.get("confusion") or []) if row is not None else 0
        if row is None or not 2 <= size <= MAX_CONFUSION:  # absent, or too many values
            continue
        found.append(Figure(
            _slug("confusion", index, row["sensitive"]),
            f"Confusion matrix of the strongest attack on {row['sensitive']} "
            f"({method_key(row)}, {row['population']}): counts of records per true and "
            "inferred value; colour is the share of each true value.",
            _render(_confusion, (3.2 + 0.35 * size, 2.6 + 0.35 * size), row)))
    return found


# -- sweeps -------------------------------------------------------------------------------

def _positions(points: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    """x of each point on a log axis; the non-private model sits right of the largest
    epsilon. Returns the positions and the x of the non-private slot (or [])."""
    finite = [float(p["epsilon"]) for p in points if p.get("epsilon") is not None]
    right = max(finite) * 5 if finite else 1.0
    return ([right if p.get("epsilon") is None else float(p["epsilon"]) for p in points],
            [right] if any(p.get("epsilon") is None for p in points) else [])


def _epsilon_axis(ax: Any, points: Sequence[Mapping[str, Any]]) -> None:
    xs, private = _positions(points)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(xs, [epsilon_text(p.get("epsilon")).replace("non-private", "non-\nprivate")
                       for p in points], fontsize=8, rotation=0 if len(xs) < 8 else 45)
    ax.set_xlabel("epsilon (log scale)")
    if private:
        finite = [x for x in xs if x != private[0]]
        if finite:
            ax.axvline(math.sqrt(max(finite) * private[0]), color="black", lw=0.6, ls=":")


def _entries(point: Mapping[str, Any], key: str, sensitive: str, population: str
             ) -> dict[str, Mapping[str, Any]]:
    return {method_key(e): e for e in point.get(key, [])
            if e.get("sensitive") == sensitive and e.get("population") == population}


def _series(points: Sequence[Mapping[str, Any]], key: str, sensitive: str, population: str,
            name: str, field: str) -> list[tuple[float, float, float] | None]:
    return [triple(_entries(p, key, sensitive, population).get(name, {}).get(field))
            for p in points]


def _plot_series(ax: Any, xs: Sequence[float], points: Sequence[Mapping[str, Any]],
                 estimates: Sequence[Any], colour: str, label: str, style: str = "-") -> None:
    """Connect the private points; the non-private one is a separate star."""
    private = [i for i, p in enumerate(points) if p.get("epsilon") is not None]
    public = [i for i, p in enumerate(points) if p.get("epsilon") is None]
    for indices, marker, line in ((private, "o", style), (public, "*", "none")):
        if not indices:
            continue
        values, errors = _errors([estimates[i] for i in indices])
        ax.errorbar([xs[i] for i in indices], values, yerr=errors, color=colour, ls=line,
                    marker=marker, ms=7 if marker == "*" else 4, capsize=2, lw=1.2,
                    label=label if indices is private or not private else None)


def _attributes(document: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(e.get("sensitive") for p in sweep_points(document)
                              for e in p.get("attacks", [])))


def _strongest_attack(document: Mapping[str, Any], sensitive: str) -> str | None:
    scores: dict[str, list[float]] = {}
    for point in sweep_points(document):
        for name, entry in _entries(point, "attacks", sensitive, "members").items():
            numbers = triple(entry.get("accuracy"))
            if numbers is not None:
                scores.setdefault(name, []).append(numbers[0])
    return max(scores, key=lambda n: sum(scores[n]) / len(scores[n])) if scores else None


def _headline_metric(document: Mapping[str, Any]) -> str:
    """The utility on the x axis of the privacy-utility curve: a bounded one if any."""
    metrics = list(document.get("utility_metrics") or ["accuracy"])
    return next((m for m in ("within_20", "accuracy", "auc") if m in metrics), metrics[0])


def _floored(estimates: Sequence[tuple[float, float, float] | None]
             ) -> tuple[list[tuple[float, float, float] | None], list[tuple[int, float]]]:
    """Values below FLOOR (a private model's R^2 can be -1e7) are left out of the
    series and returned apart; lower bounds below FLOOR are cut at FLOOR."""
    kept: list[tuple[float, float, float] | None] = []
    off_scale = []
    for i, numbers in enumerate(estimates):
        if numbers is not None and numbers[0] < FLOOR:
            off_scale.append((i, numbers[0]))
            numbers = None
        elif numbers is not None and numbers[1] < FLOOR:
            numbers = (numbers[0], FLOOR, numbers[2])
        kept.append(numbers)
    return kept, off_scale


def _privacy_utility(figure: Any, document: Mapping[str, Any]) -> None:
    points = sweep_points(document)
    metric = _headline_metric(document)
    ax = figure.subplots()
    for s, sensitive in enumerate(_attributes(document)):
        name = _strongest_attack(document, sensitive)
        if name is None:
            continue
        advantage = _series(points, "attacks", sensitive, "members", name, "advantage")
        utility, _ = _floored([triple(p.get("utility", {}).get(metric)) for p in points])
        xs, xerr = _errors(utility)
        ys, yerr = _errors(advantage)
        colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
        ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, color=colour, marker="o", ms=4, lw=1,
                    capsize=2, label=_text(f"{sensitive}: {name} (members)"))
        for x, y, point in zip(xs, ys, points, strict=True):
            if not (math.isnan(x) or math.isnan(y)):
                ax.annotate(epsilon_text(point.get("epsilon")), (x, y), fontsize=7,
                            xytext=(4, 4), textcoords="offset points", color=colour)
    ax.axhline(0, color=BASELINE_COLOURS["imputation"], lw=1, ls="--",
               label="imputation (no model)")
    ax.set_xlabel(f"utility: {UTILITY_NAMES.get(metric, _text(metric))} (95% CI)")
    ax.set_ylabel("attack accuracy - imputation accuracy")
    ax.set_title("Privacy-utility trade-off (labels: epsilon)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _accuracy_vs_epsilon(figure: Any, document: Mapping[str, Any]) -> None:
    points = sweep_points(document)
    attributes = _attributes(document)
    axes = figure.subplots(1, len(attributes), squeeze=False, sharey=True)[0]
    xs, _ = _positions(points)
    for ax, sensitive in zip(axes, attributes, strict=True):
        baselines = list(dict.fromkeys(method_key(e) for p in points
                                       for e in p.get("baselines", [])
                                       if e.get("sensitive") == sensitive))
        for name in baselines:
            found = [n for n in _series(points, "baselines", sensitive, "members", name,
                                        "accuracy") if n is not None]
            if not found:
                continue
            value, low, high = (sum(n[i] for n in found) / len(found) for i in range(3))
            colour = BASELINE_COLOURS.get(name, "#aaaaaa")
            if not (math.isnan(low) or math.isnan(high)):
                ax.axhspan(low, high, color=colour, alpha=0.18, lw=0)
            ax.axhline(value, color=colour, lw=1, ls="--", label=_text(name))
        names = list(dict.fromkeys(method_key(e) for p in points for e in p.get("attacks", [])
                                   if e.get("sensitive") == sensitive))
        for a, name in enumerate(names):
            colour = SERIES_COLOURS[a % len(SERIES_COLOURS)]
            for population, style, dodge in (("members", "-", 1.0),
                                              ("non-members", ":", 1.08)):
                series = _series(points, "attacks", sensitive, population, name, "accuracy")
                if any(n is not None for n in series):
                    _plot_series(ax, [x * dodge for x in xs], points, series, colour,
                                 _text(f"{name}, {population}"), style)
        _epsilon_axis(ax, points)
        ax.set_title(_text(sensitive), fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("attack accuracy (95% CI)")
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                  ncols=min(2 * len(axes), max(1, len(handles))), fontsize=8, frameon=False)


def _utility_vs_epsilon(figure: Any, document: Mapping[str, Any]) -> None:
    points = sweep_points(document)
    metrics = list(document.get("utility_metrics") or [])
    axes = figure.subplots(1, max(1, len(metrics)), squeeze=False)[0]
    xs, _ = _positions(points)
    for m, (ax, metric) in enumerate(zip(axes, metrics, strict=False)):
        colour = SERIES_COLOURS[m % len(SERIES_COLOURS)]
        series, off_scale = _floored([triple(p.get("utility", {}).get(metric))
                                      for p in points])
        _plot_series(ax, xs, points, series, colour, UTILITY_NAMES.get(metric, _text(metric)))
        for i, value in off_scale:
            ax.plot([xs[i]], [FLOOR], marker="v", color=colour, ms=7, ls="none")
            ax.annotate(f"{value:.2g}", (xs[i], FLOOR), xytext=(0, 8), ha="center",
                        textcoords="offset points", fontsize=7, color=colour)
        if off_scale:
            ax.set_ylim(bottom=FLOOR - 0.1)
        _epsilon_axis(ax, points)
        ax.set_ylabel(UTILITY_NAMES.get(metric, _text(metric)))
        ax.grid(alpha=0.3)


def sweep_figures(document: Mapping[str, Any]) -> list[Figure]:
    """The three figures of a sweep (privacy-utility, accuracy and utility vs epsilon)."""
    if not document.get("points"):
        return []
    attributes = max(1, len(_attributes(document)))
    metrics = max(1, len(document.get("utility_metrics") or []))
    return [
        Figure("privacy-utility",
               "Privacy-utility trade-off: the strongest attack's advantage over imputation "
               f"on members against the model's utility (`{_headline_metric(document)}`), "
               "one point per "
               "epsilon, with 95% intervals over seeds. Points at 0 leak nothing beyond "
               "population statistics.",
               _render(_privacy_utility, (6.4, 4.4), document)),
        Figure("accuracy-vs-epsilon",
               "Attack accuracy against epsilon (members solid, non-members dotted; the "
               "non-private model as a star on the right), with the baselines on members "
               "as bands (mean and 95% interval).",
               _render(_accuracy_vs_epsilon, (1.0 + 4.4 * attributes, 5.0), document)),
        Figure("utility-vs-epsilon",
               "Utility of the target model against epsilon (the non-private model as a "
               "star on the right), mean and 95% interval over seeds; a value below "
               f"{FLOOR:g} is drawn as an arrow at the bottom, labelled with its value.",
               _render(_utility_vs_epsilon, (0.8 + 3.6 * metrics, 3.4), document)),
    ]


def figures(document: Mapping[str, Any]) -> list[Figure]:
    """Every figure of a document (assessment or sweep), in report order."""
    if document.get("kind") == SWEEP:
        return sweep_figures(document)
    return [figure for index, scenario in enumerate(scenarios(document), start=1)
            for figure in assessment_figures(scenario, index)]


def write_png(document: Any, folder: str | Path) -> list[Path]:
    """Write every figure of ``document`` as ``folder/NAME.png``; return the paths."""
    from .document import as_document

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for figure in figures(as_document(document)):
        path = folder / f"{figure.name}.png"
        path.write_bytes(figure.png)
        paths.append(path)
    return paths
