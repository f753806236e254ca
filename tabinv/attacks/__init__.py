"""Attribute-inference attacks (registered by name) and their building blocks."""

from .base import ATTACKS, BaseAttack, attack_names, get_attack
from .candidates import Candidates, Posterior
from .confidence import ConfidenceInversion
from .csmia import CSMIA
from .decisionrule import WhiteBoxDecisionRule
from .lomia import LOMIA
from .map import MAPInversion
from .whitebox import WhiteBoxTreeInversion

__all__ = ["ATTACKS", "CSMIA", "LOMIA", "BaseAttack", "Candidates", "ConfidenceInversion",
           "MAPInversion", "Posterior", "WhiteBoxDecisionRule", "WhiteBoxTreeInversion",
           "attack_names", "get_attack"]
