"""Figures of an epsilon sweep: privacy-utility curve, attack accuracy and utility vs epsilon."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..vocabulary import UTILITY_NAMES as WORDS
from .document import (
    epsilon_text,
    leakage_of,
    method_key,
    sweep_points,
    triple,
)
from .figure import (
    BASELINE_COLOURS,
    FLOOR,
    PAGE_WIDTH,
    SERIES_COLOURS,
    UTILITY_NAMES,
    Figure,
    error_bars,
    label_text,
    render_png,
)

__all__ = ["sweep_figures"]


def _positions(points: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    """x of each point on a log axis; the non-private model sits right of the largest
    epsilon. Returns the positions and the x of the non-private slot (or [])."""
    finite = [float(p["epsilon"]) for p in points if p.get("epsilon") is not None]
    right = max(finite) * 5 if finite else 1.0
    return ([right if p.get("epsilon") is None else float(p["epsilon"]) for p in points],
            [right] if any(p.get("epsilon") is None for p in points) else [])


def spaced(xs: Sequence[float], gap: float) -> list[int]:
    """Indices of the positions (on a log axis) to label: from the left, each at least
    ``gap`` decades from the previous labelled one, and the last one always (its
    left neighbour gives way)."""
    if not xs:
        return []
    logs = [math.log10(x) for x in xs]
    kept = [0]
    for i in range(1, len(xs)):
        if logs[i] - logs[kept[-1]] >= gap:
            kept.append(i)
    last = len(xs) - 1
    if kept[-1] != last:
        while len(kept) > 1 and logs[last] - logs[kept[-1]] < gap:
            kept.pop()
        kept.append(last)
    return kept


def _epsilon_axis(ax: Any, points: Sequence[Mapping[str, Any]]) -> None:
    """Every epsilon tried as a tick; labels only where they do not collide (at least
    ``_GAP`` of the axis width apart), the non-private model as ``no DP``."""
    xs, private = _positions(points)
    ax.set_xscale("log")
    ax.minorticks_off()
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    span = math.log10(max(xs) / min(xs)) if len(xs) > 1 and min(xs) > 0 else 1.0
    width = ax.get_position().width * ax.figure.get_size_inches()[0]
    labelled = {order[i] for i in spaced([xs[i] for i in order],
                                         span * 0.32 / max(width, 0.5))}
    ax.set_xticks(xs, [("no DP" if p.get("epsilon") is None else epsilon_text(p["epsilon"]))
                       if i in labelled else "" for i, p in enumerate(points)], fontsize=8)
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
        values, errors = error_bars([estimates[i] for i in indices])
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
    labels: list[tuple[float, float, str, str]] = []
    for s, sensitive in enumerate(_attributes(document)):
        name = _strongest_attack(document, sensitive)
        if name is None:
            continue
        leakage = [triple(leakage_of(_entries(p, "attacks", sensitive, "members")
                                     .get(name, {}))) for p in points]
        utility, _ = _floored([triple(p.get("utility", {}).get(metric)) for p in points])
        xs, xerr = error_bars(utility)
        ys, yerr = error_bars(leakage)
        colour = SERIES_COLOURS[s % len(SERIES_COLOURS)]
        ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, color=colour, marker="o", ms=4, lw=1,
                    capsize=2, elinewidth=0.6, alpha=0.9,
                    label=label_text(f"{sensitive}: {name} (members)"))
        labels += [(x, y, "no DP" if point.get("epsilon") is None else
                    epsilon_text(point["epsilon"]), colour)
                   for x, y, point in zip(xs, ys, points, strict=True)
                   if not (math.isnan(x) or math.isnan(y))]
    ax.axhline(0, color="#555555", lw=1, ls="--", label="best model-free baseline")
    _label_points(ax, labels)
    ax.set_xlabel(f"utility: {UTILITY_NAMES.get(metric, label_text(metric))} (95% CI)")
    ax.set_ylabel("leakage: attack minus best baseline")
    ax.set_title("Privacy-utility trade-off (point labels: epsilon)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _label_points(ax: Any, labels: Sequence[tuple[float, float, str, str]]) -> None:
    """Label points with their epsilon where the label does not fall on another one:
    a label is kept only if no kept label is within 7% of the axes (in x) and 5% (in y)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    kept: list[tuple[float, float]] = []
    for x, y, text, colour in sorted(labels, key=lambda item: -item[0]):
        u, v = (x - x0) / ((x1 - x0) or 1.0), (y - y0) / ((y1 - y0) or 1.0)
        if any(abs(u - a) < 0.07 and abs(v - b) < 0.05 for a, b in kept):
            continue
        kept.append((u, v))
        ax.annotate(text, (x, y), fontsize=7, xytext=(5, 5), textcoords="offset points",
                    color=colour)


def _accuracy_vs_epsilon(figure: Any, document: Mapping[str, Any]) -> None:
    points = sweep_points(document)
    attributes = _attributes(document)
    columns = min(2, len(attributes))
    rows = -(-len(attributes) // columns)
    grid = figure.subplots(rows, columns, squeeze=False, sharey=True)
    axes = [ax for line in grid for ax in line]
    for spare in axes[len(attributes):]:
        spare.set_visible(False)
    axes = axes[:len(attributes)]
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
            ax.axhline(value, color=colour, lw=1, ls="--", label=label_text(name))
        names = list(dict.fromkeys(method_key(e) for p in points for e in p.get("attacks", [])
                                   if e.get("sensitive") == sensitive))
        for a, name in enumerate(names):
            colour = SERIES_COLOURS[a % len(SERIES_COLOURS)]
            for population, style, dodge in (("members", "-", 1.0),
                                              ("non-members", ":", 1.08)):
                series = _series(points, "attacks", sensitive, population, name, "accuracy")
                if any(n is not None for n in series):
                    _plot_series(ax, [x * dodge for x in xs], points, series, colour,
                                 label_text(f"{name}, {population}"), style)
        _epsilon_axis(ax, points)
        ax.set_title(label_text(sensitive), fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[::columns]:
        ax.set_ylabel("attack accuracy (95% CI)")
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                  ncols=min(3, max(1, len(handles))), fontsize=8, frameon=False)


def _utility_vs_epsilon(figure: Any, document: Mapping[str, Any]) -> None:
    points = sweep_points(document)
    metrics = list(document.get("utility_metrics") or [])
    axes = figure.subplots(1, max(1, len(metrics)), squeeze=False)[0]
    xs, _ = _positions(points)
    for m, (ax, metric) in enumerate(zip(axes, metrics, strict=False)):
        colour = SERIES_COLOURS[m % len(SERIES_COLOURS)]
        series, off_scale = _floored([triple(p.get("utility", {}).get(metric))
                                      for p in points])
        _plot_series(ax, xs, points, series, colour, UTILITY_NAMES.get(metric, label_text(metric)))
        if off_scale:
            lowest = min(value for _, value in off_scale)
            ax.plot([xs[i] for i, _ in off_scale], [FLOOR] * len(off_scale), marker="v",
                    color=colour, ms=6, ls="none",
                    label=f"below {FLOOR:g} (down to {lowest:.1e})")
            ax.set_ylim(bottom=FLOOR - 0.1)
            ax.legend(fontsize=7, loc="upper left")
        _epsilon_axis(ax, points)
        ax.set_ylabel(UTILITY_NAMES.get(metric, label_text(metric)))
        ax.grid(alpha=0.3)


def sweep_figures(document: Mapping[str, Any]) -> list[Figure]:
    """The three figures of a sweep (privacy-utility, accuracy and utility vs epsilon)."""
    if not document.get("points"):
        return []
    attributes = max(1, len(_attributes(document)))
    metrics = max(1, len(document.get("utility_metrics") or []))
    return [
        Figure("privacy-utility",
               "Privacy-utility trade-off: the strongest attack's leakage over the best "
               "model-free baseline on members against the model's utility ("
               f"{WORDS.get(_headline_metric(document), _headline_metric(document))}"
               "), one point per epsilon, with 95% intervals over seeds. Points at 0 leak "
               "nothing beyond population statistics.",
               render_png(_privacy_utility, (6.4, 4.4), document)),
        Figure("accuracy-vs-epsilon",
               "Attack accuracy against epsilon (every tick an epsilon tried; members "
               "solid, non-members dotted; the non-private model as a star on the right, "
               "'no DP'), with the baselines on members "
               "as bands (mean and 95% interval).",
               render_png(_accuracy_vs_epsilon,
                          (PAGE_WIDTH if attributes > 1 else 5.6,
                           1.4 + 3.2 * -(-attributes // 2)), document)),
        Figure("utility-vs-epsilon",
               "Utility of the target model against epsilon (the non-private model as a "
               "star on the right), mean and 95% interval over seeds; a value below "
               f"{FLOOR:g} is drawn as a triangle at the bottom (the legend gives the lowest "
               "value).",
               render_png(_utility_vs_epsilon, (min(PAGE_WIDTH, 0.8 + 3.6 * metrics), 3.4),
                          document)),
    ]
