"""Fredrikson et al. (2014) under differential privacy: the warfarin sweep and its notes."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from .sweep import SweepResult, sweep
from .verdict import find_row, fmt_epsilon

__all__ = ["WARFARIN_EPSILONS", "warfarin_dp"]


WARFARIN_EPSILONS = (0.25, 1.0, 5.0, 20.0, 100.0, 35.0, 50.0, 70.0, 200.0, 1000.0)

_WARFARIN_SETUP = (
    "Setup of Fredrikson et al. (USENIX Security 2014): IWPC cohort, linear regression on "
    "sqrt(weekly dose) trained on the members split; the attacker knows every other "
    "feature and the patient's stable dose and infers VKORC1 and CYP2C9 jointly (both "
    "unknown), each also scored alone. 'map (marginal prior)' is the 2014 attack with "
    "marginal priors from the attacker's reference sample; 'map (learned prior)' "
    "multiplies the model's likelihood with an imputation classifier's p(genotype | "
    "known features), trained on the reference sample without the dose. The paper's "
    "epsilon grid is 0.25, 1, 5, 20, 100; 35, 50, 70, 200 and 1000 are added because "
    "the transition happens between 20 and 200 here.")

_WARFARIN_MECHANISM = (
    "Why the curve differs from the paper's: the paper used the functional mechanism of "
    "Zhang et al. (2012) on features normalised so a row has norm at most 1, with the "
    "regularisation that keeps the noisy objective bounded. diffprivlib 0.6.6's "
    "LinearRegression follows the same idea but spends 1/(d+1) of epsilon on DP means "
    "that centre the data, splits the rest evenly over all 1 + d + d(d+1)/2 polynomial "
    "coefficients (d = 14 columns after reference coding: 120 coefficients, each with "
    "epsilon/120 or less), scales each coefficient's noise to the card's per-column "
    "bounds (the dose term to sqrt(400 mg/week) = 20), and minimises the noisy quadratic "
    "without repairing it. Whenever the noise makes that quadratic indefinite the "
    "minimiser returns useless coefficients: predictions are off by orders of magnitude, "
    "the published residual sigma is huge (R^2 on the sqrt scale is hugely negative: read "
    "the within-20% share instead), the likelihood carries little but noise and the "
    "attack falls back on its prior, near prior-mode on average but varying from seed "
    "to seed. Rare genotypes (CYP2C9 *3/*3, *2/*2: a few "
    "patients) keep the smallest eigenvalue of X'X small, so this happens up to epsilon "
    "of about 20-50 on 2,081 members: the attack is stopped there, but so is dosing. "
    "diffprivlib 0.6.6 also under-calibrates the noise of the squared terms (it uses the "
    "lower bound twice, IBM/differential-privacy-library issue #105), so its nominal "
    "epsilon is, if anything, optimistic.")


def _series(result: SweepResult, method: str, variant: str, sensitive: str,
            metric: str = "accuracy") -> str:
    parts = []
    for point in result.points:
        row = find_row(point["attacks"], method=method, variant=variant, sensitive=sensitive,
                    population="members")
        if row is not None:
            label = "no DP" if point["epsilon"] is None else fmt_epsilon(point["epsilon"])
            parts.append(f"{label}: {row[metric].value:.3f}")
    return ", ".join(parts)


def _warfarin_measured(result: SweepResult) -> str:
    plain = result.points[0]
    prior = find_row(plain["baselines"], method="prior-mode", sensitive="vkorc1",
                  population="members")
    within = ", ".join(
        f"{'no DP' if p['epsilon'] is None else fmt_epsilon(p['epsilon'])}: "
        f"{p['utility']['within_20'].value:.3f}" for p in result.points)
    return (f"Measured (mean over {len(result.seeds)} seeds, training members): VKORC1 "
            f"accuracy of map (marginal prior) by epsilon - "
            f"{_series(result, 'map', 'marginal prior', 'vkorc1')}; prior-mode "
            f"{prior['accuracy'].value if prior else math.nan:.3f}. CYP2C9 - "
            f"{_series(result, 'map', 'marginal prior', 'cyp2c9')}. Share dosed within 20% "
            f"of the stable dose (non-members) - {within}.")


def warfarin_dp(*, seeds: int | Sequence[int] = 5, epsilons: Sequence[float] | None = None,
                jobs: int = 1, progress: Callable[[int, int], None] | None = None,
                random_state: int = 0, label_source: str = "true",
                n_boot: int = 20) -> SweepResult:
    """Fredrikson et al. (2014) under DP: genotype inversion vs dosing over epsilon.

    The sweep of :func:`sweep` on IWPC (``linear``, VKORC1 and CYP2C9 jointly, MAP with
    marginal and learned priors) over :data:`WARFARIN_EPSILONS`, with notes comparing
    the result with the paper.

    References
    ----------
    M. Fredrikson et al., "Privacy in pharmacogenetics: an end-to-end case study of
    personalized warfarin dosing", USENIX Security 2014.
    """
    result = sweep("iwpc", "linear", epsilons=epsilons or WARFARIN_EPSILONS, seeds=seeds,
                   sensitive=("vkorc1", "cyp2c9"), jobs=jobs, progress=progress,
                   random_state=random_state, label_source=label_source, n_boot=n_boot)
    notes = (_WARFARIN_SETUP, _warfarin_measured(result), _WARFARIN_MECHANISM)
    return dataclasses.replace(result, notes=notes)
