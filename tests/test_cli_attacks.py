"""CLI options of the classifier attacks: --attack, defences, positive-value metrics, --out."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

import tabinv
from tabinv.cli import app

runner = CliRunner()


def run_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # skipped attacks are listed on stderr


def test_all_attacks_with_positive_value_metrics():
    document = run_json("assess", "--model", "tree", "--label", "dose_class", "-s", "vkorc1",
                        "--attack", "all", "--prior", "marginal", "--positive",
                        "vkorc1=A/A", "--top-k", "50", "--min-cell", "0")  # every count
    methods = {row["method"] for row in document["results"]}
    assert {"map", "confidence", "csmia", "lomia"} <= methods
    for row in document["results"]:
        for metric in ("precision", "recall", "f1", "g_mean", "mcc", "fpr",
                       "top_50_precision"):
            assert metric in row, (row["method"], metric)
        assert sum(map(sum, row["confusion"])) == row["n"]


def test_label_only_defence_restricts_the_attacks():
    document = run_json("assess", "--model", "logistic", "--label", "dose_class", "-s",
                        "vkorc1", "--attack", "all", "--label-only", "--prior", "marginal")
    methods = {row["method"] for row in document["results"]}
    assert "lomia" in methods and "map" in methods
    assert "csmia" not in methods and "confidence" not in methods
    skipped = " ".join(document["assessments"][0]["threat"]["skipped"])
    assert "csmia" in skipped and "'confidence' answers" in skipped


def confidence_accuracy_by_brute_force(rounding: int | None) -> float:
    """Members' accuracy of the confidence attack on VKORC1 against the forest the CLI
    trains (seed 0, the default split), from the brute-force reference of MAP inversion:
    every candidate genotype asked of the model one record at a time, its confidences
    rounded to ``rounding`` decimals, times the marginal prior of the reference sample."""
    from attacks.reference import brute_force_map

    from tabinv.data.registry import load_builtin
    from tabinv.data.splits import split_dataset
    from tabinv.models.families import make_model

    data = load_builtin("iwpc")
    splits = split_dataset(data.frame, random_state=0)
    model = make_model("forest", data.card.with_label("dose_class"), random_state=0).fit(
        splits.members)
    posterior = brute_force_map(model, splits.members, sensitive=["vkorc1"],
                                known=[f for f in model.features if f != "vkorc1"],
                                reference=splits.reference, access="confidence",
                                rounding=rounding, prior="marginal")
    domain = list(model.card["columns"]["vkorc1"]["domain"])
    guesses = [domain[i] for i in posterior.argmax(axis=1)]
    return float((pd.Series(guesses) == splits.members["vkorc1"].to_numpy()).mean())


def test_rounding_is_recorded_and_applied():
    """item 6: --rounding 0 is recorded in the threat, and the attack's accuracy is the
    one of the brute-force reference on rounded confidences (without it: on exact ones;
    the two differ on this forest)."""
    args = ("assess", "--model", "forest", "--label", "dose_class", "-s", "vkorc1",
            "--attack", "confidence", "--prior", "marginal")
    rounded = run_json(*args, "--rounding", "0")
    threat = rounded["assessments"][0]["threat"]
    assert threat["rounding"] == 0 and threat["access"] == "rounded"
    exact = run_json(*args)
    assert exact["assessments"][0]["threat"]["rounding"] is None
    assert exact["assessments"][0]["threat"]["access"] == "confidences"

    def accuracy(document):
        [value] = [r["accuracy"]["value"] for r in document["results"]
                   if r["method"] == "confidence" and r["population"] == "members"]
        return value

    expected = {0: confidence_accuracy_by_brute_force(0),
                None: confidence_accuracy_by_brute_force(None)}
    assert expected[0] != expected[None]  # the case can tell them apart
    assert accuracy(rounded) == pytest.approx(expected[0], abs=1e-12)
    assert accuracy(exact) == pytest.approx(expected[None], abs=1e-12)


def test_explicit_attack_that_does_not_apply_fails_clearly():
    result = runner.invoke(app, ["assess", "-s", "vkorc1", "--attack", "csmia"])
    assert result.exit_code == 2
    assert "csmia" in result.output and "'output'" in result.output
    result = runner.invoke(app, ["assess", "-s", "vkorc1", "--rounding", "2"])
    assert result.exit_code == 2 and "regression" in result.output
    result = runner.invoke(app, ["assess", "-s", "vkorc1", "--positive", "vkorc1"])
    assert result.exit_code == 2 and "COLUMN=VALUE" in result.output
    result = runner.invoke(app, ["assess", "-s", "vkorc1", "--positive", "vkorc1=X/X"])
    assert result.exit_code == 2 and "X/X" in result.output


def test_markdown_report_file(tmp_path, monkeypatch):
    """item 6: --out report.md writes the Markdown report: its title, the command line it
    was given, and the baseline rows with the numbers of the --json document."""
    path = tmp_path / "report.md"
    args = ["assess", "-s", "cyp2c9", "--prior", "marginal", "--json", "--out", str(path)]
    monkeypatch.setattr(sys, "argv", ["tabinv", *args])  # as a shell would start it
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    lines = path.read_text().splitlines()
    assert lines[0] == "# tabinv report: iwpc, linear model"
    assert lines[2] == "## Summary"  # the summary box first, then the command
    assert (f"*Generated by `tabinv assess -s cyp2c9 --prior marginal --json "
            f"--out {path}` (tabinv {tabinv.__version__}).*") in lines

    def cell(method, population):
        [row] = [r for r in document["results"]
                 if (r["method"], r["population"]) == (method, population)]
        a = row["accuracy"]
        return f"{a['value']:.3f} \\[{a['low']:.3f}, {a['high']:.3f}\\]"

    for baseline in ("prior-mode", "imputation"):
        row = f"| cyp2c9 | {baseline} | baseline | {cell(baseline, 'members')} |"
        assert sum(line.startswith(row) for line in lines) == 1, row
        assert f"| {cell(baseline, 'non-members')} |" in next(
            line for line in lines if line.startswith(row))


def test_genomic_attacker_who_knows_only_covariates():
    document = run_json("assess", "--dataset", "genomic", "--people", "300", "--snps", "60",
                        "--model", "xgboost", "-s", "snp_00010", "--known", "age", "--known",
                        "sex", "--known", "ancestry", "--attack", "map", "--attack",
                        "whitebox-tree", "--prior", "marginal")
    threat = document["assessments"][0]["threat"]
    assert threat["known"] == ["age", "sex", "ancestry"] and len(threat["unknown"]) == 59
    assert {"map", "whitebox-tree", "imputation"} <= {r["method"] for r in document["results"]}


def test_no_shortcuts_queries_the_model_with_the_same_results():
    """--no-shortcuts makes MAP query the forest on every grid row instead of walking its
    trees: the threat records it, and every number is the same."""
    args = ("assess", "--model", "forest", "--label", "dose_class", "-s", "vkorc1",
            "--attack", "map", "--prior", "marginal")
    walked = run_json(*args)
    queried = run_json(*args, "--no-shortcuts")
    assert walked["assessments"][0]["threat"]["shortcuts"] is True
    assert queried["assessments"][0]["threat"]["shortcuts"] is False
    assert walked["results"] == queried["results"]
