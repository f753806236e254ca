"""Issue 13, item 1: MLflow models (a local model directory and models:/ registry URIs).

An IWPC pipeline with its own column names and order is saved with MLflow (skops) and
registered in a temporary local file registry; opened by its directory, its version and
its alias, the MAP attack's posteriors equal those on the pipeline object itself.
Pickled flavours need allow_pickle, python_function models allow_code, and broken
directories and registry names give one line. MLflow's import is slow: everything MLflow
writes is made once per module.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from sessions import nothing_left_behind  # noqa: F401  (autouse fixture)
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabinv.core.inputs import load_dataset
from tabinv.core.run import run_attacks
from tabinv.core.threat import ThreatModel
from tabinv.data.splits import split_dataset
from tabinv.exceptions import ModelError, UnsafeModelError
from tabinv.models import mlflowstore
from tabinv.models.foreign import ModelInput, RecordModel
from tabinv.models.formats import model_formats
from tabinv.models.mlflowsrc import load_mlflow, model_digest, resolved_files
from tabinv.models.mlflowstore import import_mlflow
from tabinv.models.sources import open_model

CATEGORIES = {"vkorc1": "VKORC1", "cyp2c9": "CYP2C9", "race": "Race"}
NUMBERS = {"age": "age", "weight_kg": "Weight", "height_cm": "height_cm",
           "amiodarone": "amiodarone", "enzyme_inducer": "enzyme_inducer"}
RENAMES = {card: own for card, own in {**CATEGORIES, **NUMBERS}.items() if card != own}
OWN_ORDER = ["Weight", "VKORC1", "age", "Race", "amiodarone", "CYP2C9", "height_cm",
             "enzyme_inducer"]
NAME = "iwpc-dose"
#: given, so that MLflow does not infer them (it would load the model in a subprocess)
REQUIREMENTS = ["scikit-learn"]


@pytest.fixture(scope="module")
def data() -> Any:
    dataset = load_dataset("iwpc").with_label("dose_class")
    splits = split_dataset(dataset.frame.sample(900, random_state=0), (0.5, 0.25, 0.25), 0)
    return dataset.card, splits


def own_table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=RENAMES)[OWN_ORDER]


@pytest.fixture(scope="module")
def pipe(data: Any) -> Pipeline:
    card, splits = data
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"),
                               list(CATEGORIES.values())),
                              ("num", StandardScaler(), list(NUMBERS.values()))])
    forest = RandomForestClassifier(8, max_depth=5, random_state=0)
    members = splits.members
    return Pipeline([("prep", prep), ("clf", forest)]).fit(own_table(members),
                                                            members[card.label])


@pytest.fixture(scope="module")
def mlflow() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            patch.delenv(variable, raising=False)
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        import_mlflow("pyfunc")
        import mlflow.sklearn
        yield mlflow


def save(mlflow: Any, model: Any, directory: Path, frame: pd.DataFrame, **options: Any) -> Path:
    """``model`` saved by mlflow.sklearn with a signature inferred from ``frame``."""
    from mlflow.models import infer_signature

    output = model.predict_proba(frame.head(20))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer",
                                category=UserWarning)
        signature = infer_signature(frame.head(20), output)
    mlflow.sklearn.save_model(model, str(directory), signature=signature,
                              pip_requirements=REQUIREMENTS, **options)
    return directory


@pytest.fixture(scope="module")
def saved(mlflow: Any, pipe: Pipeline, data: Any, tmp_path_factory: Any) -> Path:
    trusted = sio.get_untrusted_types(data=sio.dumps(pipe))
    return save(mlflow, pipe, tmp_path_factory.mktemp("mlflow") / "skops",
                own_table(data[1].members), serialization_format="skops",
                skops_trusted_types=trusted)


@pytest.fixture(scope="module")
def registry(mlflow: Any, saved: Path, tmp_path_factory: Any) -> str:
    """A local file registry where version 1 of NAME (alias champion) is ``saved``."""
    uri = (tmp_path_factory.mktemp("registry") / "store").as_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model(NAME)
        version = client.create_model_version(NAME, source=str(saved))
        client.set_registered_model_alias(NAME, "champion", version.version)
    return uri


def posteriors(model: Any, data: Any) -> np.ndarray:
    card, splits = data
    threat = ThreatModel(sensitive=("vkorc1",), attacks=("map",))
    _, found = run_attacks(model, {"members": splits.members}, threat,
                           reference=splits.reference, members=splits.members)
    return found["members"].probabilities


@pytest.fixture(scope="module")
def expected(pipe: Pipeline, data: Any) -> np.ndarray:
    """The MAP posteriors on the pipeline object itself."""
    return posteriors(open_model(pipe, card=data[0], records=data[1].members,
                                 feature_map=RENAMES), data)


def opened(source: Any, data: Any, **options: Any) -> Any:
    return open_model(source, card=data[0], records=data[1].members, feature_map=RENAMES,
                      **options)


def one_line(error: pytest.ExceptionInfo[Exception]) -> str:
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# -- a model directory and a registry version -------------------------------------------
def test_item1_mlflow_directory_posteriors_equal_the_pipelines(saved: Path, data: Any,
                                                               expected: np.ndarray) -> None:
    model = opened(saved, data)
    assert model.reveals == "confidences"
    assert list(model.describe()["model_inputs"]) == OWN_ORDER
    np.testing.assert_array_equal(posteriors(model, data), expected)


@pytest.mark.parametrize("uri", [f"models:/{NAME}/1", f"models:/{NAME}@champion"])
def test_item1_registry_version_and_alias(uri: str, registry: str, data: Any,
                                          expected: np.ndarray,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry)
    model = opened(uri, data)
    assert model.describe()["model_source"] == uri
    np.testing.assert_array_equal(posteriors(model, data), expected)
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # set only while reading


def test_item1_registry_files_and_digest(registry: str, saved: Path, tmp_path: Path) -> None:
    uri = f"models:/{NAME}@champion"
    files = resolved_files(uri, registry_uri=registry)
    assert files == resolved_files(saved)
    assert {"MLmodel", "model.skops"} <= {p.name for p in files}
    digest = model_digest(uri, registry_uri=registry)
    assert digest == model_digest(saved) and len(digest) == 64
    copy = shutil.copytree(saved, tmp_path / "copy")
    assert model_digest(copy) == digest
    (copy / "conda.yaml").write_text((copy / "conda.yaml").read_text() + "\n")
    assert model_digest(copy) != digest


def test_item1_digest_refuses_links_out_pipes_and_too_many_files(
        saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = shutil.copytree(saved, tmp_path / "copy")
    (copy / "secret").symlink_to("/etc/hostname")
    with pytest.raises(ModelError) as error:
        model_digest(copy)
    assert "outside the model directory" in one_line(error)
    (copy / "secret").unlink()
    os.mkfifo(copy / "pipe")
    with pytest.raises(ModelError) as error:
        model_digest(copy)
    assert "is not a regular file" in one_line(error)
    (copy / "pipe").unlink()
    monkeypatch.setattr(mlflowstore, "MAX_FILES", 3)
    with pytest.raises(ModelError) as error:
        resolved_files(copy)
    assert "more than 3 files and folders" in one_line(error)


def test_item1_sklearn_directory_needs_no_mlflow(saved: Path, registry: str, data: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert opened(saved, data).reveals == "confidences"
    with pytest.raises(ModelError) as error:
        opened(f"models:/{NAME}/1", data)
    assert "pip install tabinv[mlflow]" in one_line(error)


# -- what needs the user's opt-in -------------------------------------------------------
def test_item1_pickle_flavour_needs_allow_pickle(mlflow: Any, pipe: Pipeline, data: Any,
                                                 tmp_path: Path,
                                                 expected: np.ndarray) -> None:
    directory = save(mlflow, pipe, tmp_path / "pickled", own_table(data[1].members),
                     serialization_format="cloudpickle")
    with pytest.raises(UnsafeModelError) as error:
        opened(directory, data)
    assert "allow_pickle" in one_line(error) and "model.pkl" in str(error.value)
    model = opened(directory, data, allow_pickle=True)
    np.testing.assert_array_equal(posteriors(model, data), expected)


def test_item1_registry_refusals_name_the_uri(mlflow: Any, pipe: Pipeline, data: Any,
                                              tmp_path: Path) -> None:
    directory = save(mlflow, pipe, tmp_path / "pickled", own_table(data[1].members),
                     serialization_format="pickle")
    uri = (tmp_path / "store").as_uri()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model("pickled")
        client.create_model_version("pickled", source=str(directory))
    with pytest.raises(UnsafeModelError) as error:
        load_mlflow("models:/pickled/1", trust=False, allow_pickle=False, allow_code=False,
                    registry_uri=uri)
    assert one_line(error).startswith(f"models:/pickled/1: {directory / 'model.pkl'} is a")


def pyfunc_only(mlflow: Any, pipe: Pipeline, frame: pd.DataFrame, directory: Path,
                labels: bool = False) -> Path:
    """A python_function model whose predict returns a DataFrame of class probabilities
    (columns named after the classes), or the predicted labels."""
    from mlflow.models import ModelSignature
    from mlflow.models import infer_signature as infer

    class Wrapped(mlflow.pyfunc.PythonModel):
        def __init__(self, model: Any, labels: bool) -> None:
            self.model, self.labels = model, labels

        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            if self.labels:
                return self.model.predict(model_input)
            return pd.DataFrame(self.model.predict_proba(model_input),
                                columns=[str(c) for c in self.model.classes_])

    example = frame.head(20)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer",
                                category=UserWarning)
        inputs = infer(example).inputs
        outputs = infer(example, Wrapped(pipe, labels).predict(None, example)).outputs
        warnings.filterwarnings("ignore", message=".*An input example was not provided",
                                category=UserWarning)
        mlflow.pyfunc.save_model(str(directory), python_model=Wrapped(pipe, labels),
                                 signature=ModelSignature(inputs=inputs, outputs=outputs),
                                 pip_requirements=REQUIREMENTS)
    return directory


def test_item1_python_function_labels(mlflow: Any, pipe: Pipeline, data: Any,
                                      tmp_path: Path) -> None:
    directory = pyfunc_only(mlflow, pipe, own_table(data[1].members), tmp_path / "labels",
                            labels=True)
    model = opened(directory, data, allow_code=True)
    assert model.reveals == "labels"
    same = RecordModel(pipe, origin="pipe", kind="labels", classes=list(pipe.classes_),
                       inputs=[ModelInput(name) for name in OWN_ORDER], proba=None,
                       predict=pipe.predict)
    np.testing.assert_array_equal(posteriors(model, data), posteriors(opened(same, data), data))


def test_item1_python_function_model_needs_allow_code(mlflow: Any, pipe: Pipeline,
                                                      data: Any, tmp_path: Path,
                                                      expected: np.ndarray) -> None:
    directory = pyfunc_only(mlflow, pipe, own_table(data[1].members), tmp_path / "pyfunc")
    flavours = yaml.safe_load((directory / "MLmodel").read_text())["flavors"]
    assert list(flavours) == ["python_function"]
    with pytest.raises(UnsafeModelError) as error:
        opened(directory, data, allow_pickle=True)
    assert "allow_code" in one_line(error)
    model = opened(directory, data, allow_code=True)
    assert model.reveals == "confidences"
    np.testing.assert_allclose(posteriors(model, data), expected, rtol=0, atol=1e-12)


# -- the signature declares what the object does not ------------------------------------
def test_item1_signature_names_the_inputs_of_an_array_model(mlflow: Any, data: Any,
                                                            tmp_path: Path) -> None:
    card, splits = data
    frame = own_table(splits.members)
    categorical = [OWN_ORDER.index(c) for c in CATEGORIES.values()]
    numeric = [OWN_ORDER.index(c) for c in NUMBERS.values()]

    def fitted(columns: Any) -> Pipeline:
        prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"),
                                   columns(categorical)), ("num", StandardScaler(),
                                                           columns(numeric))])
        return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=300))])

    on_array = fitted(list).fit(frame.to_numpy(dtype=object), splits.members[card.label])
    on_frame = fitted(lambda idx: [OWN_ORDER[i] for i in idx]).fit(
        frame, splits.members[card.label])
    directory = tmp_path / "array"
    from mlflow.models import infer_signature

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer",
                                category=UserWarning)
        signature = infer_signature(frame.head(20), on_array.predict_proba(
            frame.head(20).to_numpy(dtype=object)))
    mlflow.sklearn.save_model(on_array, str(directory), signature=signature,
                              pip_requirements=REQUIREMENTS,
                              serialization_format="skops")
    model = opened(directory, data)
    assert list(model.describe()["model_inputs"]) == OWN_ORDER
    np.testing.assert_allclose(posteriors(model, data),
                               posteriors(opened(on_frame, data), data), rtol=0, atol=1e-12)


# -- boosters' flavours (their loaders come with the booster adapters) -------------------
def _booster_frame(data: Any) -> tuple[pd.DataFrame, np.ndarray]:
    card, splits = data
    frame = own_table(splits.members)
    for column in CATEGORIES.values():
        frame[column] = frame[column].astype("category")
    labels = pd.Categorical(splits.members[card.label],
                            categories=list(card.column(card.label).domain)).codes
    return frame, labels


@pytest.mark.skipif(importlib.util.find_spec("tabinv.models.boosters") is None,
                    reason="the XGBoost booster adapter (tabinv.models.boosters) is not on "
                           "this branch yet")
def test_item1_xgboost_flavour(mlflow: Any, data: Any, tmp_path: Path) -> None:
    import mlflow.xgboost
    import xgboost

    frame, labels = _booster_frame(data)
    booster = xgboost.train({"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
                            xgboost.DMatrix(frame, labels, enable_categorical=True), 5)
    mlflow.xgboost.save_model(booster, str(tmp_path / "xgb"), model_format="json",
                              pip_requirements=REQUIREMENTS)
    np.testing.assert_array_equal(posteriors(opened(tmp_path / "xgb", data), data),
                                  posteriors(opened(booster, data), data))


@pytest.mark.skipif("lightgbm" not in {f.name for f in model_formats()},
                    reason="the lightgbm model format is not registered on this branch yet")
def test_item1_lightgbm_flavour(mlflow: Any, data: Any, tmp_path: Path) -> None:
    import lightgbm
    import mlflow.lightgbm

    frame, labels = _booster_frame(data)
    booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1,
                              "num_leaves": 7}, lightgbm.Dataset(frame, labels), 5)
    mlflow.lightgbm.save_model(booster, str(tmp_path / "lgb"), pip_requirements=REQUIREMENTS)
    np.testing.assert_array_equal(posteriors(opened(tmp_path / "lgb", data), data),
                                  posteriors(opened(booster, data), data))


# -- bad input: one line each -------------------------------------------------------------
def edited(saved: Path, tmp_path: Path, **flavour: Any) -> Path:
    """A copy of ``saved`` whose sklearn flavour is changed (None removes a key)."""
    directory = shutil.copytree(saved, tmp_path / "edited")
    document = yaml.safe_load((directory / "MLmodel").read_text())
    for key, value in flavour.items():
        document["flavors"]["sklearn"][key] = value
    (directory / "MLmodel").write_text(yaml.safe_dump(document))
    return directory


def test_item1_no_supported_flavour(saved: Path, data: Any, tmp_path: Path) -> None:
    directory = shutil.copytree(saved, tmp_path / "keras")
    (directory / "MLmodel").write_text(yaml.safe_dump(
        {"flavors": {"keras": {"data": "model.keras"}, "onnx": {"data": "x.onnx"}}}))
    with pytest.raises(ModelError) as error:
        opened(directory, data)
    assert "'keras', 'onnx'" in one_line(error) and "no flavour tabinv reads" in str(error.value)


@pytest.mark.parametrize("path", ["../outside.skops", "/etc/passwd", "sub/../../x.skops",
                                  "link.skops"])
def test_item1_paths_must_stay_inside_the_directory(path: str, saved: Path, data: Any,
                                                    tmp_path: Path) -> None:
    (tmp_path / "outside.skops").write_bytes((saved / "model.skops").read_bytes())
    directory = edited(saved, tmp_path, pickled_model=path)
    (directory / "link.skops").symlink_to(tmp_path / "outside.skops")
    with pytest.raises(UnsafeModelError) as error:
        opened(directory, data)
    assert "outside the model directory" in one_line(error) or \
        "not a path inside the model directory" in str(error.value)


@pytest.mark.parametrize("text", ["flavors: [1, 2]", "[[[[", "just text",
                                  "flavors: !!python/name:os.system"])
def test_item1_malformed_mlmodel(text: str, saved: Path, data: Any, tmp_path: Path) -> None:
    directory = shutil.copytree(saved, tmp_path / "bad")
    (directory / "MLmodel").write_text(text)
    with pytest.raises(ModelError) as error:
        opened(directory, data)
    assert "MLmodel" in one_line(error)


def test_item1_signature_that_contradicts_the_model(saved: Path, data: Any,
                                                    tmp_path: Path) -> None:
    directory = shutil.copytree(saved, tmp_path / "signed")
    document = yaml.safe_load((directory / "MLmodel").read_text())
    document["signature"]["inputs"] = '[{"type": "double", "name": "other"}]'
    (directory / "MLmodel").write_text(yaml.safe_dump(document))
    with pytest.raises(ModelError) as error:
        opened(directory, data)
    assert "signature lists inputs 'other' but the model takes 'Weight'" in one_line(error)


@pytest.mark.parametrize(("uri", "message"), [
    ("models:/no-such-model/1", "has no registered model 'no-such-model'"),
    (f"models:/{NAME}/7", f"model '{NAME}' in the MLflow registry at"),
    (f"models:/{NAME}@nobody", "has no alias 'nobody'"),
    (f"models:/{NAME}", "expected models:/NAME/VERSION"),
])
def test_item1_registry_names_that_do_not_exist(uri: str, message: str, registry: str,
                                                data: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    with pytest.raises(ModelError) as error:
        opened(uri, data)
    assert message in one_line(error)


@pytest.mark.parametrize(("registry", "message"), [
    ("https://mlflow.example.org", "is not on this machine"),
    ("databricks", "is not on this machine"),
    (None, "set MLFLOW_REGISTRY_URI or MLFLOW_TRACKING_URI"),
])
def test_item1_registry_must_be_local(registry: str | None, message: str, data: Any,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    if registry is not None:
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry)
    with pytest.raises(ModelError) as error:
        load_mlflow(f"models:/{NAME}/1", trust=False, allow_pickle=False, allow_code=False)
    assert message in one_line(error)
    assert list(tmp_path.iterdir()) == []  # no store was created


@pytest.mark.skipif(importlib.util.find_spec("sqlalchemy") is not None,
                    reason="SQLAlchemy is installed: MLflow can read SQLite registries")
def test_item1_sqlite_registry_without_sqlalchemy(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as error:
        load_mlflow(f"models:/{NAME}/1", trust=False, allow_pickle=False, allow_code=False,
                    registry_uri=f"sqlite:///{tmp_path}/mlflow.db")
    assert "pip install sqlalchemy alembic" in one_line(error)
