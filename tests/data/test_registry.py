"""Item 3: built-in data sets register in one place (``@builtin`` on the loader, the card
by the same name); a card without a loader or a loader without a card is an error, never
hidden. Also one home for a data set's report facts and relabelling (Dataset)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import pytest

from tabinv.data import registry
from tabinv.data.dataset import Dataset
from tabinv.data.registry import (
    builtin,
    builtin_card,
    builtin_names,
    builtin_parameters,
    builtin_problems,
    load_builtin,
)
from tabinv.data.splits import split_dataset
from tabinv.exceptions import CardError, ColumnError, DataError


def _shipped_cards() -> set[str]:
    return {p.name[:-5] for p in resources.files("tabinv._cards").iterdir()
            if p.name.endswith(".toml")}


def test_item3_every_shipped_card_has_a_loader_and_every_loader_a_card() -> None:
    assert builtin_problems() == []
    assert set(builtin_names()) == _shipped_cards() == set(registry._LOADERS)
    assert {"iwpc", "gss", "genomic"} <= set(builtin_names())
    for name in builtin_names():
        assert builtin_card(name).column_names  # every card parses


@pytest.fixture
def scratch(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The registry's loader table, restored after the test."""
    registry._discover()
    loaders = dict(registry._LOADERS)
    monkeypatch.setattr(registry, "_LOADERS", loaders)
    return loaders


def test_item3_card_without_loader_is_listed_and_refused(
        scratch: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    cards = registry._card_names() | {"orphan"}
    monkeypatch.setattr(registry, "_card_names", lambda: cards)
    assert "orphan" in builtin_names()
    assert builtin_problems() == ["built-in dataset 'orphan' has a card (orphan.toml) but no "
                                  "loader; register one with @builtin('orphan') in a module "
                                  "of tabinv.data"]
    for call in (load_builtin, builtin_card, builtin_parameters):
        with pytest.raises(DataError, match=r"'orphan' has a card \(orphan\.toml\) but no "):
            call("orphan")


def test_item3_loader_without_card_is_listed_and_refused(scratch: dict[str, object]) -> None:
    @builtin("cardless")
    def load_cardless(card: object, size: int = 3) -> Dataset:
        raise AssertionError("never called without a card")

    assert scratch["cardless"] is load_cardless
    assert "cardless" in builtin_names()
    assert builtin_problems() == [
        f"built-in dataset 'cardless' has a loader ({__name__}."
        "test_item3_loader_without_card_is_listed_and_refused.<locals>.load_cardless) but no "
        "card; add datasets/cardless.toml"]
    with pytest.raises(CardError, match="'cardless' has a loader .* but no card"):
        load_builtin("cardless")


def test_item3_a_name_has_one_loader(scratch: dict[str, object]) -> None:
    def load_iwpc(card: object) -> Dataset:
        raise AssertionError

    with pytest.raises(DataError, match=r"'iwpc' has two loaders: tabinv\.data\.iwpc\."
                                        r"load_iwpc and \S+\.test_item3_a_name_has_one"):
        builtin("iwpc")(load_iwpc)
    assert scratch["iwpc"].__module__ == "tabinv.data.iwpc"


def test_item3_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(DataError, match=r"unknown dataset 'iwcp' \(did you mean 'iwpc'\?\); "
                                        "built-in datasets are: genomic, gss, iwpc"):
        load_builtin("iwcp")


def test_item3_import_tabinv_imports_no_loader_and_lookup_finds_them() -> None:
    """Loaders are found by the registry on first use, not imported by ``import tabinv``."""
    code = ("import sys, json, tabinv; loaders = ('tabinv.data.iwpc', 'tabinv.data.gss', "
            "'tabinv.data.genomic'); before = [m for m in loaders if m in sys.modules]; "
            "from tabinv.data.registry import builtin_names; names = builtin_names(); "
            "print(json.dumps([before, names, [m for m in loaders if m in sys.modules]]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=300)
    before, names, after = json.loads(done.stdout)
    assert before == []
    assert names == ["genomic", "gss", "iwpc"]
    assert sorted(after) == ["tabinv.data.genomic", "tabinv.data.gss", "tabinv.data.iwpc"]


def test_item3_facts_are_the_report_facts(iwpc: Dataset) -> None:
    splits = split_dataset(iwpc.frame, random_state=0)
    facts = iwpc.facts(splits)
    assert list(facts) == ["name", "title", "rows", "raw_rows", "cleaning", "splits",
                           "citation"]
    assert facts["splits"] == splits.sizes() == iwpc.facts(splits.sizes())["splits"]
    assert (facts["name"], facts["rows"], facts["raw_rows"]) == ("iwpc", iwpc.n_rows, 6256)
    assert facts["title"] == iwpc.card.title and facts["citation"] == iwpc.card.citation
    assert facts["cleaning"] == iwpc.cleaning_summary()
    assert "splits" not in iwpc.facts()


def test_item3_with_label(iwpc: Dataset) -> None:
    assert iwpc.with_label(None) is iwpc and iwpc.with_label("dose") is iwpc
    relabelled = iwpc.with_label("dose_class")
    assert relabelled.card.label == "dose_class" and relabelled.card.task == "classification"
    assert relabelled.frame is iwpc.frame and relabelled.cleaning == iwpc.cleaning
    assert (relabelled.name, relabelled.raw_rows) == (iwpc.name, iwpc.raw_rows)
    assert iwpc.card.label == "dose"
    with pytest.raises(ColumnError, match="did you mean 'vkorc1'"):
        iwpc.with_label("vkorc")
