"""The assessment core, below every front end (:mod:`tabinv.api`, the CLI, inventories,
sweeps): the threat model, running attacks and baselines, scoring, and the data an
assessment reads. It imports none of the front ends."""

from .assess import assess, attack_records, train_target
from .inputs import DEFAULT_DATASET, load_dataset, model_records
from .run import run_attacks
from .threat import LABEL_SOURCES, ThreatModel
from .warfarin import WARFARIN_SCENARIOS, demo_warfarin

__all__ = ["DEFAULT_DATASET", "LABEL_SOURCES", "WARFARIN_SCENARIOS", "ThreatModel", "assess",
           "attack_records", "demo_warfarin", "load_dataset", "model_records", "run_attacks",
           "train_target"]
