"""Defences and what they cost: DP sweeps over epsilon, utility metrics."""

from .sweep import SweepResult, sweep
from .utility import utility, utility_metric_names

__all__ = ["SweepResult", "sweep", "utility", "utility_metric_names"]
