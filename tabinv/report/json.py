"""JSON output: one document on stdout or in a file, NaN written as null.

:func:`plain` turns any result value into plain JSON values (what ``json.loads`` of its
JSON text would give) in one walk, so live results and a stored file become the same
input without writing and re-parsing JSON text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from ..exceptions import TabinvError
from ..text import CODE_END, CODE_START, without_marks

__all__ = ["Document", "plain", "to_json"]


class Document(dict[str, Any]):
    """A result document already made of plain JSON values (see :func:`plain`).

    Writers take it as it is instead of converting it again; build one only from plain
    values (:func:`tabinv.report.document.as_document` does).
    """


def _same(text: str) -> str:
    return text


def _unmarked(text: str) -> str:
    return without_marks(text) if CODE_START in text or CODE_END in text else text


def _walk(value: Any, text: Callable[[str], str]) -> Any:
    kind = type(value)  # the exact plain types first: most values are
    if kind is str:
        return text(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {text(k) if type(k) is str else text(str(k)): _walk(v, text)
                for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_walk(v, text) for v in value]
    if value is None or kind is bool or kind is int:
        return value
    if isinstance(value, Mapping):
        return {text(str(k)): _walk(v, text) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, text) for v in value]
    return _walk(_scalar(value), text)


def _scalar(value: Any) -> str | float | int | bool:
    """A numpy scalar or a subclass of str, float or int as the plain value JSON holds."""
    for plain_type in (bool, str, float, int):  # bool first: it is an int
        if isinstance(value, plain_type):
            return plain_type(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        item = value.item()
        if isinstance(item, (bool, str, float, int)) or item is None:
            return item
    raise TabinvError(f"cannot write a {type(value).__name__} into a JSON document: "
                      "expected text, numbers, lists and mappings")


def plain(value: Any, marks: bool = True) -> Any:
    """``value`` as plain JSON values: NaN and infinities as None, tuples as lists,
    numpy scalars as Python numbers, mapping keys as text.

    Parameters
    ----------
    value : Any
        A result document, or any part of one.
    marks : bool
        Keep code-span marks (:func:`tabinv.text.code`) in texts; False removes them
        (text from an input never carries them: only the writers add them).

    Raises
    ------
    TabinvError
        When ``value`` holds something JSON cannot (an object, a set ...).

    Examples
    --------
    >>> plain({"a": (1.5, float("nan")), 2: "x"})
    {'a': [1.5, None], '2': 'x'}
    """
    return _walk(value, _same if marks else _unmarked)


def to_json(document: Mapping[str, Any], indent: int | None = 2) -> str:
    """Serialise a result document (strict JSON: NaN and infinities become null)."""
    values = document if isinstance(document, Document) else plain(document)
    return json.dumps(values, indent=indent, allow_nan=False)
