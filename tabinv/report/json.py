"""JSON output: one document on stdout or in a file, NaN written as null."""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["to_json"]


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _clean(value.item())
    return value


def to_json(document: dict[str, Any], indent: int | None = 2) -> str:
    """Serialise a result document (strict JSON: NaN and infinities become null)."""
    return json.dumps(_clean(document), indent=indent, allow_nan=False)
