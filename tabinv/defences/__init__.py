"""Defences and what they cost: DP sweeps over epsilon, utility metrics."""

from ..evaluation.utility import utility, utility_metric_names
from .sweep import SweepResult, sweep

__all__ = ["SweepResult", "sweep", "utility", "utility_metric_names"]
