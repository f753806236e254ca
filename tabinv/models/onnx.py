"""ONNX models as black-box or label-only targets, run by onnxruntime.

An ONNX file carries a graph, not a card, so tabinv describes its input with the card of
the entry's data: **the graph takes one float matrix, the rows encoded by tabinv's
card-driven** :class:`~tabinv.models.encoding.TabularEncoder` (features in card order,
one-hot categories by default or category indices with ``categorical="ordinal"``,
numeric columns scaled by their public bounds). A regression graph outputs the label on
the card's fitted scale (after ``target_transform``), shape (n,) or (n, 1); a classifier
outputs class probabilities (n, k) over the label's domain, or over ``classes`` when it
knows only some of them (convert scikit-learn classifiers with skl2onnx's
``options={"zipmap": False}``). Models trained by tabinv and converted with
``to_onnx(model.estimator_, ...)`` satisfy this. Any other graph, such as a skl2onnx
export of a scikit-learn pipeline taking named raw inputs (string and float tensors, one
per column), is a model in its own input form (:mod:`tabinv.models.onnxraw`), and so is a
float matrix with ``categorical="raw"`` (inventory key ``onnx_encoding``).

The file is read with bounds and checked before onnxruntime sees it
(:mod:`tabinv.models.onnxcheck`: standard operators only, no control flow, no local
functions, no external data, bounded sizes). The graph then runs in an
:class:`~tabinv.models.onnxsession.OnnxSession`: on the CPU provider only, on one thread,
without graph optimisations (constant folding would run the graph's nodes while loading),
without a memory arena that outlives a run, and with onnxruntime's telemetry off. An ONNX
graph exposes no tree structure to tabinv, so white-box attacks
refuse it; the statistics an owner publishes with a model (residual sigma, confusion
counts, marginals) are computed by :meth:`OnnxTargetModel.fit` from the members.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError
from .encoding import encode_codes
from .foreign import RecordModel
from .onnxcheck import DEFAULT_LIMITS, OnnxLimits, check_onnx_bytes, read_onnx_file
from .onnxraw import RAW, onnx_records, takes_encoded_matrix
from .onnxsession import OnnxSession
from .target import TargetModel

__all__ = ["OnnxGraph", "OnnxLimits", "OnnxSession", "OnnxTargetModel", "check_onnx_bytes",
           "load_onnx_model"]

_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


class OnnxGraph(OnnxSession):
    """A checked ONNX graph taking one float matrix (the card-encoded rows).

    Parameters
    ----------
    data : bytes
        The ONNX file's bytes (already checked by :func:`check_onnx_bytes`).
    output : str, optional
        Name of the output to read; default the first float tensor output (for a
        classifier, the first of rank 2).
    classifier : bool
        Whether the graph is a classifier (it must output probabilities).
    origin : str
        The file name, for messages.
    """

    def __init__(self, data: bytes, *, output: str | None = None, classifier: bool = False,
                 origin: str = "ONNX model") -> None:
        super().__init__(data, origin=origin)
        self.classifier = classifier
        session = self.session
        inputs = session.get_inputs()
        if len(inputs) != 1 or inputs[0].type not in _FLOAT_TYPES or len(inputs[0].shape) != 2:
            described = ", ".join(f"{i.name} {i.type} {i.shape}" for i in inputs)
            raise ModelError(f"{origin}: the graph must take one float matrix (the "
                             f"card-encoded rows), but its inputs are: {described}")
        self.input_name = inputs[0].name
        self.input_dtype = _FLOAT_TYPES[inputs[0].type]
        width = inputs[0].shape[1]
        self.n_features_in_ = width if isinstance(width, int) else None
        self.output_name = self._choose_output(session, output)

    def _choose_output(self, session: Any, output: str | None) -> str:
        outputs = session.get_outputs()
        names = [o.name for o in outputs]
        if output is not None:
            if output not in names:
                raise ModelError(f"{self.origin}: no output {output!r}; outputs are {names}")
            chosen = [o for o in outputs if o.name == output]
        else:
            chosen = [o for o in outputs if o.type in _FLOAT_TYPES
                      and (not self.classifier or len(o.shape) == 2)]
        if not chosen or chosen[0].type not in _FLOAT_TYPES:
            found = ", ".join(f"{o.name} {o.type}" for o in outputs)
            hint = " (a ZipMap output: convert with options={'zipmap': False})" \
                if "seq(map" in found else ""
            raise ModelError(f"{self.origin}: needs a float tensor output of "
                             f"{'class probabilities' if self.classifier else 'predictions'}"
                             f"; outputs are: {found}{hint}")
        return str(chosen[0].name)

    def run(self, encoded: np.ndarray) -> np.ndarray:
        """The chosen output for rows of the encoded matrix, as float64."""
        feed = {self.input_name: np.ascontiguousarray(encoded, dtype=self.input_dtype)}
        return np.asarray(self.fetch([self.output_name], feed)[0], dtype=np.float64)


class OnnxTargetModel(TargetModel):
    """A target model whose estimator is an ONNX graph (see the module docstring).

    ``fit(members)`` trains nothing: it fixes the encoding from the card, checks the graph
    against it and records the statistics an owner publishes with a model, computed on
    ``members`` with the graph's own outputs.
    """

    has_structure: ClassVar[bool] = False  # a graph tabinv runs, never reads

    def __init__(self, *, family: str = "onnx", estimator: Any = None,
                 card: dict[str, Any] | None = None, categorical: str = "onehot",
                 classes: tuple[Any, ...] | None = None) -> None:
        super().__init__(family=family, estimator=estimator, card=card,
                         categorical=categorical)
        self.classes = classes

    def fit(self, frame: pd.DataFrame, y: Any = None) -> OnnxTargetModel:
        if self.card is None or not isinstance(self.estimator, OnnxGraph):
            raise ModelError("OnnxTargetModel needs a card and an OnnxGraph")
        graph = self.estimator
        self.encoder_ = self._make_encoder()
        width = self.encoder_.n_output_
        if graph.n_features_in_ not in (None, width):
            raise ModelError(f"{graph.origin}: the graph takes {graph.n_features_in_} columns "
                             f"but the card's {self.categorical} encoding of "
                             f"{list(self.features)} gives {width} (a graph taking the "
                             f"features as they are: onnx_encoding={RAW!r})")
        if self.task == "classification":
            domain = self.domain(self.label)
            codes = encode_codes(list(self.classes or domain), domain, self.label)
            if len(codes) < 2 or (np.diff(codes) <= 0).any():
                raise ModelError(f"{graph.origin}: classes must be distinct values of "
                                 f"{self.label!r} in the order of its domain {list(domain)}")
            self.classes_present_ = codes
        self.estimator_ = graph
        self.n_train_ = len(frame)
        encoded = self.encoder_.transform(frame)
        self._check_outputs(self.output_encoded(encoded))
        self._record_statistics(frame, encoded)
        return self

    def _check_outputs(self, output: np.ndarray) -> None:
        origin = self.estimator_.origin
        if not np.isfinite(output).all():
            raise ModelError(f"{origin} returns non-finite outputs on the members")
        if self.task == "classification" and (
                (output < -1e-6).any() or np.abs(output.sum(axis=1) - 1).max() > 1e-3):
            raise ModelError(f"{origin}: output {self.estimator_.output_name!r} is not class "
                             "probabilities (each row must be >= 0 and sum to 1)")

    def output_encoded(self, encoded: np.ndarray) -> np.ndarray:
        raw = self.estimator_.run(encoded)
        n = encoded.shape[0]
        if self.task == "regression":
            if raw.size != n:
                raise ModelError(f"{self.estimator_.origin}: a regression graph must return "
                                 f"one value per row, got shape {raw.shape}")
            return raw.reshape(n)
        present = np.asarray(self.classes_present_)
        if raw.shape != (n, present.size):
            raise ModelError(f"{self.estimator_.origin}: expected probabilities of shape "
                             f"({n}, {present.size}), got {raw.shape}; give onnx_classes when "
                             "the graph knows only some of the label's values")
        full = np.zeros((n, len(self.domain(self.label))))
        full[:, present] = raw
        return full

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "estimator": "ONNX graph", "model_format": "onnx",
                "onnx_output": self.estimator_.output_name}


def load_onnx_model(path: str | os.PathLike[str], card: Card, *, categorical: str = "onehot",
                    classes: tuple[Any, ...] | None = None, output: str | None = None,
                    limits: OnnxLimits = DEFAULT_LIMITS) -> OnnxTargetModel | RecordModel:
    """Check and open an ONNX file for ``card``'s label.

    A graph taking one float matrix is tabinv's card encoding (``categorical``: "onehot"
    or "ordinal"): an unfitted :class:`OnnxTargetModel`; call ``fit(members)`` before
    attacking it. Any other graph (named raw inputs, :mod:`tabinv.models.onnxraw`), or a
    float matrix with ``categorical="raw"`` (taking the card's features as they are),
    gives a :class:`~tabinv.models.foreign.RecordModel`, to put behind
    :meth:`ForeignModel.wrap <tabinv.models.foreign.ForeignModel.wrap>` (as
    :func:`~tabinv.models.sources.open_model` does). ``classes`` and ``output`` are the
    ``onnx_classes`` and ``onnx_output`` options; ``limits`` bounds the file (see
    :class:`~tabinv.models.onnxcheck.OnnxLimits`). Raises ModelError / UnsafeModelError.
    """
    path = Path(path)
    data = read_onnx_file(path, limits)
    model = check_onnx_bytes(data, path, limits)
    if categorical == RAW or not takes_encoded_matrix(model):
        return onnx_records(model, card, origin=str(path), classes=classes, output=output)
    graph = OnnxGraph(data, output=output, classifier=card.task == "classification",
                      origin=str(path))
    return OnnxTargetModel(estimator=graph, card=card.to_dict(), categorical=categorical,
                           classes=classes)
