"""What an endpoint reveals, measured on a few records: probabilities (at full
precision or rounded to d decimals), labels only, or a regression's output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...exceptions import ModelError

__all__ = ["DetectedAccess", "detect_access"]

#: more decimals than this is taken as unrounded (float32 and float64 outputs)
MAX_ROUNDING = 6


@dataclass(frozen=True)
class DetectedAccess:
    """``answers``: ``probabilities``, ``labels`` or ``output``; ``decimals``: the
    rounding of probabilities (None: not rounded); ``width``: probability columns;
    ``rows``: records the probe sent."""

    answers: str
    decimals: int | None
    width: int
    rows: int
    dry_run: bool = False

    @property
    def level(self) -> str:
        """The access level this gives (:data:`tabinv.vocabulary.ACCESS_LEVELS`)."""
        if self.answers == "labels":
            return "label-only"
        if self.answers == "output":
            return "confidences"
        return "rounded" if self.decimals is not None else "confidences"

    def describe(self) -> str:
        if self.dry_run:
            return "not measured (dry run: nothing was sent)"
        if self.answers == "labels":
            return "labels only"
        if self.answers == "output":
            return "regression output"
        if self.decimals is None:
            return "probabilities"
        return f"probabilities rounded to {self.decimals} decimals"

    def to_dict(self) -> dict[str, Any]:
        return {"answers": self.answers, "decimals": self.decimals, "access": self.level,
                "detected": self.describe(), "probe_rows": self.rows}


def detect_access(answers: np.ndarray, task: str) -> DetectedAccess:
    """What ``answers`` (the endpoint's raw answers to the probe records) reveal."""
    n = int(answers.shape[0]) if answers.ndim else 0
    if task == "regression":
        return DetectedAccess("output", None, 1, n)
    if answers.ndim == 1 or (answers.ndim == 2 and answers.shape[1] == 1):
        return DetectedAccess("labels", None, 1, n)
    if answers.ndim != 2 or answers.dtype == object:
        raise ModelError(f"the endpoint answered shape {answers.shape} ({answers.dtype}); "
                         "expected probabilities (rows x classes) or one label per row")
    return DetectedAccess("probabilities", rounding_of(answers), int(answers.shape[1]), n)


def rounding_of(values: np.ndarray) -> int | None:
    """The fewest decimals d at which every value equals itself rounded to d, or None
    when that takes more than :data:`MAX_ROUNDING` (unrounded)."""
    values = np.asarray(values, dtype=float)
    for decimals in range(MAX_ROUNDING + 1):
        if np.abs(np.round(values, decimals) - values).max(initial=0) <= 1e-12:
            return decimals
    return None
