"""The encoder of a recognised pipeline: its preprocessing reproduced feature by feature.

A scikit-learn pipeline tabinv recognises (:mod:`.recognise`) encodes each input column
on its own: one-hot or ordinal encoding, scaling, passthrough. :class:`PipelineEncoder`
holds that encoding as one :class:`ColumnCode` per card feature (where its columns lie in
the pipeline's output, and either a table of the columns of each domain value or the
float64 operations a scaler applies to a number, in the scaler's order), so it gives the
pipeline's own matrix bit for bit, with the interface the attacks use on
:class:`~tabinv.models.encoding.TabularEncoder` (``slices_``, ``n_output_``,
``is_categorical``, ``domain``, ``block``, ``scale``, ``transform``, ``ordinal``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import require_columns
from ..exceptions import DataError
from .encoding import _not_finite, encode_codes

__all__ = ["ColumnCode", "PipelineEncoder", "STEP_KINDS"]

#: elementwise float64 operations of :attr:`ColumnCode.steps`
STEP_KINDS = ("sub", "div", "mul", "add", "clip")


@dataclass(frozen=True)
class ColumnCode:
    """How one card feature becomes the encoded columns ``[start, stop)``.

    ``table``: a categorical feature's (len(domain), stop - start) float64 columns, row k
    for domain value k. ``steps``: a numeric feature's (one column) float64 operations
    applied in order, each ``(kind, constant)`` with kind in :data:`STEP_KINDS`
    (``clip``: a (low, high) pair), as the pipeline's scalers apply them in place.
    """

    start: int
    stop: int
    table: np.ndarray | None = None
    steps: tuple[tuple[str, Any], ...] = ()

    def apply(self, values: Any) -> np.ndarray:
        """The steps applied to numbers (float64, in place on a copy, as scikit-learn)."""
        x = np.array(values, dtype=np.float64)
        for kind, constant in self.steps:
            if kind == "sub":
                x -= constant
            elif kind == "div":
                x /= constant
            elif kind == "mul":
                x *= constant
            elif kind == "add":
                x += constant
            else:
                np.clip(x, constant[0], constant[1], out=x)
        return x


class PipelineEncoder:
    """A recognised pipeline's preprocessing as an encoder of card-named records.

    Parameters
    ----------
    features : sequence of str
        The model's features (card names), in the model's input order.
    domains : mapping of str to sequence
        The card's domain of each categorical feature.
    codes : mapping of str to ColumnCode
        Every feature's columns in the pipeline's output (width 0: dropped).
    n_output : int
        The width of the pipeline's output.
    ordinal : sequence of str
        Categorical features the attacker's own models see as one index column (the
        card's ``encoding = "ordinal"``), as for :class:`TabularEncoder`.
    """

    def __init__(self, features: Sequence[str], domains: Mapping[str, Sequence[Any]],
                 codes: Mapping[str, ColumnCode], n_output: int,
                 ordinal: Sequence[str] = ()) -> None:
        self.features = tuple(features)
        self.domains = {f: list(domains[f]) for f in self.features if f in domains}
        self.codes = dict(codes)
        self.slices_ = {f: (self.codes[f].start, self.codes[f].stop) for f in self.features}
        self.n_output_ = int(n_output)
        self.ordinal = tuple(ordinal)

    def is_categorical(self, feature: str) -> bool:
        return feature in self.domains

    def domain(self, feature: str) -> tuple[Any, ...]:
        return tuple(self.domains[feature])

    def block(self, feature: str, codes: np.ndarray) -> np.ndarray:
        """Encoded columns of ``feature`` for category indices ``codes`` (n, width)."""
        table = self.codes[feature].table
        if table is None:
            raise DataError(f"feature {feature!r} is numeric: it has no category blocks")
        return table[np.asarray(codes, dtype=np.intp)]

    def scale(self, feature: str, values: np.ndarray) -> np.ndarray:
        """Numbers of a numeric feature as the pipeline encodes them (n,)."""
        return self.codes[feature].apply(values)

    def transform(self, X: pd.DataFrame, skip: Sequence[str] = (),
                  dtype: type = np.float64) -> np.ndarray:
        """Encode ``X`` (card-named columns) as the pipeline does; DataError naming the
        column on missing or unseen values. Columns in ``skip`` need not be in ``X`` and
        are left as zeros; ``dtype`` is the result's float type (rounded once)."""
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"tabinv models take a pandas DataFrame, not {type(X).__name__}")
        encoded = [f for f in self.features if f not in set(skip)]
        require_columns(X, encoded, "model input")
        out = np.zeros((len(X), self.n_output_), dtype=dtype)
        for feature in encoded:
            code = self.codes[feature]
            if code.table is not None:
                codes = encode_codes(X[feature], self.domain(feature), feature)
                out[:, code.start:code.stop] = code.table[codes]
                continue
            values = pd.to_numeric(X[feature], errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(values).all():
                _not_finite(values, feature)
            if code.stop > code.start:
                out[:, code.start] = code.apply(values)
        return out
