"""Issue 15 item 4 in one run: ``tabinv attack|assess --endpoint`` against the fake
endpoint (fakeendpoint.py), the dry run, the budget, and the token never printed."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from typer.testing import CliRunner

from tabinv.cli import app

from .fakeendpoint import Faults
from .test_endpoint import TOKEN, serve, world  # noqa: F401  (the module's fixture)

runner = CliRunner()


@pytest.fixture(scope="module")
def files(world, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("endpoint")
    paths = {}
    for name in ("members", "non_members", "reference"):
        paths[name] = folder / f"{name}.csv"
        getattr(world["splits"], name).head(60 if name == "non_members" else None).to_csv(
            paths[name], index=False)
    card = resources.files("tabinv._cards").joinpath("iwpc.toml").read_text("utf-8")
    paths["card"] = folder / "card.toml"
    paths["card"].write_text(card.replace('label = "dose"\ntarget_transform = "sqrt"\n',
                                          'label = "dose_class"\n'), "utf-8")
    return paths


def attack_args(url, files, *extra):
    return ["attack", "--endpoint", url, "--card", str(files["card"]),
            "--data", str(files["non_members"]), "--members", str(files["members"]),
            "--reference", str(files["reference"]), "--sensitive", "vkorc1",
            "--label", "dose_class", "--attack", "map", *extra]


def test_cli_attack_endpoint_with_token_and_json(world, files, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("TABINV_ENDPOINT_TOKEN", TOKEN)
    with serve(world, Faults(decimals=2)) as fake:
        result = runner.invoke(app, attack_args(fake.url, files, "--auth-env",
                                                "TABINV_ENDPOINT_TOKEN", "--json"))
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output and TOKEN not in result.stderr
    document = json.loads(result.stdout)
    threat = document["assessments"][0]["threat"]
    assert threat["access"] == "rounded" and threat["rounding"] == 2
    assert threat["queries"]["attacks"][0]["records"] == 60
    assert TOKEN not in json.dumps(document)
    assert all(seen["Authorization"] == f"Bearer {TOKEN}" for seen in fake.faults.seen)


def test_cli_dry_run_sends_nothing(world, files) -> None:  # noqa: F811
    with serve(world) as fake:
        result = runner.invoke(app, attack_args(fake.url, files, "--dry-run",
                                                "--batch-rows", "100"))
    assert result.exit_code == 0, result.output
    assert fake.faults.requests == 0
    assert "dry run: nothing was sent" in result.stdout
    assert "map (marginal prior) on given: 60 of 60 records" in result.stdout


def test_cli_budget_reports_partial(world, files) -> None:  # noqa: F811
    with serve(world) as fake:
        result = runner.invoke(app, attack_args(fake.url, files, "--max-queries", "400",
                                                "--json"))
    assert result.exit_code == 0, result.output
    threat = json.loads(result.stdout)["assessments"][0]["threat"]
    assert threat["queries"]["total"]["rows"] <= 400
    assert threat["queries"]["not_done"]
    assert sum(fake.faults.rows) <= 400


@pytest.mark.parametrize(("extra", "message"), [
    (["--model", "x.skops"], "not both"),
    (["--auth-env", "NOT_SET_ANYWHERE_15"], "NOT_SET_ANYWHERE_15"),
])
def test_cli_refusals(world, files, extra, message) -> None:  # noqa: F811
    result = runner.invoke(app, attack_args("http://127.0.0.1:9", files, *extra))
    assert result.exit_code != 0 and message in result.output


def test_cli_endpoint_options_need_an_endpoint(files) -> None:
    result = runner.invoke(app, ["attack", "--model", "m.skops", "--data", "x.csv",
                                 "--sensitive", "vkorc1", "--label", "dose_class",
                                 "--max-queries", "5"])
    assert result.exit_code != 0 and "--endpoint" in result.output


def test_report_states_detected_access_and_cost(world, files, tmp_path) -> None:  # noqa: F811
    with serve(world, Faults(labels=True)) as fake:
        result = runner.invoke(app, attack_args(fake.url, files, "--out",
                                                str(tmp_path / "report.md")))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "report.md").read_text("utf-8")
    assert "measured to reveal labels only" in text
    assert "Queries to the endpoint" in text and "rows per record" in text


def test_cli_assess_endpoint_members_and_non_members(world, files) -> None:  # noqa: F811
    with serve(world) as fake:
        result = runner.invoke(app, [
            "assess", "--endpoint", fake.url, "--card", str(files["card"]),
            "--members", str(files["members"]), "--non-members", str(files["non_members"]),
            "--reference", str(files["reference"]), "--sensitive", "vkorc1",
            "--attack", "map", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    queries = document["assessments"][0]["threat"]["queries"]
    populations = {e["population"] for e in queries["attacks"]}
    assert populations == {"members", "non-members"}
    # the model's utility on non-members is measured after the attacks, and counted
    assert queries["total"]["requests"] == fake.faults.requests
    assert queries["utility"]["rows"] == 60
    from tabinv.schemas import validate

    validate(document)
    assert document["assessments"][0]["membership"]  # both populations complete: paired


def test_cli_label_only_endpoint_skips_attacks_needing_more(world, files) -> None:  # noqa: F811
    with serve(world, Faults(labels=True)) as fake:
        result = runner.invoke(app, attack_args(fake.url, files)[:-1] + ["all", "--json"])
    assert result.exit_code == 0, result.output
    threat = json.loads(result.stdout)["assessments"][0]["threat"]
    assert threat["access"] == "label-only"
    assert threat["queries"]["detected_access"]["answers"] == "labels"
    assert any(item.startswith("confidence (marginal prior): attack 'confidence' needs "
                               "'confidence' answers") for item in threat["skipped"])
    assert "lomia" in {a["attack"] for a in threat["attacks"]}  # label-only attacks ran
    assert fake.faults.requests > 0
