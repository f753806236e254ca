"""Item 2 of issue 12 in inventories: ``attack_params = { csmia = { smoothing = 0.5 } }`` in
an entry or in [defaults] reaches the attacks, is part of the entry's key, and bad ones
are listed with the other problems before any work."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tabinv.batch.inventory import InventoryError, read_inventory
from tabinv.batch.runner import entry_key
from tabinv.batch.task import _threat

from . import FAST, save, train, write_inventory

DEFAULTS = {**FAST, "attacks": ["map", "csmia"], "label": "dose_class",
            "attack_params": {"csmia": {"smoothing": 0.5}}}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    return save(train("tree", "dose_class", max_depth=3), folder / "tree.skops")


def test_item2_attack_params_reach_the_specs(model: Path, tmp_path: Path) -> None:
    entries = [{"name": "a", "model": str(model)},
               {"name": "b", "model": str(model),
                "attack_params": {"map": {"confusion": "row", "numeric_points": 3}}}]
    path = write_inventory(tmp_path / "inventory.toml", entries, DEFAULTS)
    a, b = read_inventory(path, allow_paths=[model.parent]).entries
    assert a.attack_params == {"csmia": {"smoothing": 0.5}}
    assert b.attack_params == {"map": {"confusion": "row", "numeric_points": 3}}  # replaces
    specs = {s.name: dict(s.params) for s in _threat(a, a.sensitive[0]).specs()}
    assert specs == {"map": {}, "csmia": {"smoothing": 0.5}}
    specs = {s.name: dict(s.params) for s in _threat(b, b.sensitive[0]).specs()}
    assert specs == {"map": {"confusion": "row", "numeric_points": 3}, "csmia": {}}
    assert a.settings()["attack_params"] == {"csmia": {"smoothing": 0.5}}
    other = dataclasses.replace(a, attack_params={"csmia": {"smoothing": 0.25}})
    assert entry_key(other) != entry_key(a)
    assert entry_key(dataclasses.replace(a)) == entry_key(a)


def test_item2_bad_attack_params_are_listed_up_front(model: Path, tmp_path: Path) -> None:
    entries = [{"name": "kind", "model": str(model), "attack_params": {"csmia": 0.5}},
               {"name": "unknown", "model": str(model),
                "attack_params": {"csmia": {"smoothin": 0.5}}},
               {"name": "value", "model": str(model),
                "attack_params": {"csmia": {"smoothing": -1}}},
               {"name": "not-run", "model": str(model), "attacks": ["map"]},
               {"name": "shared", "model": str(model),
                "attack_params": {"map": {"random_state": 1}}}]
    path = write_inventory(tmp_path / "inventory.toml", entries, DEFAULTS)
    with pytest.raises(InventoryError) as error:
        read_inventory(path, allow_paths=[model.parent])
    assert error.value.problems == [
        "entry 'kind', key 'attack_params': expected a table per attack, e.g. "
        "{ csmia = { smoothing = 0.5 } }, got {'csmia': 0.5}",
        "entry 'unknown', key 'attack_params': csmia has no parameter 'smoothin' (did you "
        "mean 'smoothing'?); it takes numeric_points, smoothing",
        "entry 'value', key 'attack_params': csmia: smoothing must be a float in [0, inf), "
        "got -1",
        "entry 'not-run', key 'attack_params': parameters are given for attack 'csmia', "
        "which is not run (attacks: map)",
        "entry 'shared', key 'attack_params': map: random_state is not set per attack; it "
        "is the threat model's random_state (--seed, inventory seed)"]
