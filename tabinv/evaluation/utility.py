"""The model's own utility on records it never saw, with intervals: next to the leakage
in every assessment, in ``tabinv train``'s output, and what a defence costs in a sweep.

- regression: R^2 on the scale the model is fitted on (sqrt dose for IWPC), bootstrap
  percentile interval; for the IWPC warfarin label also the clinical figure of the IWPC
  (NEJM 2009): the share of patients whose predicted dose is within 20% of their stable
  dose, ``|predicted - stable| <= 0.2 * stable`` in mg/week, with a Wilson interval.
- classification: accuracy (Wilson) and one-vs-rest macro AUC of the predicted
  probabilities (bootstrap, :func:`tabinv.evaluation.metrics.auc_ovr`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..models.target import TargetModel
from ..utils import RandomState
from ..vocabulary import UTILITY_NAMES
from .estimate import Estimate
from .intervals import bootstrap_indices, percentile_interval, wilson
from .metrics import accuracy, auc_ovr

__all__ = ["WITHIN_20_LABELS", "describe_metrics", "utility", "utility_entries",
           "utility_line", "utility_metric_names", "utility_values"]

#: (dataset, label) pairs whose label is a warfarin dose: the within-20% metric applies
WITHIN_20_LABELS = frozenset({("iwpc", "dose")})


def utility_metric_names(model: TargetModel | Card) -> list[str]:
    """Names of the utility metrics of a model's (or card's) task and label, in order."""
    if model.task == "classification":
        return ["accuracy", "auc"]
    dataset = model.name if isinstance(model, Card) else str((model.card or {})["name"])
    return ["r2", "within_20"] if (dataset, model.label) in WITHIN_20_LABELS else ["r2"]


def _r2(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """R^2 of each row of (B, n) arrays; NaN when the truth is constant."""
    residual = np.sum((truth - predicted) ** 2, axis=-1)
    total = np.sum((truth - truth.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    out = np.full(residual.shape, np.nan)
    np.divide(residual, total, out=out, where=total > 0)
    return 1.0 - out


def _within_20(model: TargetModel, records: pd.DataFrame) -> np.ndarray:
    stable = pd.to_numeric(records[model.label]).to_numpy(dtype=float)
    predicted = model.predict(records)
    return np.abs(predicted - stable) <= 0.2 * stable


def _probabilities(model: TargetModel, records: pd.DataFrame) -> np.ndarray:
    """Predicted probabilities with every row summing to 1 (uniform where undefined)."""
    raw = np.clip(np.nan_to_num(model.predict_proba(records), nan=0.0), 0.0, None)
    sums = raw.sum(axis=1, keepdims=True)
    uniform = np.full_like(raw, 1.0 / raw.shape[1])
    return np.where(sums > 0, raw / np.where(sums > 0, sums, 1.0), uniform)


def utility_values(model: TargetModel, records: pd.DataFrame) -> dict[str, float]:
    """Point values of :func:`utility_metric_names` on ``records`` (no intervals)."""
    if model.task == "classification":
        truth = model.label_codes(records[model.label])
        probabilities = _probabilities(model, records)
        return {"accuracy": float(np.mean(np.argmax(probabilities, axis=1) == truth)),
                "auc": auc_ovr(truth, probabilities, n_boot=1).value}
    truth = model.fitted_target(records)
    values = {"r2": float(_r2(truth, model.predict_fitted(records)))}
    if "within_20" in utility_metric_names(model):
        values["within_20"] = float(np.mean(_within_20(model, records)))
    return values


def utility(model: TargetModel, records: pd.DataFrame, *, n_boot: int = 200,
            random_state: RandomState = 0) -> dict[str, Estimate]:
    """Utility metrics of a fitted model on held-out ``records``, with 95% intervals.

    Parameters
    ----------
    model : TargetModel
        Fitted model (plain or DP).
    records : DataFrame
        Held-out records with the model's features and label.
    n_boot, random_state
        Bootstrap replicates of the R^2 and AUC intervals, and their seed.

    Returns
    -------
    dict of str to Estimate
        ``r2`` (and ``within_20`` for the IWPC dose) or ``accuracy`` and ``auc``.

    References
    ----------
    International Warfarin Pharmacogenetics Consortium, N Engl J Med 360:753-764, 2009
    (the within-20% criterion).

    Examples
    --------
    >>> from tabinv.data.registry import load_builtin
    >>> from tabinv.models.families import make_model
    >>> data = load_builtin("iwpc")
    >>> model = make_model("linear", data.card).fit(data.frame.iloc[:3000])
    >>> sorted(utility(model, data.frame.iloc[3000:], n_boot=20))
    ['r2', 'within_20']
    """
    if model.task == "classification":
        truth = model.label_codes(records[model.label])
        probabilities = _probabilities(model, records)
        return {"accuracy": accuracy(truth, np.argmax(probabilities, axis=1)),
                "auc": auc_ovr(truth, probabilities, n_boot=n_boot,
                               random_state=random_state)}
    truth = model.fitted_target(records)
    predicted = model.predict_fitted(records)
    indices = bootstrap_indices(len(truth), n_boot, random_state)
    out = {"r2": percentile_interval(float(_r2(truth, predicted)),
                                     _r2(truth[indices], predicted[indices]))}
    if "within_20" in utility_metric_names(model):
        hits = _within_20(model, records)
        out["within_20"] = wilson(int(hits.sum()), int(hits.size))
    return out


def utility_entries(model: TargetModel, records: pd.DataFrame, *,
                    population: str = "non-members", n_boot: int = 200,
                    random_state: RandomState = 0) -> list[dict[str, Any]]:
    """:func:`utility` as the documents hold it: one dict per metric, ``metric`` (key),
    ``name`` (readable), ``population``, ``value``, ``low``, ``high`` and ``n`` (records).
    No records (nothing held out) gives no entries."""
    if len(records) == 0:
        return []
    return [{"metric": metric, "name": UTILITY_NAMES.get(metric, metric),
             "population": population, **estimate.to_dict(), "n": len(records)}
            for metric, estimate in utility(model, records, n_boot=n_boot,
                                            random_state=random_state).items()]


def utility_line(entries: Sequence[Mapping[str, Any]]) -> str:
    """The utility in one plain line, e.g. ``utility on 300 non-members: accuracy 0.74
    [0.69, 0.79], AUC 0.80 [0.75, 0.85]``; empty without entries.

    Examples
    --------
    >>> utility_line([{"metric": "r2", "name": "R^2", "population": "non-members",
    ...                "value": 0.41, "low": 0.35, "high": 0.46, "n": 1000}])
    'utility on 1000 non-members: R^2 0.410 [0.350, 0.460]'
    """
    if not entries:
        return ""
    first = entries[0]
    figures = ", ".join(f"{e['name']} {_number(e['value'])} [{_number(e['low'])}, "
                        f"{_number(e['high'])}]" for e in entries)
    return f"utility on {first['n']} {first['population']}: {figures}"


def _number(value: float) -> str:
    """Three decimals; an R^2 far below 0 (a useless model) as ``< -1``."""
    if math.isnan(value):
        return "n/a"
    return "< -1" if value < -1 else f"{value:.3f}"


def describe_metrics() -> dict[str, Any]:
    """Plain-words definition of each utility metric, for reports."""
    return {
        "r2": "R^2 of the predictions on the scale the model is fitted on (held-out "
              "records)",
        "within_20": "share of held-out patients whose predicted weekly dose is within 20% "
                     "of their stable dose (IWPC 2009)",
        "accuracy": "share of held-out records whose label is predicted exactly",
        "auc": "one-vs-rest macro AUC of the predicted probabilities (held-out records)",
    }
