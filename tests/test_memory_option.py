"""``--memory``: sizes are parsed with their units and reach the attacks' chunking."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from tabinv import api
from tabinv.cli import app
from tabinv.exceptions import TabinvError
from tabinv.utils import parse_bytes


@pytest.mark.parametrize(("text", "size"), [
    ("1GiB", 2**30), ("512MiB", 512 * 2**20), ("2GB", 2 * 10**9), ("1.5g", 1_500_000_000),
    ("4096", 4096), (" 64 kib ", 65_536)])
def test_sizes_with_units(text: str, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("text", ["", "GiB", "1 parsec", "-5MiB", "0.1"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(TabinvError, match="size"):
        parse_bytes(text)


def test_the_budget_reaches_the_attacks(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen["memory"] = kwargs.get("memory")
        raise TabinvError("stop here")

    monkeypatch.setattr(api, "assess", spy)
    result = CliRunner().invoke(app, ["assess", "--sensitive", "vkorc1", "--memory", "256MiB"])
    assert result.exit_code == 2
    assert seen["memory"] == 256 * 2**20
    CliRunner().invoke(app, ["assess", "--sensitive", "vkorc1"])
    assert seen["memory"] == 2**30  # the default budget: 1 GiB
