"""Issue 13, item 3 (second part): a card derives a column from another one (a count
thresholded into yes / no, codes mapped onto names) when a table is read, so the data
need no preprocessing; the label's source is never a feature."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.data.schema import card_from_dict, read_card
from tabinv.data.tables import load_records, load_table
from tabinv.exceptions import CardError, ColumnError, DataError

CARD = """
name = "affairs"
label = "any_affair"
sensitive = ["religious"]

[columns.age]
kind = "numeric"
bounds = [17, 60]

[columns.religious]
kind = "categorical"
domain = ["no", "somewhat", "very"]
derive = { from = "religious_code", map = { 1 = "no", 2 = "somewhat", 3 = "very" } }

[columns.religious_code]
kind = "numeric"
bounds = [1, 3]

[columns.affairs]
kind = "numeric"
bounds = [0, 12]

[columns.any_affair]
kind = "categorical"
domain = ["no", "yes"]
derive = { from = "affairs", above = 0 }
"""


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    n = 600
    code = rng.integers(1, 4, n)
    affairs = np.where(rng.random(n) < 0.2 + 0.15 * (code == 1), rng.integers(1, 13, n), 0)
    frame = pd.DataFrame({"age": rng.integers(17, 61, n), "religious_code": code,
                          "affairs": affairs})
    data, card = tmp_path / "affairs.csv", tmp_path / "affairs.toml"
    frame.to_csv(data, index=False)
    card.write_text(CARD, encoding="utf-8")
    return data, card


def test_the_label_is_derived_and_its_source_is_no_feature(files) -> None:
    data, card_path = files
    card = read_card(card_path)
    assert card.features == ("age", "religious", "religious_code")
    loaded = load_table(data, card)
    raw = pd.read_csv(data)
    assert (loaded.frame["any_affair"] == np.where(raw["affairs"] > 0, "yes", "no")).all()
    names = {1: "no", 2: "somewhat", 3: "very"}
    assert (loaded.frame["religious"] == raw["religious_code"].map(names)).all()
    assert card_from_dict(card.to_dict()).column("any_affair").derive == \
        card.column("any_affair").derive  # a model file's card keeps the rule


def test_assess_runs_on_a_derived_label(files) -> None:
    data, card = files
    result = CliRunner().invoke(app, ["assess", "--data", str(data), "--card", str(card),
                                      "--model", "logistic", "-s", "religious",
                                      "--known", "age", "--prior", "marginal", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["model"]["label"] == "any_affair"
    assert {r["sensitive"] for r in document["results"]} == {"religious"}


@pytest.mark.parametrize(("change", "message"), [
    (('features = ["age", "affairs"]\n', ""), r"'affairs' is a feature, but the label "
                                               r"'any_affair' is derived from it"),
    (("", 'derive = { from = "affairs", above = 0 }'), r"needs a finite number and a domain "
                                                       r"of two values"),
    (("", 'derive = { from = "religios_code", map = { 1 = "no" } }'),
     r"derived from 'religios_code'.*did you mean 'religious_code'"),
    (("", 'derive = { from = "affairs" }'), r"expected \{ from = COLUMN, above = NUMBER \}"),
])
def test_bad_rules_are_refused_by_name(change, message) -> None:
    import tomllib

    head, rule = change
    text = head + CARD
    if rule:  # the religious column gets the rule instead of its map
        text = text.replace('derive = { from = "religious_code", map = { 1 = "no", '
                            '2 = "somewhat", 3 = "very" } }', rule)
    with pytest.raises(CardError, match=message):
        card_from_dict(tomllib.loads(text))


def test_bad_source_values_are_counted(files, tmp_path: Path) -> None:
    data, card_path = files
    card = read_card(card_path)
    frame = pd.read_csv(data)
    frame.loc[:4, "religious_code"] = 7
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(DataError, match=r"'religious_code' has 5 value\(s\) that are not "
                                        r"values the card's map lists"):
        load_table(bad, card)
    frame = pd.read_csv(data).assign(any_affair="no")
    both = tmp_path / "both.csv"
    frame.to_csv(both, index=False)
    with pytest.raises(ColumnError, match="derived from 'affairs' by the card, but the "
                                          "table holds it too"):
        load_records(both, card)
