"""Membership attacks in inventories (issue 18, item 3): ``membership_attacks`` and
``shadows`` keys run them on the entry's model, once per entry, into its reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tabinv.batch.executors import SerialExecutor
from tabinv.batch.inventory import read_inventory
from tabinv.batch.runner import run_batch
from tabinv.exceptions import TabinvError

from . import save, train, write_inventory


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("inventory")
    save(train("tree", "dose_class", seed=1, max_depth=5), folder / "tree.skops")
    inventory = write_inventory(folder / "inventory.toml", [
        {"name": "tree", "model": str(folder / "tree.skops"), "label": "dose_class",
         "seed": 1, "sensitive": [["vkorc1"], ["cyp2c9"]], "n_boot": 20,
         "attacks": ["map"], "priors": ["marginal"],
         "membership_attacks": ["loss", "rmia"], "shadows": 4}])
    out = tmp_path_factory.mktemp("out")
    return run_batch(read_inventory(inventory), out, executor=SerialExecutor())


def test_the_entry_report_holds_the_membership_attacks_once(run: Any) -> None:
    assert run.exit_code == 0, run.failures
    report = json.loads((run.out / "entries" / "tree" / "report.json").read_text())
    scenarios = report["assessments"]
    assert len(scenarios) == 2  # vkorc1, cyp2c9
    assert [m["attack"] for m in scenarios[0]["membership_inference"]] == ["loss", "rmia"]
    assert "membership_inference" not in scenarios[1]  # the model's, run once
    for entry in scenarios[0]["membership_inference"]:
        assert entry["n_shadows"] == (0 if entry["attack"] == "loss" else 4)
        assert entry["rating"] in ("leaks", "inconclusive", "no measurable leakage")


@pytest.mark.parametrize(("keys", "message"), [
    ({"membership_attacks": ["lira"]},
     "key 'membership_attacks': unknown membership attack 'lira'"),
    ({"membership_attacks": ["loss"], "shadows": 1}, "key 'shadows': expected an integer >= 2"),
    ({"shadows": 5000}, "key 'shadows': membership shadows must be an integer from 2 to "
     "1024, received 5000"),
])
def test_bad_membership_keys_are_named(tmp_path: Path, keys: dict, message: str) -> None:
    save(train("linear"), tmp_path / "linear.skops")
    inventory = write_inventory(tmp_path / "inventory.toml", [
        {"name": "linear", "model": str(tmp_path / "linear.skops"),
         "sensitive": ["vkorc1"], **keys}])
    with pytest.raises(TabinvError, match=message):
        read_inventory(inventory)


@pytest.mark.parametrize(("model", "keys", "message"), [
    ("tree", {"label": "dose_class", "access": "label-only", "membership_attacks": ["loss"]},
     "key 'membership_attacks': 'loss' reads the confidence of the true label; access = "
     "'label-only' answers labels only"),
    ("linear", {"membership_attacks": ["gap"]},
     r"key 'membership_attacks': gap read predicted labels; the label 'dose' is numeric \(a "
     "regression answers an output"),
])
def test_membership_attacks_that_do_not_fit_the_access_are_named(tmp_path: Path, model: str,
                                                                 keys: dict,
                                                                 message: str) -> None:
    label = keys.get("label")
    fitted = train("tree", "dose_class", max_depth=3) if label else train("linear")
    save(fitted, tmp_path / f"{model}.skops")
    inventory = write_inventory(tmp_path / "inventory.toml", [
        {"name": model, "model": str(tmp_path / f"{model}.skops"), "sensitive": ["vkorc1"],
         **keys}])
    with pytest.raises(TabinvError, match=message):
        read_inventory(inventory)
