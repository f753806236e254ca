"""ONNX graphs that take raw records (skl2onnx exports of pipelines), as RecordModels.

skl2onnx exports a scikit-learn ``Pipeline`` fitted on a DataFrame with one input per
column, named after it, of shape [N, 1]: ``tensor(string)`` for text columns (encoded
inside the graph by ``ai.onnx.ml`` operators: OneHotEncoder, LabelEncoder, ...),
``tensor(float)`` / ``tensor(double)`` / ``tensor(int64)`` for numbers.
:func:`onnx_records` makes a :class:`~tabinv.models.foreign.RecordModel` of such a graph
(already checked by :func:`~tabinv.models.onnxcheck.check_onnx_bytes`; it runs in the
bounded :class:`~tabinv.models.onnxsession.OnnxSession`):

- **inputs**: one :class:`~tabinv.models.foreign.ModelInput` per graph input, of kind
  ``text`` (string tensor) or ``number`` (numeric tensor), checked against the card when
  the model is fitted (renames: the feature map). A graph with a single input of several
  columns (a string matrix; a float matrix only with ``onnx_encoding="raw"``, since
  otherwise it takes tabinv's card encoding, :mod:`tabinv.models.onnx`) takes the card's
  features in card order.
- **feed**: each column an (n, 1) array of the input's element type: strings as numpy
  object arrays, whole numbers for int64 inputs (any other value is refused, never
  truncated).
- **output**: a classifier reveals the probabilities of its first float tensor output of
  rank 2 (skl2onnx's ``options={"zipmap": False}``). A **ZipMap** output (skl2onnx's
  default: a sequence of maps, one Python dict per record) is read through its input:
  the ZipMap node is removed before onnxruntime loads the graph and the float tensor it
  was given, the same probabilities in the order of its ``classlabels_*``, becomes the
  output (removing a node only takes work away; the result is what ``zipmap=False``
  exports). A graph that outputs labels only (string or int64 tensor) is label-only, and
  so is one whose ``onnx_output`` names its label output (a classifier whose scores are
  not probabilities). A regression reads its first float output, one value per record.
- **classes**: read from the graph, the ZipMap's ``classlabels_strings`` /
  ``classlabels_int64s`` or those of the first node on the way back from the output that
  has them (TreeEnsembleClassifier, LinearClassifier, SVMClassifier, ...); when no node
  says, ``onnx_classes``, else the order of the label's domain in the card.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..data.schema import Card
from ..exceptions import ModelError
from ..text import shorten
from .foreign import ModelInput, RecordModel
from .onnxcheck import _onnx
from .onnxsession import OnnxSession

__all__ = ["RAW", "OnnxRecords", "onnx_records", "takes_encoded_matrix"]

#: ``onnx_encoding`` value saying that a graph's single float matrix takes raw records
RAW = "raw"
#: element types of the inputs tabinv feeds records to, and the numpy type of each
_ELEMENTS: dict[str, Any] = {"tensor(string)": object, "tensor(float)": np.float32,
                             "tensor(double)": np.float64, "tensor(int64)": np.int64}
_FLOATS = ("tensor(float)", "tensor(double)")
_LABELS = ("tensor(string)", "tensor(int64)")
_CLASS_LABELS = ("classlabels_strings", "classlabels_int64s")


@dataclass(frozen=True)
class Port:
    """A graph input or output: name, type (as onnxruntime writes it) and shape (None:
    not declared; a dimension None: not fixed)."""

    name: str
    type: str
    shape: tuple[int | None, ...] | None

    @property
    def width(self) -> int | None:
        """The second dimension of a matrix (None when not fixed)."""
        return self.shape[1] if self.shape is not None and len(self.shape) == 2 else None

    def column(self) -> bool:
        """Whether it holds one value per record: shape [N] or [N, 1]."""
        return self.shape is not None and (len(self.shape) == 1 or self.shape[1:] == (1,))

    def describe(self) -> str:
        shape = "?" if self.shape is None else list(self.shape)
        return f"{shorten(self.name, 40)} {self.type} {shape}"


def _port(value_info: Any) -> Port:
    kind = value_info.type.WhichOneof("value")
    if kind != "tensor_type":
        return Port(value_info.name, {"sequence_type": "seq(...)", "map_type": "map(...)"}
                    .get(str(kind), str(kind)), None)
    tensor = value_info.type.tensor_type
    try:
        element = str(_onnx().TensorProto.DataType.Name(tensor.elem_type)).lower()
    except ValueError:  # not an element type onnx knows
        element = str(tensor.elem_type)
    shape = tuple(d.dim_value if d.HasField("dim_value") else None
                  for d in tensor.shape.dim) if tensor.HasField("shape") else None
    return Port(value_info.name, f"tensor({element})", shape)


def graph_inputs(model: Any) -> list[Port]:
    """The inputs a caller feeds (initializers listed as inputs left out)."""
    stored = {tensor.name for tensor in model.graph.initializer}
    return [_port(i) for i in model.graph.input if i.name not in stored]


def takes_encoded_matrix(model: Any) -> bool:
    """Whether the graph takes one float matrix (tabinv's card encoding, unless the
    caller says ``onnx_encoding="raw"``)."""
    inputs = graph_inputs(model)
    return len(inputs) == 1 and inputs[0].type in _FLOATS and inputs[0].shape is not None \
        and len(inputs[0].shape) == 2


class OnnxRecords(OnnxSession):
    """A checked graph taking raw records: its feed from record columns, its outputs.

    Parameters
    ----------
    data : bytes
        The graph (checked; ZipMaps already removed).
    origin : str
        The file name, for messages.
    feeds : sequence of (input, columns)
        Each graph input and the columns (model input names) it takes, in order.
    probabilities, labels : str or None
        The outputs of class probabilities and of labels (or a regression's values).
    classes : sequence, optional
        A classifier's classes, in the order of its probability columns.
    """

    def __init__(self, data: bytes, *, origin: str, feeds: Sequence[tuple[Port, tuple[str, ...]]],
                 probabilities: str | None, labels: str | None,
                 classes: Sequence[Any] | None) -> None:
        super().__init__(data, origin=origin)
        self.feeds = tuple(feeds)
        self.probabilities_output = probabilities
        self.labels_output = labels
        self.classes = None if classes is None else tuple(classes)

    def feed(self, columns: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        """The graph's inputs from record columns (model input names -> arrays)."""
        feed = {}
        for port, names in self.feeds:
            values = [self._typed(columns[name], port) for name in names]
            array = values[0].reshape(n, 1) if len(values) == 1 else np.column_stack(values)
            feed[port.name] = array.reshape(n) if port.shape is not None and \
                len(port.shape) == 1 else array
        return feed

    def _typed(self, values: np.ndarray, port: Port) -> np.ndarray:
        dtype = _ELEMENTS[port.type]
        if dtype is object:
            return np.asarray(values, dtype=object)
        if dtype is np.int64:
            numbers = np.asarray(values, dtype=np.float64)
            whole = np.isfinite(numbers) & (numbers == np.round(numbers)) \
                & (np.abs(numbers) < 2.0**62)
            if not whole.all():
                raise ModelError(f"{self.origin}: input {shorten(port.name, 40)} takes whole "
                                 f"numbers (int64), not {shorten(numbers[~whole][0])}")
            return numbers.astype(np.int64)
        return np.asarray(values, dtype=dtype)

    def probabilities(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities (n, len(classes))."""
        return np.asarray(self.fetch([str(self.probabilities_output)], feed)[0])

    def predict(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Labels (or a regression's values), one per record."""
        if self.labels_output is None:  # a classifier without a label output
            chosen = np.argmax(self.probabilities(feed), axis=1)
            return np.asarray(self.classes, dtype=object)[chosen]
        values = np.asarray(self.fetch([self.labels_output], feed)[0])
        return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values


class OnnxRecordModel(RecordModel):
    """The RecordModel of an ONNX graph with raw inputs (it names the graph's output)."""

    def describe(self) -> dict[str, Any]:
        graph: OnnxRecords = self.model
        output = graph.probabilities_output or graph.labels_output
        return {**super().describe(), "model_format": "onnx", "onnx_output": output}


def onnx_records(model: Any, card: Card, *, origin: str,
                 classes: Sequence[Any] | None = None,
                 output: str | None = None) -> RecordModel:
    """A RecordModel of a checked ONNX graph (``onnx.ModelProto``) with raw inputs.

    ``card`` gives the task (a categorical label: a classifier) and, for a single input of
    several columns, the features it takes; ``classes`` (``onnx_classes``) names the
    probability columns when the graph does not; ``output`` (``onnx_output``) picks the
    output. Raises ModelError (the model's inputs are checked against the card when the
    model is fitted, :func:`~tabinv.models.modelinputs.match_inputs`).
    """
    model, zipmap_classes, renamed = _without_zipmaps(model)
    outputs = [_port(o) for o in model.graph.output]
    chosen = renamed.get(output, output) if output is not None else None
    probabilities, labels = _choose_outputs(outputs, card, chosen, origin)
    read = str(probabilities or labels)
    named, operator = _graph_classes(model.graph, read)
    found = None if card.task == "regression" else _classes(
        zipmap_classes.get(read, named), classes, card, origin, _width(outputs, probabilities))
    feeds, inputs = _feeds(graph_inputs(model), card, origin)
    graph = OnnxRecords(model.SerializeToString(), origin=origin, feeds=feeds,
                        probabilities=probabilities, labels=labels, classes=found)
    graph.session  # noqa: B018 - load now: a graph onnxruntime refuses fails here
    described = operator or next((n.op_type for n in reversed(model.graph.node)), "empty")
    return OnnxRecordModel(graph, origin=origin, kind=f"ONNX graph ({described})",
                           inputs=inputs, classes=found,
                           proba=graph.probabilities if probabilities else None,
                           predict=graph.predict, table=graph.feed)


def _without_zipmaps(model: Any) -> tuple[Any, dict[str, tuple[Any, ...]], dict[str, str]]:
    """The model without the ZipMaps that make graph outputs (a copy when there are any),
    the classes of each float tensor that replaced one, and the replaced output names."""
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    positions = {o.name: i for i, o in enumerate(graph.output)}
    zipmaps = [i for i, node in enumerate(graph.node) if node.op_type == "ZipMap"
               and node.domain == "ai.onnx.ml" and len(node.input) == 1
               and len(node.output) == 1 and node.output[0] in positions
               and node.output[0] not in used and node.input[0] not in positions]
    if not zipmaps:
        return model, {}, {}
    onnx = _onnx()
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    classes, renamed = {}, {}
    for index in reversed(zipmaps):
        node = copy.graph.node[index]
        labels = _class_labels(node) or ()
        copy.graph.output[positions[node.output[0]]].CopyFrom(
            onnx.helper.make_tensor_value_info(node.input[0], onnx.TensorProto.FLOAT,
                                               [None, len(labels) or None]))
        classes[node.input[0]], renamed[node.output[0]] = labels, node.input[0]
        del copy.graph.node[index]
    return copy, classes, renamed


def _choose_outputs(outputs: list[Port], card: Card, output: str | None,
                    origin: str) -> tuple[str | None, str | None]:
    """(probabilities, labels or values) outputs of the graph; ModelError if none fits."""
    names = [o.name for o in outputs]
    if output is not None and output not in names:
        raise ModelError(f"{origin}: no output {shorten(output, 40)}; outputs are "
                         f"{[shorten(n, 40) for n in names[:10]]}")
    pool = [o for o in outputs if output is None or o.name == output]
    if card.task == "regression":
        values = next((o for o in pool if o.type in _FLOATS and o.column()), None)
        if values is None:
            raise _no_output(outputs, origin, f"predictions of the numeric label "
                             f"{shorten(card.label)} (one float per record)")
        return None, values.name
    probabilities = next((o.name for o in pool if o.type in _FLOATS and o.shape is not None
                          and len(o.shape) == 2 and o.width != 1), None)
    labels = next((o.name for o in (outputs if probabilities else pool)
                   if o.type in _LABELS and o.column()), None)
    if probabilities is None and labels is None:
        raise _no_output(outputs, origin, f"class probabilities (a float matrix) or labels "
                         f"of the categorical label {shorten(card.label)}")
    return probabilities, labels


def _no_output(outputs: list[Port], origin: str, what: str) -> ModelError:
    found = ", ".join(o.describe() for o in outputs[:10])
    hint = " (a ZipMap output feeding another node: convert with options={'zipmap': " \
        "False})" if any(o.type.startswith("seq") for o in outputs) else ""
    return ModelError(f"{origin}: needs an output of {what}; outputs are: {found}{hint}")


def _class_labels(node: Any) -> tuple[Any, ...] | None:
    for attribute in node.attribute:
        if attribute.name == "classlabels_strings" and len(attribute.strings):
            return tuple(s.decode("utf-8", "replace") for s in attribute.strings)
        if attribute.name == "classlabels_int64s" and len(attribute.ints):
            return tuple(int(v) for v in attribute.ints)
    return None


def _graph_classes(graph: Any, output: str) -> tuple[tuple[Any, ...] | None, str | None]:
    """The classes of the first node, going back from ``output`` through the nodes that
    compute it (breadth first), that names them; and that node's operator."""
    producers = {name: node for node in graph.node for name in node.output}
    queue, seen = collections.deque([output]), set()
    while queue:
        node = producers.get(queue.popleft())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        labels = _class_labels(node)
        if labels is not None:
            return labels, str(node.op_type)
        queue.extend(node.input)
    return None, None


def _width(outputs: list[Port], name: str | None) -> int | None:
    return next((o.width for o in outputs if o.name == name), None)


def _classes(found: tuple[Any, ...] | None, given: Sequence[Any] | None, card: Card,
             origin: str, width: int | None) -> tuple[Any, ...]:
    """The graph's classes, else ``onnx_classes``, else the label's domain; checked."""
    if found is not None and given is not None and list(found) != list(given):
        raise ModelError(f"{origin}: onnx_classes {[shorten(c, 20) for c in given]} differ "
                         f"from the classes the graph names {[shorten(c, 20) for c in found]}")
    classes = tuple(found if found is not None else given if given is not None
                    else card.column(card.label).domain or ())
    if width is not None and width != len(classes):
        source = "the graph's" if found is not None else "onnx_classes" \
            if given is not None else f"the domain of {shorten(card.label)}"
        raise ModelError(f"{origin}: its probabilities have {width} columns but {source} "
                         f"classes are {len(classes)}; give onnx_classes, the label values of "
                         "the columns in order")
    return classes


def _feeds(inputs: list[Port], card: Card, origin: str
           ) -> tuple[list[tuple[Port, tuple[str, ...]]], list[ModelInput]]:
    """What each graph input takes, and the model's inputs as tabinv checks them."""
    bad = [i for i in inputs if i.type not in _ELEMENTS or i.shape is None
           or len(i.shape) not in (1, 2)]
    if bad or not inputs:
        raise ModelError(
            f"{origin}: tabinv feeds records to inputs of type tensor(string), tensor(float), "
            "tensor(double) or tensor(int64) of shape [N] or [N, 1] (one column each), or "
            "to a single matrix of the card's features; "
            + (f"input(s) {', '.join(i.describe() for i in bad[:5])} are not such"
               if bad else "the graph takes no input"))
    kinds = {i.name: "text" if i.type == "tensor(string)" else "number" for i in inputs}
    if len(inputs) == 1 and not inputs[0].column():  # one matrix: the card's features
        port, features = inputs[0], tuple(card.features)
        if port.width not in (None, len(features)):
            raise ModelError(
                f"{origin}: its single input {port.describe()} takes {port.width} columns, "
                f"but the card has {len(features)} features; fed whole records, the graph "
                "gets the card's features in card order")
        return [(port, features)], [ModelInput(f, kinds[port.name]) for f in features]
    wide = [i for i in inputs if not i.column() and i.width is not None]
    if wide:
        raise ModelError(
            f"{origin}: input(s) {', '.join(i.describe() for i in wide[:5])} take several "
            "columns each; with several inputs tabinv feeds one record column to each "
            "(shape [N, 1])")
    return ([(i, (i.name,)) for i in inputs],
            [ModelInput(i.name, kinds[i.name]) for i in inputs])
