"""Attribute-inference attacks and their building blocks.

Attacks register themselves: a module of this package whose class is decorated with
``@register`` is found by :data:`ATTACKS` (:mod:`~tabinv.attacks.registry`); nothing
here needs to name it. The classes below are re-exported for convenience only.
"""

from .base import BaseAttack
from .candidates import Candidates, Posterior
from .confidence import ConfidenceInversion
from .csmia import CSMIA
from .decisionrule import WhiteBoxDecisionRule
from .lomia import LOMIA
from .map import MAPInversion
from .registry import ATTACKS, attack_class, attack_names, get_attack, register
from .whitebox import WhiteBoxTreeInversion

__all__ = ["ATTACKS", "CSMIA", "LOMIA", "BaseAttack", "Candidates", "ConfidenceInversion",
           "MAPInversion", "Posterior", "WhiteBoxDecisionRule", "WhiteBoxTreeInversion",
           "attack_class", "attack_names", "get_attack", "register"]
