"""Issue 13, items 2 and 6 at the command line and in the Python API: assess a model
tabinv did not train (a scikit-learn pipeline saved with skops or joblib, with its own
column names and order) on the owner's members, non-members and reference sample; a CSV
of one's own with a card drafted by ``tabinv card draft``; and bad models refused in one
line with exit code 2.

Every model is built here. The MAP attack's accuracy is checked against a brute-force
MAP that calls the pipeline itself on every candidate row of every record.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

import tabinv
from tabinv.cli import app
from tabinv.cli.render import FOLDER_REPORTS
from tabinv.core.inputs import load_dataset

runner = CliRunner()

#: the hospital's own names of the IWPC card's columns
RENAME = {"age": "AgeDecades", "height_cm": "Height", "weight_kg": "Weight", "race": "Race",
          "enzyme_inducer": "Inducer", "amiodarone": "Amio", "vkorc1": "VKORC1",
          "cyp2c9": "CYP2C9"}
FEATURE_MAP = [arg for card, model in RENAME.items()
               for arg in ("--feature-map", f"{card}={model}")]
CATEGORICAL = ["Race", "VKORC1", "CYP2C9"]
NUMERIC = ["Amio", "Inducer", "Weight", "Height", "AgeDecades"]  # not the card's order
BASELINES = {"prior-mode", "imputation", "ideal", "label-rule"}


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def fails_in_one_line(args: list[object], *fragments: str) -> str:
    """Exit code 2 and one line on stderr holding every fragment; no traceback."""
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def hospital_pipeline(final: object, handle_unknown: str = "ignore") -> Pipeline:
    prep = ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown=handle_unknown, sparse_output=False),
         CATEGORICAL),
        ("num", StandardScaler(), NUMERIC)])
    return Pipeline([("prep", prep), ("clf", final)])


def own_form(frame: pd.DataFrame) -> pd.DataFrame:
    """Records in the hospital's own column names and order."""
    return frame.rename(columns=RENAME)[NUMERIC + CATEGORICAL]


@pytest.fixture(scope="module")
def iwpc(tmp_path_factory) -> dict[str, object]:
    """IWPC records (1,200 of them) as a hospital has them: members, non-members and a
    reference sample as CSVs in the card's names, a card with label dose_class, a
    HistGradientBoosting pipeline saved with skops and a logistic one saved with joblib,
    both fitted on the members in the hospital's own column names."""
    folder = tmp_path_factory.mktemp("hospital")
    data = load_dataset("iwpc").with_label("dose_class")
    frame = data.frame.sample(n=1200, random_state=0).reset_index(drop=True)
    parts = {"members": frame.iloc[:600], "non_members": frame.iloc[600:900],
             "reference": frame.iloc[900:]}
    files = {}
    for name, part in parts.items():
        files[name] = folder / f"{name}.csv"
        part.to_csv(files[name], index=False)
    marked = pd.concat([parts["members"].assign(in_training="yes"),
                        parts["non_members"].assign(in_training="no")])
    files["marked"] = folder / "marked.csv"
    marked.sample(frac=1, random_state=1).to_csv(files["marked"], index=False)
    card = resources.files("tabinv._cards").joinpath("iwpc.toml").read_text("utf-8")
    files["card"] = folder / "hospital.toml"
    files["card"].write_text(card.replace('label = "dose"\ntarget_transform = "sqrt"\n',
                                          'label = "dose_class"\n'), "utf-8")
    members = parts["members"]
    forest = hospital_pipeline(HistGradientBoostingClassifier(max_iter=15, random_state=0))
    forest.fit(own_form(members), members["dose_class"])
    files["skops"] = folder / "pipe.skops"
    skops.io.dump(forest, files["skops"])
    logistic = hospital_pipeline(LogisticRegression(max_iter=1000))
    logistic.fit(own_form(members), members["dose_class"])
    files["joblib"] = folder / "pipe.joblib"
    joblib.dump(logistic, files["joblib"])
    return {"folder": folder, "parts": parts, "forest": forest, "logistic": logistic,
            **files}


def brute_force_map(predict_proba, records: pd.DataFrame, reference: pd.DataFrame,
                    sensitive: str, domain: list[object], label: str) -> np.ndarray:
    """The MAP guess of ``sensitive`` for each record, by asking the model about every
    candidate value: (reference count + 1) x p(true label | record with that value).
    The n x K candidate rows are asked in one call (each row's answer is its own)."""
    counts = reference[sensitive].value_counts()
    prior = np.array([counts.get(v, 0) + 1.0 for v in domain])
    rows = records.loc[records.index.repeat(len(domain))].reset_index(drop=True)
    rows[sensitive] = domain * len(records)
    probabilities, classes = predict_proba(rows)
    truth = [list(classes).index(v) for v in rows[label]]
    likelihood = probabilities[np.arange(len(rows)), truth].reshape(len(records), len(domain))
    return np.array(domain, dtype=object)[np.argmax(prior * likelihood, axis=1)]


def pipeline_proba(pipe: Pipeline, rename: dict[str, str] | None = None):
    def proba(rows: pd.DataFrame):
        own = own_form(rows) if rename else rows
        return pipe.predict_proba(own), pipe.classes_
    return proba


def results_of(document: dict) -> dict[tuple[str, str, str], dict]:
    return {(r["method"], r["variant"], r["population"]): r
            for r in document["results"] if r["sensitive"] == "vkorc1"}


def check_every_method(document: dict) -> None:
    """Every attack asked for has results on both populations or is listed as skipped
    with its reason; every baseline has results; every accuracy has its interval."""
    threat = document["assessments"][0]["threat"]
    ran = {a["attack"] for a in threat["attacks"]}
    skipped = {s.split(" ")[0] for s in threat["skipped"]}
    assert {"map", "confidence", "csmia", "lomia", "whitebox-tree",
            "whitebox-dt"} <= ran | skipped
    assert all(": " in s for s in threat["skipped"])
    methods = {(r["method"], r["population"]) for r in document["results"]}
    for method in ran | BASELINES:
        assert {(method, "members"), (method, "non-members")} <= methods, method
    for row in document["results"]:
        accuracy = row["accuracy"]
        assert accuracy["low"] <= accuracy["value"] <= accuracy["high"]


def test_item2_skops_pipeline_with_given_members(iwpc):
    """item 2: a skops pipeline tabinv did not train, with its own names (--feature-map),
    its members, non-members and reference: every attack and baseline with intervals,
    the reports in --out DIR; MAP equals a brute-force MAP over the pipeline itself."""
    args = ["assess", "--card", iwpc["card"], "--model", iwpc["skops"],
            "--members", iwpc["members"], "--non-members", iwpc["non_members"],
            "--reference", iwpc["reference"], "--sensitive", "vkorc1", *FEATURE_MAP,
            "--attack", "all"]
    refusal = fails_in_one_line(
        args, str(iwpc["skops"]),
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor", "--trust")
    assert refusal.index("TreePredictor") < refusal.index("--trust")
    out = iwpc["folder"] / "report"
    result = run(*args, "--trust", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FOLDER_REPORTS)
    document = json.loads((out / "result.json").read_text("utf-8"))
    check_every_method(document)
    facts = document["dataset"]
    assert facts["splits"] == {"members": 600, "non_members": 300, "reference": 300}
    assert facts["reference_source"] == "given (reference.csv)"
    model = document["model"]
    assert model["model_source"] == str(iwpc["skops"]) and model["reveals"] == "confidences"
    assert model["feature_map"] == RENAME
    markdown = (out / "report.md").read_text("utf-8")
    assert "the reference sample is given (reference.csv)" in markdown
    assert "HistGradientBoostingClassifier" in (out / "report.html").read_text("utf-8")
    members = iwpc["parts"]["members"]
    guesses = brute_force_map(pipeline_proba(iwpc["forest"], RENAME), members,
                              iwpc["parts"]["reference"], "vkorc1", ["G/G", "A/G", "A/A"],
                              "dose_class")
    expected = float(np.mean(guesses == members["vkorc1"].to_numpy(dtype=object)))
    measured = results_of(document)[("map", "marginal prior", "members")]
    assert measured["accuracy"]["value"] == pytest.approx(expected, abs=1e-12)


def test_item2_member_column_joblib_and_default_reference(iwpc):
    """item 2: one file whose column marks the members, a joblib pipeline (refused
    without --allow-pickle); without --reference half of the non-members become the
    reference sample, and the report says so."""
    args = ["assess", "--data", iwpc["marked"], "--member-column", "in_training",
            "--card", iwpc["card"], "--model", iwpc["joblib"], "--sensitive", "vkorc1",
            *FEATURE_MAP, "--json"]
    fails_in_one_line(args, str(iwpc["joblib"]), "--allow-pickle")
    result = run(*args, "--allow-pickle")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    facts = document["dataset"]
    assert facts["splits"] == {"members": 600, "non_members": 150, "reference": 150}
    assert "seeded half of the given non-members" in facts["reference_source"]
    rows = results_of(document)
    assert {("map", "marginal prior", "members"), ("imputation", "", "non-members"),
            ("ideal", "", "members")} <= set(rows)


def test_item2_python_api_equals_the_cli(iwpc):
    """item 2: the Python assess takes the same arguments (a loaded pipeline object,
    frames or files, the feature map) and gives the CLI's numbers;
    tabinv.load_dataset(path, card) reads an own file positionally."""
    out = iwpc["folder"] / "api-cli.json"
    result = run("assess", "--card", iwpc["card"], "--model", iwpc["joblib"],
                 "--allow-pickle", "--members", iwpc["members"], "--non-members",
                 iwpc["non_members"], "--reference", iwpc["reference"], "--sensitive",
                 "vkorc1", *FEATURE_MAP, "--out", out)
    assert result.exit_code == 0, result.output
    cli = results_of(json.loads(out.read_text("utf-8")))
    parts = iwpc["parts"]
    api = tabinv.assess(model=iwpc["logistic"], card=iwpc["card"], members=parts["members"],
                        non_members=parts["non_members"], reference=iwpc["reference"],
                        feature_map=RENAME, sensitive=["vkorc1"])
    assert api.dataset["reference_source"] == "given (reference.csv)"
    assert len(api.results) == len(cli)
    for row in api.results:
        if row.sensitive != "vkorc1":
            continue
        stored = cli[(row.method, row.variant, row.population)]
        for name in ("value", "low", "high"):
            assert getattr(row.metrics["accuracy"], name) == pytest.approx(
                stored["accuracy"][name], abs=1e-12)
    loaded = tabinv.load_dataset(iwpc["members"], iwpc["card"])
    assert loaded.n_rows == 600 and loaded.card.label == "dose_class"
    marked = tabinv.assess(iwpc["marked"], iwpc["joblib"], card=iwpc["card"],
                           member_column="in_training", allow_pickle=True,
                           feature_map=[f"{k}={v}" for k, v in RENAME.items()],
                           sensitive=["vkorc1"], n_boot=20)
    assert marked.dataset["splits"]["members"] == 600


def test_item2_attack_takes_a_foreign_model_with_its_card(iwpc):
    """item 2: tabinv attack opens a model it did not train with --card and
    --feature-map; without --card it says to give one."""
    args = ["attack", "--model", iwpc["skops"], "--trust", "--data", iwpc["non_members"],
            "--reference", iwpc["reference"], "--sensitive", "vkorc1", "--label",
            "dose_class"]
    fails_in_one_line(args, str(iwpc["skops"]), "--card")
    result = run(*args, "--card", iwpc["card"], *FEATURE_MAP, "--members", iwpc["members"],
                 "--population", "non-members", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["model"]["n_train"] == 600
    rows = results_of(document)
    assert {("map", "marginal prior", "non-members"), ("imputation", "", "non-members")
            } <= set(rows)
    non_members = iwpc["parts"]["non_members"]
    guesses = brute_force_map(pipeline_proba(iwpc["forest"], RENAME), non_members,
                              iwpc["parts"]["reference"], "vkorc1", ["G/G", "A/G", "A/A"],
                              "dose_class")
    expected = float(np.mean(guesses == non_members["vkorc1"].to_numpy(dtype=object)))
    measured = rows[("map", "marginal prior", "non-members")]["accuracy"]["value"]
    assert measured == pytest.approx(expected, abs=1e-12)


# -- a CSV of one's own, its card drafted by tabinv card draft ----------------------------
def clinic_table(n: int, seed: int) -> pd.DataFrame:
    """A generated clinic table: a genotype (sensitive) that, with BMI and smoking,
    drives the outcome a model predicts."""
    rng = np.random.default_rng(seed)
    genotype = rng.choice(["AA", "AB", "BB"], size=n, p=[0.5, 0.35, 0.15])
    bmi = np.round(rng.normal(27, 4, size=n), 1)
    smoker = rng.choice(["yes", "no"], size=n, p=[0.3, 0.7])
    region = rng.choice(["north", "south", "east", "west"], size=n)
    age = rng.integers(20, 80, size=n)
    score = (0.3 * (bmi - 27) + 1.2 * (genotype == "BB") + 0.6 * (genotype == "AB")
             + 0.8 * (smoker == "yes") + 0.02 * (age - 50) + rng.normal(0, 1, size=n))
    outcome = np.where(score > 0.8, "yes", "no")
    return pd.DataFrame({"age": age, "bmi": bmi, "smoker": smoker, "region": region,
                         "genotype": genotype, "outcome": outcome})


def test_item2_own_csv_with_drafted_card_end_to_end(tmp_path):
    """item 2 with item 3: a CSV of one's own, its card drafted by tabinv card draft, a
    pipeline trained on the members (card names), a member column; the report written,
    MAP equal to the brute-force MAP over the pipeline."""
    table = clinic_table(900, seed=3)
    table.to_csv(tmp_path / "clinic.csv", index=False)
    drafted = run("card", "draft", tmp_path / "clinic.csv", "--label", "outcome",
                  "--sensitive", "genotype", "--out", tmp_path / "clinic.toml")
    assert drafted.exit_code == 0, drafted.output
    members, non_members = table.iloc[:500], table.iloc[500:]
    pipe = Pipeline([("prep", ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["smoker", "region", "genotype"]),
        ("num", StandardScaler(), ["age", "bmi"])])),
        ("clf", LogisticRegression(max_iter=1000))])
    pipe.fit(members.drop(columns="outcome"), members["outcome"])
    skops.io.dump(pipe, tmp_path / "clinic.skops")
    marked = table.assign(trained_on=["member"] * 500 + ["non-member"] * 400)
    marked.to_csv(tmp_path / "marked.csv", index=False)
    out = tmp_path / "clinic-report"
    result = run("assess", "--data", tmp_path / "marked.csv", "--member-column", "trained_on",
                 "--card", tmp_path / "clinic.toml", "--model", tmp_path / "clinic.skops",
                 "--sensitive", "genotype", "--out", out)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "result.json").read_text("utf-8"))
    assert document["dataset"]["splits"] == {"members": 500, "non_members": 200,
                                             "reference": 200}
    assert "genotype" in (out / "report.md").read_text("utf-8")
    reference = json.loads((out / "result.json").read_text("utf-8"))
    rows = {(r["method"], r["variant"], r["population"]): r for r in reference["results"]}
    assert {("prior-mode", "", "members"), ("imputation", "", "non-members")} <= set(rows)
    # the reference sample is the seeded half of the non-members: rebuild it
    order = np.random.default_rng(0).permutation(400)
    ref_rows = non_members.iloc[np.sort(order[:200])]
    guesses = brute_force_map(lambda rows: (pipe.predict_proba(rows.drop(columns="outcome")),
                                            pipe.classes_),
                              members, ref_rows, "genotype", ["AA", "AB", "BB"], "outcome")
    expected = float(np.mean(guesses == members["genotype"].to_numpy(dtype=object)))
    measured = rows[("map", "marginal prior", "members")]["accuracy"]["value"]
    assert measured == pytest.approx(expected, abs=1e-12)


# -- item 6: bad models, one line, exit 2 ---------------------------------------------------
def given_args(iwpc: dict, model: Path, *extra: object) -> list[object]:
    return ["assess", "--card", iwpc["card"], "--model", model, "--members", iwpc["members"],
            "--non-members", iwpc["non_members"], "--sensitive", "vkorc1", *extra]


def test_item6_model_that_cannot_take_the_cards_columns(iwpc):
    line = fails_in_one_line(given_args(iwpc, iwpc["skops"], "--trust"), str(iwpc["skops"]),
                             "the card does not describe", "AgeDecades", "--feature-map")
    assert "VKORC1" in line
    fails_in_one_line(given_args(iwpc, iwpc["skops"], "--trust", *FEATURE_MAP,
                                 "--feature-map", "dose=Dose"),
                      "inputs the model does not take", "dose=Dose")


def test_item6_wrong_output_shape_and_classes_outside_the_label(iwpc, tmp_path):
    members = iwpc["parts"]["members"]
    shape = hospital_pipeline(LogisticRegression(max_iter=300)).fit(
        own_form(members), members["dose_class"])
    shape.steps[-1][1].classes_ = shape.steps[-1][1].classes_[:2]  # 3 probability columns
    skops.io.dump(shape, tmp_path / "shape.skops")
    fails_in_one_line(given_args(iwpc, tmp_path / "shape.skops", *FEATURE_MAP),
                      "shape.skops", "probabilities of shape (600, 3)", "(600, 2)")
    coded = members["dose_class"].map({"low": "L", "medium": "M", "high": "H"})
    classes = hospital_pipeline(LogisticRegression(max_iter=300)).fit(own_form(members), coded)
    skops.io.dump(classes, tmp_path / "classes.skops")
    fails_in_one_line(given_args(iwpc, tmp_path / "classes.skops", *FEATURE_MAP),
                      "classes.skops", "are not values of the label", "dose_class")


def test_item6_model_that_raises_on_some_records(iwpc, tmp_path):
    """The encoder never saw genotype A/A and raises on it: the members it was fitted on
    lack A/A, so it fails only when the attack asks about an A/A candidate."""
    members = iwpc["parts"]["members"]
    members = members[members["vkorc1"] != "A/A"]
    members.to_csv(tmp_path / "members.csv", index=False)
    pipe = hospital_pipeline(LogisticRegression(max_iter=300), handle_unknown="error")
    pipe.fit(own_form(members), members["dose_class"])
    skops.io.dump(pipe, tmp_path / "strict.skops")
    args = given_args(iwpc, tmp_path / "strict.skops", *FEATURE_MAP)
    args[args.index("--members") + 1] = tmp_path / "members.csv"
    fails_in_one_line(args, "strict.skops", "failed on", "unknown categories")


def test_item6_unknown_family_missing_file(iwpc):
    fails_in_one_line(given_args(iwpc, "forrest"), "'forrest'", "neither a model family",
                      "forest")
    fails_in_one_line(given_args(iwpc, iwpc["folder"] / "absent.skops"), "absent.skops",
                      "does not exist")
    fails_in_one_line(["assess", "--data", iwpc["members"], "--card", iwpc["card"],
                       "--model", iwpc["skops"], "--sensitive", "vkorc1"],
                      "pipe.skops", "--members", "--member-column")


def test_item6_mlflow_directory_without_a_supported_flavour(iwpc, tmp_path):
    pytest.importorskip("tabinv.models.mlflowsrc")
    directory = tmp_path / "h2o_model"
    directory.mkdir()
    (directory / "MLmodel").write_text("artifact_path: model\nflavors:\n  h2o:\n"
                                       "    data: model.h2o\n", "utf-8")
    fails_in_one_line(given_args(iwpc, directory), "h2o_model", "h2o")


def test_item6_registry_name_that_does_not_exist(iwpc, tmp_path, monkeypatch):
    pytest.importorskip("tabinv.models.mlflowsrc")
    pytest.importorskip("mlflow")
    store = tmp_path / "mlruns"
    store.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", store.as_uri())
    fails_in_one_line(given_args(iwpc, "models:/no_such_model/1"), "no_such_model")


def test_item2_family_name_trains_on_the_given_members(iwpc):
    """item 2: given a family name instead of a model, tabinv trains one on the given
    members (and on a split of --data --card without them, as before)."""
    result = run("assess", "--card", iwpc["card"], "--model", "logistic", "--members",
                 iwpc["members"], "--non-members", iwpc["non_members"], "--sensitive",
                 "vkorc1", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["model"]["family"] == "logistic" and document["model"]["n_train"] == 600
    assert "seeded half" in document["dataset"]["reference_source"]
    split = run("assess", "--data", iwpc["members"], "--card", iwpc["card"], "--model",
                "logistic", "--sensitive", "vkorc1", "--json")
    assert split.exit_code == 0, split.output
    facts = json.loads(split.stdout)["dataset"]
    assert sum(facts["splits"].values()) == 600 and "reference_source" not in facts
