"""A recognised pipeline behind tabinv's model interface, its parts readable.

:func:`~tabinv.models.recognise.recognition` makes a :class:`ReadablePipeline` of a
scikit-learn pipeline whose preprocessing tabinv reproduces
(:class:`~tabinv.models.pipeencoder.PipelineEncoder`): its ``estimator_`` is the
pipeline's final estimator itself, so :func:`~tabinv.models.oracle.linear_parts`, the
tree walk and the white-box attacks read it. Like
:class:`~tabinv.models.foreign.ForeignModel` it trains nothing: ``fit(records)`` records
the statistics an owner publishes, computed as the black-box twin computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..exceptions import ModelError
from ..text import shorten
from .encoding import encode_codes
from .pipeencoder import PipelineEncoder
from .target import TargetModel

__all__ = ["ReadablePipeline", "ReadableTreePipeline"]


class ReadablePipeline(TargetModel):
    """A recognised pipeline in front of a linear model (:class:`ReadableTreePipeline`:
    trees).

    Parameters
    ----------
    family : str
        What the model is (``sklearn.pipeline.Pipeline (LogisticRegression)``).
    estimator : estimator
        The pipeline's fitted final estimator, taking the encoded matrix.
    card : dict
        The card, its features the model's (in the model's input order, those its
        preprocessing drops left out), ``target_transform`` identity.
    encoder : PipelineEncoder
        The pipeline's preprocessing.
    inputs, model_inputs : tuple of str
        The model's names of the features; every input the model declares.
    unused : tuple of str
        The card's features the model does not take.
    classes : sequence, optional
        A classifier's classes (label values) in its output order.
    origin : str
        Where the model came from, named in messages.
    feature_map : mapping of str to str, optional
        ``{card column: model input}`` renames.
    """

    has_structure: ClassVar[bool] = False

    def __init__(self, *, family: str = "pipeline", estimator: Any = None,
                 card: dict[str, Any] | None = None, categorical: str = "pipeline",
                 encoder: PipelineEncoder | None = None, inputs: tuple[str, ...] = (),
                 model_inputs: tuple[str, ...] = (), classes: Sequence[Any] | None = None,
                 origin: str = "", feature_map: Mapping[str, str] | None = None,
                 unused: tuple[str, ...] = ()) -> None:
        super().__init__(family=family, estimator=estimator, card=card,
                         categorical=categorical)
        self.encoder = encoder
        self.inputs = inputs
        self.model_inputs = model_inputs
        self.classes = classes
        self.origin = origin
        self.feature_map = feature_map
        self.unused = unused

    def fit(self, frame: pd.DataFrame, y: Any = None) -> ReadablePipeline:
        """Record the published statistics on ``frame`` (records with the label)."""
        if self.card is None or self.encoder is None or self.estimator is None:
            raise ModelError("ReadablePipeline needs a card, an encoder and an estimator")
        self.encoder_ = self.encoder
        self.estimator_ = self.estimator
        if self.task == "classification":
            present = encode_codes(list(self.classes or ()), self.domain(self.label),
                                   f"classes of {self.origin}")
            if len(set(present.tolist())) != len(present):
                raise ModelError(f"{self.origin}: its classes repeat a value of the label "
                                 f"{shorten(self.label)}")
            self.classes_present_ = present
        self.n_train_ = len(frame)
        encoded = self.encoder_.transform(frame)
        if self.task == "classification":
            self._check_width(encoded)
        self._record_statistics(frame, encoded)
        return self

    def _check_width(self, encoded: np.ndarray) -> None:
        """The final estimator's probabilities have one column per class it names (a
        tampered file may say otherwise)."""
        n, width = len(encoded), len(self.classes_present_)
        shape = np.shape(self.estimator_.predict_proba(encoded))
        if shape != (n, width):
            raise ModelError(f"{self.origin} returned probabilities of shape {shape} for "
                             f"{n:,} records; expected ({n}, {width}), one column per class "
                             f"it names")

    def _counted_inputs(self, encoded: np.ndarray) -> int:
        """As the black-box twin counts them: one per input the model declares."""
        return len(self.model_inputs)

    def structure_note(self) -> str:
        return (f"the model has no trees: its final estimator is a "
                f"{type(self.estimator).__name__} (read for the linear fast path)")

    def describe(self) -> dict[str, Any]:
        facts = {**super().describe(), "model_kind": self.family,
                 "model_source": self.origin, "reveals": self.reveals,
                 "model_inputs": list(self.model_inputs),
                 "preprocessing": "recognised: reproduced by tabinv, fast paths apply"}
        dropped = [n for n in self.model_inputs if n not in set(self.inputs)]
        if dropped:
            facts["model_inputs_its_preprocessing_drops"] = dropped
        if self.feature_map:
            facts["feature_map"] = dict(self.feature_map)
        if self.unused:
            facts["card_features_not_taken_by_the_model"] = list(self.unused)
        return facts


class ReadableTreePipeline(ReadablePipeline):
    """A recognised pipeline in front of trees the white-box attacks read."""

    has_structure: ClassVar[bool] = True

    def structure_note(self) -> str:
        return ""
