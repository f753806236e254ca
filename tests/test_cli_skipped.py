"""``--attack all`` names the attacks it skipped, and why, in the terminal too: below the
tables, or on stderr when stdout carries JSON or Markdown."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.cli.render import show_skipped, skipped_lines

runner = CliRunner()

ASSESS = ("assess", "--model", "logistic", "--label", "dose_class", "-s", "vkorc1",
          "--attack", "all", "--prior", "marginal", "--label-only")


def run(*args: object):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def skipped_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("- skipped ")]


@pytest.fixture(scope="module")
def table_run():
    return run(*ASSESS)


def test_the_table_lists_every_skipped_attack_with_its_reason(table_run):
    lines = skipped_in(table_run.stdout)
    # label-only access: the confidence attacks and the white-box attacks cannot run
    assert [line.split(":")[0] for line in lines] == [
        "- skipped confidence (marginal prior)",
        "- skipped confidence (marginal prior, calibrated likelihood)", "- skipped csmia",
        "- skipped whitebox-dt (marginal prior)", "- skipped whitebox-tree (marginal prior)"]
    assert "needs 'confidence' answers, but access 'label-only'" in lines[0]
    assert "needs 'confidence' answers, but access 'label-only'" in lines[1]
    assert "needs white-box access (the model file)" in lines[3]
    assert not skipped_in(table_run.stderr)
    # below the verdicts, after the table
    assert table_run.stdout.index("- skipped ") > table_run.stdout.index("imputation")


def test_json_stdout_stays_json_and_the_list_goes_to_stderr(table_run):
    result = run(*ASSESS, "--json")
    document = json.loads(result.stdout)  # nothing else on stdout
    recorded = document["assessments"][0]["threat"]["skipped"]
    assert [f"- skipped {item}" for item in recorded] == skipped_in(result.stderr)
    assert skipped_in(result.stderr) == skipped_in(table_run.stdout)


def test_markdown_stdout_has_no_skipped_line():
    result = run(*ASSESS, "--markdown")
    assert result.stdout.lstrip().startswith("|") and not skipped_in(result.stdout)
    assert len(skipped_in(result.stderr)) == 5


def test_nothing_skipped_prints_no_line():
    result = run("assess", "--model", "logistic", "--label", "dose_class", "-s", "vkorc1",
                 "--attack", "map", "--prior", "marginal")
    assert "skipped" not in result.output


def test_attack_without_true_values_still_lists_them(tmp_path):
    folder = tmp_path
    run("train", "--dataset", "iwpc", "--model", "logistic", "--label", "dose_class",
        "--out", folder / "model.skops", "--splits-out", folder)
    frame = pd.read_csv(folder / "non_members.csv").drop(columns=["vkorc1"])
    frame.to_csv(tmp_path / "unlabelled.csv", index=False)
    result = run("attack", "--model", folder / "model.skops", "--data",
                 tmp_path / "unlabelled.csv", "--reference", folder / "reference.csv",
                 "--sensitive", "vkorc1", "--label", "dose_class", "--attack", "all",
                 "--prior", "marginal")
    assert "no true values" in result.stdout
    lines = skipped_in(result.stdout)
    assert lines and all("whitebox" in line for line in lines), lines
    assert "LogisticRegression is not one" in lines[0]


def test_several_assessments_name_the_hidden_attribute_and_each_line_is_one_line(capsys):
    hostile = "csmia: column 'a\x1b[31m\nb' is \r odd"
    document = {"assessments": [
        {"threat": {"sensitive": ["vkorc1"], "skipped": [hostile, "lomia: no"]}},
        {"threat": {"sensitive": ["cyp2c9", "vkorc1"], "skipped": ["lomia: no"]}},
        {"threat": {"sensitive": ["cyp2c9", "vkorc1"], "skipped": ["lomia: no"]}}]}
    assert skipped_lines(document) == [
        f"skipped [vkorc1 hidden] {hostile}", "skipped [vkorc1 hidden] lomia: no",
        "skipped [cyp2c9 + vkorc1 hidden] lomia: no"]
    assert skipped_lines({"assessments": [document["assessments"][1]]}) == [
        "skipped lomia: no"]
    show_skipped(document, machine_output=True)
    printed = capsys.readouterr()
    assert printed.out == ""
    lines = printed.err.splitlines()
    assert len(lines) == 3 and "\x1b" not in printed.err and "\r" not in printed.err
    assert "a\\x1b[31m\\nb" in lines[0]
