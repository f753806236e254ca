"""Issue 13, items 4 and 6: inventories of models tabinv did not train (scikit-learn
pipelines in skops and joblib files, MLflow model directories, registry URIs) with the
owner's member / non-member / reference files or member column, feature maps and
per-entry opt-ins; ``inventory check`` without loading anything; keys over the model's
bytes; a bad entry failing alone."""

from __future__ import annotations

import importlib.util
import shutil
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from tabinv.batch.entry import Entry
from tabinv.batch.inventory import InventoryError, read_inventory
from tabinv.batch.runner import run_batch
from tabinv.batch.task import entry_key

from . import write_inventory

NUMBERS = ["age", "height_cm", "weight_kg", "enzyme_inducer", "amiodarone"]
SETTINGS = {"n_boot": 10, "attacks": ["map"], "priors": ["marginal"], "label": "dose_class",
            "sensitive": ["vkorc1"], "card": "data/iwpc.toml"}
FILES = {"members": "data/members.csv", "non_members": "data/non_members.csv",
         "reference": "data/reference.csv"}


def _pipeline(final: Any, categories: list[str], numbers: Any) -> Pipeline:
    return Pipeline([("prep", ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), categories), ("num", numbers, NUMBERS)])),
        ("clf", final)])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An inventory folder: IWPC records split by their owner, the card, and three
    pipelines with their own column order (one renames vkorc1)."""
    from tabinv.core.inputs import load_dataset

    root = tmp_path_factory.mktemp("foreign")
    (root / "data").mkdir()
    (root / "models").mkdir()
    card = resources.files("tabinv._cards").joinpath("iwpc.toml").read_text("utf-8")
    (root / "data" / "iwpc.toml").write_text(card)
    frame = load_dataset("iwpc").with_label("dose_class").frame.sample(
        900, random_state=0).reset_index(drop=True)  # seed 1: enzyme_inducer constant
    members, non_members, reference = frame[:450], frame[450:675], frame[675:]
    for name, part in (("members", members), ("non_members", non_members),
                       ("reference", reference)):
        part.to_csv(root / "data" / f"{name}.csv", index=False)
    marked = pd.concat([members, non_members], ignore_index=True)
    marked["in_training"] = [1] * len(members) + [0] * len(non_members)
    marked.to_csv(root / "data" / "marked.csv", index=False)
    renamed = members.rename(columns={"vkorc1": "VKORC1"})
    columns = [*NUMBERS[::-1], "cyp2c9", "VKORC1", "race"]  # the owner's own order
    linear = _pipeline(LogisticRegression(max_iter=300), ["race", "VKORC1", "cyp2c9"],
                       StandardScaler()).fit(renamed[columns], renamed["dose_class"])
    joblib.dump(linear, root / "models" / "linear.joblib")
    forest = _pipeline(RandomForestClassifier(15, max_depth=5, random_state=0),
                       ["cyp2c9", "race", "vkorc1"], "passthrough")
    forest.fit(members[[*NUMBERS, "vkorc1", "race", "cyp2c9"]], members["dose_class"])
    sio.dump(forest, root / "models" / "forest.skops")
    other = DecisionTreeClassifier(max_depth=3, random_state=0).fit(
        members[NUMBERS], members["dose_class"].map({"low": "L", "medium": "M", "high": "H"}))
    joblib.dump(other, root / "models" / "other_classes.joblib")
    strict = Pipeline([("prep", ColumnTransformer([  # raises on a genotype it never saw
        ("cat", OneHotEncoder(handle_unknown="error"), ["cyp2c9", "race", "vkorc1"]),
        ("num", "passthrough", NUMBERS)])), ("clf", DecisionTreeClassifier(max_depth=4))])
    seen = members[members.cyp2c9 != "*2/*2"]
    strict.fit(seen[[*NUMBERS, "vkorc1", "race", "cyp2c9"]], seen["dose_class"])
    assert "*2/*2" in set(members.cyp2c9) and "*2/*2" in set(non_members.cyp2c9)
    joblib.dump(strict, root / "models" / "strict.joblib")
    flavourless = root / "models" / "flavourless"
    flavourless.mkdir()
    (flavourless / "MLmodel").write_text("artifact_path: model\nflavors: {}\n")
    return root


ENTRIES: list[dict[str, Any]] = [
    {"name": "joblib-mapped", "model": "models/linear.joblib", "allow_pickle": True,
     "feature_map": {"vkorc1": "VKORC1"}, **FILES},
    {"name": "skops-trusted", "model": "models/forest.skops", "trust": True,
     "classes": ["high", "low", "medium"], **FILES},
    {"name": "member-column", "model": "models/forest.skops", "trust": True,
     "data_file": "data/marked.csv", "member_column": "in_training",
     "reference": FILES["reference"]},
    {"name": "map-missing", "model": "models/linear.joblib", "allow_pickle": True, **FILES},
    {"name": "wrong-class-order", "model": "models/forest.skops", "trust": True,
     "classes": ["low", "medium", "high"], **FILES},
    {"name": "other-classes", "model": "models/other_classes.joblib", "allow_pickle": True,
     **FILES},
    {"name": "raises", "model": "models/strict.joblib", "allow_pickle": True, **FILES},
    {"name": "no-flavour", "model": "models/flavourless", **FILES},
    {"name": "no-such-name", "model": "models:/nowhere/1", **FILES},
]


@pytest.fixture(scope="module")
def batch(folder: Path) -> Any:
    inventory = read_inventory(write_inventory(folder / "inventory.toml", ENTRIES, SETTINGS))
    with pytest.MonkeyPatch.context() as patch:  # an empty local registry
        patch.setenv("MLFLOW_TRACKING_URI", (folder / "mlruns").as_uri())
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        return inventory, run_batch(inventory, folder / "out")  # one local worker process


def test_item4_foreign_entries_run_and_bad_ones_fail_alone(batch: Any) -> None:
    """item 4 and item 6: models of any file kind run from an inventory; an entry whose
    model does not take the card's columns, has other classes, raises on records, is an
    MLflow directory without a flavour or a registry name that does not exist fails with
    one line, and the others succeed."""
    _, result = batch
    errors = dict(result.failures)
    assert set(errors) == {"map-missing", "wrong-class-order", "other-classes", "raises",
                           "no-flavour", "no-such-name"}, errors
    assert "linear.joblib does not fit the card of 'iwpc'" in errors["map-missing"]
    assert "'VKORC1' (rename with --feature-map" in errors["map-missing"]
    assert "not the entry's classes ['low', 'medium', 'high']" in errors["wrong-class-order"]
    assert "are not values of the label 'dose_class'" in errors["other-classes"]
    assert "strict.joblib failed on" in errors["raises"]
    assert "unknown categor" in errors["raises"]
    assert errors["no-such-name"].startswith("models:/nowhere/1: there is no MLflow "
                                             "registry at")
    if importlib.util.find_spec("tabinv.models.mlflowsrc") is not None:
        assert "flavourless" in errors["no-flavour"]
    for error in errors.values():
        assert "\n" not in error and "Traceback" not in error
    assert (result.succeeded, result.failed) == (3, 6)
    rows = result.summary
    failed = rows[rows.status == "failed"]
    assert set(failed.entry) == set(errors) and (failed.error != "").all()


def _direct(folder: Path, model_object: Any, feature_map: dict[str, str] | None
            ) -> Any:
    """The same attack on the same pipeline object, through the Python API."""
    from tabinv.core import ThreatModel, assess
    from tabinv.core.inputs import given_splits
    from tabinv.data.schema import read_card
    from tabinv.models.sources import open_model

    card = read_card(folder / "data" / "iwpc.toml").with_label("dose_class")
    given = given_splits(card, **{k: folder / v for k, v in FILES.items()})
    model = open_model(model_object, card=card, records=given.splits.members,
                       feature_map=feature_map)
    threat = ThreatModel(sensitive=("vkorc1",), attacks=("map",), priors=("marginal",),
                         n_boot=10, random_state=0)
    return assess(threat, given.dataset, model, splits=given.splits)


@pytest.mark.parametrize(("entry", "model", "feature_map"), [
    ("joblib-mapped", "linear.joblib", {"vkorc1": "VKORC1"}),
    ("skops-trusted", "forest.skops", None)])
def test_item4_results_equal_the_same_attack_on_the_pipeline(
        batch: Any, folder: Path, entry: str, model: str, feature_map: Any) -> None:
    """item 4: the inventory's files (members, non-members, reference) are the splits
    attacked, and the model is the owner's pipeline: same numbers as the Python API on the
    pipeline object itself."""
    _, result = batch
    path = folder / "models" / model
    loaded = joblib.load(path) if path.suffix == ".joblib" else sio.load(
        path, trusted=sio.get_untrusted_types(file=path))
    direct = _direct(folder, loaded, feature_map)
    rows = result.summary[result.summary.entry == entry]
    assert set(rows.population) == {"members", "non-members"}
    for row in rows.itertuples():
        expected = next(r for r in direct.results if r.key == row.attack
                        and r.population == row.population and r.sensitive == "vkorc1")
        assert row.n == expected.n == {"members": 450, "non-members": 225}[row.population]
        # the row is the strongest attack chosen out of fold, with its figures
        strongest = next(s for s in direct.strongest
                         if (s.leakage.sensitive, s.leakage.population)
                         == ("vkorc1", row.population))
        assert (strongest.leakage.method, strongest.leakage.variant) == (
            expected.method, expected.variant)
        assert row.attack_accuracy == pytest.approx(strongest.accuracy.value, abs=1e-12)
        assert row.attack_low == pytest.approx(strongest.accuracy.low, abs=1e-12)
        assert row.leakage == pytest.approx(strongest.leakage.estimate.value, abs=1e-12)
        if strongest.selection["folds"] == 1:  # a single attack: its own figures
            assert row.attack_accuracy == pytest.approx(
                expected.metrics["accuracy"].value, abs=1e-12)


def test_item4_member_column_equals_member_files(batch: Any) -> None:
    """item 4: one file with a member column gives the same splits as two files."""
    _, result = batch
    summary = result.summary.set_index(["entry", "population"])
    columns = ["n", "attack", "attack_accuracy", "attack_low", "attack_high",
               "baseline_imputation", "leakage"]
    pd.testing.assert_frame_equal(summary.loc["member-column", columns],
                                  summary.loc["skops-trusted", columns])


def test_item4_reports_name_the_reference_sample(batch: Any, folder: Path) -> None:
    import json

    report = json.loads((folder / "out" / "entries" / "skops-trusted" / "report.json"
                         ).read_text())
    assert report["dataset"]["reference_source"] == \
        "given (reference.csv)"
    markdown = (folder / "out" / "entries" / "skops-trusted" / "report.md").read_text()
    assert "the reference sample is given (reference.csv)" in markdown


# -- inventory check -------------------------------------------------------------------
def _problems(folder: Path, entries: list[dict[str, Any]],
              defaults: dict[str, Any] | None = None) -> list[str]:
    path = write_inventory(folder / "check.toml", entries, defaults or SETTINGS)
    with pytest.raises(InventoryError) as raised:
        read_inventory(path)
    return raised.value.problems


def test_item4_check_accepts_every_kind_without_loading(folder: Path, tmp_path: Path
                                                        ) -> None:
    """item 4: a registry URI is checked for its form only (no registry is configured
    here), an MLflow directory for its MLmodel file, and the model may come from
    [defaults]."""
    mlflow_dir = folder / "models" / "mlflow-model"
    mlflow_dir.mkdir(exist_ok=True)
    (mlflow_dir / "MLmodel").write_text("flavors: {}\n")
    entries = [{"name": "registry", "model": "models:/dose model/3", **FILES},
               {"name": "alias", "model": "models:/dose@champion", "allow_code": True,
                **FILES},
               {"name": "directory", "model": "models/mlflow-model", "allow_pickle": True,
                **FILES},
               {"name": "from-defaults", **FILES, "trust": True}]
    path = write_inventory(folder / "kinds.toml", entries,
                           {**SETTINGS, "model": "models/forest.skops"})
    registry, alias, directory, default = read_inventory(path).entries
    assert (registry.model, registry.format) == ("models:/dose model/3", "mlflow")
    assert alias.allow_code and directory.format == "mlflow"
    assert directory.model == mlflow_dir.resolve()
    assert default.model == (folder / "models" / "forest.skops").resolve()
    assert default.format == "skops" and default.given_membership


def test_item4_check_lists_every_problem(folder: Path) -> None:
    """item 4: model kinds, membership keys, feature maps, classes and opt-ins are
    validated before anything runs, every problem at once."""
    empty = folder / "models" / "not-mlflow"
    empty.mkdir(exist_ok=True)
    linked = folder / "models" / "linked-mlflow"
    linked.mkdir(exist_ok=True)
    (linked / "MLmodel").write_text("flavors: {}\n")
    if not (linked / "model.skops").is_symlink():
        (linked / "model.skops").symlink_to(folder / "models" / "forest.skops")
    base = {"model": "models/forest.skops", "trust": True}
    problems = _problems(folder, [
        {"name": "runs", "model": "runs:/abc/model", **FILES},
        {"name": "no-version", "model": "models:/dose", **FILES},
        {"name": "no-mlmodel", "model": "models/not-mlflow", **FILES},
        {"name": "link", "model": "models/linked-mlflow", **FILES},
        {"name": "folder-as-skops", "model": "models/linked-mlflow", "format": "skops",
         **FILES},
        {"name": "file-as-mlflow", **base, "format": "mlflow", **FILES},
        {"name": "half", **base, "members": FILES["members"]},
        {"name": "column-without-file", **base, "member_column": "in_training",
         "members": FILES["members"], "non_members": FILES["non_members"]},
        {"name": "column-builtin", **base, "data": "iwpc", "member_column": "m"},
        {"name": "files-and-data", **base, "data_file": "data/marked.csv", **FILES},
        {"name": "lone-reference", **base, "data": "iwpc",
         "reference": FILES["reference"]},
        {"name": "map-label", **base, "feature_map": {"dose_class": "y", "vkorc": "v"},
         **FILES},
        {"name": "map-twice", **base, "feature_map": {"age": "a", "race": "a"}, **FILES},
        {"name": "map-shape", **base, "feature_map": ["age=a"], **FILES},
        {"name": "classes", **base, "classes": ["low", "mid"], **FILES},
        {"name": "pickle-opt-in", "model": "models/linear.joblib", "trust": True,
         "allow_code": True, **FILES},
        {"name": "typo", **base, "member_colum": "x", **FILES},
    ], {**SETTINGS, "allow_code": True})
    expected = [
        "[defaults], key 'allow_code': must be set in each entry",
        "entry 'runs', key 'model': 'runs:/abc/model': tabinv reads model files, MLflow "
        "model directories and models:/ registry URIs, not runs: URIs",
        "entry 'no-version', key 'model': 'models:/dose' is not an MLflow registry URI tabinv "
        "reads",
        "entry 'no-mlmodel', key 'model': ",
        "entry 'link', key 'model': ",
        "entry 'folder-as-skops', key 'format': the model is a folder, an MLflow model",
        "entry 'folder-as-skops', key 'model': ",
        "entry 'file-as-mlflow', key 'format': 'mlflow' names an MLflow model directory",
        "entry 'half', key 'members': needs non_members too",
        "entry 'column-without-file', key 'member_column': marks the members inside "
        "data_file",
        "entry 'column-builtin', key 'member_column': needs data_file",
        "entry 'files-and-data', key 'members': members / non_members replace data and "
        "data_file, but data_file is set too",
        "entry 'lone-reference', key 'reference': applies with members / non_members or "
        "member_column",
        "entry 'map-label', key 'feature_map': 'dose_class' is the label",
        "entry 'map-label', key 'feature_map': 'vkorc' is not a column of the card "
        "(did you mean 'vkorc1'?)",
        "entry 'map-twice', key 'feature_map': feature map sends two card columns to model "
        "input(s) ['a']",
        "entry 'map-shape', key 'feature_map': expected a table of card column",
        "entry 'classes', key 'classes': 'mid' not in the domain of the label "
        "'dose_class' ('low', 'medium', 'high')",
        "entry 'pickle-opt-in', key 'format': a joblib file runs code when it is read",
        "entry 'pickle-opt-in', key 'trust': applies to format 'skops' or 'mlflow' only",
        "entry 'pickle-opt-in', key 'allow_code': applies to format 'mlflow' only",
        "entry 'typo': unknown key 'member_colum' (did you mean 'member_column'?)",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert len(problems) == len(expected), "\n".join(problems)
    by_entry = {p.split(",")[0]: p for p in problems}
    assert "without an MLmodel file" in by_entry["entry 'no-mlmodel'"]
    assert "model.skops links to" in by_entry["entry 'link'"]
    assert "outside the model directory" in by_entry["entry 'link'"]


def test_item4_check_command_runs_nothing(folder: Path, tmp_path: Path) -> None:
    """item 4: `tabinv inventory check` on a pickle and a registry URI loads neither
    (a registry URI is not even resolved; a pickle is not opened)."""
    from typer.testing import CliRunner

    from tabinv.cli.batch import inventory_app

    from . import make_marker_pickle

    marker = tmp_path / "ran.txt"
    make_marker_pickle(folder / "models" / "marker.pkl", marker)
    path = write_inventory(folder / "run-nothing.toml", [
        {"name": "pickle", "model": "models/marker.pkl", "allow_pickle": True, **FILES},
        {"name": "registry", "model": "models:/nowhere/1", **FILES}], SETTINGS)
    result = CliRunner().invoke(inventory_app, ["check", str(path)])
    assert result.exit_code == 0 and "2 entries, no problems" in result.output
    assert not marker.exists()


# -- keys ------------------------------------------------------------------------------
def _entry(model: Path | str) -> Entry:
    return Entry(name="k", model=model, format="mlflow", label="dose_class",
                 sensitive=(("vkorc1",),), data="iwpc")


def test_item4_keys_follow_model_bytes(folder: Path, tmp_path: Path) -> None:
    """item 4: an MLflow directory's key covers every file's bytes and relative path,
    not where the directory is."""
    one = tmp_path / "one" / "model"
    one.mkdir(parents=True)
    (one / "MLmodel").write_text("flavors:\n  sklearn: {serialization_format: skops}\n")
    (one / "sub").mkdir()
    shutil.copy(folder / "models" / "forest.skops", one / "sub" / "model.skops")
    two = tmp_path / "two" / "model"
    shutil.copytree(one, two)
    key = entry_key(_entry(one))
    assert entry_key(_entry(two)) == key
    with (two / "sub" / "model.skops").open("ab") as stream:
        stream.write(b"\0")
    assert entry_key(_entry(two)) != key
    shutil.rmtree(two)
    shutil.copytree(one, two)
    (two / "sub" / "model.skops").rename(two / "sub" / "other.skops")
    assert entry_key(_entry(two)) != key
    shutil.rmtree(two)
    shutil.copytree(one, two)
    (two / "notes.txt").write_text("")
    assert entry_key(_entry(two)) != key


def test_item4_registry_key_is_the_resolved_versions_files(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """item 4: a models:/ URI's key is the digest of the files of the version it resolves
    to (an alias moved to a new version changes it); a missing name is one line."""
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    from tabinv.exceptions import ModelError
    from tabinv.models.mlflowstore import model_digest as directory_digest

    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    versions = []
    for number in (1, 2):
        model = tmp_path / f"v{number}"
        model.mkdir()
        (model / "MLmodel").write_text("flavors: {}\n")
        (model / "model.bin").write_bytes(bytes([number]) * 10)
        versions.append(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's notices about its file store
        client = MlflowClient()
        client.create_registered_model("dose")
        for model in versions:
            client.create_model_version("dose", str(model))
        client.set_registered_model_alias("dose", "champion", "1")
    first, second = (directory_digest(v) for v in versions)
    assert first != second
    key_one, key_alias = entry_key(_entry("models:/dose/1")), entry_key(
        _entry("models:/dose@champion"))
    assert key_one == key_alias != entry_key(_entry("models:/dose/2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.set_registered_model_alias("dose", "champion", "2")
    assert entry_key(_entry("models:/dose@champion")) == entry_key(_entry("models:/dose/2"))
    with pytest.raises(ModelError, match=r"^models:/nowhere/1: the MLflow registry at .* "
                                         r"has no registered model 'nowhere'$"):
        entry_key(_entry("models:/nowhere/1"))
    with pytest.raises(ModelError, match="model 'dose' in the MLflow registry at .* has no "
                                         "alias 'nobody'"):
        entry_key(_entry("models:/dose@nobody"))



def test_item4_mlflow_entries_equal_the_skops_file(batch: Any, folder: Path,
                                                   tmp_path: Path) -> None:
    """item 4: the same pipeline as an MLflow model directory and as a registered version
    (models:/NAME@ALIAS) gives the numbers of its skops file."""
    pytest.importorskip("tabinv.models.mlflowsrc")
    pytest.importorskip("mlflow")
    import mlflow.sklearn
    from mlflow import MlflowClient

    skops_file = folder / "models" / "forest.skops"
    directory = tmp_path / "data" / "forest-mlflow"
    (tmp_path / "data").mkdir()
    for name in ("iwpc.toml", "members.csv", "non_members.csv", "reference.csv"):
        shutil.copy(folder / "data" / name, tmp_path / "data" / name)
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's notices about its file store
        patch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
        patch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.sklearn.save_model(sio.load(skops_file, trusted=sio.get_untrusted_types(
            file=skops_file)), directory, serialization_format="skops",
            skops_trusted_types=sio.get_untrusted_types(file=skops_file))
        client = MlflowClient()
        client.create_registered_model("forest")
        client.create_model_version("forest", str(directory))
        client.set_registered_model_alias("forest", "champion", "1")
        inventory = read_inventory(write_inventory(tmp_path / "inventory.toml", [
            {"name": "directory", "model": "data/forest-mlflow", "trust": True, **FILES},
            {"name": "registry", "model": "models:/forest@champion", "trust": True,
             **FILES}], SETTINGS))
        result = run_batch(inventory, tmp_path / "out")
    assert result.failures == (), result.failures
    summary = result.summary.set_index(["entry", "population"])
    columns = ["n", "attack", "attack_accuracy", "attack_low", "attack_high", "leakage"]
    expected = batch[1].summary.set_index(["entry", "population"]).loc["skops-trusted",
                                                                       columns]
    for entry in ("directory", "registry"):
        pd.testing.assert_frame_equal(summary.loc[entry, columns], expected)
