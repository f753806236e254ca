"""Synthetic IWPC-like warfarin records, for benchmarks, tests and demos without real data.

The generator follows the ``iwpc`` card (column names, domains, public bounds) and the
structure that matters to attribute inference on that cohort: genotype frequencies that
depend on race, and a dose that depends on the genotypes through the published IWPC
pharmacogenetic formula. Frequencies and covariate distributions are rounded values
close to those of the cleaned IWPC cohort; no record of it is used or reproduced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataError
from ..utils import RandomState, check_random_state
from .registry import builtin_card
from .schema import Card

__all__ = ["synthetic_iwpc", "SYNTHETIC_RESIDUAL_SD"]

#: Gaussian noise on the sqrt(mg/week) scale, about the published formula's residual
#: standard deviation on the cleaned IWPC cohort.
SYNTHETIC_RESIDUAL_SD = 1.0
#: A stable therapeutic dose is never zero: the smallest dose drawn, in mg/week.
_MIN_DOSE = 1.0
#: mg/week: at or below the first is "low", at or above the second is "high".
_DOSE_CLASS_LIMITS = (21.0, 49.0)

# Each table has one row per race, in the card's order (White, Asian, Black, Unknown).
_RACE_FREQUENCIES = np.array([0.52, 0.27, 0.15, 0.06])
_AGE_DECADES = np.arange(1, 10, dtype=float)
_AGE_BY_RACE = np.array([
    [0.002, 0.027, 0.038, 0.078, 0.176, 0.228, 0.298, 0.147, 0.006],
    [0.003, 0.012, 0.033, 0.085, 0.219, 0.293, 0.293, 0.060, 0.002],
    [0.005, 0.033, 0.083, 0.167, 0.232, 0.227, 0.180, 0.064, 0.009],
    [0.012, 0.057, 0.102, 0.192, 0.310, 0.188, 0.106, 0.033, 0.000],
])
_HEIGHT_CM = np.array([[171.7, 10.1], [161.0, 8.7], [170.3, 10.5], [164.4, 9.4]])
_LOG_BMI = np.array([[3.33, 0.21], [3.15, 0.14], [3.43, 0.26], [3.25, 0.18]])
_ENZYME_INDUCER = np.array([0.012, 0.003, 0.023, 0.012])
_AMIODARONE = np.array([0.059, 0.012, 0.046, 0.110])
# VKORC1 -1639 in the card's order G/G, A/G, A/A
_VKORC1_BY_RACE = np.array([
    [0.366, 0.493, 0.141],
    [0.016, 0.160, 0.824],
    [0.804, 0.176, 0.020],
    [0.424, 0.454, 0.122],
])
# CYP2C9 in the card's order *1/*1 *1/*2 *1/*3 *2/*2 *2/*3 *3/*3
_CYP2C9_BY_RACE = np.array([
    [0.636, 0.210, 0.112, 0.018, 0.021, 0.003],
    [0.939, 0.000, 0.060, 0.000, 0.000, 0.001],
    [0.918, 0.057, 0.023, 0.000, 0.002, 0.000],
    [0.706, 0.188, 0.065, 0.020, 0.009, 0.012],
])

# Published IWPC pharmacogenetic algorithm (NEJM 2009) on sqrt(mg/week), per-category
# effects in the card's domain order; the reference category has 0.
_INTERCEPT = 5.6044
_AGE_EFFECT, _HEIGHT_EFFECT, _WEIGHT_EFFECT = -0.2614, 0.0087, 0.0128
_RACE_EFFECT = np.array([0.0, -0.1092, -0.2760, -0.1032])
_VKORC1_EFFECT = np.array([0.0, -0.8677, -1.6974])
_CYP2C9_EFFECT = np.array([0.0, -0.5211, -0.9357, -1.0616, -1.9206, -2.3312])
_ENZYME_INDUCER_EFFECT, _AMIODARONE_EFFECT = 1.1816, -0.5503


def _categorical_given(rng: np.random.Generator, groups: np.ndarray,
                       table: np.ndarray) -> np.ndarray:
    """One category index per row, drawn from ``table[groups[i]]`` (inverse CDF)."""
    uniforms = rng.random(len(groups))
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    codes = np.empty(len(groups), dtype=np.int64)
    for group, cdf in enumerate(cumulative):
        rows = groups == group
        codes[rows] = np.searchsorted(cdf, uniforms[rows], side="right")
    return np.minimum(codes, table.shape[1] - 1)


def _bounds(card: Card, name: str) -> tuple[float, float]:
    bounds = card.column(name).bounds
    assert bounds is not None, f"the iwpc card gives public bounds for {name!r}"
    return bounds


def _as_values(codes: np.ndarray, domain: tuple[object, ...] | None) -> pd.Series:
    """Category indices -> a Series of the domain's values (object dtype, like the loader)."""
    return pd.Series(np.asarray(domain, dtype=object)[codes], dtype=object)


def _check_size(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise DataError(f"synthetic_iwpc needs a positive integer number of rows, not {n!r}")
    return int(n)


def synthetic_iwpc(n: int, random_state: RandomState = 0) -> pd.DataFrame:
    """Draw ``n`` IWPC-like warfarin patients with the ``iwpc`` card's columns.

    Race is drawn with the cohort's frequencies (White 52 %, Asian 27 %, Black 15 %,
    Unknown 6 %); age decade, height, body-mass index (hence weight), co-medication and
    the VKORC1 and CYP2C9 genotypes are drawn given race (Asian patients are mostly
    VKORC1 A/A, Black patients mostly G/G, White patients mixed; CYP2C9 is mostly
    \\*1/\\*1). The weekly dose is ``(f(x) + e)^2`` with ``f`` the published IWPC
    pharmacogenetic formula on the square-root scale and ``e ~ N(0, 1.0^2)``; numeric
    columns are clipped into the card's public bounds (the dose to at least 1 mg/week).
    ``dose_class`` is ``low`` at or below 21 mg/week, ``high`` at or above 49, else
    ``medium``.

    Parameters
    ----------
    n : int
        Number of rows (at least 1).
    random_state : int, Generator or None
        Seed of ``numpy.random.default_rng``; the same seed gives an identical frame.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows with the card's columns in the card's order: ``age`` (decade 1-9),
        ``height_cm``, ``weight_kg`` and ``dose`` as floats, ``enzyme_inducer`` and
        ``amiodarone`` as 0/1 integers, ``race``, ``vkorc1``, ``cyp2c9`` and
        ``dose_class`` as objects holding domain values.

    Raises
    ------
    DataError
        If ``n`` is not a positive integer.

    References
    ----------
    International Warfarin Pharmacogenetics Consortium. Estimation of the warfarin dose
    with clinical and pharmacogenetic data. N Engl J Med 2009;360:753-764.

    Examples
    --------
    >>> frame = synthetic_iwpc(1000, random_state=0)
    >>> frame.shape
    (1000, 10)
    >>> bool(frame["dose"].between(0, 400).all())
    True
    """
    n = _check_size(n)
    card = builtin_card("iwpc")
    rng = check_random_state(random_state)
    race = rng.choice(len(_RACE_FREQUENCIES), size=n, p=_RACE_FREQUENCIES)
    age = _AGE_DECADES[_categorical_given(rng, race, _AGE_BY_RACE)]
    height = np.clip(rng.normal(_HEIGHT_CM[race, 0], _HEIGHT_CM[race, 1]),
                     *_bounds(card, "height_cm"))
    bmi = np.exp(rng.normal(_LOG_BMI[race, 0], _LOG_BMI[race, 1]))
    weight = np.clip(bmi * (height / 100.0) ** 2, *_bounds(card, "weight_kg"))
    inducer = (rng.random(n) < _ENZYME_INDUCER[race]).astype(np.int64)
    amiodarone = (rng.random(n) < _AMIODARONE[race]).astype(np.int64)
    vkorc1 = _categorical_given(rng, race, _VKORC1_BY_RACE)
    cyp2c9 = _categorical_given(rng, race, _CYP2C9_BY_RACE)
    sqrt_dose = (_INTERCEPT + _AGE_EFFECT * age + _HEIGHT_EFFECT * height
                 + _WEIGHT_EFFECT * weight + _RACE_EFFECT[race] + _VKORC1_EFFECT[vkorc1]
                 + _CYP2C9_EFFECT[cyp2c9] + _ENZYME_INDUCER_EFFECT * inducer
                 + _AMIODARONE_EFFECT * amiodarone
                 + rng.normal(0.0, SYNTHETIC_RESIDUAL_SD, size=n))
    low, high = _bounds(card, "dose")
    dose = np.clip(np.square(np.clip(sqrt_dose, 0.0, None)), max(low, _MIN_DOSE), high)
    dose_class = np.where(dose <= _DOSE_CLASS_LIMITS[0], 0,
                          np.where(dose >= _DOSE_CLASS_LIMITS[1], 2, 1))
    columns = {
        "age": age, "height_cm": height, "weight_kg": weight,
        "race": _as_values(race, card.column("race").domain),
        "enzyme_inducer": inducer, "amiodarone": amiodarone,
        "vkorc1": _as_values(vkorc1, card.column("vkorc1").domain),
        "cyp2c9": _as_values(cyp2c9, card.column("cyp2c9").domain),
        "dose": dose,
        "dose_class": _as_values(dose_class, card.column("dose_class").domain),
    }
    return pd.DataFrame(columns)[list(card.column_names)]
