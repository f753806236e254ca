"""What to run (:class:`MembershipOptions`) and what a membership result says: its rating
and verdict sentence, by the same rules as attribute leakage.

The membership "gain" is the attack's ROC AUC minus 0.5 (chance): ``leaks`` when its
whole 95% interval is above 0.5, ``no measurable leakage`` when it excludes an AUC of
0.5 + :data:`~tabinv.vocabulary.RESOLUTION` or more, otherwise ``inconclusive``
(:func:`tabinv.vocabulary.rating`). The sentence also gives the share of members found at
the lowest false-positive rate measured, which is what matters for the few people an
attacker can single out (Carlini et al. 2022).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import AttackError
from ..vocabulary import RESOLUTION, rating
from .assess import MembershipResult, check_attacks
from .metrics import DEFAULT_FPRS
from .shadows import DEFAULT_SUBSTITUTE, MAX_SHADOWS

__all__ = ["ATTACK_NAMES", "MembershipOptions", "attack_subject", "membership_entry",
           "membership_rating", "membership_verdict", "strongest_membership"]

#: attack key -> the name reports, tables and sentences show
ATTACK_NAMES = {"loss": "loss threshold", "lira-offline": "LiRA offline",
                "lira-online": "LiRA online", "rmia": "RMIA", "gap": "gap attack",
                "label-noise": "label-only noise robustness"}
#: attacks named with an article in a sentence
_WITH_ARTICLE = {"loss": "loss-threshold attack", "gap": "gap attack",
                 "label-noise": "label-only noise-robustness attack"}


def attack_subject(attack: str, start: bool = True) -> str:
    """The attack as the subject of a sentence: ``The loss-threshold attack`` (``the``
    inside a sentence), ``RMIA``.

    Examples
    --------
    >>> attack_subject("label-noise"), attack_subject("gap", start=False)
    ('The label-only noise-robustness attack', 'the gap attack')
    """
    if attack in _WITH_ARTICLE:
        return f"{'The' if start else 'the'} {_WITH_ARTICLE[attack]}"
    return ATTACK_NAMES.get(attack, attack)


@dataclass(frozen=True)
class MembershipOptions:
    """Which membership attacks an assessment runs, and with how many shadow models.

    Parameters
    ----------
    attacks : sequence of str
        Keys of :data:`~tabinv.membership.assess.MEMBERSHIP_ATTACKS`, or ``all`` (the
        default): every attack that applies to the assessment's access, resolved when
        the attacks run (:func:`~tabinv.membership.assess.attacks_for`).
    shadows : int
        Shadow (reference) models per set, 2 to :data:`~tabinv.membership.shadows.
        MAX_SHADOWS`.
    jobs : int
        Worker processes training them.
    substitute : str
        Shadow family when tabinv did not train the target.
    fprs : sequence of float
        False-positive rates the true-positive rate is reported at.
    cluster : str, optional
        Address of a Dask scheduler to train the shadows on instead (the same shadows,
        bit for bit); :meth:`describe` says where they were trained.
    """

    attacks: Sequence[str] = ("all",)
    shadows: int = 16
    jobs: int = 1
    substitute: str = DEFAULT_SUBSTITUTE
    fprs: Sequence[float] = field(default=DEFAULT_FPRS)
    cluster: str | None = None

    def __post_init__(self) -> None:
        names = check_attacks(self.attacks)
        for what, value, low, high in (("shadows", self.shadows, 2, MAX_SHADOWS),
                                       ("jobs", self.jobs, 1, 64)):
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not low <= value <= high:
                raise AttackError(f"membership {what} must be an integer from {low} to "
                                  f"{high}, received {value!r}")
        object.__setattr__(self, "attacks", names)
        object.__setattr__(self, "fprs", tuple(float(f) for f in self.fprs))

    def describe(self) -> dict[str, Any]:
        where = (f"dask scheduler at {self.cluster}" if self.cluster else "this process"
                 if self.jobs == 1 else f"{self.jobs} worker processes on this machine")
        return {"attacks": list(self.attacks), "shadows": self.shadows, "jobs": self.jobs,
                "substitute": self.substitute, "fprs": list(self.fprs),
                "shadows_on": where}


def membership_rating(result: MembershipResult) -> str:
    """The rating of a membership result (:data:`~tabinv.vocabulary.RATINGS`) from its
    AUC interval minus chance."""
    auc = result.metrics.auc
    return rating(auc.low - 0.5, auc.high - 0.5)


def membership_verdict(result: MembershipResult) -> str:
    """One sentence: how well the attack tells members from non-members, the share of
    members it finds at the lowest false-positive rate measured, and the rating.

    Examples
    --------
    >>> from tabinv.evaluation.estimate import Estimate
    >>> from tabinv.membership.metrics import MembershipMetrics
    >>> metrics = MembershipMetrics(Estimate(.62, .58, .66),
    ...     ((0.001, Estimate(.02, .0, .05)), (0.01, Estimate(.07, .03, .11))),
    ...     Estimate(.2, .15, .25), 500, 1000, 0.001, ((0.001, .02), (1.0, 1.0)))
    >>> membership_verdict(MembershipResult("rmia", metrics, 16, "clones", ()))
    ... # doctest: +NORMALIZE_WHITESPACE
    'RMIA tells members from non-members with AUC 0.620 [0.580, 0.660] (0.5 is chance)
    and finds 2.0% [0.0%, 5.0%] of members at a 0.1% false-positive rate: the model leaks
    membership.'
    """
    metrics = result.metrics
    auc = metrics.auc
    head = (f"{attack_subject(result.attack)} tells members from "
            f"non-members with AUC {auc.value:.3f} [{auc.low:.3f}, {auc.high:.3f}] "
            "(0.5 is chance)")
    resolvable = [(level, e) for level, e in metrics.tpr_at_fpr
                  if level >= metrics.smallest_fpr]
    if resolvable:
        level, found = resolvable[0]
        head += (f" and finds {100 * found.value:.1f}% [{100 * found.low:.1f}%, "
                 f"{100 * found.high:.1f}%] of members at a {100 * level:g}% false-positive "
                 "rate")
    rated = membership_rating(result)
    if rated == "leaks":
        return f"{head}: the model leaks membership."
    if rated == "no measurable leakage":
        return (f"{head}: no measurable membership leakage (an AUC of "
                f"{0.5 + RESOLUTION:.2f} or more is ruled out).")
    return (f"{head}: inconclusive (the interval includes chance and an AUC of "
            f"{0.5 + RESOLUTION:.2f} or more).")


def membership_entry(result: MembershipResult) -> dict[str, Any]:
    """The result as plain data, with its ``rating`` and ``verdict``."""
    return {**result.to_dict(), "rating": membership_rating(result),
            "verdict": membership_verdict(result)}


def strongest_membership(items: Sequence[Any],
                         auc_of: Callable[[Any], tuple[float, float] | None]) -> Any | None:
    """The item whose AUC interval has the highest lower end, then the highest AUC (the
    first on a tie); None when no item has an AUC. ``auc_of(item)`` gives (AUC, lower
    end), or None; an undefined lower end counts as the lowest.

    Examples
    --------
    >>> strongest_membership([("a", .70, .60), ("b", .72, .58)], lambda i: (i[1], i[2]))[0]
    'a'
    """
    best, key = None, (-math.inf, -math.inf)
    for item in items:
        auc = auc_of(item)
        if auc is None:
            continue
        low = -math.inf if math.isnan(auc[1]) else auc[1]
        if best is None or (low, auc[0]) > key:
            best, key = item, (low, auc[0])
    return best
