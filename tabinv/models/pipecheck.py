"""Synthetic records on which a recognised pipeline's encoding is read and checked.

:mod:`.recognise` reads each categorical feature's columns from the pipeline's own output
on :meth:`Synthetic.table_frames` (every value of the card's domain), and
:func:`check_encoder` compares tabinv's :class:`~tabinv.models.pipeencoder.PipelineEncoder`
with the pipeline's own preprocessing on random records (every domain value, numbers
inside and outside the card's bounds), bit for bit. Any difference, or preprocessing that
fails or gives anything but finite numbers, raises :class:`NotRecognised`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import TabinvError
from .pipeencoder import PipelineEncoder
from .validation import _reason

__all__ = ["CHECK_ROWS", "NotRecognised", "Synthetic", "check_encoder", "run_preprocessing"]

#: synthetic records the reading is checked on
CHECK_ROWS = 64


class NotRecognised(Exception):
    """Why a pipeline is not recognised (one clause)."""


class Synthetic:
    """Synthetic records in the model's own form (its names, its types) and the card's."""

    def __init__(self, card: Card, names: list[str], to_card: Mapping[str, str],
                 inputs: Mapping[str, np.ndarray]) -> None:
        self.card, self.names, self.to_card, self.inputs = card, names, to_card, inputs
        self.rng = np.random.default_rng(0)

    def _domain(self, name: str) -> Sequence[Any] | None:
        return self.card.column(self.to_card[name]).domain

    def table_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Row k holds value k of each domain (cycling), and numbers of all sizes."""
        rows = max([len(d) for n in self.names if (d := self._domain(n)) is not None] +
                   [CHECK_ROWS])
        codes = {n: np.arange(rows) % len(d) for n in self.names
                 if (d := self._domain(n)) is not None}
        return self._frames(codes, rows)

    def check_frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Random domain values and numbers."""
        codes = {n: self.rng.integers(0, len(d), CHECK_ROWS) for n in self.names
                 if (d := self._domain(n)) is not None}
        return self._frames(codes, CHECK_ROWS)

    def _numbers(self, name: str, rows: int) -> np.ndarray:
        bounds = self.card.column(self.to_card[name]).bounds
        low, high = (float(bounds[0]), float(bounds[1])) if bounds is not None \
            else (-100.0, 100.0)
        span = max(high - low, 1.0)
        fixed = np.array([low, high, 0.0, 1.0, low - span / 3, high + span / 3])
        drawn = self.rng.uniform(low - span / 2, high + span / 2, rows)
        return np.concatenate([fixed, drawn])[:rows]

    def _frames(self, codes: Mapping[str, np.ndarray], rows: int
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
        own: dict[str, np.ndarray] = {}
        cards: dict[str, np.ndarray] = {}
        for name in self.names:
            column = self.to_card[name]
            domain = self._domain(name)
            if domain is None:
                own[name] = cards[column] = self._numbers(name, rows)
            else:
                own[name] = self.inputs[column][codes[name]]
                cards[column] = np.asarray(list(domain), dtype=object)[codes[name]]
        return pd.DataFrame(own), pd.DataFrame(cards)


def run_preprocessing(run: Callable[[pd.DataFrame], Any], frame: pd.DataFrame
                      ) -> tuple[np.ndarray, bool]:
    """The preprocessing's output on ``frame`` as float64, and whether it was sparse."""
    from scipy import sparse

    with warnings.catch_warnings():  # e.g. unknown categories, named with their column
        warnings.simplefilter("ignore")
        try:
            out = run(frame)
        except TabinvError:
            raise
        except Exception as error:  # the pipeline's own code: anything it raises
            raise NotRecognised(f"its preprocessing fails on the card's values "
                                f"({_reason(error)})") from None
    is_sparse = sparse.issparse(out)
    if is_sparse:
        out = out.toarray()
    try:
        dense = np.asarray(out.to_numpy() if hasattr(out, "to_numpy") else out,
                           dtype=np.float64)
    except (TypeError, ValueError):
        raise NotRecognised("its preprocessing does not give numbers") from None
    if dense.ndim != 2 or dense.shape[0] != len(frame):
        raise NotRecognised(f"its preprocessing gives an array of shape {dense.shape}")
    if not np.isfinite(dense).all():
        raise NotRecognised("its preprocessing gives missing or infinite values for some "
                            "of the card's values")
    return dense, is_sparse


def check_encoder(encoder: PipelineEncoder, synthetic: Synthetic,
           run: Callable[[pd.DataFrame], Any]) -> bool:
    """Refuse unless the encoder gives the pipeline's own output bit for bit on random
    synthetic records; whether that output is sparse."""
    own, cards = synthetic.check_frames()
    theirs, is_sparse = run_preprocessing(run, own)
    ours = encoder.transform(cards)
    if theirs.shape != ours.shape:
        raise NotRecognised(f"its preprocessing gives {theirs.shape[1]} columns, tabinv's "
                            f"reading of it {ours.shape[1]}")
    differ = np.flatnonzero((theirs != ours).any(axis=0))
    if differ.size:
        raise NotRecognised(f"tabinv's reading of its preprocessing differs from the "
                            f"pipeline's own in output column {int(differ[0])}")
    return is_sparse
