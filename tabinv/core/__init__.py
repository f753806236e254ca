"""The assessment core, below every front end (:mod:`tabinv.api`, the CLI, inventories,
sweeps): the threat model, running attacks and baselines, scoring, and the data an
assessment reads. It imports none of the front ends."""

from .assess import assess, attack_records
from .inputs import DEFAULT_DATASET, Membership, load_dataset, model_records
from .run import run_attacks
from .targets import ModelAccess, attack_inputs, open_target, train_target
from .threat import LABEL_SOURCES, ThreatModel
from .warfarin import WARFARIN_SCENARIOS, demo_warfarin

__all__ = ["DEFAULT_DATASET", "LABEL_SOURCES", "WARFARIN_SCENARIOS", "Membership", "ModelAccess",
           "ThreatModel", "assess", "attack_inputs", "attack_records", "demo_warfarin",
           "load_dataset", "model_records", "open_target", "run_attacks", "train_target"]
