"""Run every membership attack on members vs non-members and measure each one.

Shadow models are trained twice and shared: an *offline* set on halves of the reference
sample (LiRA offline, RMIA's reference models, the noise scale of the label-only noise
attack) and an *online* set on halves of the reference sample plus the attacked records
(LiRA online). Which attacks apply depends on what the oracle answers
(:func:`attacks_for`): confidences, a regression's output, or labels only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..evaluation.estimate import Estimate
from ..evaluation.intervals import wilson
from ..exceptions import AttackError, closest
from ..models.oracle import Oracle
from ..models.target import TargetModel
from ..utils import RandomState, check_random_state
from .attacks import LiRA, LossThreshold, MembershipAttack
from .labelonly import LabelGap, NoiseRobustness
from .metrics import DEFAULT_FPRS, MembershipMetrics, membership_metrics
from .queries import (
    CONFIDENCE_ANSWERS,
    LABEL_ANSWERS,
    as_oracle,
    check_records,
    label_confidence,
)
from .rmia import RMIA
from .shadows import DEFAULT_SUBSTITUTE, ShadowSet, train_shadows

__all__ = ["MEMBERSHIP_ATTACKS", "MEMBERSHIP_READS", "MembershipResult", "assess_membership",
           "attacks_for", "check_attacks"]

#: attack name -> what it is
MEMBERSHIP_ATTACKS = {
    "loss": "loss threshold (Yeom et al. 2018), calibrated on the reference sample",
    "lira-offline": "LiRA offline (Carlini et al. 2022): OUT shadows only",
    "lira-online": "LiRA online (Carlini et al. 2022): IN and OUT shadows",
    "rmia": "RMIA offline (Zarifzadeh et al. 2024) with reference models",
    "gap": "gap attack (Yeom et al. 2018; Choquette-Choo et al. 2021): member when the "
           "predicted label is the true label",
    "label-noise": "label-only noise robustness (Choquette-Choo et al. 2021): which of the "
                   "record and its perturbed copies keep the true label, scored as the "
                   "offline shadows show (noise scale chosen on them)",
}
#: attack name -> the oracle answers it reads (labels: a classifier's label, from label
#: or confidence answers; confidences: a classifier's confidences or a regression's output)
MEMBERSHIP_READS = {name: LABEL_ANSWERS if name in ("gap", "label-noise")
                    else CONFIDENCE_ANSWERS for name in MEMBERSHIP_ATTACKS}


@dataclass(frozen=True)
class MembershipResult:
    """One membership attack measured on members vs non-members.

    Attributes
    ----------
    attack : str
        A key of :data:`MEMBERSHIP_ATTACKS`.
    metrics : MembershipMetrics
        AUC, TPR at fixed FPRs and advantage, with intervals.
    n_shadows : int
        Shadow (reference) models used (0 for the loss attack).
    shadows : str
        What the shadow models were (clones of the target or a stated substitute).
    params : tuple of (str, object)
        The attack's parameters, and the learned ones that matter (RMIA's ``a``).
    calibrated : tuple of (Estimate, Estimate), optional
        Loss attack only: (TPR, FPR) on members and non-members at the threshold the
        attacker calibrated on its reference sample (Wilson intervals): what the attack
        achieves without knowing the best threshold.
    """

    attack: str
    metrics: MembershipMetrics
    n_shadows: int
    shadows: str
    params: tuple[tuple[str, Any], ...]
    calibrated: tuple[Estimate, Estimate] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data."""
        calibrated = None if self.calibrated is None else {
            "tpr": self.calibrated[0].to_dict(), "fpr": self.calibrated[1].to_dict()}
        return {"attack": self.attack, "method": MEMBERSHIP_ATTACKS[self.attack],
                "metrics": self.metrics.to_dict(), "n_shadows": self.n_shadows,
                "shadows": self.shadows, "params": dict(self.params),
                "calibrated": calibrated}


def check_attacks(attacks: Sequence[str]) -> tuple[str, ...]:
    """The attack names, each once, in the order given (``all`` kept: it stands for every
    attack that applies to the oracle, :func:`attacks_for`); an unknown name or none is
    one :class:`AttackError`."""
    if isinstance(attacks, str):
        attacks = (attacks,)
    names = tuple(attacks)
    for name in names:
        if name != "all" and name not in MEMBERSHIP_ATTACKS:
            raise AttackError(f"unknown membership attack {name!r}"
                              f"{closest(str(name), MEMBERSHIP_ATTACKS)}; attacks are: "
                              f"all, {', '.join(MEMBERSHIP_ATTACKS)}")
    if not names:
        raise AttackError("no membership attack to run")
    return tuple(dict.fromkeys(names))


def _needs(name: str) -> str:
    if MEMBERSHIP_READS[name] == LABEL_ANSWERS:
        return "the label a classifier predicts (label-only or confidence access)"
    return ("the confidence of the true label (confidence or rounded access; a "
            "regression's output)")


def _seen(oracle: Oracle) -> str:
    if oracle.answers == "output":
        return "the regression answers its output, not a label"
    if oracle.answers == "label":
        return "the oracle answers labels only (label-only access)"
    return f"the oracle answers confidences ({oracle.level} access)"


def attacks_for(attacks: Sequence[str], oracle: Oracle) -> tuple[str, ...]:
    """The attacks to run on ``oracle``: ``all`` is every attack that applies to what it
    answers (labels only: ``gap`` and ``label-noise``; a regression: the confidence
    attacks; confidences: all), in :data:`MEMBERSHIP_ATTACKS` order; other names as
    given, each of which must apply.

    Raises
    ------
    AttackError
        An unknown name, none, or a named attack that does not apply (one line naming
        it and the access it needs).

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> target = make_model("tree", card, max_depth=3).fit(synthetic_iwpc(30, random_state=0))
    >>> attacks_for(["all"], Oracle.for_model(target, "label-only"))
    ('gap', 'label-noise')
    """
    names = check_attacks(attacks)
    for name in names:
        if name != "all" and oracle.answers not in MEMBERSHIP_READS[name]:
            raise AttackError(f"membership attack {name!r} reads {_needs(name)}, but "
                              f"{_seen(oracle)}")
    if "all" not in names:
        return names
    return tuple(name for name in MEMBERSHIP_ATTACKS
                 if oracle.answers in MEMBERSHIP_READS[name])


def assess_membership(target: Oracle | TargetModel, members: pd.DataFrame,
                      non_members: pd.DataFrame, reference: pd.DataFrame, *,
                      attacks: Sequence[str] = ("all",),
                      n_shadows: int = 16, n_jobs: int = 1, client: Any = None,
                      substitute: str = DEFAULT_SUBSTITUTE, fprs: Sequence[float] = DEFAULT_FPRS,
                      n_boot: int = 200, confidence: float = 0.95,
                      random_state: RandomState = 0) -> tuple[MembershipResult, ...]:
    """Score members and non-members with each attack and measure the separation.

    Parameters
    ----------
    target : Oracle or TargetModel
        The attacked model: any oracle (confidences, rounded confidences, labels only, a
        regression's output), or a fitted TargetModel (confidence access; label-only
        for a model that reveals labels only).
    members, non_members, reference : pandas.DataFrame
        The target's training records, records it never saw, and the attacker's own
        sample (the splits of :func:`tabinv.data.splits.split_dataset`).
    attacks : sequence of str, default ("all",)
        Keys of :data:`MEMBERSHIP_ATTACKS`, or ``all``: every attack that applies to the
        target's answers (:func:`attacks_for`).
    n_shadows : int, default 16
        Shadow models per set (LiRA; RMIA uses the offline set as reference models, the
        label-only noise attack to choose its noise scale).
    n_jobs : int, default 1
        Worker processes training shadows on this machine.
    client : distributed.Client or str, optional
        Train the shadows on this Dask cluster instead (a client, left open, or a
        scheduler address); the results are the same, bit for bit
        (:func:`~tabinv.membership.shadows.train_shadows`).
    substitute : str
        Shadow family when tabinv did not train the target.
    fprs, n_boot, confidence
        As for :func:`~tabinv.membership.metrics.membership_metrics`.
    random_state : int, Generator or None
        Seeds the shadows and the bootstrap.

    Returns
    -------
    tuple of MembershipResult
        One per attack, in the order asked.

    Raises
    ------
    AttackError, DataError
        Unknown attack, an attack that does not apply to the target's answers, bad
        target, records or parameters.

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> frame = synthetic_iwpc(90, random_state=0)
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> target = make_model("tree", card, max_depth=3).fit(frame[:30])
    >>> results = assess_membership(target, frame[:30], frame[30:60], frame[60:],
    ...                             attacks=["loss", "rmia"], n_shadows=4, n_boot=20)
    >>> [r.attack for r in results], results[1].n_shadows
    (['loss', 'rmia'], 4)
    """
    oracle = as_oracle(target, ("confidence", "output", "label"))
    names = attacks_for(attacks, oracle)
    model = oracle.model
    members = check_records(members, model, "members")
    non_members = check_records(non_members, model, "non_members")
    reference = check_records(reference, model, "reference")
    rng = check_random_state(random_state)
    seeds = rng.integers(0, 2**31 - 1, size=3)
    noise_seed = int(rng.integers(0, 2**31 - 1))  # after the others: they stay as they were
    candidates = pd.concat([members, non_members], ignore_index=True)
    shared = {"n_shadows": n_shadows, "n_jobs": n_jobs, "substitute": substitute}
    offline = online = None
    if {"lira-offline", "rmia", "label-noise"} & set(names):
        offline = train_shadows(model, reference, client=client, random_state=int(seeds[0]),
                                **shared)
    if "lira-online" in names:
        online = train_shadows(model, pd.concat([reference, candidates], ignore_index=True),
                               client=client, random_state=int(seeds[1]), **shared)
    built: dict[str, tuple[MembershipAttack, Any]] = {
        "loss": (LossThreshold(), None),
        "lira-offline": (LiRA(online=False, **shared), offline),
        "lira-online": (LiRA(online=True, **shared), online),
        "rmia": (RMIA(**shared), offline),
        "gap": (LabelGap(), None),
        "label-noise": (NoiseRobustness(random_state=noise_seed, **shared), offline),
    }
    results = []
    read: dict[int, Any] = {}  # answers read once, shared by the attacks that read them
    for name in names:
        attack, shadows = built[name]
        attack.fit(oracle, reference, candidates=candidates, shadows=shadows)
        scores = _scores(attack, shadows, oracle, candidates, read)
        metrics = membership_metrics(scores[:len(members)], scores[len(members):], fprs=fprs,
                                     n_boot=n_boot, confidence=confidence,
                                     random_state=int(seeds[2]))
        params = dict(attack.get_params())
        if shadows is None or not shadows.source.startswith("substitute"):
            params.pop("substitute", None)
        if isinstance(attack, RMIA):
            params["a"] = attack.a_
        if isinstance(attack, LiRA):
            params["global_variance"] = bool(attack.global_variance_)
        if isinstance(attack, NoiseRobustness):
            params["scale"] = attack.scale_
            params["calibration_auc"] = tuple(attack.calibration_)
        calibrated = None
        if isinstance(attack, LossThreshold):
            called = scores > attack.threshold_
            calibrated = (wilson(int(called[:len(members)].sum()), len(members), confidence),
                          wilson(int(called[len(members):].sum()), len(non_members),
                                 confidence))
        results.append(MembershipResult(
            attack=name, metrics=metrics,
            n_shadows=0 if shadows is None else len(shadows.models),
            shadows="" if shadows is None else shadows.source,
            params=tuple(sorted((k, v) for k, v in params.items()
                                if k not in ("n_jobs", "random_state", "n_shadows"))),
            calibrated=calibrated))
    return tuple(results)


def _scores(attack: MembershipAttack, shadows: ShadowSet | None, oracle: Oracle,
            candidates: pd.DataFrame, read: dict[int, Any]) -> Any:
    """``attack.score(candidates)``, with the answers the confidence attacks share read
    once (``read``: the target's confidence of each true label, and each shadow set's
    confidences and IN mask): the loss attack, LiRA and RMIA would otherwise each query
    the target, and LiRA offline and RMIA the same 16 shadows, on every candidate."""
    if not isinstance(attack, (LossThreshold, LiRA, RMIA)):
        return attack.score(candidates)  # the label-only attacks read their own answers
    if 0 not in read:
        read[0] = label_confidence(oracle, candidates)
    if shadows is None:
        return attack.score_answers(read[0])
    if id(shadows) not in read:
        read[id(shadows)] = (shadows.confidences(oracle, candidates),
                             shadows.in_mask(candidates))
    return attack.score_answers(read[0], *read[id(shadows)])
