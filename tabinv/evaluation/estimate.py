"""The small immutable result type every metric returns: a value with its interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Estimate"]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with the bounds of its confidence interval.

    Parameters
    ----------
    value : float
        The point estimate. NaN when the quantity is undefined for the data (for example
        a recall when no record has the positive value, or an AUC when one class only is
        present).
    low, high : float
        Lower and upper bounds of the confidence interval; NaN when undefined.

    Notes
    -----
    The fields are always stored as plain Python floats, so :meth:`to_dict` is ready for
    JSON (NaN is written as ``NaN`` by the standard library; report writers decide how to
    render it).

    Examples
    --------
    >>> e = Estimate(0.8, 0.49, 0.94)
    >>> e.contains(0.5), e.is_above(0.5), e.is_above(0.4)
    (True, False, True)
    >>> e.to_dict()
    {'value': 0.8, 'low': 0.49, 'high': 0.94}
    """

    value: float
    low: float
    high: float

    def __post_init__(self) -> None:
        for name in ("value", "low", "high"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @classmethod
    def undefined(cls) -> Estimate:
        """An estimate whose value and bounds are all NaN."""
        return cls(math.nan, math.nan, math.nan)

    @property
    def is_defined(self) -> bool:
        """True when the point estimate is a number (not NaN)."""
        return not math.isnan(self.value)

    def to_dict(self) -> dict[str, float]:
        """Return ``{"value": ..., "low": ..., "high": ...}`` with plain Python floats."""
        return {"value": self.value, "low": self.low, "high": self.high}

    def contains(self, x: float) -> bool:
        """True when ``low <= x <= high`` (False when a bound is NaN)."""
        return bool(self.low <= x <= self.high)

    def is_above(self, other_value: float) -> bool:
        """True when the whole interval lies above ``other_value`` (``low > other_value``).

        Use it to say that an attack beats a baseline: ``leakage.is_above(0.0)``.
        False when the lower bound is NaN.
        """
        return bool(self.low > other_value)
