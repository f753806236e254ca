"""The card-driven encoder every tabinv model starts with.

The layout of the encoded matrix depends only on the card (feature order, category
domains, public bounds), never on the data. That makes a model file self-describing and
lets attacks build candidate rows by patching the few columns of the sensitive attribute
in an already encoded matrix instead of re-encoding every candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..data.dataset import require_columns
from ..exceptions import DataError
from ..text import shorten
from ..utils import as_text

__all__ = ["TabularEncoder", "encode_codes"]


def encode_codes(values: pd.Series | np.ndarray | Sequence[Any], domain: Sequence[Any],
                 name: str) -> np.ndarray:
    """Map values onto their index in ``domain`` (int64); unseen values raise DataError.

    Numbers match a text domain by their text (``1`` matches ``"1"``).
    """
    numeric = np.asarray(values)
    if numeric.dtype.kind in "iuf" and _is_numeric_domain(domain):
        codes = _numeric_codes(numeric.ravel(), domain)
        if (codes >= 0).all():
            return codes
    if isinstance(values, (pd.Series, pd.Index)):
        array: Any = values
    else:
        array = np.asarray(values, dtype=object).ravel()
    # each distinct value is looked up once: hashing the column is far cheaper than
    # matching every row's object against the domain
    local, uniques = pd.factorize(array, use_na_sentinel=True)
    distinct = np.asarray(uniques, dtype=object)
    lookup = pd.Index(list(domain), dtype=object)
    matched = lookup.get_indexer(distinct)
    bad = matched < 0
    if bad.any() and all(isinstance(v, str) for v in domain):
        matched[bad] = lookup.get_indexer(np.array([as_text(v) for v in distinct[bad]],
                                                   dtype=object))
    codes = np.append(matched, -1)[local]  # local -1 (missing) -> the appended -1
    missing = int((local < 0).sum())
    if missing:
        raise DataError(f"column {shorten(name)} has {missing} missing value(s)")
    if (matched < 0).any():
        unseen = sorted({str(v) for v in distinct[matched < 0]})
        shown = ", ".join(shorten(v, 30) for v in unseen[:5])
        raise DataError(
            f"column {shorten(name)} has {len(unseen)} value(s) that are not in its domain "
            f"[{', '.join(shorten(v, 30) for v in list(domain)[:8])}"
            f"{', ...' if len(domain) > 8 else ''}]: {shown}"
        )
    return codes.astype(np.int64)


def _not_finite(values: np.ndarray, feature: str) -> None:
    """Raise naming the column and counting missing / non-numeric and infinite values."""
    missing, infinite = int(np.isnan(values).sum()), int(np.isinf(values).sum())
    raise DataError(f"numeric column {shorten(feature)} has "
                    + " and ".join(text for count, text in (
                        (missing, f"{missing} missing or non-numeric value(s)"),
                        (infinite, f"{infinite} infinite value(s)")) if count))


def _is_numeric_domain(domain: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating))
               and not isinstance(v, (bool, np.bool_)) for v in domain)


#: integer domains spanning fewer values than this are matched through a lookup table
TABLE_SPAN = 4096


def _numeric_codes(values: np.ndarray, domain: Sequence[Any]) -> np.ndarray:
    """Index in a numeric domain (-1 where absent), no Python objects: a lookup table for
    integers in a small integer domain, binary search otherwise."""
    levels = np.asarray(domain, dtype=float)
    if (values.dtype.kind in "iu" and len(levels) and np.all(levels == np.round(levels))
            and levels.max() - levels.min() < TABLE_SPAN):
        low = int(levels.min())
        table = np.full(int(levels.max()) - low + 2, -1, dtype=np.int64)  # last: absent
        table[levels.astype(np.int64) - low] = np.arange(len(levels))
        shifted = values.astype(np.int64) - low
        shifted[(shifted < 0) | (shifted >= len(table))] = len(table) - 1
        return table[shifted]
    order = np.argsort(levels, kind="stable")
    ordered = levels[order]
    position = np.clip(np.searchsorted(ordered, values), 0, len(ordered) - 1)
    found = ordered[position] == values
    return np.where(found, order[position], -1).astype(np.int64)


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Encode a data frame into a float matrix with a layout fixed by the card.

    Parameters
    ----------
    features : sequence of str
        Columns to encode, in order.
    domains : mapping of str to list
        Domain of each categorical feature; features not in it are numeric.
    bounds : mapping of str to (low, high)
        Public bounds of numeric features; a bounded feature is scaled to
        ``(x - low) / (high - low)`` (no statistic of the data is used).
    categorical : {"onehot", "ordinal"}
        One indicator column per category, or one column holding the category index.
    ordinal : sequence of str
        Categorical features always encoded as their category index, whatever
        ``categorical`` says (SNP dosages 0/1/2 are one such column, not three).
    """

    def __init__(self, *, features: Sequence[str] = (), domains: Mapping[str, Sequence[Any]]
                 | None = None, bounds: Mapping[str, Sequence[float]] | None = None,
                 categorical: str = "onehot", ordinal: Sequence[str] = ()) -> None:
        self.features = features
        self.domains = domains
        self.bounds = bounds
        self.categorical = categorical
        self.ordinal = ordinal

    def fit(self, X: pd.DataFrame | None = None, y: Any = None) -> TabularEncoder:
        """Compute the layout from the parameters (the data are only checked)."""
        if self.categorical not in ("onehot", "ordinal"):
            raise DataError(
                f"categorical encoding {self.categorical!r} is not 'onehot' or 'ordinal'"
            )
        domains = dict(self.domains or {})
        slices: dict[str, tuple[int, int]] = {}
        names: list[str] = []
        start = 0
        for feature in self.features:
            domain = domains.get(feature)
            if domain is not None and not self.is_ordinal(feature):
                width = len(domain)
                names.extend(f"{feature}={value}" for value in domain)
            else:
                width = 1
                names.append(feature)
            slices[feature] = (start, start + width)
            start += width
        self.slices_ = slices
        self.output_names_ = tuple(names)
        self.n_output_ = start
        if X is not None:
            self.transform(X)
        return self

    def is_ordinal(self, feature: str) -> bool:
        """True when a categorical feature is one column holding its category index."""
        return self.categorical == "ordinal" or feature in set(self.ordinal)

    def is_categorical(self, feature: str) -> bool:
        return feature in (self.domains or {})

    def domain(self, feature: str) -> tuple[Any, ...]:
        return tuple((self.domains or {})[feature])

    def block(self, feature: str, codes: np.ndarray) -> np.ndarray:
        """Encoded columns of ``feature`` for category indices ``codes`` (n, width)."""
        check_is_fitted(self, "slices_")
        start, stop = self.slices_[feature]
        codes = np.asarray(codes)
        if self.is_ordinal(feature):
            return codes.astype(float).reshape(-1, 1)
        out = np.zeros((codes.shape[0], stop - start))
        out[np.arange(codes.shape[0]), codes] = 1.0
        return out

    def scale(self, feature: str, values: np.ndarray) -> np.ndarray:
        """Numeric values as encoded (scaled by public bounds when the card has them)."""
        bounds = (self.bounds or {}).get(feature)
        values = np.asarray(values, dtype=float)
        if bounds is None:
            return values
        low, high = float(bounds[0]), float(bounds[1])
        return (values - low) / (high - low)

    def transform(self, X: pd.DataFrame, skip: Sequence[str] = (),
                  dtype: type = np.float64) -> np.ndarray:
        """Encode ``X``; raises DataError naming the column on missing or unseen values.

        Columns in ``skip`` need not be in ``X`` and are left as zeros (an attack
        overwrites them with candidate values). ``dtype`` is the float type of the result
        (values are computed in float64 and rounded once).
        """
        check_is_fitted(self, "slices_")
        if not isinstance(X, pd.DataFrame):
            raise DataError(f"tabinv models take a pandas DataFrame, not {type(X).__name__}")
        encoded = [f for f in self.features if f not in set(skip)]
        require_columns(X, encoded, "model input")
        out = np.zeros((len(X), self.n_output_), dtype=dtype)
        rows = np.arange(len(X)) * self.n_output_
        flat = out.reshape(-1)
        for feature in encoded:
            start, stop = self.slices_[feature]
            if self.is_categorical(feature):
                codes = encode_codes(X[feature], self.domain(feature), feature)
                if self.is_ordinal(feature):
                    out[:, start] = codes
                else:  # one-hot: set the one indicator of each row in place
                    flat[rows + start + codes] = 1.0
            else:
                values = pd.to_numeric(X[feature], errors="coerce").to_numpy(dtype=float)
                if not np.isfinite(values).all():
                    _not_finite(values, feature)
                out[:, start] = self.scale(feature, values)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "slices_")
        return np.asarray(self.output_names_, dtype=object)
