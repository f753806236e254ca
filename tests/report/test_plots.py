"""Plots: valid, small, deterministic PNGs for both document kinds, no global side effects."""

from __future__ import annotations

import functools
import itertools
import struct
import sys

import matplotlib
import pytest

from tabinv.report.document import as_document, scenarios
from tabinv.report.figure import DPI, PAGE_WIDTH, drawn
from tabinv.report.plots import (
    Figure,
    _accuracy_bars,
    _confusion,
    assessment_figures,
    bars_size,
    confusion_size,
    figures,
    sweep_figures,
    write_png,
)
from tabinv.report.sweep_plots import (
    _accuracy_vs_epsilon,
    _privacy_utility,
    _utility_vs_epsilon,
)

from . import fake_sweep, planted_assessments

PNG = b"\x89PNG\r\n\x1a\n"


def size_of(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk."""
    assert png.startswith(PNG) and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


def check_png(png: bytes) -> None:
    width, height = size_of(png)  # at most a printed line wide, at 200 dpi
    assert 400 <= width <= PAGE_WIDTH * DPI + 1 and 300 <= height <= 2400, (width, height)
    assert 2_000 < len(png) < 600_000
    assert png.endswith(b"IEND\xaeB`\x82")


@functools.cache
def sweep_pngs() -> tuple[Figure, ...]:
    return tuple(sweep_figures(fake_sweep()))


def test_sweep_figures_are_small_pngs():
    assert [f.name for f in sweep_pngs()] == ["privacy-utility", "accuracy-vs-epsilon",
                                              "utility-vs-epsilon"]
    for figure in sweep_pngs():
        check_png(figure.png)
        assert figure.caption


def test_assessment_figures_bars_and_confusion_per_attribute():
    document = as_document(list(planted_assessments()))
    single, joint = scenarios(document)
    names = [f.name for f in assessment_figures(single, 1)]
    assert names == ["accuracy-1-vkorc1", "confusion-1-vkorc1"]
    names = [f.name for f in assessment_figures(joint, 2)]
    assert names[0] == "accuracy-2-vkorc1-cyp2c9"
    # the joint attribute has 18 values: too many for a matrix, left to the table
    assert sorted(names[1:]) == ["confusion-2-cyp2c9", "confusion-2-vkorc1"]
    for figure in figures(document):
        check_png(figure.png)


def test_confusion_matrix_is_skipped_without_counts():
    document = as_document(list(planted_assessments())[:1])
    for row in document["assessments"][0]["results"]:
        row.pop("confusion", None)
    assert [f.name for f in figures(document)] == ["accuracy-1-vkorc1"]


def test_write_png_gives_the_same_bytes_and_changes_nothing_global(tmp_path):
    had_pyplot = "matplotlib.pyplot" in sys.modules
    settings = {key: matplotlib.rcParams[key] for key in matplotlib.rcParams
                if key != "backend"}  # reading the backend would resolve it
    paths = write_png(fake_sweep(), tmp_path / "figures")
    assert [p.read_bytes() for p in paths] == [f.png for f in sweep_pngs()]
    assert [p.name for p in paths] == [f"{f.name}.png" for f in sweep_pngs()]
    assert {key: matplotlib.rcParams[key] for key in settings} == settings
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


def _renamed(document: dict, old: str, new: str) -> dict:
    for point in document["points"]:
        for entry in (*point["attacks"], *point["baselines"]):
            if entry["sensitive"] == old:
                entry["sensitive"] = new
    return document


def test_odd_labels_neither_warn_nor_fail():
    # pytest turns warnings into errors: a missing glyph or bad mathtext would fail here
    document = _renamed(fake_sweep((1.0, 10.0)), "cyp2c9", "caf\u00e9 $x_1$ \u2713 \u4e2d")
    for figure in sweep_figures(_renamed(document, "vkorc1", "50% $")):
        check_png(figure.png)


def test_sweeps_with_gaps_still_plot():
    document = fake_sweep((0.5, 2.0))
    document["points"] = document["points"][:-1]  # no non-private model
    document["points"][0]["utility"]["r2"] = {"value": None, "low": None, "high": None}
    document["points"][1]["attacks"] = document["points"][1]["attacks"][:1]
    for figure in sweep_figures(document):
        check_png(figure.png)
    assert sweep_figures({**fake_sweep(), "points": []}) == []


# -- no text on top of another ------------------------------------------------------------

def _texts(figure) -> list[tuple[str, object]]:
    """Every drawn text of a laid-out figure with its box: tick labels (only the ticks
    drawn), axis labels, titles, annotations, legend entries."""
    renderer = figure.canvas.get_renderer()
    found = []

    def add(text) -> None:
        if text is not None and text.get_visible() and str(text.get_text()).strip():
            found.append((text.get_text(), text.get_window_extent(renderer)))

    for ax in figure.axes:
        if not ax.get_visible():
            continue
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis._update_ticks():  # the ticks inside the view
                add(tick.label1)
            add(axis.label)
        for text in (*ax.texts, ax.title):
            add(text)
        if ax.get_legend() is not None:
            for text in ax.get_legend().get_texts():
                add(text)
    for legend in figure.legends:
        for text in legend.get_texts():
            add(text)
    add(figure._suptitle)
    return found


def overlapping(figure) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap by more than a pixel each way."""
    return [(a, b) for (a, x), (b, y) in itertools.combinations(_texts(figure), 2)
            if x.x0 < y.x1 - 1 and y.x0 < x.x1 - 1 and x.y0 < y.y1 - 1 and y.y0 < x.y1 - 1]


def _dense_sweep() -> dict:
    """The warfarin-dp grid (ten epsilons, 35/50/70 close together) with R^2 far below
    -1 at small epsilon, as diffprivlib's regression gives it."""
    document = fake_sweep((0.25, 1.0, 5.0, 20.0, 35.0, 50.0, 70.0, 100.0, 200.0, 1000.0))
    for point, value in zip(document["points"][1:5], (-9.9e7, -7e6, -1.4e6, -2e7),
                            strict=True):
        point["utility"]["r2"] = {"value": value, "low": value * 3, "high": 1.0}
    return document


@pytest.mark.parametrize("draw, size", [(_privacy_utility, (6.4, 4.4)),
                                        (_accuracy_vs_epsilon, (PAGE_WIDTH, 4.6)),
                                        (_utility_vs_epsilon, (PAGE_WIDTH, 3.4))])
@pytest.mark.parametrize("document", [fake_sweep(), _dense_sweep()], ids=["sweep", "dense"])
def test_sweep_figure_texts_do_not_overlap(draw, size, document):
    figure = drawn(draw, size, as_document(document))
    assert overlapping(figure) == []
    labels = [text for text, _ in _texts(figure)]
    assert "no DP" in labels and not any("private" in label for label in labels)


def test_confusion_labels_do_not_overlap():
    row = {"method": "map", "variant": "learned prior", "sensitive": "relactiv",
           "population": "members", "confusion": [[20, 5, 1, 0]] * 4,
           "per_value": [{"value": v} for v in ("never", "less than monthly",
                                                  "monthly to nearly weekly",
                                                  "weekly or more")]}
    assert overlapping(drawn(_confusion, confusion_size(4), row)) == []


def test_accuracy_bars_labels_do_not_overlap():
    for scenario in scenarios(as_document(list(planted_assessments()))):
        attributes = len({r["sensitive"] for r in scenario["results"]})
        bars = len({(r["method"], r["variant"], r["population"])
                    for r in scenario["results"]})
        figure = drawn(_accuracy_bars, bars_size(attributes, bars), scenario)
        assert overlapping(figure) == []


def _bars(figure, heights):  # noqa: ANN001, ANN202
    figure.add_subplot().bar(range(len(heights)), heights)


def test_a_figure_of_the_same_data_is_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """render_png keeps what it rendered: the same drawing of the same data is drawn
    once; other data, or another size, is drawn anew."""
    from tabinv.report import figure as module

    calls = []
    real = module.drawn
    monkeypatch.setattr(module, "drawn", lambda *a, **k: calls.append(a[2:]) or real(*a, **k))
    monkeypatch.setattr(module, "_RENDERED", type(module._RENDERED)())
    first = module.render_png(_bars, (2, 1), [1.0, 2.0])
    assert module.render_png(_bars, (2, 1), [1.0, 2.0]) == first and len(calls) == 1
    other = module.render_png(_bars, (2, 1), [2.0, 1.0])
    assert other != first and len(calls) == 2
    assert size_of(module.render_png(_bars, (3, 1), [1.0, 2.0])) == (3 * DPI, DPI)
    assert len(calls) == 3
    unpicklable = [lambda: None]  # not kept: drawn every time
    module.render_png(lambda f, _: _bars(f, [1.0]), (2, 1), unpicklable)
    module.render_png(lambda f, _: _bars(f, [1.0]), (2, 1), unpicklable)
    assert len(calls) == 5
