"""Tests for tabinv.data.synthetic: schema, reproducibility, bounds and IWPC-like structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabinv.data.dataset import validate_frame
from tabinv.data.registry import builtin_card
from tabinv.data.schema import Card
from tabinv.data.synthetic import SYNTHETIC_RESIDUAL_SD, synthetic_iwpc
from tabinv.exceptions import DataError
from tabinv.models.families import make_model

N_ROWS = 20_000


@pytest.fixture(scope="module")
def card() -> Card:
    return builtin_card("iwpc")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_iwpc(N_ROWS, random_state=0)


def test_columns_are_the_cards_in_order(frame: pd.DataFrame, card: Card) -> None:
    assert tuple(frame.columns) == card.column_names
    assert len(frame) == N_ROWS
    assert frame.index.equals(pd.RangeIndex(N_ROWS))


def test_categorical_values_lie_in_the_card_domains(frame: pd.DataFrame, card: Card) -> None:
    for column in card.columns:
        if column.is_categorical:
            assert set(frame[column.name].unique()) <= set(column.domain or ()), column.name


def test_dtypes_match_the_iwpc_loader(frame: pd.DataFrame) -> None:
    for name in ("age", "height_cm", "weight_kg", "dose"):
        assert frame[name].dtype == np.float64, name
    for name in ("enzyme_inducer", "amiodarone"):
        assert frame[name].dtype == np.int64, name
    for name in ("race", "vkorc1", "cyp2c9", "dose_class"):
        assert frame[name].dtype == object, name


def test_frame_passes_validation_unchanged(frame: pd.DataFrame, card: Card) -> None:
    validated = validate_frame(frame, card, card.column_names, origin="synthetic")
    pd.testing.assert_frame_equal(validated, frame, check_dtype=False)


def test_same_seed_gives_an_identical_frame() -> None:
    pd.testing.assert_frame_equal(synthetic_iwpc(2_000, random_state=7),
                                  synthetic_iwpc(2_000, random_state=7))


def test_generator_seed_matches_int_seed() -> None:
    pd.testing.assert_frame_equal(synthetic_iwpc(500, random_state=np.random.default_rng(3)),
                                  synthetic_iwpc(500, random_state=3))


def test_other_seed_gives_another_frame() -> None:
    assert not synthetic_iwpc(2_000, random_state=1).equals(synthetic_iwpc(2_000, random_state=2))


def test_numeric_values_lie_within_public_bounds(frame: pd.DataFrame, card: Card) -> None:
    for column in card.columns:
        if column.bounds is not None:
            low, high = column.bounds
            assert frame[column.name].between(low, high).all(), column.name
    assert set(frame["age"].unique()) <= set(np.arange(1.0, 10.0))
    assert (frame["dose"] >= 1.0).all()


def test_dose_class_follows_the_iwpc_limits(frame: pd.DataFrame) -> None:
    expected = np.where(frame["dose"] <= 21, "low",
                        np.where(frame["dose"] >= 49, "high", "medium"))
    assert (frame["dose_class"].to_numpy() == expected).all()
    assert set(frame["dose_class"]) == {"low", "medium", "high"}


def test_race_frequencies_are_realistic(frame: pd.DataFrame) -> None:
    shares = frame["race"].value_counts(normalize=True)
    assert shares["White"] == pytest.approx(0.52, abs=0.02)
    assert shares["Asian"] == pytest.approx(0.27, abs=0.02)
    assert shares["Black"] == pytest.approx(0.15, abs=0.02)
    assert shares["Unknown"] == pytest.approx(0.06, abs=0.01)


def test_vkorc1_frequencies_differ_by_race(frame: pd.DataFrame) -> None:
    table = pd.crosstab(frame["race"], frame["vkorc1"], normalize="index")
    assert table.loc["Asian"].idxmax() == "A/A" and table.loc["Asian", "A/A"] > 0.7
    assert table.loc["Black"].idxmax() == "G/G" and table.loc["Black", "G/G"] > 0.7
    assert (table.loc["White"] > 0.1).all()  # mixed
    assert table.loc["White", "A/A"] < table.loc["Asian", "A/A"]


def test_cyp2c9_is_mostly_wild_type(frame: pd.DataFrame) -> None:
    shares = frame["cyp2c9"].value_counts(normalize=True)
    assert shares.idxmax() == "*1/*1"
    assert 0.7 < shares["*1/*1"] < 0.85


def test_dose_follows_the_published_formula(card: Card) -> None:
    # the published IWPC model has the generator's noise as its residual sigma, and a
    # linear model fitted on many synthetic rows recovers its predictions
    frame = synthetic_iwpc(50_000, random_state=5)
    published = make_model("iwpc-published", card).fit(frame)
    fitted = make_model("linear", card).fit(frame)
    assert published.residual_sigma_ == pytest.approx(SYNTHETIC_RESIDUAL_SD, abs=0.02)
    gap = np.abs(published.predict_fitted(frame) - fitted.predict_fitted(frame))
    assert float(np.mean(gap)) < 0.03


def test_genotypes_lower_the_dose(frame: pd.DataFrame) -> None:
    mean_dose = frame.groupby("vkorc1")["dose"].mean()
    assert mean_dose["G/G"] > mean_dose["A/G"] > mean_dose["A/A"]


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "10"])
def test_bad_row_count_raises(n: object) -> None:
    with pytest.raises(DataError, match="positive integer"):
        synthetic_iwpc(n, random_state=0)  # type: ignore[arg-type]


def test_a_single_row_works(card: Card) -> None:
    frame = synthetic_iwpc(1, random_state=0)
    assert tuple(frame.columns) == card.column_names and len(frame) == 1
