"""What every report figure shares: the Figure record, colours, and rendering a matplotlib
figure to PNG bytes without pyplot (no global matplotlib state is touched)."""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..vocabulary import UTILITY_NAMES as WORDS

__all__ = ["BASELINE_COLOURS", "DPI", "FLOOR", "MAX_CONFUSION", "PAGE_WIDTH", "POPULATION_COLOURS",
           "SERIES_COLOURS", "UTILITY_NAMES", "Figure", "drawn", "error_bars", "label_text",
           "render_png",
           "slug"]


#: sharp on paper (and on high-density screens); the HTML scales the images to the page
DPI = 200
#: the widest figure, in inches: a printed A4 or Letter line (about 7 inches)
PAGE_WIDTH = 7.2
#: utilities below this are drawn as an arrow at the axis floor (R^2 can be -1e7)
FLOOR = -1.0
#: larger confusion matrices (joint attributes) are left to the per-value table
MAX_CONFUSION = 12
POPULATION_COLOURS = {"members": "#1f5f99", "non-members": "#e08a1e", "given": "#1f5f99"}
BASELINE_COLOURS = {"prior-mode": "#7f7f7f", "imputation": "#2ca02c", "ideal": "#9467bd",
                    "label-rule": "#8c564b"}
SERIES_COLOURS = ("#1f5f99", "#d62728", "#e08a1e", "#17becf", "#bcbd22", "#e377c2",
                  "#393b79", "#637939")




@dataclass(frozen=True)
class Figure:
    """One rendered figure: file name (``name.png``), caption, PNG bytes."""

    name: str
    caption: str
    png: bytes


def label_text(value: Any) -> str:
    """A label safe for matplotlib: no mathtext from ``$`` in data values."""
    return str(value).replace("$", r"\$")


#: utility names as matplotlib draws them (R^2 as mathtext)
UTILITY_NAMES = {key: label_text(name).replace("R^2", "R$^2$")
                 for key, name in WORDS.items()}


def drawn(draw: Any, size: tuple[float, float], *args: Any) -> Any:
    """A matplotlib figure (Agg canvas, no pyplot) of ``size`` inches, drawn by
    ``draw(figure, *args)`` and laid out: what :func:`render_png` saves."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    with warnings.catch_warnings():  # data labels may hold glyphs the font lacks
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        draw(figure, *args)
        figure.canvas.draw()
    return figure


def render_png(draw: Any, size: tuple[float, float], *args: Any) -> bytes:
    """The PNG bytes of :func:`drawn` (no timestamp or version metadata)."""
    figure = drawn(draw, size, *args)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def slug(*parts: Any) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts)


def error_bars(estimates: Sequence[tuple[float, float, float] | None]
            ) -> tuple[list[float], list[list[float]]]:
    values, low, high = [], [], []
    for numbers in estimates:
        value, lo, hi = numbers if numbers is not None else (math.nan,) * 3
        values.append(value)
        low.append(0.0 if math.isnan(lo) else max(value - lo, 0.0))
        high.append(0.0 if math.isnan(hi) else max(hi - value, 0.0))
    return values, [low, high]
