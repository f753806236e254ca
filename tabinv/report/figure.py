"""What every report figure shares: the Figure record, colours, and rendering a matplotlib
figure to PNG bytes without pyplot (no global matplotlib state is touched)."""

from __future__ import annotations

import hashlib
import io
import math
import pickle
import re
import threading
import warnings
from collections import OrderedDict
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


def drawn(draw: Any, size: tuple[float, float], *args: Any, render: bool = True) -> Any:
    """A matplotlib figure (Agg canvas, no pyplot) of ``size`` inches, drawn by
    ``draw(figure, *args)``; rendered and laid out unless ``render`` is False (what
    :func:`render_png` saves: saving renders it, and rendering twice cost as much again)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    with warnings.catch_warnings():  # data labels may hold glyphs the font lacks
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        draw(figure, *args)
        if render:
            figure.canvas.draw()
    return figure


#: PNGs kept, newest last: the same figure of the same data (a report written as HTML and
#: as Markdown, or in both vocabularies) is rendered once (about 0.3-0.6 s each)
_RENDERED: OrderedDict[bytes, bytes] = OrderedDict()
_RENDERED_MAX = 64
_RENDERED_LOCK = threading.Lock()


def _render_key(draw: Any, size: tuple[float, float], args: tuple[Any, ...]) -> bytes | None:
    """A digest of what a figure is drawn from (the drawing function, size and data), or
    None when the data cannot be pickled (then the figure is not kept)."""
    try:
        data = pickle.dumps((draw.__module__, draw.__qualname__, tuple(size), DPI, args),
                            protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    return hashlib.sha256(data).digest()


def render_png(draw: Any, size: tuple[float, float], *args: Any) -> bytes:
    """The PNG bytes of :func:`drawn` (no timestamp or version metadata), rendered once
    per drawing function, size and data (the last :data:`_RENDERED_MAX` are kept)."""
    key = _render_key(draw, size, args)
    if key is not None:
        with _RENDERED_LOCK:
            if key in _RENDERED:
                _RENDERED.move_to_end(key)
                return _RENDERED[key]
    figure = drawn(draw, size, *args, render=False)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from")
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    png = buffer.getvalue()
    if key is not None:
        with _RENDERED_LOCK:
            _RENDERED[key] = png
            while len(_RENDERED) > _RENDERED_MAX:
                _RENDERED.popitem(last=False)
    return png


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
