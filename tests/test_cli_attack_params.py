"""Item 2 of issue 12 on the command line: ``--attack-param ATTACK.KEY=VALUE`` reaches the
attack (recorded with it in the results) or is refused in one line, exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.cli.options import attack_params, parse_value
from tabinv.exceptions import TabinvError

runner = CliRunner()


def test_item2_attack_params_are_parsed_into_typed_values() -> None:
    assert attack_params(["csmia.smoothing=0.5", "map.confusion=row", "csmia.numeric_points=3",
                          "whitebox-tree.leaf_label=fractions", "map.flag=TRUE"]) == {
        "csmia": {"smoothing": 0.5, "numeric_points": 3},
        "map": {"confusion": "row", "flag": True},
        "whitebox-tree": {"leaf_label": "fractions"}}
    assert attack_params(None) == {}
    assert [parse_value(v) for v in ("-1", "1e3", "false", "a=b", "")] == [
        -1, 1000.0, False, "a=b", ""]
    for bad in ("csmia", "csmia=0.5", "smoothing=0.5", ".smoothing=1", "csmia.=1"):
        with pytest.raises(TabinvError, match="must be ATTACK.KEY=VALUE"):
            attack_params([bad])


@pytest.mark.parametrize(("args", "message"), [
    (["--attack-param", "map.smoothin=2"],
     "error: map has no parameter 'smoothin' (did you mean 'smoothing'?); it takes "
     "confusion, likelihood, numeric_points, smoothing"),
    (["--attack-param", "map.smoothing=-2"],
     "error: map: smoothing must be a float in [0, inf), got -2"),
    (["--attack-param", "map.confusion=column"],
     "error: map: confusion must be one of 'bayes', 'row', got 'column'"),
    (["--attack-param", "csmia.smoothing=2"],
     "error: parameters are given for attack 'csmia', which is not run (attacks: map)"),
    (["--attack-param", "map.memory=2"],
     "error: map: memory is not set per attack; it is the threat model's memory (--memory)"),
    (["--attack-param", "smoothing=2"],
     "error: --attack-param 'smoothing=2' must be ATTACK.KEY=VALUE (e.g. "
     "csmia.smoothing=0.5)"),
])
def test_item2_bad_attack_params_fail_in_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["assess", "-s", "vkorc1", *args])
    assert result.exit_code == 2
    assert result.output.strip() == message


def test_item2_assess_gives_the_params_to_the_attacks() -> None:
    result = runner.invoke(app, [
        "assess", "--model", "tree", "--label", "dose_class", "-s", "vkorc1", "-a", "map",
        "-a", "csmia", "--prior", "marginal", "--attack-param", "map.confusion=row",
        "--attack-param", "map.smoothing=3", "--attack-param", "csmia.numeric_points=2",
        "--json"])
    assert result.exit_code == 0, result.output
    attacks = json.loads(result.output)["assessments"][0]["threat"]["attacks"]
    assert {a["attack"]: a.get("parameters") for a in attacks} == {
        "map": {"confusion": "row", "smoothing": 3}, "csmia": {"numeric_points": 2}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trained")
    result = runner.invoke(app, ["train", "--dataset", "iwpc", "--model", "linear", "--out",
                                 str(folder / "linear.skops"), "--splits-out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def test_item2_attack_gives_the_params_to_the_attacks(trained: Path) -> None:
    common = ["attack", "--model", str(trained / "linear.skops"), "--data",
              str(trained / "non_members.csv"), "--reference", str(trained / "reference.csv"),
              "-s", "vkorc1", "--label", "dose", "--prior", "marginal"]
    result = runner.invoke(app, [*common, "--attack-param", "map.smoothing=0", "--json"])
    assert result.exit_code == 0, result.output
    [attack] = json.loads(result.output)["assessments"][0]["threat"]["attacks"]
    assert attack["parameters"] == {"smoothing": 0}
    refused = runner.invoke(app, [*common, "--attack-param", "map.numeric_points=0"])
    assert refused.exit_code == 2
    assert refused.output.strip() == ("error: map: numeric_points must be an int in [1, inf), "
                                      "got 0")


def test_item2_sweep_takes_attack_params_too() -> None:
    result = runner.invoke(app, ["sweep", "-s", "vkorc1", "--attack-param",
                                 "map.smoothing=-1"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: map: smoothing must be a float in [0, inf), got -1"
