"""The command line, through Typer's runner: output contracts and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tabinv.cli import app

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_datasets_list_and_show():
    listed = run("datasets", "list")
    assert listed.exit_code == 0 and "iwpc" in listed.output
    shown = run("datasets", "show", "iwpc", "--json")
    card = json.loads(shown.output)
    assert card["label"] == "dose" and card["rows"] == 4162
    assert sum(step["dropped"] for step in card["cleaning"]) == 6256 - 4162


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("trained")
    result = run("train", "--dataset", "iwpc", "--model", "linear", "--out",
                 folder / "linear.skops", "--splits-out", folder)
    assert result.exit_code == 0, result.output
    # issue 14: the model's utility on the held-out non-members, next to training
    assert re.search(r"^utility on 1040 non-members: R\^2 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\], "
                     r"share dosed within 20% 0\.\d{3} ", result.output, re.MULTILINE)
    return folder


def test_train_writes_model_and_splits(trained):
    assert (trained / "linear.skops").is_file()
    sizes = {name: len(pd.read_csv(trained / f"{name}.csv"))
             for name in ("members", "non_members", "reference")}
    assert sizes == {"members": 2081, "non_members": 1040, "reference": 1041}


def test_attack_json_contract_and_records(trained, tmp_path):
    records = tmp_path / "records.csv"
    result = run("attack", "--model", trained / "linear.skops", "--data",
                 trained / "members.csv", "--reference", trained / "reference.csv",
                 "--sensitive", "vkorc1", "--label", "dose", "--population", "members",
                 "--records", records, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert {"dataset", "model", "results"} <= set(document)
    methods = {row["method"] for row in document["results"]}
    assert {"map", "prior-mode", "imputation"} <= methods
    for row in document["results"]:
        assert row["population"] == "members" and row["sensitive"] == "vkorc1"
        assert set(row["accuracy"]) == {"value", "low", "high"}
        assert row["accuracy"]["low"] <= row["accuracy"]["value"] <= row["accuracy"]["high"]
        assert "auc" in row and row["n"] == 2081 and row["label_source"] == "true"
    per_record = pd.read_csv(records)
    assert len(per_record) == 2081
    assert {"inferred_vkorc1", "p_vkorc1=A/G"} <= set(per_record.columns)
    # per-record values go only to --records, never to stdout
    assert "inferred_vkorc1" not in result.output


def test_attack_without_truth_or_reference_uses_published_marginals(trained, tmp_path):
    frame = pd.read_csv(trained / "non_members.csv").drop(columns=["vkorc1"])
    frame.to_csv(tmp_path / "unlabelled.csv", index=False)
    result = run("attack", "--model", trained / "linear.skops", "--data",
                 tmp_path / "unlabelled.csv", "--sensitive", "vkorc1", "--label", "dose",
                 "--records", tmp_path / "out.csv")
    assert result.exit_code == 0, result.output
    assert "no true values" in result.output
    assert len(pd.read_csv(tmp_path / "out.csv")) == len(frame)


def test_attack_with_prior_table(trained, tmp_path):
    table = pd.DataFrame({"race": ["White"] * 3 + ["Asian"] * 3 + ["Black"] * 3
                          + ["Unknown"] * 3,
                          "vkorc1": ["G/G", "A/G", "A/A"] * 4,
                          "probability": [0.37, 0.49, 0.14, 0.02, 0.16, 0.82,
                                          0.8, 0.18, 0.02, 0.42, 0.45, 0.13]})
    table.to_csv(tmp_path / "prior.csv", index=False)
    result = run("attack", "--model", trained / "linear.skops", "--data",
                 trained / "non_members.csv", "--sensitive", "vkorc1", "--label", "dose",
                 "--priors", tmp_path / "prior.csv", "--json")
    assert result.exit_code == 0, result.output
    accuracy = json.loads(result.output)["results"][0]["accuracy"]["value"]
    assert accuracy > 0.6  # a race-conditional prior lifts VKORC1 well above .56


def test_assess_json_members_and_non_members():
    result = run("assess", "--dataset", "iwpc", "--model", "linear", "--sensitive", "cyp2c9",
                 "--prior", "marginal", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]
    keys = {(r["method"], r["population"]) for r in rows}
    for method in ("map", "prior-mode", "imputation", "ideal"):
        assert {(method, "members"), (method, "non-members")} <= keys


def test_assess_summary_lines_show_the_rating_and_the_baseline():
    """issue 14: the terminal names each verdict's rating and the baseline it beat (or
    not), and the model's utility on non-members."""
    result = run("assess", "--dataset", "iwpc", "--model", "linear", "--sensitive", "cyp2c9",
                 "--prior", "marginal")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("- ")]
    assert re.match(r"- \[(leaks|inconclusive|no measurable leakage), over "
                    r"(prior-mode|imputation)\] \[cyp2c9 hidden\] On members, map ", lines[0])
    assert lines[-1].startswith("- model utility on 1040 non-members: R^2 ")


def test_assess_classifier_with_label_rule_and_predicted_labels():
    result = run("assess", "--dataset", "iwpc", "--model", "tree", "--label", "dose_class",
                 "--sensitive", "vkorc1", "--prior", "learned", "--label-source",
                 "predicted", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]
    assert {"label-rule"} <= {r["method"] for r in rows}
    assert all(r["label_source"] == "predicted" for r in rows)


@pytest.mark.slow
def test_demo_warfarin_reproduces_the_2014_figures():
    result = run("demo", "warfarin", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["results"]

    def acc(method, variant, hidden, sensitive, population="members"):
        [row] = [r for r in rows if (r["method"], r["variant"], tuple(r["hidden"]),
                                     r["sensitive"], r["population"])
                 == (method, variant, hidden, sensitive, population)]
        return row["accuracy"]["value"]

    one, both = ("vkorc1",), ("vkorc1", "cyp2c9")
    assert abs(acc("map", "marginal prior", one, "vkorc1") - 0.56) <= 0.03
    assert abs(acc("map", "marginal prior", both, "vkorc1") - 0.52) <= 0.03
    assert 0.33 <= acc("prior-mode", "", one, "vkorc1") <= 0.38
    assert 0.64 <= acc("ideal", "", one, "vkorc1") <= 0.72
    majority = acc("prior-mode", "", ("cyp2c9",), "cyp2c9")
    assert abs(acc("map", "marginal prior", ("cyp2c9",), "cyp2c9") - majority) <= 0.02
    assert 0.64 <= acc("map", "prior given race", one, "vkorc1") <= 0.70
    assert acc("map", "learned prior", one, "vkorc1") >= 0.64
    for variant in ("marginal prior", "learned prior"):
        gap = acc("map", variant, one, "vkorc1") - acc("map", variant, one, "vkorc1",
                                                       "non-members")
        assert abs(gap) <= 0.02
