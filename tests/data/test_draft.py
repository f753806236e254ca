"""Issue 13, item 3 (first part): ``tabinv card draft`` writes a card from a data file;
bounds taken from the data are marked and refused by differentially private training."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.data.draft import draft_card, write_card
from tabinv.data.schema import read_card
from tabinv.data.tables import load_table
from tabinv.exceptions import CardError, ColumnError, TabinvError
from tabinv.models.dp import dp_model

HOSTILE = ['a "quoted" value', "line\nbreak", "tab\there", "del\x7f", "ünïcödé 😀",
           "[columns.x]", "= 1"]


@pytest.fixture()
def table(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "weight": rng.normal(75, 12, n).round(1),
        "smoker": rng.choice([True, False], n),
        "gene": rng.choice(["A/A", "A/G", "G/G"], n),
        "note": rng.choice(HOSTILE, n),
        "children": rng.integers(0, 4, n),
        "dose": rng.normal(30, 5, n).round(2),
    })
    path = tmp_path / "patients.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_draft_describes_the_data_and_reads_it_back(table: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(table)
    card = draft_card(frame, name="patients", label="dose", sensitive=["gene"],
                      origin=table.name)
    written = write_card(card, tmp_path / "patients.toml")
    assert tomllib.loads(written.read_text("utf-8")) == card
    parsed = read_card(written)
    kinds = {c.name: c.kind for c in parsed.columns}
    assert kinds == {"age": "numeric", "weight": "numeric", "smoker": "categorical",
                     "gene": "categorical", "note": "categorical", "children": "categorical",
                     "dose": "numeric"}
    assert parsed.column("note").domain == tuple(sorted(HOSTILE))  # escaped, read back
    assert parsed.column("children").domain == (0, 1, 2, 3)
    assert parsed.column("age").bounds == (float(frame.age.min()), float(frame.age.max()))
    assert parsed.column("age").bounds_from_data and not parsed.column("gene").bounds_from_data
    assert parsed.label == "dose" and parsed.sensitive == ("gene",)
    loaded = load_table(table, parsed)  # the data the card was drafted from passes it
    assert loaded.n_rows == len(frame) and not loaded.cleaning


def test_dp_training_refuses_bounds_taken_from_the_data(table: Path, tmp_path: Path) -> None:
    card = draft_card(pd.read_csv(table), name="patients", label="dose", origin=table.name)
    parsed = read_card(write_card(card, tmp_path / "patients.toml"))
    with pytest.raises(CardError, match=r"bounds for \['age', 'weight'\] were taken from "
                                        r"the data"):
        dp_model("linear", parsed, 1.0)
    for column in ("age", "weight", "dose"):  # a person checked them: public bounds now
        card["columns"][column]["bounds_from_data"] = False
    checked = read_card(write_card(card, tmp_path / "checked.toml"))
    assert dp_model("linear", checked, 1.0) is not None


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"label": "dos"}, ColumnError, r"label column 'dos' is not in the data \(did you mean "
                                    r"'dose'\?\)"),
    ({"label": "dose", "sensitive": ["weight"]}, CardError,
     r"sensitive column 'weight' has \d+ distinct numbers"),
])
def test_bad_roles_are_named(table: Path, arguments, error, message) -> None:
    with pytest.raises(error, match=message):
        draft_card(pd.read_csv(table), name="patients", **arguments)


def test_missing_or_constant_columns_are_refused() -> None:
    with pytest.raises(CardError, match="column 'x' has 1 missing values"):
        draft_card(pd.DataFrame({"x": [1.0, None], "y": [1, 2]}), name="t", label="y")
    with pytest.raises(CardError, match="column 'x' holds a single value"):
        draft_card(pd.DataFrame({"x": [1, 1], "y": [1, 2]}), name="t", label="y")


def test_cli_writes_a_new_card_and_never_replaces_one(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "card.toml"
    runner = CliRunner()
    result = runner.invoke(app, ["card", "draft", str(table), "--label", "dose", "-s",
                                 "gene", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "card with 7 columns written to" in result.output
    assert "bounds of 3 numeric column(s) were taken from the data" in result.output
    assert read_card(out).sensitive == ("gene",)
    before = out.read_bytes()
    again = runner.invoke(app, ["card", "draft", str(table), "--label", "dose", "--out",
                                str(out)])
    assert again.exit_code == 2 and "exists" in again.output
    assert out.read_bytes() == before
    with pytest.raises(TabinvError):
        write_card({}, out)
