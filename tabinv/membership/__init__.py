"""Membership inference: was a record in the target model's training data?

Attacks are estimators (``fit(target, reference)`` then ``score(records)``):
:class:`LossThreshold` (Yeom et al. 2018), :class:`LiRA` offline and online (Carlini et
al. 2022) and :class:`RMIA` (Zarifzadeh et al. 2024) read the confidence of the true
label; the label-only :class:`LabelGap` and :class:`NoiseRobustness` (Choquette-Choo et
al. 2021) read only the predicted label, so they attack label-only access too.
:func:`assess_membership` runs them on members vs non-members and measures each with
:func:`membership_metrics` (ROC AUC, TPR at FPR 0.1 % and 1 %, membership advantage,
each with a bootstrap interval).
"""

from .assess import MEMBERSHIP_ATTACKS, MembershipResult, assess_membership
from .attacks import LiRA, LossThreshold, MembershipAttack
from .labelonly import LabelGap, NoiseRobustness
from .metrics import MembershipMetrics, membership_metrics, roc_points
from .queries import label_confidence, label_match, logit
from .rmia import RMIA
from .shadows import ShadowSet, train_shadows

__all__ = ["MEMBERSHIP_ATTACKS", "LabelGap", "LiRA", "LossThreshold", "MembershipAttack",
           "MembershipMetrics", "MembershipResult", "NoiseRobustness", "RMIA", "ShadowSet",
           "assess_membership", "label_confidence", "label_match", "logit",
           "membership_metrics", "roc_points", "train_shadows"]
