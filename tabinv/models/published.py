"""The published IWPC pharmacogenetic warfarin dosing formula as a ready target model.

IWPC (NEJM 2009), pharmacogenetic algorithm, on sqrt(weekly dose in mg):

    5.6044 - 0.2614 age_decades + 0.0087 height_cm + 0.0128 weight_kg
    - 0.8677 VKORC1 A/G - 1.6974 VKORC1 A/A - 0.4854 VKORC1 unknown
    - 0.5211 CYP2C9 *1/*2 - 0.9357 *1/*3 - 1.0616 *2/*2 - 1.9206 *2/*3 - 2.3312 *3/*3
    - 0.2188 CYP2C9 unknown - 0.1092 Asian - 0.2760 Black - 0.1032 race unknown
    + 1.1816 enzyme inducer - 0.5503 amiodarone

The cleaned cohort has no unknown genotypes, so those two terms never apply. This is
the model a hospital would actually deploy: fitting it only records its residual
standard deviation and the training marginals; the coefficients never change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin

from ..data.schema import Card
from ..exceptions import ModelError
from .encoding import TabularEncoder
from .target import TargetModel

__all__ = ["IWPC_PUBLISHED", "IWPC_COEFFICIENTS", "FixedLinearModel", "published_iwpc_model"]

IWPC_PUBLISHED = "iwpc-published"
IWPC_INTERCEPT = 5.6044
#: (column, value or None for numeric) -> coefficient on sqrt weekly dose
IWPC_COEFFICIENTS: dict[tuple[str, Any], float] = {
    ("age", None): -0.2614, ("height_cm", None): 0.0087, ("weight_kg", None): 0.0128,
    ("vkorc1", "A/G"): -0.8677, ("vkorc1", "A/A"): -1.6974,
    ("cyp2c9", "*1/*2"): -0.5211, ("cyp2c9", "*1/*3"): -0.9357, ("cyp2c9", "*2/*2"): -1.0616,
    ("cyp2c9", "*2/*3"): -1.9206, ("cyp2c9", "*3/*3"): -2.3312,
    ("race", "Asian"): -0.1092, ("race", "Black"): -0.2760, ("race", "Unknown"): -0.1032,
    ("enzyme_inducer", 1): 1.1816, ("amiodarone", 1): -0.5503,
}


class FixedLinearModel(RegressorMixin, BaseEstimator):
    """A linear model with given coefficients; ``fit`` only checks the width."""

    def __init__(self, *, coef: tuple[float, ...] = (), intercept: float = 0.0) -> None:
        self.coef = coef
        self.intercept = intercept

    def fit(self, X: np.ndarray, y: Any = None) -> FixedLinearModel:
        if X.shape[1] != len(self.coef):
            raise ModelError(f"fixed linear model has {len(self.coef)} coefficients but the "
                             f"data has {X.shape[1]} encoded columns")
        self.coef_ = np.asarray(self.coef, dtype=float)
        self.intercept_ = float(self.intercept)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=float) @ self.coef_ + self.intercept_


def published_iwpc_model(card: Card) -> TargetModel:
    """The IWPC formula laid onto the encoded layout of ``card`` (must be the iwpc card)."""
    needed = {column for column, _ in IWPC_COEFFICIENTS}
    if card.label != "dose" or not needed <= set(card.features):
        raise ModelError(
            f"the {IWPC_PUBLISHED!r} model needs the iwpc card (label 'dose' and features "
            f"{sorted(needed)}); dataset {card.name!r} does not provide them"
        )
    template = TargetModel.from_card(IWPC_PUBLISHED, None, card)
    encoder: TabularEncoder = template._make_encoder()
    coef = np.zeros(encoder.n_output_)
    intercept = IWPC_INTERCEPT
    for (column, value), beta in IWPC_COEFFICIENTS.items():
        start, _ = encoder.slices_[column]
        if value is None:  # numeric, scaled to (x - low) / (high - low) by the encoder
            low, high = card.column(column).bounds or (0.0, 1.0)
            coef[start] = beta * (high - low)
            intercept += beta * low
        else:
            coef[start + encoder.domain(column).index(value)] = beta
    template.estimator = FixedLinearModel(coef=tuple(coef.tolist()), intercept=intercept)
    return template
