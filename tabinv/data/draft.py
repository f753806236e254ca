"""Draft a card from a data file: a starting point a person then checks.

``tabinv card draft FILE --label COL`` reads the table and writes, for every column, its
kind (a column of text or booleans, or of whole numbers with few distinct values, is
categorical; other numbers are numeric), the domain of a categorical column (its values
in the data, sorted), and the range of a numeric column as its bounds, marked
``bounds_from_data = true``: they come from the private records, so differentially
private training refuses them until a person replaces them with public bounds and
removes the mark. Nothing is guessed silently: what the draft took from the data is
said in each column's description, and a column the draft cannot describe (a constant,
missing values) is an error naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import CardError, ColumnError, closest
from ..text import shorten
from ..utils import as_text
from .schema import card_from_dict

__all__ = ["MAX_CATEGORIES", "draft_card", "write_card"]

#: whole-number columns with at most this many distinct values are drafted as categorical
MAX_CATEGORIES = 20


def draft_card(frame: pd.DataFrame, *, name: str, label: str, sensitive: Sequence[str] = (),
               max_categories: int = MAX_CATEGORIES, origin: str = "the data"
               ) -> dict[str, Any]:
    """A card (the mapping a card file holds) describing ``frame``.

    Parameters
    ----------
    frame : DataFrame
        The table, as read from its file.
    name, label, sensitive
        The card's name, its label column and its sensitive columns (which must come out
        categorical).
    max_categories : int
        Whole-number columns with at most this many distinct values are categorical.
    origin : str
        The file's name, for the descriptions and messages.

    Returns
    -------
    dict
        Checked by :func:`~tabinv.data.schema.card_from_dict` before it is returned.

    Raises
    ------
    ColumnError
        The label or a sensitive column is not in the table.
    CardError
        A column holds missing values or a single value, or a sensitive column is numeric.
    """
    names = [str(c) for c in frame.columns]
    for role, wanted in (("label", [label]), ("sensitive", list(sensitive))):
        for column in wanted:
            if column not in names:
                raise ColumnError(f"{origin}: the {role} column {shorten(column)} is not in "
                                  f"the data{closest(column, names)}")
    columns = {str(c): _column(frame[c], str(c), max_categories, origin)
               for c in frame.columns}
    for column in sensitive:
        if columns[column]["kind"] != "categorical":
            raise CardError(f"{origin}: sensitive column {shorten(column)} has "
                            f"{frame[column].nunique()} distinct numbers; attacks infer "
                            "categorical attributes (raise --max-categories, or give it a "
                            "domain by hand)")
    card = {"name": name, "title": f"{name} (drafted from {origin})",
            "description": f"Drafted by `tabinv card draft` from {origin} "
                           f"({len(frame)} rows): check every column before use.",
            "source": origin, "label": label,
            "features": [c for c in names if c != label],
            "sensitive": list(dict.fromkeys(sensitive)), "columns": columns}
    card_from_dict(card, origin=f"the card drafted from {origin}")  # what we write reads
    return card


def _column(values: pd.Series, name: str, max_categories: int, origin: str
            ) -> dict[str, Any]:
    missing = int(values.isna().sum())
    if missing:
        raise CardError(f"{origin}: column {shorten(name)} has {missing} missing values; a "
                        "card describes clean data (drop or fill them first)")
    distinct = values.unique()
    if len(distinct) < 2:
        raise CardError(f"{origin}: column {shorten(name)} holds a single value; it tells a "
                        "model nothing (leave it out of the data)")
    whole = pd.api.types.is_integer_dtype(values) or (
        pd.api.types.is_float_dtype(values) and bool(np.all(np.mod(distinct, 1) == 0)))
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        domain = sorted({as_text(v) for v in distinct})
        return {"kind": "categorical", "domain": domain,
                "description": f"{len(domain)} values found in {origin}"}
    if whole and len(distinct) <= max_categories:
        domain = sorted(int(v) for v in distinct)
        return {"kind": "categorical", "domain": domain,
                "description": f"{len(domain)} whole numbers found in {origin}"}
    low, high = float(values.min()), float(values.max())
    return {"kind": "numeric", "bounds": [_number(low), _number(high)],
            "bounds_from_data": True,
            "description": f"bounds are the smallest and largest values in {origin}: "
                           "replace them with public bounds before DP training"}


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def write_card(card: dict[str, Any], path: str | Path) -> Path:
    """Write ``card`` as TOML to ``path``, a new file (an existing one is never replaced)."""
    import tomli_w

    target = Path(path)
    text = tomli_w.dumps(card)
    try:
        with open(target, "x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise CardError(f"{target} exists; choose another --out (tabinv does not overwrite "
                        "a card)") from None
    except OSError as error:
        raise CardError(f"cannot write {target}: {error.strerror}") from None
    return target
