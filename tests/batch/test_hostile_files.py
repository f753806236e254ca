"""Hostile model and data files: each fails its own entry with a clear message, the run
goes on, and nothing in a file gets to run (a pickle that would create a marker file)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import onnx
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression

from tabinv.batch.executors import SerialExecutor
from tabinv.batch.inventory import read_inventory
from tabinv.batch.runner import run_batch
from tabinv.models.onnx import check_onnx_bytes
from tabinv.models.persist import save_model
from tabinv.models.target import TargetModel

from . import make_marker_pickle, save_onnx, train, write_inventory


class UnreviewedRegression(LinearRegression):
    """A type tabinv has never reviewed (stands for any custom class in a skops file)."""


def _tampered_tree(model: TargetModel) -> TargetModel:
    evil = copy.deepcopy(model)
    state = evil.estimator_.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = 10**6  # a child index far outside the node array
    state["nodes"] = nodes
    evil.estimator_.tree_.__setstate__(state)
    return evil


def _tampered_booster(path: Path, model: TargetModel) -> None:
    save_model(model, path, format="json")
    document = json.loads(path.read_text())
    document["learner"]["gradient_booster"]["model"]["trees"][0]["split_indices"][0] = 10**6
    path.write_text(json.dumps(document))


def _onnx_variant(path: Path, model: TargetModel, change: Callable[[Any], None]) -> None:
    save_onnx(model, path)
    graph = onnx.load_model_from_string(path.read_bytes())
    change(graph)
    path.write_bytes(graph.SerializeToString())


def _external(graph: Any, secret: Path) -> None:
    """An initializer whose values onnxruntime would read from ``secret``."""
    tensor = onnx.helper.make_tensor("offset", onnx.TensorProto.FLOAT, [4], [0.0] * 4)
    tensor.ClearField("float_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", str(secret)
    graph.graph.initializer.append(tensor)


def _custom_domain(graph: Any) -> None:
    graph.graph.node[0].domain = "evil.ops"


def _narrow_onnx(path: Path) -> None:
    from skl2onnx import to_onnx

    x = np.random.default_rng(0).random((40, 5)).astype(np.float32)
    path.write_bytes(to_onnx(LinearRegression().fit(x, x[:, 0]), x[:1]).SerializeToString())


def _zipmap_onnx(path: Path) -> dict[str, Any]:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    model = train("tree", "dose_class", max_depth=3)
    graph = to_onnx(model.estimator_, initial_types=[("X", FloatTensorType(
        [None, model.encoder_.n_output_]))])  # ZipMap: probabilities as a list of dicts
    path.write_bytes(graph.SerializeToString())
    return {"label": "dose_class"}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("hostile")
    marker = folder / "pickle-ran.txt"
    tree = train("tree", max_depth=3)
    good = sio.dumps(tree)
    classifier = train("tree", "dose_class", max_depth=3)
    secret = folder / "secret.bin"
    secret.write_bytes(b"\0" * 4096)
    files: dict[str, tuple[str, Callable[[Path], Any], str]] = {
        "random-bytes": ("skops", lambda p: p.write_bytes(
            np.random.default_rng(0).bytes(512)), "holds unrecognised binary data"),
        "empty": ("skops", lambda p: p.write_bytes(b""), "is empty"),
        "truncated-skops": ("skops", lambda p: p.write_bytes(good[: len(good) // 2]),
                            "not a readable skops file"),
        "corrupted-skops": ("skops", lambda p: p.write_bytes(
            good[:200] + bytes(b ^ 0xFF for b in good[200:600]) + good[600:]),
            "skops file"),
        "pickle-as-skops": ("skops", lambda p: make_marker_pickle(p, marker),
                            "is a pickle file (reading it runs code)"),
        "joblib-as-xgboost": ("xgboost-json", lambda p: make_marker_pickle(
            p, marker, compress=True), "is a pickle file (reading it runs code)"),
        "untrusted-types": ("skops", lambda p: sio.dump(TargetModel.from_card(
            "linear", UnreviewedRegression(), _card()).fit(_members()), p),
            "contains types tabinv has not reviewed"),
        "tampered-tree": ("skops", lambda p: sio.dump(_tampered_tree(tree), p),
                          "children_left must be -1 or a later node"),
        "tampered-booster": ("xgboost-json", lambda p: _tampered_booster(
            p, train("xgboost", n_estimators=3)), "splits must be numerical on a feature"),
        "xgboost-as-skops": ("skops", lambda p: save_model(
            train("xgboost", n_estimators=3), p, format="json"),
            "is an XGBoost JSON file, not the skops file"),
        "garbage-onnx": ("onnx", lambda p: p.write_bytes(
            np.random.default_rng(1).bytes(700)), "not a readable ONNX model"),
        "truncated-onnx": ("onnx", lambda p: (save_onnx(classifier, p), p.write_bytes(
            p.read_bytes()[:300])), "ONNX model"),
        "external-data-onnx": ("onnx", lambda p: _onnx_variant(
            p, tree, lambda g: _external(g, secret)), "keeps its data in an external file"),
        "custom-op-onnx": ("onnx", lambda p: _onnx_variant(p, tree, _custom_domain),
                           "of domain 'evil.ops'"),
        "narrow-onnx": ("onnx", _narrow_onnx, "the graph takes 5 columns"),
        "zipmap-onnx": ("onnx", _zipmap_onnx, "ZipMap"),
    }
    entries = []
    for name, (form, build, _) in files.items():
        path = folder / f"{name}.model"
        extra = build(path)
        entries.append({"name": name, "model": str(path), "format": form,
                        **(extra if isinstance(extra, dict) else {})})
    joblib.dump(tree, folder / "trusted.joblib")
    (folder / "binary.csv").write_bytes(b"age,height_cm\x00\x01\x02\n")
    (folder / "iwpc.toml").write_text(_card_text())
    entries += [
        {"name": "good", "model": str(folder / "good.skops"), "format": "skops"},
        {"name": "pickle-allowed", "model": str(folder / "trusted.joblib"),
         "format": "joblib", "allow_pickle": True},
        {"name": "binary-data", "model": str(folder / "good.skops"), "format": "skops",
         "data_file": str(folder / "binary.csv"), "card": str(folder / "iwpc.toml")},
    ]
    (folder / "good.skops").write_bytes(good)
    expected = {name: message for name, (_, _, message) in files.items()}
    expected["binary-data"] = "is not a CSV text file (it holds binary bytes)"
    defaults = {"n_boot": 5, "attacks": ["map"], "priors": ["marginal"],
                "sensitive": ["vkorc1"]}
    inventory = write_inventory(folder / "inventory.toml", [
        {**e, **({} if "data_file" in e else {"data": "iwpc"})} for e in entries], defaults)
    return {"inventory": inventory, "marker": marker, "expected": expected,
            "out": folder / "out"}


def _card() -> Any:
    from tabinv.data.registry import builtin_card

    return builtin_card("iwpc")


def _card_text() -> str:
    from importlib import resources

    return resources.files("tabinv._cards").joinpath("iwpc.toml").read_text("utf-8")


def _members() -> Any:
    from tabinv.data.registry import load_builtin

    return load_builtin("iwpc").frame.iloc[:300]


@pytest.fixture(scope="module")
def result(hostile: dict[str, Any]) -> Any:
    return run_batch(read_inventory(hostile["inventory"]), hostile["out"],
                     executor=SerialExecutor())  # in this very process


def test_each_hostile_file_fails_its_entry_clearly(hostile: dict[str, Any],
                                                   result: Any) -> None:
    errors = dict(result.failures)
    assert set(errors) == set(hostile["expected"]), errors
    for name, message in hostile["expected"].items():
        assert message in errors[name], (name, errors[name])
        assert "\n" not in errors[name] and "Traceback" not in errors[name]
        assert len(errors[name]) < 400
    assert (result.succeeded, result.failed) == (2, len(hostile["expected"]))
    assert result.exit_code == 1


def test_no_file_ran_code(hostile: dict[str, Any], result: Any) -> None:
    assert not hostile["marker"].exists()


def test_the_run_went_on_and_summarised_everything(hostile: dict[str, Any],
                                                   result: Any) -> None:
    summary = result.summary
    assert set(summary.loc[summary.status == "ok", "entry"]) == {"good", "pickle-allowed"}
    assert summary.groupby("entry").size().eq(2).all()  # vkorc1 x two populations
    page = (result.out / "index.html").read_text()
    for name in hostile["expected"]:
        assert name in page


def test_onnx_checks_reach_subgraphs(tmp_path: Path) -> None:
    """External data hidden in an If node's branch is found too."""
    from onnx import TensorProto, helper

    branch_value = helper.make_tensor("w", TensorProto.FLOAT, [1], [1.0])
    branch_value.ClearField("float_data")
    branch_value.data_location = TensorProto.EXTERNAL
    location = branch_value.external_data.add()
    location.key, location.value = "location", "/etc/hostname"
    branch = helper.make_graph([helper.make_node("Constant", [], ["out"], value=branch_value)],
                               "branch", [], [helper.make_tensor_value_info(
                                   "out", TensorProto.FLOAT, [1])])
    node = helper.make_node("If", ["cond"], ["y"], then_branch=branch, else_branch=branch)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(
        "cond", TensorProto.BOOL, [])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1])])
    data = helper.make_model(graph).SerializeToString()
    with pytest.raises(Exception, match="node 'If' subgraph node 'Constant' attribute "
                                        "'value' keeps its data in an external file"):
        check_onnx_bytes(data, tmp_path / "if.onnx")
