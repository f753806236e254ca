"""Attribute-inference attacks (registered by name) and their building blocks."""

from .base import ATTACKS, BaseAttack, attack_names, get_attack
from .candidates import Candidates, Posterior
from .map import MAPInversion

__all__ = ["ATTACKS", "BaseAttack", "Candidates", "MAPInversion", "Posterior",
           "attack_names", "get_attack"]
