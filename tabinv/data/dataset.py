"""The Dataset object and validation of a table against its card."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..exceptions import ColumnError, DataError, closest
from ..text import listed, shorten
from ..utils import as_text_column
from .schema import Card, Column

if TYPE_CHECKING:
    from .splits import Splits

__all__ = ["OUT_OF_BOUNDS", "CleaningStep", "Dataset", "check_frame", "require_columns",
           "validate_frame"]

#: what to do with numbers outside a column's public bounds
OUT_OF_BOUNDS = ("refuse", "clip", "allow")
#: column names a missing-column message lists
LISTED = 12


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

    def with_label(self, label: str | None) -> Dataset:
        """This data set with another card column as the label (itself when ``label`` is
        None or already the label).

        Raises
        ------
        ColumnError
            ``label`` is not a column of the card.
        """
        if label is None or label == self.card.label:
            return self
        return replace(self, card=self.card.with_label(label))

    def facts(self, splits: Splits | Mapping[str, int] | None = None) -> dict[str, Any]:
        """What a report says about the data: name, title, rows before and after cleaning,
        the cleaning steps, the split sizes (when ``splits``, a :class:`Splits` or its
        :meth:`~Splits.sizes`, is given) and the citation.

        Examples
        --------
        >>> from tabinv.data.registry import load_builtin
        >>> facts = load_builtin("iwpc").facts()
        >>> facts["name"], facts["rows"], "splits" in facts
        ('iwpc', 4162, False)
        """
        facts: dict[str, Any] = {"name": self.name, "title": self.card.title,
                                 "rows": self.n_rows, "raw_rows": self.raw_rows,
                                 "cleaning": self.cleaning_summary()}
        if splits is not None:
            facts["splits"] = dict(splits) if isinstance(splits, Mapping) else splits.sizes()
        drafted = [c.name for c in self.card.columns if c.bounds_from_data]
        if drafted:
            facts["bounds_from_data"] = drafted
        facts["citation"] = self.card.citation
        return facts


def require_columns(frame: pd.DataFrame, names: Iterable[str], origin: str) -> None:
    """Raise :class:`ColumnError` for the first name missing from ``frame``.

    The message lists (shortened) the table's first column names, for the suggestion.
    """
    present = [str(c) for c in frame.columns]
    for name in names:
        if name not in frame.columns:
            raise ColumnError(
                f"{origin}: column {shorten(name)} is missing{closest(name, present)}; "
                f"the table has: {', '.join(shorten(c, 30) for c in present[:LISTED])}"
                + (f" ... ({len(present)} columns)" if len(present) > LISTED else "")
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
                f"{origin}: column {shorten(column.name)} must hold one of "
                f"{listed(domain)}; {len(bad)} row(s) hold other values such as "
                f"{shorten(bad.iloc[0])}"
            )
        as_domain_type = numeric
    allowed = set(domain)
    unseen = sorted({str(v) for v in pd.unique(as_domain_type) if v not in allowed})
    if unseen:
        raise DataError(
            f"{origin}: column {shorten(column.name)} has {len(unseen)} value(s) that are "
            f"not in the card's domain {listed(domain)}: {listed(unseen)}"
        )
    return as_domain_type


def _coerce_numeric(values: pd.Series, column: Column, origin: str) -> pd.Series:
    """Numbers as float; raises naming the column and counting non-numbers and infinities
    (``inf``, ``-inf`` and numbers too large for a float, such as ``1e999``)."""
    numeric = pd.to_numeric(values, errors="coerce")
    bad = int(numeric.isna().sum())
    if bad:
        raise DataError(
            f"{origin}: numeric column {shorten(column.name)} has {bad} value(s) that are "
            f"not numbers, such as {shorten(values[numeric.isna()].iloc[0])}"
        )
    numbers = numeric.astype(float)
    infinite = ~np.isfinite(numbers.to_numpy())
    if infinite.any():
        raise DataError(
            f"{origin}: numeric column {shorten(column.name)} has {int(infinite.sum())} "
            f"infinite value(s) (inf, -inf or a number too large for a float), such as "
            f"{shorten(values[infinite].iloc[0])} in row {int(np.argmax(infinite)) + 1}"
        )
    return numbers


def _bounded(values: pd.Series, column: Column, origin: str, out_of_bounds: str
             ) -> tuple[pd.Series, CleaningStep | None]:
    """Values checked against the column's public bounds: refused, clipped or kept."""
    if column.bounds is None:
        return values, None
    low, high = column.bounds
    outside = (values < low) | (values > high)
    count = int(outside.sum())
    if not count:
        return values, None
    where = (f"numeric column {shorten(column.name)} has {count} value(s) outside the "
             f"card's bounds [{low:g}, {high:g}]")
    if out_of_bounds == "clip":
        return values.clip(low, high), CleaningStep(f"{where}: clipped to the bounds", 0,
                                                    count)
    if out_of_bounds == "allow":
        return values, CleaningStep(f"{where}: kept (out-of-bounds values allowed)", 0)
    raise DataError(
        f"{origin}: {where}, such as {shorten(values[outside].iloc[0])}; clip them to the "
        "bounds (--clip) or keep them (--allow-out-of-bounds) if the bounds are wrong"
    )



def check_frame(frame: pd.DataFrame, card: Card, columns: Sequence[str], origin: str, *,
                out_of_bounds: str = "refuse"
                ) -> tuple[pd.DataFrame, tuple[CleaningStep, ...]]:
    """Check and coerce ``columns`` of ``frame`` against ``card``.

    Every named column must exist, hold no missing values, and (categorical) take only
    values from the card's domain or (numeric) parse as finite numbers inside the card's
    public bounds. Returns a copy with categorical columns mapped onto the domain's value
    types and numeric ones as float, and what was done to out-of-bounds values.

    Parameters
    ----------
    out_of_bounds : {"refuse", "clip", "allow"}
        Numbers outside a column's public bounds raise (default), are clipped to the
        bounds, or are kept; a clip or a keep is returned as a cleaning step that counts
        the values.

    Raises
    ------
    ColumnError
        A column is missing (the message suggests the closest name).
    DataError
        Missing values, unparseable or infinite numbers, numbers outside the bounds
        (``refuse``), or values outside a categorical domain.
    """
    if out_of_bounds not in OUT_OF_BOUNDS:
        raise DataError(f"out_of_bounds {shorten(out_of_bounds)} is not one of "
                        f"{', '.join(OUT_OF_BOUNDS)}")
    if len(frame) == 0:
        raise DataError(f"{origin}: the table has no rows")
    require_columns(frame, columns, origin)
    out = frame.copy()
    steps = []
    for name in columns:
        column = card.column(name)
        values = out[name]
        missing = int(values.isna().sum())
        if missing:
            raise DataError(
                f"{origin}: column {shorten(name)} has {missing} missing value(s) in "
                f"{len(values)} rows; tabinv needs it complete (clean the file, or drop "
                "those rows and report how many)"
            )
        if column.is_categorical:
            out[name] = _coerce_categorical(values, column, origin)
            continue
        out[name], step = _bounded(_coerce_numeric(values, column, origin), column, origin,
                                   out_of_bounds)
        steps += [step] if step is not None else []
    return out, tuple(steps)


def validate_frame(frame: pd.DataFrame, card: Card, columns: Sequence[str],
                   origin: str) -> pd.DataFrame:
    """:func:`check_frame` refusing numbers outside the bounds; returns the checked copy."""
    return check_frame(frame, card, columns, origin)[0]
