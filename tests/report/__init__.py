"""Shared builders for the report tests: a small fake sweep and small real assessments."""

from __future__ import annotations

import functools
import json
from typing import Any

import pandas as pd

from tabinv import api
from tabinv.data.dataset import Dataset
from tabinv.data.registry import builtin_card
from tabinv.data.splits import Splits, split_dataset
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.models.families import make_model
from tabinv.report.document import as_document
from tabinv.report.html import render_html
from tabinv.report.json import to_json

EPSILONS = (0.25, 1.0, 5.0, 20.0, 100.0)
#: a weight (kg) and a stable dose (mg/week) that only the planted patient has
PLANTED_WEIGHT = 137.9153
PLANTED_DOSE = 61.7383
COMMAND = "tabinv assess --model linear -s vkorc1 --out report.html"
#: the row of the planted patient in the synthetic cohort
PLANTED_ROW = 0


def _estimate(value: float, half: float) -> dict[str, float]:
    return {"value": value, "low": value - half, "high": value + half}


def fake_sweep(epsilons: tuple[float, ...] = EPSILONS) -> dict[str, Any]:
    """A sweep document shaped like the warfarin reproduction (made-up numbers)."""
    points = []
    for epsilon in (None, *epsilons):  # the non-private point first, as sweep() does
        strength = 1.0 if epsilon is None else epsilon / (epsilon + 20.0)
        attacks, baselines = [], []
        for sensitive, prior_mode, imputation, top in (("vkorc1", 0.36, 0.67, 0.75),
                                                       ("cyp2c9", 0.76, 0.76, 0.77)):
            for population, shrink in (("members", 1.0), ("non-members", 0.8)):
                accuracy = prior_mode + (top - prior_mode) * strength * shrink
                for variant, offset in (("marginal prior", 0.0), ("learned prior", 0.01)):
                    attacks.append({
                        "method": "map", "variant": variant, "sensitive": sensitive,
                        "population": population,
                        "accuracy": _estimate(accuracy + offset, 0.02),
                        "advantage": _estimate(accuracy + offset - imputation, 0.015),
                        "advantage_over_prior_mode": _estimate(
                            accuracy + offset - prior_mode, 0.015),
                        "accuracy_per_seed": [accuracy + offset] * 3,
                        "advantage_per_seed": [accuracy + offset - imputation] * 3})
                for method, value in (("prior-mode", prior_mode), ("imputation", imputation),
                                      ("ideal", imputation + 0.02)):
                    baselines.append({"method": method, "sensitive": sensitive,
                                      "population": population,
                                      "accuracy": _estimate(value, 0.02),
                                      "accuracy_per_seed": [value] * 3})
        points.append({
            "epsilon": epsilon, "epsilon_spent": epsilon, "n_seeds": 3,
            "utility": {"r2": _estimate(0.45 * strength - 0.2 * (1 - strength), 0.03),
                        "within_20": _estimate(0.46 * strength, 0.02)},
            "attacks": attacks, "baselines": baselines})
    return {
        "kind": "sweep",
        "dataset": {"name": "iwpc", "title": "IWPC warfarin cohort", "rows": 4162,
                    "raw_rows": 6256,
                    "cleaning": [{"step": "keep patients with age recorded", "dropped": 39,
                                  "changed": 0}],
                    "splits": {"members": 2081, "non_members": 1040, "reference": 1041}},
        "model": {"family": "linear", "task": "regression", "label": "dose",
                  "estimator": "LinearRegression", "dp_estimator": "LinearRegression",
                  "library": "diffprivlib 0.6.6", "mechanism": "Laplace noise",
                  "bounds": "public bounds of the dataset card"},
        "threat": {"sensitive": ["vkorc1"], "known": ["age", "race"], "unknown": [],
                   "label": "dose", "label_source": "true", "access": "output",
                   "rounding": None, "white_box": False},
        "epsilons": list(epsilons), "seeds": [0, 1, 2],
        "utility_metrics": ["r2", "within_20"],
        "utility_definitions": {"r2": "R^2 on held-out records",
                                "within_20": "share of held-out patients dosed within 20%"},
        "interval": "95% Student t interval over seeds",
        "points": points,
        "verdict": "VKORC1 leaks only at large epsilon, where dosing is also useful.",
        "notes": [],
        "settings": {"tabinv": "0.1.0", "seconds": 12.5,
                     "budget": {"epsilon_per_seed": sum(epsilons), "delta_per_seed": 0.0,
                                "note": "the models of one seed compose"}},
    }


def planted_splits(n: int = 600) -> Splits:
    """Splits of a synthetic IWPC-like cohort in which one member has a weight and a
    stable dose nobody else has (values no report number could print by chance)."""
    splits = split_dataset(synthetic_iwpc(n, random_state=11), random_state=0)
    members = splits.members.copy()
    members.loc[PLANTED_ROW, ["weight_kg", "dose", "dose_class"]] = [
        PLANTED_WEIGHT, PLANTED_DOSE, "high"]
    return Splits(members, splits.non_members, splits.reference)


@functools.cache
def planted_assessments() -> tuple[api.Assessment, ...]:
    """Two small assessments of a linear model trained with the planted patient among
    the members: VKORC1 hidden (with a positive value), and both genotypes hidden."""
    card = builtin_card("iwpc")
    splits = planted_splits()
    frame = pd.concat([splits.members, splits.non_members, splits.reference],
                      ignore_index=True)
    assert (frame["weight_kg"] == PLANTED_WEIGHT).sum() == 1
    data = Dataset("planted", card, frame)
    target = make_model("linear", card, random_state=0).fit(splits.members)
    return tuple(api.assess(data, target, sensitive=hidden, splits=splits, n_boot=20,
                            attacks=api.expand_specs(None, None),  # the CLI's default
                            positive={"vkorc1": "A/A"} if hidden == ("vkorc1",) else {},
                            random_state=0)
                 for hidden in (("vkorc1",), ("vkorc1", "cyp2c9")))


@functools.cache
def planted_html() -> str:
    """The HTML report of :func:`planted_assessments`, as ``--out r.html`` writes it."""
    return render_html(with_command(as_document(list(planted_assessments()))))


def with_command(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "command": COMMAND}


def stored(document: Any) -> dict[str, Any]:
    """``document`` as it comes back from a JSON file."""
    return json.loads(to_json(document))


def numbers_in(value: Any) -> list[float]:
    """Every number anywhere in a JSON value."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers_in(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers_in(v)]
    return []


def longest_list(value: Any) -> int:
    """The length of the longest list anywhere in a JSON value."""
    if isinstance(value, dict):
        return max((longest_list(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max([len(value), *(longest_list(v) for v in value)])
    return 0


__all__ = ["COMMAND", "EPSILONS", "PLANTED_DOSE", "PLANTED_ROW", "PLANTED_WEIGHT",
           "fake_sweep", "longest_list", "numbers_in", "planted_assessments", "planted_html",
           "planted_splits", "stored", "with_command"]
