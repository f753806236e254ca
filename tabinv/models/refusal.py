"""The one way a model check refuses a file: one line naming the file, the part of the
model that failed and the check it failed."""

from __future__ import annotations

from typing import Any

from ..exceptions import UnsafeModelError

__all__ = ["must", "refuse"]


def refuse(path: Any, where: str, check: str) -> UnsafeModelError:
    """``refusing PATH: WHERE fails a safety check: CHECK``."""
    return UnsafeModelError(f"refusing {path}: {where} fails a safety check: {check}")


def must(condition: Any, path: Any, where: str, check: str) -> None:
    """Raise :func:`refuse`'s error unless ``condition`` holds."""
    if not condition:
        raise refuse(path, where, check)
