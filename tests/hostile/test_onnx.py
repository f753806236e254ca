"""Hostile ONNX files (issue 11, items 4 and 5): each is refused with one line naming the
file, the node / operator / domain and what is allowed, before onnxruntime runs anything;
normal exports of tabinv's model families still load and run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.inliner
import pytest
from onnx import TensorProto, helper
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.exceptions import ModelError, UnsafeModelError
from tabinv.models.onnx import OnnxGraph, load_onnx_model
from tabinv.models.onnxcheck import (
    DEFAULT_LIMITS,
    SIZED_BY_VALUES,
    OnnxLimits,
    check_onnx_bytes,
    read_onnx_file,
    supported_opsets,
)

WIDTH = 3


def _float(name: str, shape: Sequence[Any] = (None, WIDTH)) -> Any:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _model(nodes: Sequence[Any], *, initializers: Sequence[Any] = (), functions: Any = (),
           opsets: Sequence[tuple[str, int]] = (("", 18),), sparse: Sequence[Any] = (),
           inputs: Sequence[Any] | None = None) -> bytes:
    """A graph taking the float matrix X and returning Y (what tabinv's loader expects)."""
    graph = helper.make_graph(list(nodes), "hostile", [_float("X")] if inputs is None
                              else list(inputs), [_float("Y")], list(initializers),
                              sparse_initializer=list(sparse))
    model = helper.make_model(graph, functions=list(functions), opset_imports=[
        helper.make_opsetid(domain, version) for domain, version in opsets])
    return model.SerializeToString()


def _int64(name: str, values: Sequence[int]) -> Any:
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], list(values))


def gelu_via_local_function() -> bytes:
    """Item 4: a com.microsoft::Gelu node next to a local function of that name."""
    body = [helper.make_node("Relu", ["x"], ["y"])]
    function = helper.make_function("com.microsoft", "Gelu", ["x"], ["y"], body,
                                    [helper.make_opsetid("", 18)])
    return _model([helper.make_node("Gelu", ["X"], ["Y"], domain="com.microsoft")],
                  functions=[function], opsets=[("", 18), ("com.microsoft", 1)])


def loop_of_2_to_the_62() -> bytes:
    """Item 5: a Loop whose trip count is 2^62 (it never ends)."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("Identity", ["v"], ["v_out"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []), _float("v")],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), _float("v_out")])
    return _model([helper.make_node("Loop", ["trips", "go", "X"], ["Y"], body=body)],
                  initializers=[helper.make_tensor("trips", TensorProto.INT64, [], [2**62]),
                                helper.make_tensor("go", TensorProto.BOOL, [], [True])])


def _if_around(inner: Sequence[Any], depth: int = 1) -> bytes:
    """``inner`` nodes (computing Y) inside ``depth`` nested If branches."""
    nodes = list(inner)
    for _ in range(depth):
        branch = helper.make_graph(nodes, "branch", [], [_float("Y")])
        nodes = [helper.make_node("If", ["c"], ["Y"], then_branch=branch, else_branch=branch)
                 if depth == 1 else helper.make_node(
                     "If", ["c"], ["Y"], then_branch=branch, else_branch=helper.make_graph(
                         [helper.make_node("Identity", ["X"], ["Y"])], "leaf", [],
                         [_float("Y")]))]
    return _model(nodes, inputs=[_float("X"), helper.make_tensor_value_info(
        "c", TensorProto.BOOL, [])])


def refused(call: Callable[[], Any], *fragments: str,
            kind: type[Exception] = UnsafeModelError) -> str:
    """The one-line message of the refusal ``call`` raises, checked for ``fragments``."""
    with pytest.raises(kind) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    for fragment in fragments:
        assert fragment in message, message
    return message


# -- item 4: the operator allow-list, checked against the node's real domain -----------
def test_item4_com_microsoft_node_is_refused_despite_a_local_function(tmp_path: Path) -> None:
    """item 4: declaring com.microsoft::Gelu as a local function no longer lets it run."""
    refused(lambda: check_onnx_bytes(gelu_via_local_function(), tmp_path / "gelu.onnx"),
            "gelu.onnx", "operator 'Gelu' of domain 'com.microsoft'",
            "local function of that name", "'ai.onnx' and 'ai.onnx.ml'")


def test_item4_local_functions_are_refused_even_in_the_standard_domain(tmp_path: Path) -> None:
    """item 4: a function shadowing the standard Relu would replace what Relu does."""
    body = [helper.make_node("Neg", ["x"], ["y"])]
    relu = helper.make_function("", "Relu", ["x"], ["y"], body, [helper.make_opsetid("", 18)])
    data = _model([helper.make_node("Relu", ["X"], ["Y"])], functions=[relu])
    refused(lambda: check_onnx_bytes(data, tmp_path / "shadow.onnx"), "shadow.onnx",
            "declares local function 'ai.onnx::Relu'", "inline_local_functions")


def test_item4_inlined_functions_are_checked_and_run_as_their_body(tmp_path: Path) -> None:
    """item 4: once inlined (the advice in the refusal), what runs is the checked body."""
    model = onnx.inliner.inline_local_functions(onnx.load_from_string(gelu_via_local_function()))
    data = model.SerializeToString()
    check_onnx_bytes(data, tmp_path / "inlined.onnx")
    rows = np.array([[-1.0, 0.5, 2.0]])
    assert np.array_equal(OnnxGraph(data).run(rows), np.maximum(rows, 0))  # Relu, not Gelu


def test_item4_domains_are_checked_inside_subgraphs(tmp_path: Path) -> None:
    """item 4: a com.microsoft node in an If branch is named by its domain."""
    data = _if_around([helper.make_node("Gelu", ["X"], ["Y"], domain="com.microsoft")])
    refused(lambda: check_onnx_bytes(data, tmp_path / "branch.onnx"),
            "node 'If' subgraph node 'Gelu' uses operator 'Gelu' of domain 'com.microsoft'")


def test_item4_a_domain_must_be_imported_at_an_opset_onnxruntime_runs(tmp_path: Path) -> None:
    """item 4: the node's domain against the model's real opset imports and their bounds."""
    scaler = helper.make_node("Scaler", ["X"], ["Y"], domain="ai.onnx.ml", scale=[2.0])
    refused(lambda: check_onnx_bytes(_model([scaler]), tmp_path / "ml.onnx"),
            "operator 'Scaler' of a domain it does not import: 'ai.onnx.ml'")
    newest = supported_opsets()[""]
    refused(lambda: check_onnx_bytes(_model([helper.make_node("Relu", ["X"], ["Y"])],
                                            opsets=[("", newest + 1)]), tmp_path / "new.onnx"),
            f"imports opset {newest + 1} of 'ai.onnx'", f"opsets 1 to {newest}")
    refused(lambda: check_onnx_bytes(_model([scaler], opsets=[("", 18), ("ai.onnx.ml", 99)]),
                                     tmp_path / "ml99.onnx"), "opset 99 of 'ai.onnx.ml'")


def test_item4_names_from_the_file_are_shortened(tmp_path: Path) -> None:
    """item 4: a megabyte node name or domain never becomes a megabyte message."""
    node = helper.make_node("Evil", ["X"], ["Y"], name="n" * 10**6, domain="d" * 10**6)
    refused(lambda: check_onnx_bytes(_model([node]), tmp_path / "long.onnx"),
            "(1000000 chars) uses operator 'Evil' of domain 'ddddd")


# -- item 5: nothing that loops or allocates without bound -------------------------------
def test_item5_loop_of_2_to_the_62_is_refused_before_it_runs(tmp_path: Path) -> None:
    """item 5: the Loop that hung a batch forever is refused by name."""
    path = tmp_path / "loop.onnx"
    path.write_bytes(loop_of_2_to_the_62())
    refused(lambda: load_onnx_model(path, _card()), "loop.onnx", "graph node 'Loop'",
            "uses operator 'Loop', which runs a subgraph", "no control flow")


@pytest.mark.parametrize("operator", ["If", "Scan"])
def test_item5_every_subgraph_operator_is_refused(tmp_path: Path, operator: str) -> None:
    """item 5: If and Scan run subgraphs too."""
    if operator == "If":
        data = _if_around([helper.make_node("Identity", ["X"], ["Y"])])
    else:
        body = helper.make_graph([helper.make_node("Identity", ["row"], ["out"])], "body",
                                 [_float("row", [WIDTH])], [_float("out", [WIDTH])])
        data = _model([helper.make_node("Scan", ["X"], ["Y"], body=body, num_scan_inputs=1)],
                      opsets=[("", 18)])
    refused(lambda: check_onnx_bytes(data, tmp_path / "flow.onnx"),
            f"uses operator '{operator}', which runs a subgraph")


SIZED = {
    "ConstantOfShape": ([helper.make_node("ConstantOfShape", ["shape"], ["Y"])],
                        [_int64("shape", [2**31, 2**31])]),
    "Expand": ([helper.make_node("Expand", ["X", "shape"], ["Y"])],
               [_int64("shape", [2**40, WIDTH])]),
    "Tile": ([helper.make_node("Tile", ["X", "repeats"], ["Y"])],
             [_int64("repeats", [2**40, 1])]),
    "Range": ([helper.make_node("Range", ["start", "limit", "delta"], ["R"]),
               helper.make_node("Identity", ["X"], ["Y"])],
              [helper.make_tensor(n, TensorProto.FLOAT, [], [v])
               for n, v in (("start", 0.0), ("limit", 1e18), ("delta", 1.0))]),
}


@pytest.mark.parametrize("operator", sorted(SIZED))
def test_item5_operators_sized_by_values_are_refused(tmp_path: Path, operator: str) -> None:
    """item 5: a few bytes asking ConstantOfShape / Expand / Tile / Range for terabytes."""
    nodes, initializers = SIZED[operator]
    data = _model(nodes, initializers=initializers)
    refused(lambda: check_onnx_bytes(data, tmp_path / "sized.onnx"), "sized.onnx",
            f"uses operator '{operator}', which sizes its output from values")
    assert operator in SIZED_BY_VALUES


EXPORTS: dict[str, Callable[[], Any]] = {
    "linear": LinearRegression,
    "logistic": LogisticRegression,
    "tree": lambda: DecisionTreeClassifier(max_depth=3, random_state=0),
    "forest-regressor": lambda: RandomForestRegressor(3, max_depth=3, random_state=0),
    "forest-classifier": lambda: RandomForestClassifier(3, max_depth=3, random_state=0),
    "naive-bayes": GaussianNB,
}


@pytest.mark.parametrize("family", sorted(EXPORTS))
def test_item5_skl2onnx_exports_of_tabinv_families_still_run(family: str) -> None:
    """item 5: the refusals never hit what skl2onnx emits for tabinv's model families."""
    from skl2onnx import to_onnx

    rows = np.random.default_rng(0).random((60, 4)).astype(np.float32)
    estimator = EXPORTS[family]()
    classifier = hasattr(estimator, "predict_proba")
    estimator.fit(rows, (rows[:, 0] + rows[:, 1] > 1).astype(int) if classifier else rows[:, 0])
    options = {id(estimator): {"zipmap": False}} if classifier else None
    data = to_onnx(estimator, rows[:1], options=options).SerializeToString()
    check_onnx_bytes(data, f"{family}.onnx")
    expected = estimator.predict_proba(rows) if classifier else estimator.predict(rows)
    output = OnnxGraph(data, classifier=classifier).run(rows)
    assert np.allclose(output.reshape(expected.shape), expected, atol=1e-5)


# -- item 5: sizes bounded before parsing ----------------------------------------------
def test_item5_file_size_is_bounded_before_reading_or_parsing(tmp_path: Path) -> None:
    """item 5: a file over the limit is refused from its size (sparse: no disk used)."""
    path = tmp_path / "huge.onnx"
    with path.open("wb") as file:
        file.truncate(DEFAULT_LIMITS.file_bytes + 1)
    refused(lambda: read_onnx_file(path), "huge.onnx", "over tabinv's limit of 256 MiB",
            kind=ModelError)
    refused(lambda: check_onnx_bytes(b"\x08" * 2000, path, OnnxLimits(file_bytes=1000)),
            "over tabinv's limit of 1000 B", kind=ModelError)  # never parsed


def test_item5_devices_and_pipes_are_not_read(tmp_path: Path) -> None:
    """item 5: a symlink to the endless zero device, or a named pipe, is no model file."""
    (tmp_path / "zero.onnx").symlink_to("/dev/zero")
    refused(lambda: read_onnx_file(tmp_path / "zero.onnx"), "zero.onnx",
            "is not a regular file", kind=ModelError)
    os.mkfifo(tmp_path / "pipe.onnx")  # opening it for reading would block
    refused(lambda: read_onnx_file(tmp_path / "pipe.onnx"), "is not a regular file",
            kind=ModelError)


def test_item5_node_count_is_bounded(tmp_path: Path) -> None:
    """item 5: more nodes than the limit (subgraphs count too)."""
    chain = [helper.make_node("Identity", [f"v{i}"], [f"v{i + 1}"])
             for i in range(DEFAULT_LIMITS.nodes)]
    chain = [helper.make_node("Identity", ["X"], ["v0"]), *chain,
             helper.make_node("Identity", [f"v{DEFAULT_LIMITS.nodes}"], ["Y"])]
    refused(lambda: check_onnx_bytes(_model(chain), tmp_path / "many.onnx"),
            f"more than {DEFAULT_LIMITS.nodes} nodes")
    branch = _if_around([helper.make_node("Identity", ["X"], ["Y"])] * 6)
    refused(lambda: check_onnx_bytes(branch, tmp_path / "if.onnx", OnnxLimits(nodes=5)),
            "more than 5 nodes")


def _declared(name: str, dims: list[int]) -> Any:
    """A float tensor declaring ``dims`` and holding the bytes of one value."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, raw_data=b"\0" * 4)
    tensor.dims.extend(dims)
    return tensor


def test_item5_declared_tensor_sizes_are_bounded(tmp_path: Path) -> None:
    """item 5: a dense, sparse or constant tensor declaring terabytes in a tiny file."""
    dense = _declared("w", [2**40])
    refused(lambda: check_onnx_bytes(_model([helper.make_node("Identity", ["X"], ["Y"])],
                                            initializers=[dense]), tmp_path / "dense.onnx"),
            "initializer 'w' declares 4 TiB", "limit of 512 MiB")
    values = helper.make_tensor("s", TensorProto.FLOAT, [1], [1.0])
    sparse = helper.make_sparse_tensor(values, _int64("i", [0]), [2**20, 2**20])
    refused(lambda: check_onnx_bytes(_model([helper.make_node("Identity", ["X"], ["Y"])],
                                            sparse=[sparse]), tmp_path / "sparse.onnx"),
            "sparse initializer 's' declares 4 TiB")
    constant = helper.make_node("Constant", [], ["C"], sparse_value=sparse)
    refused(lambda: check_onnx_bytes(_model([constant, helper.make_node(
        "Identity", ["X"], ["Y"])]), tmp_path / "constant.onnx"),
        "node 'Constant' attribute 'sparse_value' declares 4 TiB")
    negative = _declared("n", [-1])
    refused(lambda: check_onnx_bytes(_model([helper.make_node("Identity", ["X"], ["Y"])],
                                            initializers=[negative]), tmp_path / "neg.onnx"),
            "declares a negative dimension", kind=ModelError)


def test_item5_subgraph_nesting_is_bounded(tmp_path: Path) -> None:
    """item 5: subgraphs nested deeper than the limit are refused while walking."""
    data = _if_around([helper.make_node("Identity", ["X"], ["Y"])],
                      depth=DEFAULT_LIMITS.depth + 2)
    refused(lambda: check_onnx_bytes(data, tmp_path / "deep.onnx"),
            f"nests subgraphs more than {DEFAULT_LIMITS.depth} deep")


def test_item5_onnxruntime_runs_bounded() -> None:
    """item 5: one thread, no graph optimisation (constant folding), arena or spinning."""
    import onnxruntime

    graph = OnnxGraph(_model([helper.make_node("Relu", ["X"], ["Y"])]))
    options = graph.__dict__["_cached_session"].get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    assert options.graph_optimization_level == \
        onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert not options.enable_cpu_mem_arena and not options.enable_mem_pattern
    for key in ("session.intra_op.allow_spinning", "session.inter_op.allow_spinning"):
        assert options.get_session_config_entry(key) == "0"
    assert options.get_session_config_entry("session.allow_released_opsets_only") == "1"


def test_item5_onnxruntime_writes_nothing_home_and_sends_no_telemetry(tmp_path: Path) -> None:
    """item 5 (and 9): onnxruntime's telemetry (a device id and event cache under
    ~/.cache/Microsoft, uploads to Microsoft) stays off when tabinv runs a graph."""
    model = tmp_path / "relu.onnx"
    model.write_bytes(_model([helper.make_node("Relu", ["X"], ["Y"])]))
    code = ("import numpy, sys; from tabinv.models.onnx import OnnxGraph; "
            "OnnxGraph(open(sys.argv[1], 'rb').read()).run(numpy.ones((2, 3)))")
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("ORT_DISABLE_TELEMETRY", "XDG_CACHE_HOME")}
    subprocess.run([sys.executable, "-c", code, str(model)], check=True,
                   timeout=900,  # a hang guard, never a speed limit
                   env={**environment, "HOME": str(tmp_path / "home"),
                        "PYTHONPATH": str(Path(__file__).parents[2])})
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("*"))


# -- the command line: one line, exit code 2 (attack) or a recorded failure (batch) --------
def _card() -> Any:
    from tabinv.data.registry import builtin_card

    return builtin_card("iwpc")


def test_items4_5_attack_cli_refuses_in_one_line(tmp_path: Path) -> None:
    """items 4, 5: `tabinv attack --model` on hostile ONNX files: exit 2, one line."""
    data = tmp_path / "records.csv"
    data.write_text("age,vkorc1,dose\n1,A/A,30\n")
    for name, build in (("loop", loop_of_2_to_the_62), ("gelu", gelu_via_local_function)):
        model = tmp_path / f"{name}.onnx"
        model.write_bytes(build())
        result = CliRunner().invoke(app, ["attack", "--model", str(model), "--data", str(data),
                                          "--sensitive", "vkorc1", "--label", "dose"])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and f"{name}.onnx" in lines[0], result.output


def test_items4_5_batch_records_each_refusal_and_goes_on(tmp_path: Path) -> None:
    """items 4, 5: a batch of hostile ONNX entries ends, each a recorded one-line failure.

    The Loop is left out: were its refusal ever lost, this in-process run would hang
    instead of failing (the loader and attack tests above cover it without running it).
    """
    files = {"gelu": gelu_via_local_function(),
             "sized": _model(SIZED["ConstantOfShape"][0],
                             initializers=SIZED["ConstantOfShape"][1]),
             "deep": _if_around([helper.make_node("Identity", ["X"], ["Y"])], depth=12),
             "shadow": _model([helper.make_node("Relu", ["X"], ["Y"])], functions=[
                 helper.make_function("", "Relu", ["x"], ["y"], [helper.make_node(
                     "Neg", ["x"], ["y"])], [helper.make_opsetid("", 18)])])}
    lines = ['[defaults]', 'data = "iwpc"', 'n_boot = 5', 'attacks = ["map"]', '']
    for name, data in files.items():
        (tmp_path / f"{name}.onnx").write_bytes(data)
        lines += ["[[entry]]", f'name = "{name}"', f'model = "{name}.onnx"',
                  'format = "onnx"', 'sensitive = ["vkorc1"]', ""]
    (tmp_path / "inventory.toml").write_text("\n".join(lines))
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "inventory.toml"), "--out",
                                      str(tmp_path / "out"), "--executor", "serial"])
    assert result.exit_code == 1, result.output
    failed = {line.split(":")[0].split()[-1]: line for line in result.output.splitlines()
              if line.startswith("  failed ")}
    assert set(failed) == set(files), result.output
    assert "of domain 'com.microsoft'" in failed["gelu"]
    assert "'ConstantOfShape'" in failed["sized"] and "nests subgraphs" in failed["deep"]
    assert "declares local function 'ai.onnx::Relu'" in failed["shadow"]
    assert "Traceback" not in result.output
