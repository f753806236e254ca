"""The package layout and the install metadata agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tabinv

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    on_disk = {"tabinv." + ".".join(p.parent.relative_to(ROOT / "tabinv").parts)
               for p in (ROOT / "tabinv").rglob("__init__.py")}
    on_disk = {name.rstrip(".") for name in on_disk} | {"tabinv._cards"}
    assert on_disk == listed


def test_cards_ship_inside_the_package():
    from importlib import resources

    names = {p.name for p in resources.files("tabinv._cards").iterdir()}
    assert "iwpc.toml" in names


def test_public_names():
    for name in tabinv.__all__:
        assert hasattr(tabinv, name)
