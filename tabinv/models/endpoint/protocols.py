"""Request and response bodies of the two serving protocols, as pure functions.

MLflow's scoring server takes ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``
and answers ``{"predictions": ...}`` (a list of rows, of labels, or of ``{column: value}``
objects). The Open Inference Protocol v2 takes ``{"inputs": [tensor, ...]}`` and answers
``{"outputs": [tensor, ...]}``; tabinv sends one FP64 tensor of shape (n, d) when every
column is numeric, else one tensor per column with the pandas content type (how MLServer
rebuilds a DataFrame), and reads the first output.

Everything a server returns is hostile: sizes, nesting and types are checked before use.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...text import shorten
from .spec import EndpointError

__all__ = ["decode_response", "encode_request"]

#: largest response body read (bytes)
MAX_RESPONSE_BYTES = 256 * 2**20


def encode_request(protocol: str, columns: Mapping[str, np.ndarray], n: int) -> bytes:
    """The JSON body asking for the model's answers on ``n`` rows given as columns."""
    names = list(columns)
    values = [_plain(np.asarray(columns[name]), name) for name in names]
    if protocol == "mlflow":  # rows as tuples: json writes them as arrays, no copies
        rows: Any = list(zip(*values, strict=True)) if names else [[]] * n
        body: dict[str, Any] = {"dataframe_split": {"columns": names, "data": rows}}
    elif all(_numeric(v) for v in values):
        flat = np.column_stack([np.asarray(v, dtype=float) for v in values]).ravel() \
            if names else np.zeros(0)
        body = {"inputs": [{"name": "input-0", "shape": [n, len(names)],
                            "datatype": "FP64", "data": flat.tolist()}]}
    else:
        body = {"parameters": {"content_type": "pd"},
                "inputs": [_column_tensor(name, column, n)
                           for name, column in zip(names, values, strict=True)]}
    try:
        text = json.dumps(body, allow_nan=False, separators=(",", ":"), default=_scalar)
    except ValueError:
        raise EndpointError("a record holds a missing or infinite value, which JSON "
                            "cannot carry") from None
    return text.encode()


def _plain(column: np.ndarray, name: str) -> list[Any]:
    """A column as JSON values (numpy numbers as Python numbers; no NaN)."""
    if column.dtype.kind in "fiub":
        if column.dtype.kind == "f" and not np.isfinite(column).all():
            raise EndpointError(f"column {shorten(name)} holds a missing or infinite value, "
                                "which JSON cannot carry")
        return column.tolist()
    return column.tolist()  # domain values: text or numbers (others through _scalar)


def _scalar(value: Any) -> Any:
    """JSON for a value json does not know (numpy scalars; anything else as text)."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _column_tensor(name: str, values: list[Any], n: int) -> dict[str, Any]:
    if _numeric(values):
        return {"name": name, "shape": [n, 1], "datatype": "FP64",
                "data": [float(v) for v in values]}
    return {"name": name, "shape": [n, 1], "datatype": "BYTES",
            "data": [str(v) for v in values]}


def decode_response(protocol: str, body: bytes, n: int) -> np.ndarray:
    """The model's answers for ``n`` rows: (n, C) numbers, or (n,) labels or numbers."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise EndpointError(f"the endpoint answered {len(body):,} bytes that are not JSON"
                            ) from None
    if protocol == "mlflow":
        if isinstance(document, dict) and "predictions" in document:
            document = document["predictions"]
        return _rows(document, n)
    outputs = document.get("outputs") if isinstance(document, dict) else None
    if not isinstance(outputs, list) or not outputs or not isinstance(outputs[0], dict):
        raise EndpointError("the v2 endpoint's answer has no outputs tensor")
    return _tensor(outputs[0], n)


def _rows(predictions: Any, n: int) -> np.ndarray:
    if isinstance(predictions, dict):  # pandas "columns" orientation: {column: [values]}
        predictions = [list(row) for row in zip(*(_list(v, n) for v in
                                                  predictions.values()), strict=True)]
    items = _list(predictions, n)
    fast = _floats(items)  # the common answer: rows of probabilities, or numbers
    if fast is not None and fast.ndim in (1, 2) and (fast.ndim == 1 or fast.shape[1] > 0):
        return fast
    if all(isinstance(item, dict) for item in items):  # [{column: value}, ...]
        items = [list(item.values()) for item in items]
    if all(isinstance(item, list) for item in items):
        widths = {len(item) for item in items}
        if len(widths) != 1 or 0 in widths:
            raise EndpointError("the endpoint's answer has rows of different lengths")
        return _array([v for item in items for v in item]).reshape(n, widths.pop())
    return _array(items)


def _list(value: Any, n: int) -> list[Any]:
    if not isinstance(value, list) or len(value) != n:
        got = f"{len(value):,} items" if isinstance(value, list) else type(value).__name__
        raise EndpointError(f"the endpoint answered {got} for {n:,} rows; expected one "
                            "answer per row")
    return value


def _tensor(output: dict[str, Any], n: int) -> np.ndarray:
    shape = output.get("shape")
    data = output.get("data")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape) \
            or not isinstance(data, list):
        raise EndpointError("the v2 endpoint's output tensor has no valid shape and data")
    if any(isinstance(item, list) for item in data):  # nested rows instead of flat data
        data = [v for item in data for v in (item if isinstance(item, list) else [item])]
    size = math.prod(shape)
    if not shape or shape[0] != n or size != len(data):
        raise EndpointError(f"the v2 endpoint answered a tensor of shape {shape[:4]} with "
                            f"{len(data):,} values for {n:,} rows")
    values = _array(data)
    width = size // n if n else 0
    return values.reshape(n) if len(shape) == 1 or width == 1 else values.reshape(n, width)


def _floats(values: list[Any]) -> np.ndarray | None:
    """``values`` as a float array when they are numbers (nested lists of one length
    included; numpy's C path), else None."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return None
    if any(isinstance(v, bool) for v in (values[:1] if array.ndim == 1 else ())):
        return None
    return array


def _array(values: list[Any]) -> np.ndarray:
    fast = _floats(values)
    if fast is not None and fast.ndim == 1:
        return fast
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=float)
    if all(isinstance(v, (str, int, float, bool)) for v in values):
        return np.asarray(values, dtype=object)
    raise EndpointError("the endpoint's answer holds values that are neither numbers nor "
                        "labels")
