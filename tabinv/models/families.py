"""Model families by name: one factory for plain (and, later, DP) models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ..data.schema import Card
from ..exceptions import ModelError, closest
from ..utils import RandomState, seed_from
from .published import IWPC_PUBLISHED, published_iwpc_model
from .target import TargetModel

__all__ = ["FAMILIES", "family_names", "make_model"]

Builder = Callable[[int, dict[str, Any]], Any]


def _xgb_regressor(seed: int, params: dict[str, Any]) -> Any:
    from xgboost import XGBRegressor
    return XGBRegressor(**{"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1,
                           "n_jobs": 1, "random_state": seed, **params})


def _xgb_classifier(seed: int, params: dict[str, Any]) -> Any:
    from xgboost import XGBClassifier
    return XGBClassifier(**{"n_estimators": 100, "max_depth": 4, "learning_rate": 0.1,
                            "n_jobs": 1, "random_state": seed, **params})


#: family -> (regressor builder or None, classifier builder or None)
FAMILIES: dict[str, tuple[Builder | None, Builder | None]] = {
    "linear": (lambda seed, p: LinearRegression(**p), None),
    "logistic": (None, lambda seed, p: LogisticRegression(**{"max_iter": 5000, **p})),
    "tree": (lambda seed, p: DecisionTreeRegressor(**{"max_depth": 8, "random_state": seed, **p}),
             lambda seed, p: DecisionTreeClassifier(**{"max_depth": 8, "random_state": seed,
                                                       **p})),
    "forest": (lambda seed, p: RandomForestRegressor(**{"n_estimators": 100, "max_depth": 12,
                                                        "n_jobs": 1, "random_state": seed, **p}),
               lambda seed, p: RandomForestClassifier(**{"n_estimators": 100, "max_depth": 12,
                                                         "n_jobs": 1, "random_state": seed,
                                                         **p})),
    "naive-bayes": (None, lambda seed, p: GaussianNB(**p)),
    "xgboost": (_xgb_regressor, _xgb_classifier),
}


def family_names() -> list[str]:
    """Every family name ``make_model`` accepts."""
    return sorted([*FAMILIES, IWPC_PUBLISHED])


def make_model(family: str, card: Card, *, random_state: RandomState = 0,
               categorical: str = "onehot", epsilon: float | None = None,
               accountant: Any = None, **params: Any) -> TargetModel:
    """Build an unfitted :class:`TargetModel` of ``family`` for ``card``'s label and features.

    Parameters
    ----------
    family : str
        One of :func:`family_names`.
    card : Card
        Decides the task (regression for a numeric label, classification otherwise),
        the features and their encoding.
    random_state : int, Generator or None
        Seed for randomised estimators.
    categorical : {"onehot", "ordinal"}
        How categorical features are encoded.
    epsilon : float, optional
        Train diffprivlib's differentially private counterpart at this epsilon, with
        bounds from the card's public bounds (see :mod:`tabinv.models.dp`).
    accountant : diffprivlib BudgetAccountant, optional
        The run's budget accountant (DP models only).
    **params
        Passed to the estimator (``max_depth=4`` ...).

    Raises
    ------
    ModelError
        Unknown family, or a family that does not fit the card's task.

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> model = make_model("linear", builtin_card("iwpc"))
    >>> model.family
    'linear'
    """
    if epsilon is not None:
        from .dp import dp_model
        return dp_model(family, card, epsilon, random_state=random_state,
                        accountant=accountant, categorical=categorical, **params)
    if family == IWPC_PUBLISHED:
        return published_iwpc_model(card)
    if family not in FAMILIES:
        raise ModelError(
            f"unknown model family {family!r}{closest(family, family_names())}; "
            f"families are: {', '.join(family_names())}"
        )
    regressor, classifier = FAMILIES[family]
    builder = regressor if card.task == "regression" else classifier
    if builder is None:
        other = "classification" if card.task == "regression" else "regression"
        raise ModelError(
            f"model family {family!r} is for {other}, but the label {card.label!r} of "
            f"dataset {card.name!r} makes this a {card.task} task"
        )
    try:
        estimator = builder(seed_from(random_state), dict(params))
    except TypeError as error:
        raise ModelError(f"bad parameter for model family {family!r}: {error}") from None
    return TargetModel.from_card(family, estimator, card, categorical=categorical)
