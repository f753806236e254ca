"""Differentially private target models: diffprivlib's own classes behind a TargetModel.

Each DP family is diffprivlib's counterpart of a plain family (``linear`` ->
``LinearRegression``, ``logistic`` -> ``LogisticRegression``, ``naive-bayes`` ->
``GaussianNB``, ``tree`` -> ``DecisionTreeClassifier``, ``forest`` ->
``RandomForestClassifier``), fitted on the same card-driven encoded matrix as the plain
model, so attacks, oracles and reports work unchanged.

Every bound diffprivlib needs comes from the card, never from the data: in the encoded
matrix a numeric feature scaled by its public bounds lies in [0, 1], a one-hot column in
[0, 1], an ordinal column in [0, K - 1]; a regression label's bounds are the card's bounds
through the target transform (IWPC: dose in [0, 400] mg/week -> sqrt dose in [0, 20]).
A card without the bounds a DP model needs is refused with a :class:`CardError` naming
the columns. diffprivlib's ``PrivacyLeakWarning`` (bounds, norms or classes read from the
data) is turned into a :class:`ModelError`, so it can never pass silently.

Only the estimator's parameters are private. The statistics a :class:`TargetModel`
records for the threat model (residual sigma, training confusion counts, marginal counts)
are computed without noise: they describe what the attacker is assumed to know, as in
Fredrikson et al. (2014), and are not part of the DP release.

diffprivlib 0.6.6 calls ``warnings.simplefilter('always', PrivacyLeakWarning)`` when it is
first imported; this module imports it inside ``warnings.catch_warnings()`` so the
process-wide warning filters are left as they were.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..data.schema import Card
from ..exceptions import CardError, ModelError
from ..utils import RandomState, seed_from
from .target import TargetModel, forward_transform

with warnings.catch_warnings():  # diffprivlib changes global filters on import
    import diffprivlib
    from diffprivlib.accountant import BudgetAccountant
    from diffprivlib.models import (
        DecisionTreeClassifier,
        GaussianNB,
        LinearRegression,
        LogisticRegression,
        RandomForestClassifier,
    )
    from diffprivlib.utils import BudgetError, DiffprivlibCompatibilityWarning, PrivacyLeakWarning

__all__ = ["DP_FAMILIES", "DPTargetModel", "BudgetAccountant", "ReferenceCoded",
           "dp_family_names", "dp_model", "encoded_bounds", "label_bounds", "max_row_norm"]

#: family -> (task, how diffprivlib makes it private)
DP_FAMILIES: dict[str, tuple[str, str]] = {
    "linear": ("regression",
               "diffprivlib LinearRegression: Laplace noise on every coefficient of the "
               "least-squares objective's polynomial (after Zhang et al. 2012's functional "
               "mechanism), epsilon split evenly over the 1 + d + d(d+1)/2 coefficients, "
               "plus a share of 1/(d+1) for the DP means that fit the intercept; no "
               "regularisation or positive-definite repair of the noisy objective. "
               "Categorical features are reference-coded (first category of each "
               "one-hot block dropped) so the noiseless objective has a unique minimum"),
    "logistic": ("classification",
                 "diffprivlib LogisticRegression: objective perturbation (Chaudhuri et al. "
                 "2011), one-vs-rest, epsilon split over the classes; rows clipped to the "
                 "card's largest possible row norm"),
    "naive-bayes": ("classification",
                    "diffprivlib GaussianNB: Laplace noise on class counts, means and "
                    "variances (Vaidya et al. 2013), within the card's bounds"),
    "tree": ("classification",
             "diffprivlib DecisionTreeClassifier: random splits drawn within the card's "
             "bounds, leaf class counts released with noise (Fletcher & Islam 2019); the "
             "tree keeps no training counts per node"),
    "forest": ("classification",
               "diffprivlib RandomForestClassifier: random trees on disjoint parts of the "
               "data, noisy leaf counts (Fletcher & Islam 2019)"),
}

#: plain-family defaults kept by the DP counterpart (diffprivlib's own otherwise)
_DEFAULTS: dict[str, dict[str, Any]] = {
    "linear": {}, "logistic": {"max_iter": 1000}, "naive-bayes": {},
    "tree": {"max_depth": 5}, "forest": {"n_estimators": 10, "max_depth": 5, "n_jobs": 1},
}


def dp_family_names() -> list[str]:
    """Model families that have a differentially private counterpart."""
    return sorted(DP_FAMILIES)


def _check_epsilon(epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.number)):
        raise ModelError(f"epsilon must be a positive number, received {epsilon!r}")
    value = float(epsilon)
    if not (value > 0 and math.isfinite(value)):
        raise ModelError(f"epsilon must be a positive finite number, received {value!r}")
    return value


def _refuse_data_bounds(card: Card, columns: Sequence[str]) -> None:
    """Bounds read from the private data (``bounds_from_data``, as ``tabinv card draft``
    writes them) break the DP guarantee: refuse them, naming the columns."""
    drafted = [c for c in columns if card.column(c).bounds_from_data]
    if drafted:
        raise CardError(
            f"the {card.name!r} card's bounds for {drafted} were taken from the data "
            "(bounds_from_data = true), which breaks differential privacy: replace them with "
            "public bounds (domain knowledge) and set bounds_from_data = false")


def _column_blocks(card: Card, categorical: str) -> list[tuple[int, float, bool]]:
    """(width, upper bound, is one-hot) of each feature's encoded columns, from the card."""
    unbounded = [f for f in card.features
                 if not card.column(f).is_categorical and card.column(f).bounds is None]
    if unbounded:
        raise CardError(
            f"a differentially private model needs public bounds for every numeric feature; "
            f"the {card.name!r} card has none for {unbounded}: add bounds = [low, high] "
            "under [columns.NAME] (from domain knowledge, never from the data)")
    _refuse_data_bounds(card, card.features)
    encoder = TargetModel.from_card("", None, card, categorical)._make_encoder()
    blocks = []
    for feature in card.features:
        start, stop = encoder.slices_[feature]
        if not encoder.is_categorical(feature):  # scaled by its public bounds
            blocks.append((1, 1.0, False))
        elif encoder.is_ordinal(feature):  # category index
            blocks.append((1, float(len(encoder.domain(feature)) - 1), False))
        else:  # one indicator per category
            blocks.append((stop - start, 1.0, True))
    return blocks


def encoded_bounds(card: Card, categorical: str = "onehot") -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bound of every column of the encoded matrix, from the card alone.

    Scaled numeric and one-hot columns lie in [0, 1], ordinal ones in [0, K - 1].

    Raises
    ------
    CardError
        A numeric feature has no public bounds in the card (every such column is named).
    """
    highs = [high for width, high, _ in _column_blocks(card, categorical)
             for _ in range(width)]
    return np.zeros(len(highs)), np.asarray(highs)


def max_row_norm(card: Card, categorical: str = "onehot") -> float:
    """Largest L2 norm an encoded row can have, from the card (one-hot blocks hold one 1)."""
    return math.sqrt(sum(high**2 for _, high, _ in _column_blocks(card, categorical)))


def _reference_columns(card: Card, categorical: str) -> set[int]:
    """Index of the first (reference) column of each one-hot block."""
    dropped, start = set(), 0
    for width, _, onehot in _column_blocks(card, categorical):
        if onehot:
            dropped.add(start)
        start += width
    return dropped


def label_bounds(card: Card) -> tuple[float, float]:
    """Public bounds of a regression label on the scale the model is fitted on."""
    bounds = card.column(card.label).bounds
    _refuse_data_bounds(card, [card.label])
    if bounds is None:
        raise CardError(
            f"a differentially private regression needs public bounds for its label "
            f"{card.label!r}; add bounds = [low, high] under [columns.{card.label}] of the "
            f"{card.name!r} card")
    if card.target_transform == "sqrt" and bounds[0] < 0:
        raise CardError(f"label {card.label!r} has a square-root transform but bounds "
                        f"{list(bounds)} below 0")
    low, high = forward_transform(np.asarray(bounds), card.target_transform)
    return float(low), float(high)


class ReferenceCoded(RegressorMixin, BaseEstimator):
    """Fit ``estimator`` without the reference column of each one-hot block.

    A full one-hot block sums to 1 on every row, so with an intercept the least-squares
    objective is flat along one direction per block. diffprivlib's LinearRegression adds
    Laplace noise to that objective and minimises it without repair; along a flat
    direction the noisy objective is unbounded below and the minimiser runs off (on IWPC
    the predictions are useless at every epsilon, even 1000). Dropping the first
    category of each block (the usual reference coding, as in the published IWPC formula)
    removes those directions and leaves the same family of linear functions.

    Parameters
    ----------
    estimator : estimator
        Regressor fitted on the kept columns (its bounds must describe those columns).
    keep : tuple of int
        Encoded columns passed to ``estimator``, in order.
    n_columns : int
        Width of the full encoded matrix.
    """

    def __init__(self, estimator: Any = None, keep: tuple[int, ...] = (),
                 n_columns: int = 0) -> None:
        self.estimator = estimator
        self.keep = keep
        self.n_columns = n_columns

    def fit(self, X: np.ndarray, y: np.ndarray) -> ReferenceCoded:
        inner = clone(self.estimator)  # clone deep-copies parameters: keep the run's accountant
        if hasattr(self.estimator, "accountant"):
            inner = _set_accountant(inner, self.estimator.accountant)
        self.estimator_ = inner.fit(np.asarray(X)[:, list(self.keep)], y)
        coef = np.zeros(self.n_columns)
        coef[list(self.keep)] = np.ravel(self.estimator_.coef_)
        self.coef_ = coef
        self.intercept_ = float(np.ravel(self.estimator_.intercept_)[0])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict(np.asarray(X)[:, list(self.keep)]))


def _reference_coded(card: Card, categorical: str, common: dict[str, Any],
                     params: dict[str, Any]) -> ReferenceCoded:
    lows, highs = encoded_bounds(card, categorical)
    dropped = _reference_columns(card, categorical)
    keep = tuple(i for i in range(len(lows)) if i not in dropped)
    inner = LinearRegression(bounds_X=(lows[list(keep)], highs[list(keep)]),
                             bounds_y=label_bounds(card), **common, **params)
    return ReferenceCoded(estimator=inner, keep=keep, n_columns=len(lows))


def _set_accountant(estimator: Any, accountant: BudgetAccountant) -> Any:
    """Point every ``accountant`` parameter of ``estimator`` (nested too) at ``accountant``."""
    names = [k for k in estimator.get_params(deep=True)
             if k == "accountant" or k.endswith("__accountant")]
    return estimator.set_params(**dict.fromkeys(names, accountant))


def _estimator(family: str, card: Card, epsilon: float, seed: int, categorical: str,
               params: dict[str, Any]) -> Any:
    common = {"epsilon": epsilon, "random_state": seed, "accountant": BudgetAccountant()}
    params = {**_DEFAULTS[family], **params}
    builders: dict[str, Callable[[], Any]] = {
        "linear": lambda: _reference_coded(card, categorical, common, params),
        "logistic": lambda: LogisticRegression(
            data_norm=max_row_norm(card, categorical), **common, **params),
        "naive-bayes": lambda: GaussianNB(bounds=encoded_bounds(card, categorical),
                                          **common, **params),
        "tree": lambda: DecisionTreeClassifier(
            bounds=encoded_bounds(card, categorical),
            classes=np.arange(len(card.column(card.label).domain or ())), **common, **params),
        "forest": lambda: RandomForestClassifier(
            bounds=encoded_bounds(card, categorical),
            classes=np.arange(len(card.column(card.label).domain or ())), **common, **params),
    }
    return builders[family]()


class DPTargetModel(TargetModel):
    """A :class:`TargetModel` whose estimator is a diffprivlib model at ``epsilon``.

    Parameters
    ----------
    family, estimator, card, categorical
        As for :class:`TargetModel` (``estimator`` is a diffprivlib model).
    epsilon : float
        The privacy budget the estimator was built with.
    accountant : BudgetAccountant, optional
        The run's accountant: fitting checks and spends ``epsilon`` on it (a fresh one
        when None). ``epsilon_spent_`` is what this model's fit spent.

    Attributes
    ----------
    epsilon_spent_, delta_spent_ : float
        Budget spent by this model's training, as recorded by the accountant.
    """

    def __init__(self, *, family: str = "", estimator: Any = None,
                 card: dict[str, Any] | None = None, categorical: str = "onehot",
                 epsilon: float = 1.0, accountant: BudgetAccountant | None = None) -> None:
        super().__init__(family=family, estimator=estimator, card=card,
                         categorical=categorical)
        self.epsilon = epsilon
        self.accountant = accountant

    def _fit_estimator(self, encoded: np.ndarray, target: np.ndarray
                       ) -> tuple[Any, np.ndarray | None]:
        """diffprivlib training: classes and every bound from the card, the epsilon spent
        recorded from the run's budget accountant."""
        accountant = self.accountant if self.accountant is not None else BudgetAccountant()
        estimator = _set_accountant(clone(self.estimator), accountant)
        spent_before = len(accountant.spent_budget)
        with warnings.catch_warnings():
            warnings.simplefilter("error", PrivacyLeakWarning)
            # diffprivlib 0.6.6 passes iprint to scipy's L-BFGS-B, deprecated in SciPy 1.15
            warnings.filterwarnings("ignore", message=".*`disp` and `iprint` options",
                                    category=DeprecationWarning)
            try:
                estimator.fit(encoded, target)
            except PrivacyLeakWarning as leak:
                raise ModelError(f"diffprivlib would read a bound from the data: {leak}") \
                    from None
            except BudgetError as error:
                raise ModelError(f"the privacy budget is exhausted: {error}") from None
        spends = accountant.spent_budget[spent_before:]
        self.epsilon_spent_ = float(sum(e for e, _ in spends))
        self.delta_spent_ = float(sum(d for _, d in spends))
        classes = (np.asarray(estimator.classes_, dtype=np.int64)
                   if self.task == "classification" else None)
        return estimator, classes

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        inner = self.estimator_
        if isinstance(inner, ReferenceCoded):
            inner = inner.estimator_
        facts.update({
            "estimator": type(inner).__name__,
            "reference_coded": isinstance(self.estimator_, ReferenceCoded),
            "dp": True, "epsilon": float(self.epsilon),
            "epsilon_spent": self.epsilon_spent_, "delta_spent": self.delta_spent_,
            "mechanism": DP_FAMILIES[self.family][1],
            "library": f"diffprivlib {diffprivlib.__version__}",
            "bounds": "public bounds of the dataset card (never the data)",
            "dp_scope": "estimator parameters; the residual sigma, confusion counts and "
                        "marginals recorded for the threat model are not privatised",
        })
        return facts


def dp_model(family: str, card: Card, epsilon: float, *, random_state: RandomState = 0,
             accountant: BudgetAccountant | None = None, categorical: str = "onehot",
             **params: Any) -> DPTargetModel:
    """Build an unfitted differentially private model of ``family`` for ``card``.

    Parameters
    ----------
    family : str
        One of :func:`dp_family_names`.
    card : Card
        Decides the task, the encoding and every bound the DP mechanism needs.
    epsilon : float
        Privacy budget of the model (> 0).
    random_state : int, Generator or None
        Seed of diffprivlib's noise.
    accountant : BudgetAccountant, optional
        One accountant per run; fitting the model spends ``epsilon`` on it.
    categorical : {"onehot", "ordinal"}
    **params
        Passed to the diffprivlib estimator (``max_depth=3``, ``n_estimators=20`` ...).

    Raises
    ------
    ModelError
        No DP counterpart for ``family``, wrong task, bad epsilon or parameter.
    CardError
        The card lacks public bounds for a numeric feature or a regression label.

    References
    ----------
    N. Holohan et al., "Diffprivlib: the IBM Differential Privacy Library", 2019.

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> model = dp_model("linear", builtin_card("iwpc"), 5.0)
    >>> model.family, model.epsilon
    ('linear', 5.0)
    """
    if family not in DP_FAMILIES:
        raise ModelError(
            f"model family {family!r} has no differentially private counterpart; families "
            f"with one are: {', '.join(dp_family_names())}")
    task = DP_FAMILIES[family][0]
    if task != card.task:
        raise ModelError(
            f"the DP {family!r} model is for {task}, but the label {card.label!r} of dataset "
            f"{card.name!r} makes this a {card.task} task")
    value = _check_epsilon(epsilon)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiffprivlibCompatibilityWarning)
        try:
            estimator = _estimator(family, card, value, seed_from(random_state), categorical,
                                   dict(params))
        except (TypeError, DiffprivlibCompatibilityWarning) as error:
            raise ModelError(f"bad parameter for DP model family {family!r}: {error}") \
                from None
    return DPTargetModel(family=family, estimator=estimator, card=card.to_dict(),
                         categorical=categorical, epsilon=value,
                         accountant=accountant if accountant is not None else BudgetAccountant())
