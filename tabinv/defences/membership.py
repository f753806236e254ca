"""The membership attacks of an epsilon sweep: run on each (seed, epsilon) model, and
aggregated over seeds per epsilon (:func:`tabinv.defences.sweep.sweep` with
``membership_attacks``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..evaluation.estimate import Estimate
from ..evaluation.intervals import summarise
from ..membership.assess import assess_membership
from ..membership.verdict import MembershipOptions
from ..vocabulary import rating

__all__ = ["aggregate_membership", "membership_run"]


def membership_run(model: Any, splits: Any, membership: MembershipOptions, n_boot: int,
                    seed: int) -> list[list[Any]]:
    """The membership attacks on one (seed, epsilon) model (or its oracle: the sweep's
    access): per attack, its AUC and TPR at each FPR with their bootstrap intervals.
    Shadows of a DP model are DP models at the same epsilon (their own budget); one
    process per task (tasks run in parallel)."""
    results = assess_membership(
        model, splits.members, splits.non_members, splits.reference,
        attacks=membership.attacks, n_shadows=membership.shadows, n_jobs=1,
        substitute=membership.substitute, fprs=membership.fprs, n_boot=n_boot,
        random_state=seed)
    return [[r.attack, [r.metrics.auc.value, r.metrics.auc.low, r.metrics.auc.high],
             [[level, e.value, e.low, e.high] for level, e in r.metrics.tpr_at_fpr],
             r.n_shadows] for r in results]


def aggregate_membership(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each membership attack over seeds: AUC and TPR at each FPR, the mean with a
    Student t interval over seeds (one seed: its bootstrap interval), and the rating of
    the AUC against chance."""
    tables = [{row[0]: row for row in run.get("membership", [])} for run in runs]
    names = list(dict.fromkeys(name for table in tables for name in table))
    found = []
    for name in names:
        rows = [t[name] for t in tables if name in t]
        auc = _over_seeds([row[1] for row in rows])
        levels = [item[0] for item in rows[0][2]]
        found.append({
            "attack": name, "n_shadows": rows[0][3], "auc": auc,
            "auc_per_seed": [row[1][0] for row in rows],
            "tpr_at_fpr": [{"fpr": level,
                            **_over_seeds([row[2][i][1:] for row in rows]).to_dict()}
                           for i, level in enumerate(levels)],
            "rating": rating(auc.low - 0.5, auc.high - 0.5)})
    return found


def _over_seeds(triples: Sequence[Sequence[float]]) -> Estimate:
    """A proportion over seeds: one seed's (value, low, high) as it is, or the mean of
    several with a Student t interval."""
    if len(triples) == 1:
        return Estimate(*triples[0])
    return summarise([values[0] for values in triples], 0.0, 1.0)
