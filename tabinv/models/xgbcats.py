"""XGBoost's categorical data in a model document, checked before XGBoost reads it.

A booster trained with ``enable_categorical`` holds two things XGBoost indexes without
bounds checks: each tree's categorical splits (``categories`` listed per split node by
``categories_nodes`` / ``categories_segments`` / ``categories_sizes``, turned into a
bitset as large as the largest category) and, since XGBoost 3.1, the model's
``cats`` container (the categories of each feature, as numbers or as UTF-8 text in
offsets/values form, with the sort order used to re-code a DataFrame's categories).
:func:`check_categories` and :func:`check_split_categories` check both;
:func:`category_values` reads the categories each feature was trained on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .refusal import must, refuse

__all__ = ["category_values", "check_categories", "check_split_categories"]

#: the largest category code a split may name (XGBoost allocates a bitset up to it)
MAX_CATEGORY = 1 << 16
#: the most categories of all features in a ``cats`` container
MAX_CATEGORIES = 1 << 24
#: XGBoost's UBJSON array type codes of integer arrays: code -> (low, high)
_INTEGER_TYPES = {9: (-(1 << 7), 1 << 7), 10: (0, 1 << 8), 11: (-(1 << 15), 1 << 15),
                  12: (0, 1 << 16), 13: (-(1 << 31), 1 << 31), 14: (0, 1 << 32),
                  15: (-(1 << 63), 1 << 63), 16: (0, 1 << 64)}
_SPLIT_ARRAYS = ("categories_nodes", "categories_segments", "categories_sizes")


def _integers(value: Any, path: Any, where: str, name: str) -> np.ndarray:
    """A list of integers (JSON numbers or a UBJSON typed array), never floats or text."""
    try:
        array = np.asarray(value if value is not None else [])
    except (TypeError, ValueError, OverflowError):
        raise refuse(path, where, f"{name} must be a list of integers") from None
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    must(array.ndim == 1 and array.dtype.kind in "iu", path, where,
         f"{name} must be a list of integers")
    return array


def check_categories(cats: Any, n_features: int, path: Any, where: str
                     ) -> list[int] | None:
    """Check a model's ``cats`` container; the number of categories of each feature
    (None when the model keeps no categories)."""
    if cats is None:
        return None
    must(isinstance(cats, dict) and isinstance(cats.get("enc", []), list), path, where,
         "cats must be an object with an enc list")
    enc = cats.get("enc", [])
    segments = _integers(cats.get("feature_segments"), path, where, "cats.feature_segments")
    order = _integers(cats.get("sorted_idx"), path, where, "cats.sorted_idx")
    if not enc:
        must(segments.size <= 1 and order.size == 0, path, where,
             "cats without enc must have empty feature_segments and sorted_idx")
        return None
    must(len(enc) == n_features and segments.size == n_features + 1 and segments[0] == 0
         and (np.diff(segments) >= 0).all() and segments[-1] <= MAX_CATEGORIES, path,
         where, f"cats must describe the {n_features} features with feature_segments "
         f"rising from 0 (at most {MAX_CATEGORIES} categories)")
    sizes = np.diff(segments).astype(int).tolist()
    for feature, (column, size) in enumerate(zip(enc, sizes, strict=True)):
        _check_column(column, size, path, f"{where} cats.enc[{feature}]")
    must(order.size in (0, segments[-1]), path, where,
         "cats.sorted_idx must be empty or give one index per category")
    if order.size:
        for start, size in zip(segments[:-1], sizes, strict=True):
            must(np.array_equal(np.sort(order[start:start + size]), np.arange(size)), path,
                 where, "cats.sorted_idx must order each feature's categories")
    return [int(s) for s in sizes]


def _check_column(column: Any, size: int, path: Any, where: str) -> None:
    must(isinstance(column, dict), path, where, "it must be an object")
    if "offsets" in column:  # text: UTF-8 bytes, with size + 1 offsets into them
        offsets = _integers(column["offsets"], path, where, "offsets")
        values = _integers(column.get("values"), path, where, "values")
        if size == 0:
            must(offsets.size <= 1 and values.size == 0, path, where,
                 "a feature without categories must have no offsets and values")
        must(size == 0 or (offsets.size == size + 1 and offsets[0] == 0
                           and (np.diff(offsets) >= 0).all() and offsets[-1] == values.size),
             path, where, f"text categories need {size + 1} offsets rising from 0 to the "
             "number of bytes")
        must(((values >= -128) & (values < 256)).all(), path, where,
             "text category values must be bytes")
        return
    kind = column.get("type")
    must(isinstance(kind, int) and kind in _INTEGER_TYPES, path, where,
         "numeric categories must be an integer array type")
    values = _integers(column.get("values"), path, where, "values")
    low, high = _INTEGER_TYPES[kind]
    must(values.size == size and ((values >= low) & (values < high)).all(), path, where,
         f"it must hold {size} integers of its type")


def check_split_categories(tree: dict[str, Any], split_type: np.ndarray,
                           inner: np.ndarray, feature: np.ndarray,
                           counts: list[int] | None, path: Any, where: str) -> None:
    """A tree's categorical splits: every categorical node lists a non-empty segment of
    ``categories`` inside the array, with codes in [0, the feature's categories)."""
    nodes, starts, sizes = (_integers(tree.get(name), path, where, name)
                            for name in _SPLIT_ARRAYS)
    categories = _integers(tree.get("categories"), path, where, "categories")
    n = split_type.size
    categorical = np.flatnonzero(split_type == 1)
    must(np.isin(categorical, inner).all() and np.array_equal(nodes, categorical), path,
         where, "categories_nodes must list every categorical split node, in order")
    must(starts.size == sizes.size == nodes.size, path, where,
         "categories_segments and categories_sizes need one entry per categorical split")
    must(((starts >= 0) & (sizes >= 1) & (starts + sizes <= categories.size)).all(), path,
         where, f"each categorical split's segment must lie inside categories "
         f"({categories.size})")
    must(((categories >= 0) & (categories < MAX_CATEGORY)).all(), path, where,
         f"categories must be codes in [0, {MAX_CATEGORY})")
    if counts is not None and nodes.size:
        for node, start, size in zip(nodes, starts, sizes, strict=True):
            known = counts[int(feature[node])] if 0 <= feature[node] < len(counts) else 0
            must((categories[start:start + size] < max(known, 1)).all(), path, where,
                 f"node {node}'s categories must be codes of its feature's {known} "
                 "categories")
    must(((split_type == 0) | (split_type == 1)).all() and n > 0, path, where,
         "split_type must be 0 (numerical) or 1 (categorical)")


def category_values(cats: Any) -> list[tuple[Any, ...] | None]:
    """The categories each feature was trained on (text or integers, in code order), None
    for a feature without; empty when the model keeps none. Call on a checked model."""
    if not isinstance(cats, dict) or not cats.get("enc"):
        return []
    values: list[tuple[Any, ...] | None] = []
    for column in cats["enc"]:
        if "offsets" in column:
            offsets = [int(o) for o in column["offsets"]]
            raw = bytes(int(v) & 0xFF for v in column["values"])
            values.append(tuple(raw[a:b].decode("utf-8", "replace")
                                for a, b in zip(offsets, offsets[1:], strict=False))
                          or None)
        else:
            values.append(tuple(int(v) for v in column["values"]) or None)
    return values
