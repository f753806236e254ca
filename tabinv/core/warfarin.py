"""Fredrikson et al. (2014): the warfarin case study, as assessments."""

from __future__ import annotations

from ..attacks.specs import AttackSpec
from ..data.splits import DEFAULT_FRACTIONS, split_dataset
from ..evaluation.results import Assessment
from .assess import assess
from .inputs import load_dataset
from .targets import train_target
from .threat import ThreatModel

__all__ = ["WARFARIN_SCENARIOS", "demo_warfarin"]

#: the 2014 scenarios: (hidden genotypes, attack variants)
WARFARIN_SCENARIOS: tuple[tuple[tuple[str, ...], tuple[AttackSpec, ...]], ...] = (
    (("vkorc1",), (AttackSpec(), AttackSpec(prior="conditional", prior_given=("race",)),
                   AttackSpec(prior="learned"))),
    (("vkorc1", "cyp2c9"), (AttackSpec(), AttackSpec(prior="learned"))),
    (("cyp2c9",), (AttackSpec(), AttackSpec(prior="learned"))),
)


def demo_warfarin(model: str = "linear", *, random_state: int = 0, n_boot: int = 200,
                  label_source: str = "true") -> list[Assessment]:
    """Fredrikson et al. (2014): invert an OLS warfarin model (sqrt dose) for genotypes.

    The attacker knows every feature except the hidden genotype(s), and the patient's
    stable dose. Three scenarios: VKORC1 hidden (CYP2C9 known), both hidden, CYP2C9
    hidden (VKORC1 known).
    """
    data = load_dataset("iwpc")
    splits = split_dataset(data.frame, DEFAULT_FRACTIONS, random_state)
    target, _ = train_target(data, model, random_state=random_state, splits=splits)
    return [assess(ThreatModel(sensitive=hidden, attacks=specs, random_state=random_state,
                               n_boot=n_boot, label_source=label_source),
                   data, target, splits=splits)
            for hidden, specs in WARFARIN_SCENARIOS]
