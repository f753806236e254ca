"""Issue 13, item 1: ONNX models exported from scikit-learn pipelines (skl2onnx), taking
named raw inputs (string and float tensors), run with onnxruntime after the existing
safety checks.

The pipelines are trained here on IWPC with their own column names and order, exported
with one input per column, opened with ``open_model(path, card=, records=,
feature_map=)``; the MAP attack's posteriors equal those of the same attack on the
scikit-learn pipeline itself (to float32 tolerance) and those of the brute-force
reference (tests/attacks/reference.py) calling the ONNX model on every candidate row.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from attacks.reference import brute_force_map
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from skl2onnx.sklapi import CastTransformer
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabinv.attacks.map import MAPInversion
from tabinv.core.inputs import load_dataset
from tabinv.data.schema import card_from_dict
from tabinv.data.splits import split_dataset
from tabinv.exceptions import ModelError, UnsafeModelError
from tabinv.models.foreign import ForeignModel
from tabinv.models.onnx import OnnxTargetModel
from tabinv.models.oracle import Oracle
from tabinv.models.sources import open_model

#: card column -> the hospital's own column name
RENAME = {"race": "Race", "vkorc1": "VKORC1", "cyp2c9": "CYP2C9", "age": "AgeDecade",
          "height_cm": "Height", "weight_kg": "Weight", "enzyme_inducer": "Inducer",
          "amiodarone": "Amiodarone"}
#: the pipeline's own column order
ORDER = ["Weight", "VKORC1", "AgeDecade", "Race", "Height", "CYP2C9", "Inducer", "Amiodarone"]
TEXT = ["VKORC1", "Race", "CYP2C9"]
NUMBERS = ["Weight", "AgeDecade", "Height", "Inducer", "Amiodarone"]
SENSITIVE = ("vkorc1",)
UNKNOWN = ("weight_kg",)  # one numeric feature the attacker does not know
FLOAT32 = 1e-5  # float32 probabilities from onnxruntime against sklearn's float64


@pytest.fixture(scope="module")
def cohort() -> dict[str, Any]:
    data = load_dataset("iwpc").with_label("dose_class")
    splits = split_dataset(data.frame, (0.5, 0.25, 0.25), 0)
    members = splits.members.sample(300, random_state=1)
    attacked = pd.concat([members.iloc[:12], splits.non_members.iloc[:12]])
    return {"card": data.card, "members": members, "attacked": attacked,
            "reference": splits.reference.sample(150, random_state=2)}


def _pipeline(kind: str, members: pd.DataFrame) -> Pipeline:
    """The hospital's pipeline, fitted on its own column names and order."""
    columns = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), TEXT),
                                 ("numbers", StandardScaler(), NUMBERS)])
    if kind == "logistic":
        steps = [("prepare", columns), ("classify", LogisticRegression(max_iter=500))]
    elif kind == "forest":  # trees compare float32: skl2onnx's advice for identical answers
        steps = [("prepare", Pipeline([("columns", columns), ("cast", CastTransformer())])),
                 ("classify", RandomForestClassifier(20, max_depth=5, random_state=0))]
    else:
        steps = [("prepare", columns), ("classify", KNeighborsClassifier(5))]
    frame = members.rename(columns=RENAME)[ORDER]
    return Pipeline(steps).fit(frame, members["dose_class"])


def _types(kind: str) -> list[tuple[str, Any]]:
    """One input per column: strings, int64 for one 0/1 column, and float (logistic) or
    double (forest: the scaler runs in double, as in scikit-learn, before the cast)."""
    number = DoubleTensorType if kind == "forest" else FloatTensorType
    return [(c, StringTensorType([None, 1]) if c in TEXT else Int64TensorType([None, 1])
             if c == "Inducer" else number([None, 1])) for c in ORDER]


def _export(pipe: Pipeline, kind: str, path: Path, zipmap: bool = False) -> Path:
    options = {id(pipe.steps[-1][1]): {"zipmap": zipmap}}
    path.write_bytes(to_onnx(pipe, initial_types=_types(kind),
                             options=options).SerializeToString())
    return path


@pytest.fixture(scope="module")
def exported(cohort: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
             ) -> dict[str, tuple[Pipeline, Path]]:
    folder = tmp_path_factory.mktemp("onnx")
    found = {}
    for kind in ("logistic", "forest"):
        pipe = _pipeline(kind, cohort["members"])
        found[kind] = (pipe, _export(pipe, kind, folder / f"{kind}.onnx"))
    return found


def _open(source: Any, cohort: dict[str, Any], **options: Any) -> Any:
    return open_model(source, card=cohort["card"], records=cohort["members"],
                      feature_map=options.pop("feature_map", RENAME), **options)


def _map(model: Any, cohort: dict[str, Any], access: str = "confidences") -> np.ndarray:
    known = tuple(f for f in model.features if f not in SENSITIVE + UNKNOWN)
    attack = MAPInversion(numeric_points=3).fit(
        Oracle.for_model(model, access), sensitive=SENSITIVE, known=known,
        reference=cohort["reference"])
    return np.asarray(attack.infer(cohort["attacked"]).probabilities)


def _brute_force(model: Any, cohort: dict[str, Any], access: str = "confidence"
                 ) -> np.ndarray:
    known = tuple(f for f in model.features if f not in SENSITIVE + UNKNOWN)
    return brute_force_map(model, cohort["attacked"], sensitive=SENSITIVE, known=known,
                           reference=cohort["reference"], access=access, numeric_points=3)


# -- the attack on the ONNX file equals the attack on the pipeline --------------------
@pytest.mark.parametrize("kind", ["logistic", "forest"])
def test_item1_skl2onnx_pipeline_posteriors_equal_the_pipelines(
        kind: str, cohort: dict[str, Any], exported: dict[str, tuple[Pipeline, Path]]) -> None:
    """item 1: an skl2onnx export with named string / float / double / int64 inputs, opened
    with the feature map, gives the MAP posteriors of the pipeline it was exported from
    (float32 tolerance) and of the brute-force reference on the ONNX model itself."""
    pipe, path = exported[kind]
    model = _open(path, cohort)
    assert isinstance(model, ForeignModel) and model.reveals == "confidences"
    assert model.inputs_ == tuple(ORDER)  # the graph's inputs, in its order
    expected_op = "LinearClassifier" if kind == "logistic" else "TreeEnsembleClassifier"
    facts = model.describe()
    assert facts["estimator"] == f"ONNX graph ({expected_op})"
    assert (facts["model_format"], facts["onnx_output"]) == ("onnx", "probabilities")
    assert model.estimator_.classes == ("high", "low", "medium")  # read from the graph
    rows = cohort["attacked"]
    np.testing.assert_allclose(model.predict_proba(rows), pipe.predict_proba(
        rows.rename(columns=RENAME)[ORDER])[:, [1, 2, 0]], rtol=0, atol=FLOAT32)

    posterior = _map(model, cohort)
    on_pipeline = _map(_open(pipe, cohort, recognise=False), cohort)
    np.testing.assert_allclose(posterior, on_pipeline, rtol=0, atol=FLOAT32)
    np.testing.assert_allclose(posterior, _brute_force(model, cohort), rtol=0, atol=1e-9)
    assert np.ptp(posterior, axis=0).max() > 0.05  # the model's answers move the guesses


def test_item1_zipmap_output_is_read_through_its_probabilities(
        cohort: dict[str, Any], exported: dict[str, tuple[Pipeline, Path]],
        tmp_path: Path) -> None:
    """item 1: skl2onnx's default export (a ZipMap: one dict per record) gives exactly the
    probabilities of the zipmap=False export; naming the ZipMap's output picks them too."""
    pipe, plain = exported["logistic"]
    zipped = _export(pipe, "logistic", tmp_path / "zipmap.onnx", zipmap=True)
    assert "ZipMap" in {n.op_type for n in onnx.load(zipped).graph.node}
    rows = cohort["attacked"]
    expected = _open(plain, cohort).predict_proba(rows)
    for options in ({}, {"options": {"onnx_output": "output_probability"}}):
        model = _open(zipped, cohort, **options)
        assert model.estimator_.classes == ("high", "low", "medium")
        np.testing.assert_array_equal(model.predict_proba(rows), expected)


def test_item1_label_only_graphs(cohort: dict[str, Any],
                                 exported: dict[str, tuple[Pipeline, Path]],
                                 tmp_path: Path) -> None:
    """item 1: a graph that outputs labels only (or whose label output is chosen) reveals
    labels; the label-only MAP attack equals the brute-force reference."""
    pipe, path = exported["forest"]
    graph = onnx.load(path)
    kept = [o for o in graph.graph.output if o.name != "probabilities"]
    del graph.graph.output[:]
    graph.graph.output.extend(kept)
    labels_only = tmp_path / "labels.onnx"
    onnx.save(graph, labels_only)
    for model in (_open(labels_only, cohort),
                  _open(path, cohort, options={"onnx_output": "label"})):
        assert model.reveals == "labels"
        assert model.estimator_.classes == ("high", "low", "medium")
        rows = cohort["attacked"]
        assert list(model.predict(rows)) == list(pipe.predict(
            rows.rename(columns=RENAME)[ORDER]))
        np.testing.assert_allclose(_map(model, cohort, "label-only"),
                                   _brute_force(model, cohort, "label"), rtol=0, atol=1e-9)


# -- classes, outputs and inputs read from a graph ------------------------------------
def _softmax_graph(path: Path) -> Path:
    """Three float inputs (no class labels anywhere): Softmax of the three columns."""
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 1])
              for n in ("age", "height_cm", "weight_kg")]
    nodes = [helper.make_node("Concat", ["age", "height_cm", "weight_kg"], ["joined"], axis=1),
             helper.make_node("Mul", ["joined", "scale"], ["scaled"]),
             helper.make_node("Softmax", ["scaled"], ["scores"], axis=1)]
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [3], [0.5, 0.02, 0.03])
    graph = helper.make_graph(nodes, "softmax", inputs, [helper.make_tensor_value_info(
        "scores", TensorProto.FLOAT, [None, 3])], [scale])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def test_item1_classes_without_labels_in_the_graph(cohort: dict[str, Any],
                                                   tmp_path: Path) -> None:
    """item 1: a graph naming no classes gets the label's domain order, or onnx_classes;
    columns the graph does not take are listed, not fed."""
    path = _softmax_graph(tmp_path / "softmax.onnx")
    rows = cohort["attacked"]
    model = _open(path, cohort, feature_map=None)
    assert model.estimator_.classes == ("low", "medium", "high")
    assert model.features == ("age", "height_cm", "weight_kg")
    assert model.describe()["card_features_not_taken_by_the_model"] == [
        "race", "enzyme_inducer", "amiodarone", "vkorc1", "cyp2c9"]
    scores = rows[["age", "height_cm", "weight_kg"]].to_numpy() * [0.5, 0.02, 0.03]
    softmax = np.exp(scores - scores.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(rows), softmax, rtol=0, atol=FLOAT32)
    reordered = _open(path, cohort, feature_map=None,
                      options={"onnx_classes": ("high", "low", "medium")})
    np.testing.assert_allclose(reordered.predict_proba(rows), softmax[:, [1, 2, 0]],
                               rtol=0, atol=FLOAT32)
    with pytest.raises(ModelError, match="probabilities have 3 columns but onnx_classes "
                                         "classes are 2; give onnx_classes"):
        _open(path, cohort, feature_map=None, options={"onnx_classes": ("low", "high")})


def test_item1_a_single_matrix_takes_the_cards_features(cohort: dict[str, Any],
                                                        tmp_path: Path) -> None:
    """item 1: one string matrix takes the card's features in card order; one float
    matrix stays tabinv's card encoding unless onnx_encoding="raw"."""
    card, members = cohort["card"], cohort["members"]
    rows = cohort["attacked"]
    for columns, tensor, options in ((["race", "vkorc1", "cyp2c9"], StringTensorType, {}),
                                     (["age", "height_cm", "weight_kg"], FloatTensorType,
                                      {"onnx_encoding": "raw"})):
        pipe = Pipeline([("encode", OneHotEncoder(handle_unknown="ignore") if tensor is
                          StringTensorType else StandardScaler()),
                         ("classify", LogisticRegression(max_iter=500))])
        pipe.fit(members[columns].to_numpy(), members["dose_class"])
        path = tmp_path / f"{tensor.__name__}.onnx"
        path.write_bytes(to_onnx(pipe, initial_types=[("X", tensor([None, 3]))], options={
            id(pipe.steps[-1][1]): {"zipmap": False}}).SerializeToString())
        narrow = card_from_dict({**card.to_dict(), "features": columns})
        model = open_model(path, card=narrow, records=members, options=options)
        assert isinstance(model, ForeignModel) and model.features == tuple(columns)
        np.testing.assert_allclose(model.predict_proba(rows), pipe.predict_proba(
            rows[columns].to_numpy())[:, [1, 2, 0]], rtol=0, atol=FLOAT32)
        if tensor is FloatTensorType:  # batch entries: the same, without a feature map
            assert isinstance(open_model(path, card=narrow, records=members),
                              OnnxTargetModel)
            declared = open_model(path, card=narrow, records=members, format="onnx",
                                  options={"onnx_encoding": "raw"})
            assert isinstance(declared, ForeignModel)
            np.testing.assert_array_equal(declared.predict_proba(rows),
                                          model.predict_proba(rows))
        else:
            with pytest.raises(ModelError, match="its single input 'X' tensor.string. "
                                                 r"\[None, 3\] takes 3 columns, but the "
                                                 "card has 8 features"):
                open_model(path, card=card, records=members)


def test_item1_a_regression_graph(cohort: dict[str, Any], tmp_path: Path) -> None:
    """item 1: a regression pipeline's export gives its predictions, on the label's scale;
    for a categorical label it is refused."""
    card = load_dataset("iwpc").card  # label: dose
    members = cohort["members"]
    columns = ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), TEXT)],
                                remainder="passthrough")
    pipe = Pipeline([("prepare", columns), ("regress", RandomForestRegressor(
        10, max_depth=4, random_state=0))]).fit(members.rename(columns=RENAME)[ORDER],
                                                members["dose"])
    path = tmp_path / "dose.onnx"
    types = [(c, StringTensorType([None, 1]) if c in TEXT else FloatTensorType([None, 1]))
             for c in ORDER]
    path.write_bytes(to_onnx(pipe, initial_types=types).SerializeToString())
    model = open_model(path, card=card, records=members, feature_map=RENAME)
    assert model.reveals == "output" and model.task == "regression"
    rows = cohort["attacked"]
    np.testing.assert_allclose(model.predict(rows), pipe.predict(
        rows.rename(columns=RENAME)[ORDER]), rtol=1e-5)
    with pytest.raises(ModelError) as error:  # the card's label is categorical
        open_model(path, card=cohort["card"], records=members, feature_map=RENAME)
    assert "needs an output of class probabilities (a float matrix) or labels of the " \
        "categorical label 'dose_class'; outputs are: 'variable' tensor(float) [None, 1]" \
        in _one_line(error)


def test_item1_the_model_pickles_without_its_session(
        cohort: dict[str, Any], exported: dict[str, tuple[Pipeline, Path]]) -> None:
    """item 1: a fitted model goes to batch workers by pickle; the session is rebuilt."""
    model = _open(exported["logistic"][1], cohort)
    copy = pickle.loads(pickle.dumps(model))
    assert "_cached_session" not in copy.estimator_.model.__dict__
    rows = cohort["attacked"]
    np.testing.assert_array_equal(copy.predict_proba(rows), model.predict_proba(rows))


# -- errors -----------------------------------------------------------------------------
def _one_line(error: pytest.ExceptionInfo[Exception]) -> str:
    message = str(error.value)
    assert "\n" not in message and len(message) < 600, message
    return message


def test_item1_inputs_the_card_lacks_are_listed(
        cohort: dict[str, Any], exported: dict[str, tuple[Pipeline, Path]]) -> None:
    """item 1: without the feature map, every graph input the card lacks is named; a
    string input sent a numeric column (or the reverse) is of the wrong kind."""
    path = exported["logistic"][1]
    with pytest.raises(ModelError) as error:
        _open(path, cohort, feature_map=None)
    message = _one_line(error)
    assert "logistic.onnx does not fit the card of 'iwpc'" in message
    assert "it takes 8 input(s) the card does not describe: 'Weight', 'VKORC1'" in message
    swapped = {**RENAME, "vkorc1": "Weight", "weight_kg": "VKORC1"}
    with pytest.raises(ModelError) as error:
        _open(path, cohort, feature_map=swapped)
    message = _one_line(error)
    assert "input 'Weight' takes numbers but card column 'vkorc1' holds text" in message
    assert "input 'VKORC1' takes text but card column 'weight_kg' holds numbers" in message


def test_item1_int64_inputs_take_whole_numbers_only(
        cohort: dict[str, Any], exported: dict[str, tuple[Pipeline, Path]]) -> None:
    """item 1: a fractional value is refused for an int64 input, never truncated."""
    mixed = {**RENAME, "height_cm": "Inducer", "enzyme_inducer": "Height"}
    with pytest.raises(ModelError, match=r"input 'Inducer' takes whole numbers \(int64\), "
                                         "not '1"):
        _open(exported["logistic"][1], cohort, feature_map=mixed)


def test_item1_control_flow_is_still_refused(cohort: dict[str, Any], tmp_path: Path) -> None:
    """item 1: skl2onnx exports a nearest-neighbours pipeline with a Scan (a loop over a
    subgraph): refused by name before onnxruntime runs anything."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = _pipeline("neighbours", cohort["members"])
    path = _export(pipe, "neighbours", tmp_path / "knn.onnx")
    with pytest.raises(UnsafeModelError) as error:
        _open(path, cohort)
    message = _one_line(error)
    assert "refusing" in message and "knn.onnx" in message
    assert "uses operator 'Scan', which runs a subgraph" in message


def test_item1_encoded_matrix_graphs_are_unchanged(cohort: dict[str, Any],
                                                  tmp_path: Path) -> None:
    """item 1: a graph on tabinv's card encoding is still an OnnxTargetModel."""
    from tabinv.models.families import make_model

    card, members = cohort["card"], cohort["members"]
    trained = make_model("logistic", card, random_state=0).fit(members)
    width = trained.encoder_.n_output_
    path = tmp_path / "encoded.onnx"
    path.write_bytes(to_onnx(trained.estimator_, initial_types=[(
        "X", FloatTensorType([None, width]))], options={id(trained.estimator_): {
            "zipmap": False}}).SerializeToString())
    model = open_model(path, card=card, records=members)
    assert isinstance(model, OnnxTargetModel)
    rows = cohort["attacked"]
    np.testing.assert_allclose(model.predict_proba(rows), trained.predict_proba(rows),
                               rtol=0, atol=FLOAT32)
