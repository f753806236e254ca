"""Cards, the IWPC loader, user tables and splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabinv.data.dataset import validate_frame
from tabinv.data.registry import builtin_card, load_builtin
from tabinv.data.schema import card_from_dict, read_card
from tabinv.data.splits import split_dataset
from tabinv.data.tables import load_table
from tabinv.exceptions import CardError, ColumnError, DataError


def test_iwpc_cleaning_report_accounts_for_every_row(iwpc):
    assert iwpc.raw_rows == 6256
    assert iwpc.raw_rows - sum(step.dropped for step in iwpc.cleaning) == iwpc.n_rows
    assert 4100 <= iwpc.n_rows <= 4800
    frame = iwpc.frame
    assert frame["vkorc1"].value_counts(normalize=True).max() == pytest.approx(0.353, abs=0.01)
    assert frame["cyp2c9"].value_counts(normalize=True)["*1/*1"] == pytest.approx(0.764,
                                                                                 abs=0.01)
    assert frame["age"].between(1, 9).all()
    assert set(frame["race"]) <= {"White", "Asian", "Black", "Unknown"}
    assert (frame["dose_class"] == "low").sum() == (frame["dose"] <= 21).sum()


def test_builtin_card_roles():
    card = builtin_card("iwpc")
    assert card.label == "dose" and card.task == "regression"
    assert card.target_transform == "sqrt"
    assert card.column("height_cm").bounds == (120.0, 210.0)
    relabelled = card.with_label("dose_class")
    assert relabelled.task == "classification" and relabelled.target_transform == "identity"
    with pytest.raises(ColumnError, match="did you mean 'vkorc1'"):
        card.column("vkorc")


@pytest.mark.parametrize("raw, message", [
    ({"name": "x", "label": "y"}, "columns"),
    ({"name": "x", "label": "y", "columns": {"y": {"kind": "text"}}}, "kind"),
    ({"name": "x", "label": "y", "columns": {"y": {"kind": "categorical", "domain": ["a"]}}},
     "at least"),
    ({"name": "x", "label": "z", "columns": {"y": {"kind": "numeric"}}}, "'z'"),
    ({"name": "x", "label": "y", "sensitive": ["y2"],
      "columns": {"y": {"kind": "numeric"}, "y2": {"kind": "numeric"}}}, "categorical"),
    ({"name": "x", "label": "y", "columns": {"y": {"kind": "numeric", "bounds": [3, 1]}}},
     "bounds"),
])
def test_bad_cards_are_refused(raw, message):
    with pytest.raises(CardError, match=message):
        card_from_dict(raw)


def test_card_file_errors(tmp_path):
    with pytest.raises(CardError, match="does not exist"):
        read_card(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("name = [")
    with pytest.raises(CardError, match="not valid TOML"):
        read_card(tmp_path / "broken.toml")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_user_table_round_trip(iwpc, tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    sample = iwpc.frame.head(50)
    if suffix == ".csv":
        sample.to_csv(path, index=False)
    else:
        sample.to_parquet(path)
    loaded = load_table(path, iwpc.card)
    assert len(loaded.frame) == 50
    assert list(loaded.frame["vkorc1"]) == list(sample["vkorc1"])
    assert loaded.frame["enzyme_inducer"].isin([0, 1]).all()


def test_validate_frame_names_the_problem(iwpc):
    frame = iwpc.frame.head(20).copy()
    frame["height_cm"] = frame["height_cm"].astype(object)
    frame.loc[2, "height_cm"] = "tall"
    with pytest.raises(DataError, match="height_cm.*not numbers"):
        validate_frame(frame, iwpc.card, ["height_cm"], origin="t")
    with pytest.raises(DataError, match="no rows"):
        validate_frame(frame.iloc[:0], iwpc.card, ["age"], origin="t")


def test_splits_are_disjoint_reproducible_and_complete(iwpc):
    frame = iwpc.frame.assign(row_id=np.arange(iwpc.n_rows))
    first = split_dataset(frame, random_state=7)
    again = split_dataset(frame, random_state=7)
    ids = [set(part["row_id"]) for part in (first.members, first.non_members, first.reference)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set.union(*ids) == set(range(iwpc.n_rows))
    pd.testing.assert_frame_equal(first.members, again.members)
    other = split_dataset(frame, random_state=8)
    assert set(other.members["row_id"]) != ids[0]
    with pytest.raises(DataError, match="summing to 1"):
        split_dataset(frame, (0.5, 0.5, 0.5))


def test_unknown_builtin():
    with pytest.raises(DataError, match="did you mean 'iwpc'"):
        load_builtin("iwcp")
