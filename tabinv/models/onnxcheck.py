"""Static checks of an ONNX file, run before onnxruntime reads a byte of it.

An ONNX file is a program: onnxruntime runs whatever operators it names. tabinv accepts only
what exports of tabular models (skl2onnx, onnxmltools for XGBoost / LightGBM) contain:

- the file is a regular file under :attr:`OnnxLimits.file_bytes`, read without following
  it into a device or pipe, and every tensor is stored inside it (no "external data",
  which onnxruntime would read from any path the file names);
- every node of the graph, and of any subgraph attribute (walked to
  :attr:`OnnxLimits.depth` levels), is an operator of the standard ``ai.onnx`` /
  ``ai.onnx.ml`` domains that the model imports, at an opset onnxruntime supports. A
  node of any other domain is refused even when the model declares a local function of
  that name (onnxruntime would prefer its own ``com.microsoft`` kernel, and a function
  is code the check would have to follow), and local functions are refused altogether:
  tabular exports declare none (``onnx.inliner.inline_local_functions`` removes them);
- no operator that runs a subgraph (``If``, ``Loop``, ``Scan``, ``SequenceMap``: a
  ``Loop`` of 2^62 iterations never ends) or that sizes its output from values in the
  graph (:data:`SIZED_BY_VALUES`: a few bytes asking ``ConstantOfShape`` for 2^50
  elements); tabular exports use none of them (skl2onnx exports of scikit-learn
  pipelines: encoders, scalers, imputers, linear / tree / naive Bayes models, with
  ``ai.onnx.ml`` operators such as OneHotEncoder, LabelEncoder, Imputer, Scaler,
  LinearClassifier, TreeEnsembleClassifier, Normalizer, ZipMap; a nearest-neighbours
  export loops with Scan and is refused);
- at most :attr:`OnnxLimits.nodes` nodes, and tensors (initializers, constants, sparse
  tensors counted densified) declaring at most :attr:`OnnxLimits.tensor_bytes` in all.

Every refusal is one line naming the file, the node or tensor, and what is allowed.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import ModelError, UnsafeModelError
from ..text import shorten
from ..utils import NotARegularFile, format_bytes, open_regular
from .validation import _reason

__all__ = ["DEFAULT_LIMITS", "OnnxLimits", "SIZED_BY_VALUES", "STANDARD_DOMAINS",
           "check_onnx_bytes", "import_onnxruntime", "read_onnx_file", "supported_opsets"]

#: operator domains a graph may use ("" and "ai.onnx" both name the default domain)
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")

#: operators whose output size comes from values (inputs or attributes), not from the
#: sizes of their inputs, so a tiny file can ask for any amount of memory; tabular exports
#: of skl2onnx and onnxmltools use none of them
SIZED_BY_VALUES = frozenset({
    "ConstantOfShape", "Expand", "Tile", "Range", "Resize", "Upsample", "Pad",
    "CenterCropPad", "OneHot", "RandomNormal", "RandomUniform", "Multinomial",
    "BlackmanWindow", "HammingWindow", "HannWindow", "MelWeightMatrix", "DFT", "STFT",
    "Col2Im", "MaxUnpool", "ConvTranspose", "AffineGrid", "ImageDecoder",
    "CastMap", "FeatureVectorizer",  # ai.onnx.ml: max_map / inputdimensions attributes
})
_MIB = 2**20


@dataclass(frozen=True)
class OnnxLimits:
    """Bounds an ONNX file must keep (the defaults hold a 300-tree forest many times over).

    Attributes
    ----------
    file_bytes : int
        Size of the file.
    nodes : int
        Nodes in the graph and all its subgraphs.
    tensor_bytes : int
        Bytes declared by all tensors (shape times element size; sparse ones densified).
    depth : int
        Nesting of subgraphs inside node attributes.
    """

    file_bytes: int = 256 * _MIB
    nodes: int = 10_000
    tensor_bytes: int = 512 * _MIB
    depth: int = 8


DEFAULT_LIMITS = OnnxLimits()


def _quote(value: object) -> str:
    """A name from the file, quoted and short enough for several in one line."""
    return shorten(value, limit=40)


def read_onnx_file(path: str | os.PathLike[str], limits: OnnxLimits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a regular file of at most ``limits.file_bytes``.

    The file is opened without blocking and checked with ``fstat`` before it is read, so
    a symlink to a device (``/dev/zero``) or a named pipe is refused instead of read
    forever. Raises ModelError.
    """
    try:
        with open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            if size > limits.file_bytes:
                raise _too_big(path, size, limits)
            data = file.read(limits.file_bytes + 1)
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except NotARegularFile:
        raise ModelError(f"model file {path} is not a regular file (a device, pipe or "
                         "folder); tabinv reads ONNX models from regular files only") from None
    except OSError as error:
        raise ModelError(f"cannot read model file {path}: {error.strerror}") from None
    if len(data) > limits.file_bytes:  # grew while being read
        raise _too_big(path, len(data), limits)
    return data


def _too_big(path: str | os.PathLike[str], size: int, limits: OnnxLimits) -> ModelError:
    return ModelError(f"refusing {path}: it is {format_bytes(size)}, over tabinv's limit of "
                      f"{format_bytes(limits.file_bytes)} for ONNX files")


def check_onnx_bytes(data: bytes, path: str | os.PathLike[str],
                     limits: OnnxLimits = DEFAULT_LIMITS) -> Any:
    """Parse ``data`` as an ONNX model and refuse what onnxruntime should never read.

    Returns
    -------
    onnx.ModelProto
        The parsed model (read, never run, by the loaders).

    Raises
    ------
    ModelError
        Not a readable ONNX model (garbage, truncated, empty, too large, inconsistent).
    UnsafeModelError
        Tensors in external files, operators outside the standard domains or that loop or
        size their output from values, local functions, opsets onnxruntime does not
        support, or more nodes / larger tensors / deeper subgraphs than ``limits``.
    """
    if not data:
        raise ModelError(f"{path} is empty, not an ONNX model")
    if len(data) > limits.file_bytes:
        raise _too_big(path, len(data), limits)
    onnx = _onnx()
    try:
        model = onnx.ModelProto.FromString(data)
    except Exception as error:  # protobuf's DecodeError and friends mean "not ONNX"
        raise ModelError(f"{path} is not a readable ONNX model (truncated or corrupt? "
                         f"{_reason(error)})") from None
    nodes, tensors = _collect(model, path, limits)
    _check_tensors(tensors, path, limits)
    imported = _check_opsets(model, path)
    declared = {(f.domain, f.name) for f in model.functions}
    for where, node in nodes:  # first what runs outside onnxruntime's standard kernels
        _check_domain(where, node, imported, declared, path)
    for where, node in nodes:
        _check_operator(where, node, path)
    for function in model.functions[:1]:
        name = _quote(f"{function.domain or 'ai.onnx'}::{function.name}")
        raise UnsafeModelError(
            f"refusing {path}: it declares local function {name}; tabinv runs only standard "
            "operators, and tabular exports declare no functions (inline them with "
            "onnx.inliner.inline_local_functions)")
    try:
        onnx.checker.check_model(model)
    except Exception as error:  # the checker's ValidationError: an inconsistent graph
        raise ModelError(f"{path} is not a valid ONNX model ({_reason(error)})") from None
    return model


def import_onnxruntime() -> Any:
    """The ``onnxruntime`` module, imported with its telemetry off.

    Official onnxruntime builds now upload usage events to Microsoft on Linux and macOS too
    (onnxruntime pull request 27379; 1.32 does) and keep a device id and an event cache
    under ``~/.cache/Microsoft`` unless ``ORT_DISABLE_TELEMETRY=1`` is set before the
    library starts: a model inventory must not report on itself, nor tabinv write outside
    ``--out``. The variable is set
    unless the user set it (to ``0``, say); if onnxruntime was imported before tabinv,
    events are still switched off for the rest of the process.
    """
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - installed with tabinv
        raise ModelError("ONNX models need the 'onnxruntime' package (pip install "
                         "onnxruntime)") from None
    if os.environ["ORT_DISABLE_TELEMETRY"] != "0":
        onnxruntime.disable_telemetry_events()
    return onnxruntime


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:  # pragma: no cover - installed with tabinv
        raise ModelError("ONNX models need the 'onnx' package to be checked before "
                         "onnxruntime reads them (pip install onnx)") from None
    return onnx


# -- walking every graph ---------------------------------------------------------------
def _collect(model: Any, path: str | os.PathLike[str], limits: OnnxLimits
             ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(where, node) and (where, tensor) pairs of every graph, subgraphs included."""
    nodes: list[tuple[str, Any]] = []
    tensors: list[tuple[str, Any]] = []
    for where, kind, item in _walk(model, path, limits):
        (nodes if kind == "node" else tensors).append((where, item))
        if len(nodes) > limits.nodes:
            raise UnsafeModelError(f"refusing {path}: it has more than {limits.nodes} nodes "
                                   "(tabinv's limit for ONNX graphs)")
    return nodes, tensors


def _walk(model: Any, path: str | os.PathLike[str], limits: OnnxLimits
          ) -> Iterator[tuple[str, str, Any]]:
    """(where, "node" | "tensor", proto) for every graph, depth-first (tensors may be sparse).

    ``where`` names a subgraph by the top-level node that holds it and its level, so it
    stays short however deep the nesting.
    """
    stack: list[tuple[str, Any, int, str]] = [("graph", model.graph, 0, "graph")]
    stack += [(f"function {_quote(f.name)}", f, 0, "") for f in model.functions]
    for number, info in enumerate(model.training_info):
        stack += [(f"training graph {number}", graph, 0, "")
                  for graph in (info.initialization, info.algorithm)]
    while stack:
        where, graph, depth, top = stack.pop()
        if depth > limits.depth:
            raise UnsafeModelError(f"refusing {path}: {top} nests subgraphs more than "
                                   f"{limits.depth} deep (tabinv's limit)")
        for tensor in getattr(graph, "initializer", ()):
            yield f"{where} initializer {_quote(tensor.name)}", "tensor", tensor
        for sparse in getattr(graph, "sparse_initializer", ()):
            yield f"{where} sparse initializer {_quote(sparse.values.name)}", "tensor", sparse
        for node in graph.node:
            here = f"{where} node {_quote(node.name or node.op_type)}"
            yield here, "node", node
            root = here if depth == 0 else top
            below = f"{root} subgraph" + (f" (level {depth + 1})" if depth else "")
            for attribute in node.attribute:
                at = f"{here} attribute {_quote(attribute.name)}"
                for tensor in [*attribute.tensors, *attribute.sparse_tensors, *(
                        getattr(attribute, field) for field in ("t", "sparse_tensor")
                        if attribute.HasField(field))]:
                    yield at, "tensor", tensor
                graphs = [*attribute.graphs, *([attribute.g] if attribute.HasField("g")
                                               else [])]
                stack += [(below, sub, depth + 1, root) for sub in graphs]


# -- tensors ---------------------------------------------------------------------------
def _check_tensors(tensors: list[tuple[str, Any]], path: str | os.PathLike[str],
                   limits: OnnxLimits) -> None:
    """No external data anywhere, then the declared sizes against the limit."""
    for where, item in tensors:
        for tensor in _stored(item):
            if tensor.data_location == 1 or len(tensor.external_data):  # EXTERNAL
                raise UnsafeModelError(f"refusing {path}: {where} keeps its data in an "
                                       "external file; tabinv reads only self-contained "
                                       "ONNX files")
    total = 0
    for where, item in tensors:
        size = sum(_declared_bytes(t, where, path) for t in _stored(item))
        if _is_sparse(item):  # onnxruntime densifies sparse tensors
            size += _declared_bytes(item.values, where, path, dims=item.dims)
        total += size
        if total > limits.tensor_bytes:
            raise UnsafeModelError(
                f"refusing {path}: {where} declares {format_bytes(size)}, bringing the model's "
                f"tensors over tabinv's limit of {format_bytes(limits.tensor_bytes)}")


def _is_sparse(item: Any) -> bool:
    return bool(item.DESCRIPTOR.name == "SparseTensorProto")


def _stored(item: Any) -> tuple[Any, ...]:
    """The dense tensors a tensor or sparse tensor keeps in the file."""
    return (item.values, item.indices) if _is_sparse(item) else (item,)


def _declared_bytes(tensor: Any, where: str, path: str | os.PathLike[str],
                    dims: Any = None) -> int:
    """Shape (``dims``, default the tensor's own) times element size, in bytes."""
    shape = [int(d) for d in (tensor.dims if dims is None else dims)]
    if any(d < 0 for d in shape):
        raise ModelError(f"{path}: {where} declares a negative dimension "
                         f"{_quote(shape)}")
    count = math.prod(shape)
    onnx = _onnx()
    if tensor.data_type == onnx.TensorProto.STRING:
        return count + sum(len(s) for s in tensor.string_data)
    try:
        item = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except Exception:  # KeyError / ValueError: not an element type onnx knows
        raise ModelError(f"{path}: {where} has unknown element type "
                         f"{tensor.data_type}") from None
    return count * item


# -- operators -------------------------------------------------------------------------
@functools.cache
def supported_opsets() -> dict[str, int]:
    """Newest opset of each standard domain that both onnx and onnxruntime know.

    onnxruntime's kernel registry gives the opset its newest kernel was written for; if
    that private API is missing, onnx's own newest opset stands for both.
    """
    onnx = _onnx()
    known: dict[str, int] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain in ("", "ai.onnx.ml"):
            known[schema.domain] = max(known.get(schema.domain, 1), schema.since_version)
    known[""] = max(known.get("", 1), onnx.defs.onnx_opset_version())
    try:
        kernels = import_onnxruntime().capi.onnxruntime_pybind11_state.get_all_opkernel_def()
    except Exception:  # pragma: no cover - a build without the kernel registry API
        return known
    runtime: dict[str, int] = {}
    for kernel in kernels:
        if kernel.provider == "CPUExecutionProvider" and kernel.domain in known:
            runtime[kernel.domain] = max(runtime.get(kernel.domain, 1), kernel.version_range[0])
    return {domain: min(version, runtime.get(domain, version))
            for domain, version in known.items()}


def _check_opsets(model: Any, path: str | os.PathLike[str]) -> dict[str, int]:
    """The standard domains the model imports (``ai.onnx`` as ``""``), versions checked."""
    supported = supported_opsets()
    imported: dict[str, int] = {}
    for opset in model.opset_import:
        domain = "" if opset.domain == "ai.onnx" else opset.domain
        if domain not in supported:
            continue  # a node of that domain is refused by name
        if not 1 <= opset.version <= supported[domain]:
            raise UnsafeModelError(
                f"refusing {path}: it imports opset {opset.version} of "
                f"{_quote(opset.domain or 'ai.onnx')}; onnxruntime runs opsets 1 to "
                f"{supported[domain]} of that domain")
        imported[domain] = opset.version
    return imported


@functools.cache
def _subgraph_operators() -> frozenset[str]:
    """Standard operators whose schema takes a graph attribute (If, Loop, Scan, ...)."""
    onnx = _onnx()
    kinds = (onnx.defs.OpSchema.AttrType.GRAPH, onnx.defs.OpSchema.AttrType.GRAPHS)
    return frozenset(schema.name for schema in onnx.defs.get_all_schemas_with_history()
                     if schema.domain in ("", "ai.onnx.ml")
                     and any(a.type in kinds for a in schema.attributes.values()))


def _operator(node: Any) -> str:
    return _quote(f"{node.domain}::{node.op_type}" if node.domain else node.op_type)


def _check_domain(where: str, node: Any, imported: dict[str, int],
                  declared: set[tuple[str, str]], path: str | os.PathLike[str]) -> None:
    """Refuse a node outside the standard domains the model imports."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    if domain not in STANDARD_DOMAINS or domain not in imported:
        function = " (a local function of that name does not make it standard)" \
            if (node.domain, node.op_type) in declared else ""
        why = "of domain" if domain not in STANDARD_DOMAINS else "of a domain it does not " \
            "import:"
        raise UnsafeModelError(
            f"refusing {path}: {where} uses operator {_quote(node.op_type)} {why} "
            f"{_quote(node.domain)}{function}; only operators of the standard domains "
            "'ai.onnx' and 'ai.onnx.ml' that the model imports are run")


def _check_operator(where: str, node: Any, path: str | os.PathLike[str]) -> None:
    """Refuse a standard operator that runs a subgraph or sizes its output by value."""
    operator = _operator(node)
    graphs = any(a.HasField("g") or len(a.graphs) for a in node.attribute)
    if graphs or node.op_type in _subgraph_operators():
        raise UnsafeModelError(
            f"refusing {path}: {where} uses operator {operator}, which runs a subgraph; "
            "tabinv runs no control flow (If, Loop, Scan), which its model families "
            "exported by skl2onnx or onnxmltools never need")
    if node.op_type in SIZED_BY_VALUES:
        raise UnsafeModelError(
            f"refusing {path}: {where} uses operator {operator}, which sizes its output "
            "from values in the graph (unbounded memory); tabinv runs none of "
            "ConstantOfShape, Expand, Tile, Range, Pad, Resize and the like, which its model "
            "families exported by skl2onnx or onnxmltools never need")
