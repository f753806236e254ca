"""Saving and loading models: round trips, and refusal of hostile or foreign files."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import xgboost
from sklearn.linear_model import LinearRegression

from tabinv.exceptions import ModelError, UnsafeModelError
from tabinv.models.families import make_model
from tabinv.models.persist import REVIEWED_TYPES, describe_file, load_model, save_model
from tabinv.models.target import TargetModel

N_TRAIN = 300
SMALL: dict[str, dict[str, Any]] = {"forest": {"n_estimators": 8}, "xgboost": {"n_estimators": 8}}
REGRESSION = ["linear", "tree", "forest", "xgboost", "iwpc-published"]
CLASSIFICATION = ["logistic", "tree", "forest", "naive-bayes", "xgboost"]
CASES = [("regression", f) for f in REGRESSION] + [("classification", f) for f in CLASSIFICATION]


# ``iwpc`` (the built-in cohort, loaded once) comes from tests/conftest.py.


class UnreviewedRegression(LinearRegression):
    """An estimator type tabinv has never reviewed (stands for any custom class)."""


@pytest.fixture(scope="module")
def frames(iwpc: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    return iwpc.frame.iloc[:N_TRAIN], iwpc.frame.iloc[N_TRAIN:N_TRAIN + 100]


@pytest.fixture(scope="module")
def fitted(iwpc: Any, frames: tuple[pd.DataFrame, pd.DataFrame]) -> dict[tuple[str, str],
                                                                          TargetModel]:
    cards = {"regression": iwpc.card, "classification": iwpc.card.with_label("dose_class")}
    return {(task, family): make_model(family, cards[task], random_state=0,
                                       **SMALL.get(family, {})).fit(frames[0])
            for task, family in CASES}


def outputs(model: TargetModel, rows: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(rows) if model.task == "classification" else model.predict(rows)


def assert_same_model(loaded: TargetModel, model: TargetModel, rows: pd.DataFrame) -> None:
    assert isinstance(loaded, TargetModel)
    assert (loaded.family, loaded.card, loaded.categorical) == (model.family, model.card,
                                                                model.categorical)
    assert loaded.n_train_ == model.n_train_ == N_TRAIN
    assert loaded.marginals_.keys() == model.marginals_.keys()
    for name, counts in model.marginals_.items():
        np.testing.assert_array_equal(loaded.marginals_[name], counts)
        assert loaded.marginals_[name].dtype == np.int64
    if model.task == "regression":
        assert loaded.residual_sigma_ == model.residual_sigma_
    else:
        np.testing.assert_array_equal(loaded.confusion_, model.confusion_)
        np.testing.assert_array_equal(loaded.classes_present_, model.classes_present_)
    np.testing.assert_array_equal(outputs(loaded, rows), outputs(model, rows))


def assert_readable(error: BaseException, path: Path) -> str:
    """One line naming the file, no chained traceback from inside skops/zipfile/xgboost."""
    message = str(error)
    assert "\n" not in message and len(message) < 400, message
    assert path.name in message
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return message


# -- round trips -----------------------------------------------------------------------
@pytest.mark.parametrize(("task", "family"), CASES)
def test_skops_round_trip_of_every_family(task: str, family: str, fitted: Any, frames: Any,
                                          tmp_path: Path) -> None:
    model = fitted[task, family]
    path = save_model(model, tmp_path / "model.skops")
    assert path == tmp_path / "model.skops"
    assert [p.name for p in tmp_path.iterdir()] == ["model.skops"]  # no temp file left
    assert describe_file(path)["unreviewed_types"] == []
    assert_same_model(load_model(path), model, frames[1])


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("suffix", ["json", "ubj"])
def test_xgboost_native_round_trip_keeps_metadata(task: str, suffix: str, fitted: Any,
                                                  frames: Any, tmp_path: Path) -> None:
    model = fitted[task, "xgboost"]
    path = save_model(model, tmp_path / f"model.{suffix}")
    assert describe_file(path)["format"] == f"xgboost-{suffix}"
    loaded = load_model(path)
    assert_same_model(loaded, model, frames[1])
    assert loaded.estimator.get_params()["max_depth"] == model.estimator.get_params()["max_depth"]
    stored = json.loads(xgboost.Booster(model_file=str(path)).attr("tabinv") or "{}")
    assert stored["family"] == "xgboost" and stored["tabinv_version"]
    assert model.estimator_.get_booster().attr("tabinv") is None  # caller's model untouched
    assert loaded.estimator_.get_booster().attr("tabinv") is None


def test_explicit_format_overrides_the_suffix(fitted: Any, frames: Any, tmp_path: Path) -> None:
    model = fitted["regression", "xgboost"]
    path = save_model(model, tmp_path / "model.bin", format="ubj")
    assert describe_file(path)["format"] == "xgboost-ubj"
    assert_same_model(load_model(path), model, frames[1])
    assert describe_file(save_model(model, tmp_path / "other.bin"))["format"] == "skops"


def test_native_format_for_another_family_says_which_formats_fit(fitted: Any,
                                                                 tmp_path: Path) -> None:
    for target in (tmp_path / "model.json", tmp_path / "model.ubj"):
        with pytest.raises(ModelError, match=r"can only be saved as \.skops"):
            save_model(fitted["regression", "linear"], target)
    with pytest.raises(ModelError, match="unknown model file format 'onnx'"):
        save_model(fitted["regression", "linear"], tmp_path / "m.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []


def test_unfitted_model_is_not_saved(iwpc: Any, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="needs a fitted TargetModel"):
        save_model(make_model("linear", iwpc.card), tmp_path / "model.skops")
    with pytest.raises(ModelError, match="needs a fitted TargetModel"):
        save_model(LinearRegression(), tmp_path / "model.skops")


def test_save_replaces_an_existing_file(fitted: Any, frames: Any, tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(b"old contents")
    save_model(fitted["classification", "tree"], path)
    assert_same_model(load_model(path), fitted["classification", "tree"], frames[1])


# -- types that need trust -------------------------------------------------------------
def test_unreviewed_type_is_refused_and_loads_with_trust(iwpc: Any, frames: Any,
                                                         tmp_path: Path) -> None:
    model = TargetModel.from_card("linear", UnreviewedRegression(), iwpc.card).fit(frames[0])
    path = save_model(model, tmp_path / "custom.skops")
    type_name = f"{UnreviewedRegression.__module__}.UnreviewedRegression"
    assert describe_file(path)["unreviewed_types"] == [type_name]
    with pytest.raises(UnsafeModelError) as refused:
        load_model(path)
    message = assert_readable(refused.value, path)
    assert type_name in message and "trust=True" in message and "--trust" in message
    assert_same_model(load_model(path, trust=True), model, frames[1])


def test_reviewed_types_cover_every_family(tmp_path: Path, fitted: Any) -> None:
    for (task, family), model in fitted.items():
        path = save_model(model, tmp_path / f"{task}-{family}.skops")
        assert set(describe_file(path)["untrusted_types"]) <= set(REVIEWED_TYPES)


@pytest.mark.parametrize("writer", [
    lambda model, path: path.write_bytes(pickle.dumps(model, protocol=5)),
    lambda model, path: joblib.dump(model, path),
    lambda model, path: joblib.dump(model, path, compress=("gzip", 3)),
    lambda model, path: joblib.dump(model, path, compress=3),
], ids=["pickle", "joblib", "joblib-gzip", "joblib-zlib"])
def test_pickle_is_refused_unless_allowed(writer: Callable[[Any, Path], Any], fitted: Any,
                                          frames: Any, tmp_path: Path) -> None:
    model = fitted["regression", "tree"]
    path = tmp_path / "model.pkl"
    writer(model, path)
    assert describe_file(path)["runs_code_on_load"] is True
    with pytest.raises(UnsafeModelError) as refused:
        load_model(path)
    message = assert_readable(refused.value, path)
    assert "pickle" in message and "arbitrary code" in message and "allow_pickle" in message
    assert_same_model(load_model(path, allow_pickle=True), model, frames[1])


# -- files that are not tabinv models --------------------------------------------------
def random_bytes(path: Path, iwpc: Any, model: TargetModel) -> None:
    data = np.random.default_rng(0).bytes(512)
    assert data[:1] not in (b"{", b"\x80", b"P", b"x", b"\x1f", b"B", b"\xfd")
    path.write_bytes(data)


def truncated_skops(path: Path, iwpc: Any, model: TargetModel) -> None:
    data = sio.dumps(model)
    path.write_bytes(data[: len(data) // 2])


HOSTILE: dict[str, Callable[[Path, Any, TargetModel], Any]] = {
    "random-bytes": random_bytes,
    "empty": lambda path, iwpc, model: path.write_bytes(b""),
    "csv": lambda path, iwpc, model: iwpc.frame.head(20).to_csv(path, index=False),
    "truncated-skops": truncated_skops,
    "skops-dict": lambda path, iwpc, model: sio.dump({"family": "linear"}, path),
    "skops-sklearn": lambda path, iwpc, model: sio.dump(
        LinearRegression().fit(np.eye(3), np.arange(3.0)), path),
    "json-not-xgboost": lambda path, iwpc, model: path.write_text('{"family": "linear"}'),
    "xgboost-without-metadata": lambda path, iwpc, model: model.estimator_.save_model(path),
    "unfitted-target-model": lambda path, iwpc, model: sio.dump(
        make_model("linear", iwpc.card), path),
}
# a protocol-0 pickle is now recognised as a pickle (UnsafeModelError): see
# tests/hostile/test_modelfiles.py (item 10)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_foreign_file_gives_one_clear_model_error(name: str, iwpc: Any, fitted: Any,
                                                  tmp_path: Path) -> None:
    path = tmp_path / ("model.json" if "xgboost" in name else f"{name}.skops")
    HOSTILE[name](path, iwpc, fitted["regression", "xgboost"])
    with pytest.raises(ModelError) as refused:
        load_model(path)
    assert type(refused.value) is ModelError
    message = assert_readable(refused.value, path)
    assert "Traceback" not in message
    describe_file(path)  # never raises for a file that exists


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere.skops")
    with pytest.raises(ModelError, match="cannot read model file"):
        load_model(tmp_path)


def test_foreign_files_are_named_in_messages(iwpc: Any, fitted: Any, tmp_path: Path) -> None:
    expected = {"empty": "is empty", "csv": "plain text", "skops-dict": "a plain dict",
                "skops-sklearn": "LinearRegression, not a tabinv TargetModel",
                "truncated-skops": "not a readable skops file",
                "unfitted-target-model": "unfitted or incomplete TargetModel",
                "xgboost-without-metadata": "without tabinv's metadata"}
    for name, text in expected.items():
        path = tmp_path / ("model.json" if "xgboost" in name else f"{name}.skops")
        HOSTILE[name](path, iwpc, fitted["regression", "xgboost"])
        with pytest.raises(ModelError, match=text):
            load_model(path)


# -- tampered trees ----------------------------------------------------------------------
def tampered_copy(model: TargetModel, field: str, node: int, value: Any,
                  member: int | None = None) -> TargetModel:
    """A deep copy whose (member) tree has nodes[field][node] = value. Never predict with it."""
    evil = copy.deepcopy(model)
    estimator = evil.estimator_ if member is None else evil.estimator_.estimators_[member]
    state = estimator.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes[field][node] = value
    state["nodes"] = nodes
    estimator.tree_.__setstate__(state)
    return evil


@pytest.mark.parametrize(("family", "field", "node", "value", "member", "check"), [
    ("tree", "left_child", 0, 10**6, None, "children_left must be -1 or a later node"),
    ("tree", "right_child", 0, -7, None, "children_right must be -1 or a later node"),
    ("tree", "left_child", 1, 0, None, "children_left must be -1 or a later"),
    ("tree", "left_child", 0, -1, None, "must both be -1 at leaves"),
    ("tree", "feature", 0, 10**6, None, "feature must be in"),
    ("tree", "threshold", 0, np.nan, None, "thresholds must be finite"),
    ("tree", "n_node_samples", 2, -1, None, "n_node_samples"),
    ("forest", "left_child", 0, 10**6, 3, "children_left must be -1 or a later node"),
])
def test_tampered_sklearn_tree_is_refused(family: str, field: str, node: int, value: Any,
                                          member: int | None, check: str, fitted: Any,
                                          tmp_path: Path) -> None:
    evil = tampered_copy(fitted["regression", family], field, node, value, member)
    path = tmp_path / "evil.skops"
    sio.dump(evil, path)
    for trust in (False, True):  # trusting the types does not skip the node checks
        with pytest.raises(UnsafeModelError, match=check) as refused:
            load_model(path, trust=trust)
        message = assert_readable(refused.value, path)
        where = "estimator_.tree_" if member is None else f"estimators_[{member}].tree_"
        assert where in message


def test_tree_shared_by_two_parents_is_refused(fitted: Any, tmp_path: Path) -> None:
    model = fitted["classification", "tree"]
    right = model.estimator_.tree_.children_right
    evil = tampered_copy(model, "right_child", 0, int(right[right > 0].max()))
    sio.dump(evil, tmp_path / "evil.skops")
    with pytest.raises(UnsafeModelError, match=r"refusing .*evil\.skops"):
        load_model(tmp_path / "evil.skops")


def test_tampered_pickle_is_checked_too(fitted: Any, tmp_path: Path) -> None:
    evil = tampered_copy(fitted["regression", "tree"], "feature", 0, -5)
    joblib.dump(evil, tmp_path / "evil.joblib")
    with pytest.raises(UnsafeModelError, match="feature must be in"):
        load_model(tmp_path / "evil.joblib", allow_pickle=True)


@pytest.mark.parametrize(("key", "value", "check"), [
    ("left_children", 10**6, "each child index must be a later node"),
    ("left_children", 0, "each child index must be a later node"),
    ("split_indices", 10**6, "splits must be numerical on a feature in"),
    ("split_conditions", "NaN", "must be finite"),
])
@pytest.mark.parametrize("task", ["regression", "classification"])
def test_tampered_xgboost_tree_is_refused(task: str, key: str, value: Any, check: str,
                                          fitted: Any, tmp_path: Path) -> None:
    path = save_model(fitted[task, "xgboost"], tmp_path / "evil.json")
    document = json.loads(path.read_text())
    tree = document["learner"]["gradient_booster"]["model"]["trees"][1]
    tree[key][0] = float("nan") if value == "NaN" else value
    path.write_text(json.dumps(document))
    with pytest.raises(UnsafeModelError, match=check) as refused:
        load_model(path)
    assert "tree 1" in assert_readable(refused.value, path)


def test_encoder_width_must_match_the_estimator(fitted: Any, tmp_path: Path) -> None:
    evil = copy.deepcopy(fitted["regression", "linear"])
    evil.estimator_.n_features_in_ = 3
    sio.dump(evil, tmp_path / "evil.skops")
    with pytest.raises(UnsafeModelError, match="takes 3 features but the model's encoder"):
        load_model(tmp_path / "evil.skops")


def test_forest_member_width_must_match_the_forest(fitted: Any, tmp_path: Path) -> None:
    evil = copy.deepcopy(fitted["classification", "forest"])
    evil.estimator_.estimators_[2].n_features_in_ = 5
    sio.dump(evil, tmp_path / "evil.skops")
    with pytest.raises(UnsafeModelError, match=r"estimator_\.estimators_\[2\] takes 5"):
        load_model(tmp_path / "evil.skops")
