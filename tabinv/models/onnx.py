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
``to_onnx(model.estimator_, ...)`` satisfy this.

The file is read with bounds and checked before onnxruntime sees it
(:mod:`tabinv.models.onnxcheck`: standard operators only, no control flow, no local
functions, no external data, bounded sizes). The graph then runs on the CPU provider only,
on one thread, without graph optimisations (constant folding would run the graph's nodes
while loading), without a memory arena that outlives a run, and with onnxruntime's
telemetry off. An ONNX graph exposes no tree structure to tabinv, so white-box attacks
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
from .onnxcheck import (
    DEFAULT_LIMITS,
    OnnxLimits,
    check_onnx_bytes,
    import_onnxruntime,
    read_onnx_file,
)
from .target import TargetModel
from .validation import _reason

__all__ = ["OnnxGraph", "OnnxLimits", "OnnxTargetModel", "check_onnx_bytes",
           "load_onnx_model"]

#: onnxruntime session settings (onnxruntime_session_options_config_keys.h)
_SESSION_CONFIG = {
    "session.allow_released_opsets_only": "1",  # no opset still under development
    "session.strict_shape_type_inference": "1",  # an inconsistent graph fails to load
    "session.intra_op.allow_spinning": "0",  # idle threads block instead of spinning
    "session.inter_op.allow_spinning": "0",
}
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


class OnnxGraph:
    """A checked ONNX graph and its onnxruntime session (rebuilt after unpickling).

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
        self.data = data
        self.origin = origin
        self.classifier = classifier
        session = self._session()
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

    def _session(self) -> Any:
        onnxruntime = import_onnxruntime()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.enable_mem_pattern = False  # no buffers planned from the first run's shapes
        options.enable_cpu_mem_arena = False  # memory goes back to the system after a run
        options.log_severity_level = 3
        for key, value in _SESSION_CONFIG.items():
            options.add_session_config_entry(key, value)
        try:
            session = onnxruntime.InferenceSession(self.data, options,
                                                   providers=["CPUExecutionProvider"])
        except Exception as error:
            raise ModelError(f"onnxruntime cannot load {self.origin} "
                             f"({_reason(error)})") from None
        self.__dict__["_cached_session"] = session
        return session

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

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cached_session"}

    def run(self, encoded: np.ndarray) -> np.ndarray:
        """The chosen output for rows of the encoded matrix, as float64."""
        session = self.__dict__.get("_cached_session") or self._session()
        feed = {self.input_name: np.ascontiguousarray(encoded, dtype=self.input_dtype)}
        try:
            result = session.run([self.output_name], feed)[0]
        except Exception as error:
            raise ModelError(f"{self.origin} failed to run ({_reason(error)})") from None
        return np.asarray(result, dtype=np.float64)


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
                             f"{list(self.features)} gives {width}")
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
                    limits: OnnxLimits = DEFAULT_LIMITS) -> OnnxTargetModel:
    """Check and open an ONNX file as an (unfitted) target model for ``card``'s label.

    Call ``fit(members)`` before attacking it. ``limits`` bounds the file (see
    :class:`~tabinv.models.onnxcheck.OnnxLimits`). Raises ModelError / UnsafeModelError.
    """
    path = Path(path)
    data = read_onnx_file(path, limits)
    check_onnx_bytes(data, path, limits)
    graph = OnnxGraph(data, output=output, classifier=card.task == "classification",
                      origin=str(path))
    return OnnxTargetModel(estimator=graph, card=card.to_dict(), categorical=categorical,
                           classes=classes)
