"""Exceptions raised by tabinv.

Every error tabinv raises on purpose derives from :class:`TabinvError`, and also from the
built-in exception with the same meaning (``ValueError``, ``TypeError``, ...), so callers
can catch either. Messages name the offending column, file or value and say what was
expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "TabinvError",
    "DataError",
    "ColumnError",
    "CardError",
    "ModelError",
    "UnsafeModelError",
    "AttackError",
    "DocumentError",
    "closest",
]


class TabinvError(Exception):
    """Root of every error tabinv raises deliberately."""


class DataError(TabinvError, ValueError):
    """A data table is empty, unreadable, or holds values tabinv cannot use."""


class ColumnError(DataError, KeyError):
    """A column is missing, misspelled or of the wrong kind."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class CardError(TabinvError, ValueError):
    """A dataset card (TOML) is missing, malformed or inconsistent."""


class ModelError(TabinvError, ValueError):
    """A model file or object cannot be used (wrong type, wrong features, unknown family)."""


class UnsafeModelError(ModelError):
    """Loading the model would require trusting types or formats that can run code."""


class AttackError(TabinvError, ValueError):
    """An attack was configured or called in a way it cannot honour."""


class DocumentError(TabinvError, ValueError):
    """A result document (JSON) does not follow its schema, or names an unknown kind or
    schema version."""


def closest(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` if none is close."""
    options = [str(c) for c in choices]
    lowered = {c.lower(): c for c in options}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean {lowered[match[0]]!r}?)" if match else ""
