"""Validation of the inputs every metric takes: integer codes, boolean flags, posteriors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataError

__all__ = ["ROW_SUM_TOLERANCE", "as_codes", "as_flags", "check_below", "check_pair",
           "check_posterior"]


ROW_SUM_TOLERANCE = 1e-6


def as_codes(values: Any, name: str) -> np.ndarray:
    """A non-empty 1-D int64 array of non-negative codes, or :class:`DataError`."""
    codes = np.asarray(values)
    if codes.ndim != 1 or codes.size == 0:
        raise DataError(f"{name} must be a non-empty 1-D array, received shape {codes.shape}")
    if codes.dtype.kind not in "iub":
        raise DataError(f"{name} must hold integer codes, received dtype {codes.dtype}")
    codes = codes.astype(np.int64)
    if codes.min() < 0:
        raise DataError(f"{name} must hold codes >= 0, received {codes.min()}")
    return codes


def check_below(codes: np.ndarray, name: str, n_values: int) -> None:
    if codes.max() >= n_values:
        raise DataError(
            f"{name} must hold codes in [0, {n_values}), received the code {codes.max()}"
        )


def check_pair(truth: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    true_codes = as_codes(truth, "truth")
    predicted_codes = as_codes(predicted, "predicted")
    if true_codes.shape != predicted_codes.shape:
        raise DataError(
            "truth and predicted must have the same length, received "
            f"{true_codes.size} and {predicted_codes.size}"
        )
    return true_codes, predicted_codes


def as_flags(values: Any, name: str) -> np.ndarray:
    """A non-empty 1-D boolean array (bool or 0/1 integers), or :class:`DataError`."""
    flags = as_codes(values, name)
    if flags.max() > 1:
        raise DataError(f"{name} must hold booleans or 0/1, received the value {flags.max()}")
    return flags.astype(bool)


def check_posterior(truth: Any, posterior: Any) -> tuple[np.ndarray, np.ndarray]:
    true_codes = as_codes(truth, "truth")
    scores = np.asarray(posterior)
    if scores.dtype.kind not in "iuf" or scores.ndim != 2 or scores.shape[1] == 0:
        raise DataError(
            f"posterior must be a numeric (n, K) array with K >= 1, received shape "
            f"{scores.shape} and dtype {scores.dtype}"
        )
    scores = scores.astype(float, copy=False)  # an (n, K) posterior is not copied
    if scores.shape[0] != true_codes.size:
        raise DataError(
            f"posterior must have one row per record ({true_codes.size}), received "
            f"{scores.shape[0]} rows"
        )
    if not np.isfinite(scores).all() or scores.min() < 0.0:
        raise DataError("posterior must hold finite non-negative probabilities")
    worst = float(np.abs(scores.sum(axis=1) - 1.0).max())
    if worst > ROW_SUM_TOLERANCE:
        raise DataError(f"posterior rows must sum to 1, received a row summing to {1 + worst:g}")
    check_below(true_codes, "truth", scores.shape[1])
    return true_codes, scores
