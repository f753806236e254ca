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

The file is parsed and checked before onnxruntime sees it: tensors stored outside the file
("external data", which onnxruntime would read from any path the file names) and operators
outside the standard ``ai.onnx`` / ``ai.onnx.ml`` domains are refused. The graph is then run
on the CPU provider only. An ONNX graph exposes no tree structure to tabinv, so white-box
attacks refuse it; the statistics an owner publishes with a model (residual sigma,
confusion counts, marginals) are computed by :meth:`OnnxTargetModel.fit` from the members.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError, UnsafeModelError
from .encoding import encode_codes
from .target import TargetModel
from .validation import _reason

__all__ = ["OnnxGraph", "OnnxTargetModel", "check_onnx_bytes", "load_onnx_model"]

#: operator domains a graph may use (everything onnxruntime runs without custom libraries)
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def check_onnx_bytes(data: bytes, path: str | os.PathLike[str]) -> None:
    """Parse ``data`` as an ONNX model and refuse what onnxruntime should never read.

    Raises
    ------
    ModelError
        Not a readable ONNX model (garbage, truncated, empty).
    UnsafeModelError
        Tensors in external files, or operators from a non-standard domain.
    """
    try:
        import onnx
    except ImportError:  # pragma: no cover - installed with tabinv
        raise ModelError("ONNX models need the 'onnx' package to be checked before "
                         "onnxruntime reads them (pip install onnx)") from None
    if not data:
        raise ModelError(f"{path} is empty, not an ONNX model")
    try:
        model = onnx.ModelProto.FromString(data)
    except Exception as error:  # protobuf's DecodeError and friends mean "not ONNX"
        raise ModelError(f"{path} is not a readable ONNX model (truncated or corrupt? "
                         f"{_reason(error)})") from None
    local = {function.domain for function in model.functions}
    for where, kind, item in _walk_graphs(model):
        if kind == "tensor" and (item.data_location == onnx.TensorProto.EXTERNAL
                                 or len(item.external_data)):
            raise UnsafeModelError(f"refusing {path}: {where} keeps its data in an external "
                                   "file; tabinv reads only self-contained ONNX files")
        if kind == "node" and item.domain not in STANDARD_DOMAINS and item.domain not in local:
            raise UnsafeModelError(f"refusing {path}: {where} uses operator {item.op_type!r} "
                                   f"of domain {item.domain!r}; only {STANDARD_DOMAINS[1:]} "
                                   "operators are run")
    try:
        onnx.checker.check_model(model)
    except Exception as error:  # the checker's ValidationError: an inconsistent graph
        raise ModelError(f"{path} is not a valid ONNX model ({_reason(error)})") from None


def _walk_graphs(model: Any) -> Any:
    """(where, "tensor" | "node", proto) for every tensor and node, subgraphs included."""
    stack: list[tuple[str, Any]] = [("graph", model.graph)]
    stack += [(f"function {f.name!r}", f) for f in model.functions]
    for number, info in enumerate(model.training_info):
        stack += [(f"training graph {number}", info.initialization),
                  (f"training graph {number}", info.algorithm)]
    while stack:
        where, graph = stack.pop()
        for tensor in getattr(graph, "initializer", ()):
            yield f"{where} initializer {tensor.name!r}", "tensor", tensor
        for sparse in getattr(graph, "sparse_initializer", ()):
            yield f"{where} sparse initializer", "tensor", sparse.values
            yield f"{where} sparse initializer", "tensor", sparse.indices
        for node in graph.node:
            here = f"{where} node {node.name or node.op_type!r}"
            yield here, "node", node
            for attribute in node.attribute:
                tensors = [*attribute.tensors, *([attribute.t] if attribute.HasField("t")
                                                 else [])]
                for sparse in [*attribute.sparse_tensors, *(
                        [attribute.sparse_tensor] if attribute.HasField("sparse_tensor")
                        else [])]:
                    tensors += [sparse.values, sparse.indices]
                for tensor in tensors:
                    yield f"{here} attribute {attribute.name!r}", "tensor", tensor
                graphs = [*attribute.graphs, *([attribute.g] if attribute.HasField("g")
                                               else [])]
                stack += [(f"{here} subgraph", sub) for sub in graphs]


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
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
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
                    classes: tuple[Any, ...] | None = None, output: str | None = None
                    ) -> OnnxTargetModel:
    """Check and open an ONNX file as an (unfitted) target model for ``card``'s label.

    Call ``fit(members)`` before attacking it. Raises ModelError / UnsafeModelError.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read model file {path}: {error.strerror}") from None
    check_onnx_bytes(data, path)
    graph = OnnxGraph(data, output=output, classifier=card.task == "classification",
                      origin=str(path))
    return OnnxTargetModel(estimator=graph, card=card.to_dict(), categorical=categorical,
                           classes=classes)
