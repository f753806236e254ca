"""tabinv: measure how much a trained tabular or genomic model leaks about its training data.

Attribute inversion (Fredrikson et al. 2014/2015 and successors) against honest
baselines, on training members and non-members, with confidence intervals.
"""

from ._version import __version__
from .api import AttackSpec, assess, attack_records, demo_warfarin, load_dataset  # noqa: E402
from .exceptions import TabinvError  # noqa: E402

__all__ = ["AttackSpec", "TabinvError", "__version__", "assess", "attack_records",
           "demo_warfarin", "load_dataset"]
