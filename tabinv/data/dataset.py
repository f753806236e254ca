"""The Dataset object and validation of a table against its card."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import ColumnError, DataError, closest
from ..utils import as_text_column
from .schema import Card, Column

__all__ = ["CleaningStep", "Dataset", "validate_frame", "require_columns"]


@dataclass(frozen=True)
class CleaningStep:
    """One cleaning step and the number of rows it removed (or changed)."""

    description: str
    dropped: int
    changed: int = 0


@dataclass(frozen=True)
class Dataset:
    """A clean table together with the card that describes it.

    Attributes
    ----------
    name : str
        Built-in name or the file the table came from.
    card : Card
        The public schema (domains, bounds, roles).
    frame : pandas.DataFrame
        The clean table, with the card's column names and categorical values
        already mapped onto each column's domain.
    cleaning : tuple of CleaningStep
        What each cleaning step dropped, in order; ``raw_rows`` is the count before.
    """

    name: str
    card: Card
    frame: pd.DataFrame
    cleaning: tuple[CleaningStep, ...] = ()
    raw_rows: int | None = None

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    def cleaning_summary(self) -> list[dict[str, object]]:
        return [{"step": s.description, "dropped": s.dropped, "changed": s.changed}
                for s in self.cleaning]


def require_columns(frame: pd.DataFrame, names: Iterable[str], origin: str) -> None:
    """Raise :class:`ColumnError` for the first name missing from ``frame``."""
    present = [str(c) for c in frame.columns]
    for name in names:
        if name not in frame.columns:
            raise ColumnError(
                f"{origin}: column {name!r} is missing{closest(name, present)}; "
                f"the table has: {', '.join(present[:30])}"
                + (" ..." if len(present) > 30 else "")
            )


def _coerce_categorical(values: pd.Series, column: Column, origin: str) -> pd.Series:
    domain = column.domain or ()
    as_domain_type = values
    if all(isinstance(v, str) for v in domain):
        as_domain_type = pd.Series(as_text_column(values), index=values.index, dtype=object)
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in domain):
        numeric = pd.to_numeric(values, errors="coerce")
        bad = values[numeric.isna()]
        if len(bad):
            raise DataError(
                f"{origin}: column {column.name!r} must hold one of {list(domain)}; "
                f"{len(bad)} row(s) hold other values such as {bad.iloc[0]!r}"
            )
        as_domain_type = numeric
    allowed = set(domain)
    unseen = sorted({str(v) for v in pd.unique(as_domain_type) if v not in allowed})
    if unseen:
        raise DataError(
            f"{origin}: column {column.name!r} has value(s) {unseen[:5]} that are not in the "
            f"card's domain {list(domain)}"
        )
    return as_domain_type


def validate_frame(frame: pd.DataFrame, card: Card, columns: Sequence[str],
                   origin: str) -> pd.DataFrame:
    """Check and coerce ``columns`` of ``frame`` against ``card``.

    Every named column must exist, hold no missing values, and (categorical) take only
    values from the card's domain or (numeric) parse as numbers. Returns a copy with
    categorical columns mapped onto the domain's value types and numeric ones as float.

    Raises
    ------
    ColumnError
        A column is missing (the message suggests the closest name).
    DataError
        Missing values, unparseable numbers, or values outside a categorical domain.
    """
    if len(frame) == 0:
        raise DataError(f"{origin}: the table has no rows")
    require_columns(frame, columns, origin)
    out = frame.copy()
    for name in columns:
        column = card.column(name)
        values = out[name]
        missing = int(values.isna().sum())
        if missing:
            raise DataError(
                f"{origin}: column {name!r} has {missing} missing value(s) in {len(values)} "
                "rows; tabinv needs it complete (clean the file, or drop those rows and "
                "report how many)"
            )
        if column.is_categorical:
            out[name] = _coerce_categorical(values, column, origin)
        else:
            numeric = pd.to_numeric(values, errors="coerce")
            bad = int(numeric.isna().sum())
            if bad:
                raise DataError(
                    f"{origin}: numeric column {name!r} has {bad} value(s) that are not "
                    f"numbers, such as {values[numeric.isna()].iloc[0]!r}"
                )
            if not np.isfinite(numeric.to_numpy(dtype=float)).all():
                raise DataError(f"{origin}: numeric column {name!r} holds infinite values")
            out[name] = numeric.astype(float)
    return out
