"""Hostile model files (issue 11, items 3, 5, 6, 7, 8, 10): each is refused with one line
(exit 2 from the CLI, a recorded failure in a batch) before anything in it is parsed by
native code, opened, inflated or unpickled. Every file is built here from a tiny model."""

from __future__ import annotations

import copy
import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import skops.io as sio
from batch import train, write_inventory
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.exceptions import ModelError, UnsafeModelError
from tabinv.models import skopsfile
from tabinv.models.persist import describe_file, load_model, save_model, sniff_file
from tabinv.models.target import TargetModel

runner = CliRunner()


@pytest.fixture(scope="module")
def models() -> dict[str, TargetModel]:
    return {"booster": train("xgboost", n_estimators=3, max_depth=2),
            "classifier": train("xgboost", "dose_class", n_estimators=2, max_depth=2),
            "tree": train("tree", max_depth=3),
            "tree_class": train("tree", "dose_class", max_depth=3)}


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tabinv.data.registry import load_builtin

    path = tmp_path_factory.mktemp("data") / "members.csv"
    load_builtin("iwpc").frame.head(40).to_csv(path, index=False)
    return path


def refuses(path: Path, error: type[Exception], *fragments: str) -> str:
    """load_model refuses ``path`` with one short line holding every fragment."""
    with pytest.raises(error) as refused:
        load_model(path)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 500, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def cli_fails(path: Path, data: Path, *fragments: str, label: str = "dose",
              extra: tuple[str, ...] = ()) -> str:
    result = runner.invoke(app, ["attack", "--model", str(path), "--data", str(data),
                                 "--sensitive", "vkorc1", "--label", label, *extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    for fragment in fragments:
        assert fragment in result.output.replace("\n", ""), result.output
    return result.output


# -- helpers that edit saved files ---------------------------------------------------------
def rewrite_skops(source: bytes, path: Path, change: Callable[[Any], Any],
                  extra: dict[str, bytes] | None = None) -> Path:
    """Copy the skops archive ``source`` to ``path`` with its schema changed."""
    with zipfile.ZipFile(io.BytesIO(source)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    schema = json.loads(members["schema.json"])
    members["schema.json"] = json.dumps(change(schema) or schema).encode()
    members.update(extra or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def find_node(node: Any, class_name: str) -> dict[str, Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("__class__") == class_name and "__loader__" in item:
                return item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    raise AssertionError(f"no {class_name} node")


def json_value(value: Any) -> dict[str, Any]:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True}


def booster_from_path(secret: Path, loader: str = "ConstructorFromReduceNode"
                      ) -> Callable[[Any], None]:
    """Replace the Booster node by ``Booster(None, None, str(secret))``."""
    def change(schema: Any) -> None:
        node = find_node(schema, "Booster")
        node.clear()
        node.update({"__class__": "Booster", "__module__": "xgboost.core",
                     "__loader__": loader, "content": {
                         "__class__": "tuple", "__module__": "builtins",
                         "__loader__": "TupleNode",
                         "content": [json_value(None), json_value(None),
                                     json_value(str(secret))]}})
    return change


def edit_json(model: TargetModel, path: Path, change: Callable[[dict[str, Any]], Any]
              ) -> Path:
    save_model(model, path, format="json")
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return path


def gbm(document: dict[str, Any]) -> dict[str, Any]:
    return document["learner"]["gradient_booster"]["model"]


def edit_metadata(change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        attributes = document["learner"]["attributes"]
        meta = json.loads(attributes["tabinv"])
        change(meta)
        attributes["tabinv"] = json.dumps(meta)
    return edit


# -- item 3: no reviewed type is built by a constructor that opens a path --------------------
def test_item3_booster_constructor_with_a_path_is_refused(models: dict[str, TargetModel],
                                                          tmp_path: Path) -> None:
    """item 3: Booster(None, None, PATH) in a skops file never opens PATH (it loaded the
    model at PATH before)."""
    loader = "ConstructorFromReduceNode"
    other = save_model(models["classifier"], tmp_path / "other.json", format="json")
    good = sio.dumps(models["booster"])
    path = rewrite_skops(good, tmp_path / "evil.skops", booster_from_path(other, loader))
    assert set(sio.get_untrusted_types(file=path)) <= set(skopsfile.REVIEWED_LOADERS)
    message = refuses(path, UnsafeModelError, "xgboost.core.Booster", loader,
                      "only as ObjectNode")
    assert str(other) not in message


def test_item3_path_is_never_opened(models: dict[str, TargetModel], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """item 3: the refusal comes before skops or XGBoost touches the file."""
    import xgboost

    opened: list[Any] = []
    monkeypatch.setattr(xgboost.Booster, "load_model", lambda self, f: opened.append(f))
    path = rewrite_skops(sio.dumps(models["booster"]), tmp_path / "evil.skops",
                         booster_from_path(tmp_path / "secret"))
    refuses(path, UnsafeModelError)
    assert opened == []


def test_item3_every_reviewed_type_has_one_loader(models: dict[str, TargetModel],
                                                  tmp_path: Path) -> None:
    """item 3: a reviewed tree built by a constructor call is refused too, and what
    save_model writes still loads."""
    good = sio.dumps(models["tree"])

    def as_constructor(schema: Any) -> None:
        find_node(schema, "TargetModel")["__loader__"] = "ConstructorFromReduceNode"

    path = rewrite_skops(good, tmp_path / "target.skops", as_constructor)
    refuses(path, UnsafeModelError, "tabinv.models.target.TargetModel",
            "ConstructorFromReduceNode")
    (tmp_path / "good.skops").write_bytes(good)
    assert load_model(tmp_path / "good.skops").family == "tree"


def test_item3_saved_attribute_cannot_replace_a_method(models: dict[str, TargetModel],
                                                      tmp_path: Path) -> None:
    """item 3: a trusted function saved as an attribute named like a method (here
    numpy.exp as TargetModel.output_encoded) would be called by tabinv instead of it."""
    evil = copy.deepcopy(models["tree"])
    evil.output_encoded = np.exp
    path = tmp_path / "shadow.skops"
    sio.dump(evil, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(skopsfile.REVIEWED_LOADERS)
    refuses(path, UnsafeModelError, "model.output_encoded fails a safety check: it replaces "
            "the method output_encoded of TargetModel")


def test_item3_cli_and_describe(models: dict[str, TargetModel], tmp_path: Path,
                                members: Path) -> None:
    """item 3: one line and exit 2 from the CLI; describe_file reports, never opens."""
    path = rewrite_skops(sio.dumps(models["booster"]), tmp_path / "evil.skops",
                         booster_from_path(Path("/etc/hostname")))
    cli_fails(path, members, "ConstructorFromReduceNode")
    assert "ConstructorFromReduceNode" in describe_file(path)["error"]


# -- item 5: nesting depth and declared sizes bounded before parsing -------------------------
def _deep_text(model: TargetModel, path: Path, depth: int) -> Path:
    save_model(model, path, format="json")
    text = path.read_text()
    cut = text.index("{") + 1
    path.write_text(text[:cut] + '"extra": ' + "[" * depth + "]" * depth + ", " + text[cut:])
    return path


def test_item5_deep_json_exits_2_not_139(models: dict[str, TargetModel], tmp_path: Path,
                                         members: Path) -> None:
    """item 5: an XGBoost JSON nested 50,000 levels deep (exit 139, a segfault, before) is
    refused with one line naming the file and the limit."""
    path = _deep_text(models["booster"], tmp_path / "deep.json", 50_000)
    cli_fails(path, members, "deep.json", "nests 50001 levels deep; tabinv reads at most 64")


def _deep_ubj(levels: int) -> bytes:
    key = b"L" + (7).to_bytes(8, "big") + b"learner"
    return b"{" + key + b"[" * levels + b"]" * levels + b"}"


def test_item5_deep_ubj_and_deep_booster_bytes(models: dict[str, TargetModel],
                                               tmp_path: Path) -> None:
    """item 5: the same for UBJSON, and for a Booster's bytes inside a skops file."""
    (tmp_path / "deep.ubj").write_bytes(_deep_ubj(50_000))
    refuses(tmp_path / "deep.ubj", UnsafeModelError, "nests more than 64 levels")
    good = sio.dumps(models["booster"])
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        handle = next(n for n in archive.namelist() if n.endswith(".bin"))
    path = rewrite_skops(good, tmp_path / "deep.skops", lambda s: None,
                         {handle: _deep_ubj(50_000)})
    refuses(path, UnsafeModelError, "xgboost.core.Booster bytes", "nests more than 64")


def test_item5_booster_bytes_swapped_by_a_repeated_id(models: dict[str, TargetModel],
                                                      tmp_path: Path) -> None:
    """item 5: skops reuses the first node with an id, so an earlier node with the Booster
    state's id (holding deep bytes) is refused, not only the Booster's own bytes checked."""
    good = sio.dumps(models["booster"])

    def smuggle(schema: Any) -> None:
        state = find_node(schema, "Booster")["content"]
        evil = copy.deepcopy(state)
        evil["content"]["handle"]["file"] = "deep.bin"
        target_state = schema["content"]["content"]
        schema["content"]["content"] = {"a_first": evil, **target_state}

    path = rewrite_skops(good, tmp_path / "swap.skops", smuggle,
                         {"deep.bin": _deep_ubj(50_000)})
    refuses(path, UnsafeModelError, "two different nodes the id")


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda d: d["learner"]["learner_model_param"].__setitem__("num_class", "1000000000"),
     "num_class must be an integer in [0, 10000]"),
    (lambda d: d["learner"]["learner_model_param"].__setitem__("num_feature", "1e12"),
     "num_feature must be an integer"),
    (lambda d: gbm(d)["gbtree_model_param"].__setitem__("num_trees", "4000000000"),
     "num_trees must be an integer"),
    (lambda d: gbm(d)["trees"][0]["tree_param"].__setitem__("num_nodes", "99999"),
     "num_nodes 99999 must match every node array"),
    (lambda d: gbm(d)["trees"][0].__setitem__("parents", [2147483647] + [10**6] * 6),
     "parents must be indices in [0, 7)"),
    (lambda d: gbm(d)["trees"][0].__setitem__("parents", [2147483647, 0, 0, 2, 1, 2, 2]),
     "each node's parent must be the node that lists it as a child"),
    (lambda d: gbm(d)["trees"][0].__setitem__("categories_segments", [10**9]),
     "categories_segments and categories_sizes need one entry per categorical split"),
    (lambda d: gbm(d).__setitem__("iteration_indptr", [0, 1, 2, 300]),
     "iteration_indptr must rise from 0 to num_trees 3 in steps"),
])
def test_item5_declared_sizes(models: dict[str, TargetModel], tmp_path: Path,
                              change: Callable[[Any], Any], fragment: str) -> None:
    """item 5: sizes and indices a booster declares are checked before XGBoost reads them
    (parent indices out of range crashed the process with a segfault)."""
    refuses(edit_json(models["booster"], tmp_path / "m.json", change), UnsafeModelError,
            fragment)


def test_item5_ubj_round_trip_and_truncation(models: dict[str, TargetModel],
                                             tmp_path: Path) -> None:
    """item 5: tabinv's own UBJ files still load; a truncated one is one clear line."""
    path = save_model(models["classifier"], tmp_path / "m.ubj")
    assert load_model(path).family == "xgboost"
    path.write_bytes(path.read_bytes()[:-300])
    refuses(path, ModelError, "not valid UBJSON")


def test_item5_document_size_is_bounded(models: dict[str, TargetModel], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """item 5: an XGBoost document above the size limit is refused before decoding."""
    from tabinv.models import xgbfile

    path = save_model(models["booster"], tmp_path / "m.json", format="json")
    monkeypatch.setattr(xgbfile, "MAX_DOCUMENT_BYTES", 1 << 10)
    refuses(path, UnsafeModelError, "tabinv reads XGBoost documents of at most 1 KiB")


def test_item5_model_file_must_be_regular_and_bounded(tmp_path: Path) -> None:
    """item 5: the endless zero device and a named pipe are refused before being read
    (a pipe used to block the open)."""
    import os
    import signal

    refuses(Path("/dev/zero"), ModelError, "not a regular file")
    with pytest.raises(ModelError, match="not a regular file"):
        sniff_file("/dev/zero")  # what a batch entry's format check should read with
    os.mkfifo(tmp_path / "pipe.skops")

    def hung(*_: Any) -> None:
        raise TimeoutError("opening the pipe blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)  # a guard only: the refusal takes milliseconds
    try:
        refuses(tmp_path / "pipe.skops", ModelError, "not a regular file")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# -- item 6: zip members bounded before skops reads them --------------------------------------
def _bomb(path: Path, size: int, name: str = "schema.json") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(name, "w", force_zip64=True) as member:
            block = b" " * (1 << 22)
            for _ in range(size // len(block)):
                member.write(block)
    return path


def test_item6_schema_bomb(tmp_path: Path) -> None:
    """item 6: a small skops zip whose schema.json inflates to 64 MiB is refused with
    the numbers, from the zip directory alone."""
    path = _bomb(tmp_path / "bomb.skops", 64 << 20)
    assert path.stat().st_size < 1 << 20
    refuses(path, UnsafeModelError, "member 'schema.json' inflates", "64 MiB",
            "limit 200", "zip bomb")


@pytest.mark.parametrize(("limit", "value", "fragment"), [
    ("members", 3, "members, above the limit of 3"),
    ("member_bytes", 1000, "above the limit of 1000 B"),
    ("total_bytes", 5000, "members inflate to"),
    ("schema_bytes", 100, "holds more than 100 B"),
    ("schema_nesting", 5, "schema.json nests 12 levels deep; tabinv reads at most 5"),
])
def test_item6_each_limit(models: dict[str, TargetModel], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch, limit: str, value: int,
                          fragment: str) -> None:
    """item 6: member count, member size, total, schema size and nesting limits."""
    path = tmp_path / "m.skops"
    save_model(models["booster"], path)
    monkeypatch.setitem(skopsfile.SKOPS_LIMITS, limit, value)
    refuses(path, UnsafeModelError, fragment)


def test_item6_lying_declared_size(models: dict[str, TargetModel], tmp_path: Path) -> None:
    """item 6: a member that inflates past its declared size is never read past it."""
    good = sio.dumps(models["tree"])
    path = rewrite_skops(good, tmp_path / "lie.skops", lambda s: None)
    data = bytearray(path.read_bytes())
    directory = data.rfind(b"PK\x01\x02")  # the last member's central directory entry
    data[directory + 24:directory + 28] = (10).to_bytes(4, "little")  # declared: 10 bytes
    path.write_bytes(bytes(data))
    refuses(path, ModelError)


# -- item 10: pickles and joblib containers named, without unpickling or inflating ----------
class _Marker:
    def __reduce__(self) -> tuple[Any, ...]:
        return (open, ("/nonexistent/marker", "w"))


@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_item10_pickle_of_every_protocol(tmp_path: Path, protocol: int) -> None:
    """item 10: a protocol-0 pickle was reported as plain text (a CSV?)."""
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps([_Marker(), {"a": 1.5}], protocol=protocol))
    refuses(path, UnsafeModelError, f"is a pickle (protocol {protocol})",
            "refused without allow_pickle")


@pytest.mark.parametrize("codec", ["zlib", "gzip", "bz2", "xz", "lzma"])
def test_item10_compressed_joblib(models: dict[str, TargetModel], tmp_path: Path,
                                  codec: str, members: Path) -> None:
    """item 10: an .lzma joblib was reported as unrecognised binary data."""
    path = tmp_path / f"model.{codec}"
    joblib.dump({"weights": np.arange(10)}, path, compress=codec)
    refuses(path, UnsafeModelError, f"is a joblib file compressed with {codec}",
            "refused without allow_pickle")
    if codec == "lzma":
        cli_fails(path, members, "compressed with lzma", "--allow-pickle")


def test_item10_text_is_still_text(tmp_path: Path) -> None:
    """item 10: a CSV (even one ending in a full stop) is still called plain text."""
    path = tmp_path / "notes.skops"
    path.write_text("age,weight\n(S1,2.\n")
    refuses(path, ModelError, "plain text")


# -- item 7: every number inside a model checked for range and finiteness -------------------
def _edit_tree(model: TargetModel, change: Callable[[dict[str, Any]], Any]) -> TargetModel:
    evil = copy.deepcopy(model)
    state = evil.estimator_.tree_.__getstate__()
    state["nodes"], state["values"] = state["nodes"].copy(), state["values"].copy()
    change(state)
    evil.estimator_.tree_.__setstate__(state)
    return evil


def _leaf(state: dict[str, Any]) -> int:
    return int(np.flatnonzero(state["nodes"]["left_child"] == -1)[0])


def _set_node(field: str, value: float, leaf: bool = False) -> Callable[[Any], None]:
    def change(state: dict[str, Any]) -> None:
        state["nodes"][field][_leaf(state) if leaf else 0] = value
    return change


def _negative_value(state: dict[str, Any]) -> None:
    state["values"][_leaf(state), 0, 0] = -0.5


def _attribute(name: str, edit: Callable[[Any], Any]) -> Callable[[TargetModel], TargetModel]:
    def change(model: TargetModel) -> TargetModel:
        evil = copy.deepcopy(model)
        edit(getattr(evil, name) if name != "estimator_.coef_" else evil.estimator_.coef_)
        return evil
    return change


def _published_coef(model: TargetModel, coef: np.ndarray | None,
                    intercept: float | None = None) -> TargetModel:
    evil = copy.deepcopy(model)
    if coef is not None:
        evil.estimator_.coef_ = coef
    if intercept is not None:
        evil.estimator_.intercept_ = intercept
    return evil


SKOPS_NUMBERS: dict[str, tuple[str, Callable[[TargetModel], TargetModel], str]] = {
    "nan-weight": ("tree", lambda m: _edit_tree(m, _set_node(
        "weighted_n_node_samples", np.nan)), "weighted_n_node_samples must be finite"),
    "negative-weight": ("tree", lambda m: _edit_tree(m, _set_node(
        "weighted_n_node_samples", -3.0, leaf=True)), "must be finite and non-negative"),
    "inconsistent-weight": ("tree", lambda m: _edit_tree(m, _set_node(
        "weighted_n_node_samples", 1e6, leaf=True)), "the sum of its children's"),
    "negative-value": ("tree_class", lambda m: _edit_tree(m, _negative_value),
                       "a classifier's values must be >= 0"),
    "empty-leaf": ("tree_class", lambda m: _edit_tree(m, lambda st: st["values"].__setitem__(
        _leaf(st), 0.0)), "with a positive total at each leaf"),
    "negative-marginal": ("tree", _attribute("marginals_", lambda d: d["vkorc1"].__setitem__(
        0, -5)), "model.marginals_['vkorc1'] fails"),
    "short-marginal": ("tree", _attribute("marginals_", lambda d: d.__setitem__(
        "vkorc1", d["vkorc1"][:1])), "of shape (3,)"),
    "negative-confusion": ("tree_class", _attribute("confusion_", lambda c: c.__setitem__(
        (0, 0), -1)), "model.confusion_ fails"),
    "short-coefficients": ("iwpc-published", lambda m: _published_coef(m, np.ones(3)),
                           "one column per input feature (20), not shape (3,)"),
    "nan-intercept": ("iwpc-published", lambda m: _published_coef(m, None, np.nan),
                      "estimator_.intercept_ fails a safety check: it must be finite"),
    "nan-coefficient": ("linear", _attribute("estimator_.coef_", lambda c: c.__setitem__(
        0, np.nan)), "estimator_.coef_ fails a safety check: it must be finite"),
}


@pytest.mark.parametrize("name", list(SKOPS_NUMBERS))
def test_item7_numbers_in_skops_models(models: dict[str, TargetModel], tmp_path: Path,
                                       name: str) -> None:
    """item 7: NaN/negative weights, negative values, marginals, confusion, coefficients."""
    kind, change, fragment = SKOPS_NUMBERS[name]
    model = models[kind] if kind in models else train(kind)
    path = tmp_path / f"{name}.skops"
    sio.dump(change(model), path)
    refuses(path, UnsafeModelError, fragment)


def _attributes(**values: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["learner"]["attributes"].update(values)


XGBOOST_NUMBERS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "best-iteration-too-big": (_attributes(best_iteration="7"),
                               "best_iteration (of 3 iterations) must be an integer in [0, 2]"),
    "best-iteration-negative": (_attributes(best_iteration="-1"), "best_iteration"),
    "best-iteration-text": (_attributes(best_iteration="abc"), "not 'abc'"),
    "negative-hessian": (lambda d: gbm(d)["trees"][0]["sum_hessian"].__setitem__(1, -4.0),
                         "sum_hessian (node weights) must be finite and non-negative"),
    "inconsistent-hessian": (lambda d: gbm(d)["trees"][0]["sum_hessian"].__setitem__(
        0, 1e9), "each node's sum_hessian must be the sum of its children's"),
    "nan-leaf": (lambda d: gbm(d)["trees"][1]["split_conditions"].__setitem__(-1, float("nan")),
                 "leaf values must be finite"),
    "nan-base-score": (lambda d: d["learner"]["learner_model_param"].__setitem__(
        "base_score", "[NaN]"), "base_score must be finite"),
    "num-parallel-tree": (lambda d: gbm(d)["gbtree_model_param"].__setitem__(
        "num_parallel_tree", "0"), "num_parallel_tree must be an integer"),
    "negative-marginal": (edit_metadata(lambda m: m["marginals"]["vkorc1"].__setitem__(0, -9)),
                          "model.marginals_['vkorc1'] fails"),
    "fractional-marginal": (edit_metadata(lambda m: m["marginals"]["vkorc1"].__setitem__(
        0, 2.5)), "must hold integer counts"),
}


@pytest.mark.parametrize("name", list(XGBOOST_NUMBERS))
def test_item7_numbers_in_xgboost_files(models: dict[str, TargetModel], tmp_path: Path,
                                        name: str) -> None:
    """item 7: best_iteration, node weights, leaves, base score, metadata marginals."""
    change, fragment = XGBOOST_NUMBERS[name]
    refuses(edit_json(models["booster"], tmp_path / "m.json", change), ModelError, fragment)


# -- item 8: model files that gave tracebacks --------------------------------------------------
TRACEBACKS: dict[str, tuple[str, Callable[[dict[str, Any]], Any], str]] = {
    "best-iteration-text": ("booster", _attributes(best_iteration="two"), "not 'two'"),
    "marginals-shape": ("booster", edit_metadata(lambda m: m["marginals"].__setitem__(
        "vkorc1", [[1, 2], [3]])), "malformed tabinv metadata"),
    "marginals-wrong-length": ("booster", edit_metadata(lambda m: m["marginals"].__setitem__(
        "vkorc1", [1, 2])), "of shape (3,)"),
    "confusion-shape": ("classifier", edit_metadata(lambda m: m.__setitem__(
        "confusion", [[1, 2, 3]])), "model.confusion_ fails"),
    "family-number": ("booster", edit_metadata(lambda m: m.__setitem__("family", 5)),
                      "family and categorical must be text"),
    "family-list": ("booster", edit_metadata(lambda m: m.__setitem__("family", ["x"])),
                    "family and categorical must be text"),
    "n-train-text": ("booster", edit_metadata(lambda m: m.__setitem__("n_train", "12")),
                     "n_train must hold integer counts"),
}


@pytest.mark.parametrize("name", list(TRACEBACKS))
def test_item8_one_line_and_exit_2(models: dict[str, TargetModel], tmp_path: Path,
                                   members: Path, name: str) -> None:
    """item 8: each of these gave a traceback from `tabinv attack`."""
    kind, change, fragment = TRACEBACKS[name]
    path = edit_json(models[kind], tmp_path / "m.json", change)
    cli_fails(path, members, fragment, label="dose_class" if kind == "classifier" else "dose")


def test_item8_no_shortcuts_with_a_bad_tree_count(models: dict[str, TargetModel],
                                                  tmp_path: Path, members: Path) -> None:
    """item 8: --no-shortcuts on a booster whose tree count does not match its trees."""
    def drop_tree(document: dict[str, Any]) -> None:
        model = gbm(document)
        model["trees"].pop()
    path = edit_json(models["booster"], tmp_path / "m.json", drop_tree)
    cli_fails(path, members, "num_trees, trees and tree_info must agree",
              extra=("--no-shortcuts",))


# -- the same files in a batch: one recorded line per entry, the run goes on -------------------
def test_batch_records_each_hostile_model_file(models: dict[str, TargetModel],
                                               tmp_path: Path) -> None:
    """items 3, 5, 6, 7, 10: a batch records one line per hostile file and goes on."""
    from tabinv.batch.executors import SerialExecutor
    from tabinv.batch.inventory import read_inventory
    from tabinv.batch.runner import run_batch

    good = sio.dumps(models["booster"])
    files = {
        "booster-from-path": ("skops", rewrite_skops(good, tmp_path / "a.skops",
                                                     booster_from_path(tmp_path / "x.json")),
                              "ConstructorFromReduceNode"),
        "deep-json": ("xgboost-json", _deep_text(models["booster"], tmp_path / "b.json",
                                                 50_000), "nests 50001 levels deep"),
        "zip-bomb": ("skops", _bomb(tmp_path / "c.skops", 16 << 20), "zip bomb"),
        "best-iteration": ("xgboost-json", edit_json(models["booster"], tmp_path / "d.json",
                                                     _attributes(best_iteration="9")),
                           "best_iteration"),
    }
    (tmp_path / "good.skops").write_bytes(good)
    entries = [{"name": name, "model": str(path), "format": form, "data": "iwpc"}
               for name, (form, path, _) in files.items()]
    entries.append({"name": "good", "model": str(tmp_path / "good.skops"), "format": "skops",
                    "data": "iwpc"})
    inventory = write_inventory(tmp_path / "inventory.toml", entries, {
        "n_boot": 5, "attacks": ["map"], "priors": ["marginal"], "sensitive": ["vkorc1"]})
    result = run_batch(read_inventory(inventory), tmp_path / "out", executor=SerialExecutor())
    errors = dict(result.failures)
    assert set(errors) == set(files), errors
    for name, (_, _, fragment) in files.items():
        assert fragment in errors[name] and "\n" not in errors[name], errors[name]
    assert result.succeeded == 1


def test_item8_no_shortcuts_with_a_bad_parallel_tree_count(models: dict[str, TargetModel],
                                                           tmp_path: Path,
                                                           members: Path) -> None:
    """item 8: num_parallel_tree that does not match the trees of each iteration."""
    path = edit_json(models["booster"], tmp_path / "m.json", lambda d: gbm(d)[
        "gbtree_model_param"].__setitem__("num_parallel_tree", "3"))
    cli_fails(path, members, "in steps of num_parallel_tree x output groups = 3",
              extra=("--no-shortcuts",))


@pytest.mark.parametrize("best", ["3", "-1", "two"])
def test_item8_tree_reader_checks_best_iteration_in_memory(models: dict[str, TargetModel],
                                                           best: str) -> None:
    """item 8: a booster built in memory (never validated by load_model) with a bad
    best_iteration gives an AttackError, not an IndexError or ValueError."""
    from tabinv.attacks.treereader import extract_ensemble
    from tabinv.exceptions import AttackError

    booster = models["booster"].estimator_.get_booster().copy()
    booster.set_attr(best_iteration=best)
    with pytest.raises(AttackError, match=f"best_iteration '{best}' \\(it has 3 iterations"):
        extract_ensemble(booster)
