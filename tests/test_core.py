"""Issue 12: the assessment core (tabinv.core) behind every front end.

Item 1: behaviour that lived only in the CLI is the core's, so the Python API does the
same. Item 2: one threat model, one access vocabulary, the same default attacks and
priors from Python and from the command line. Item 4: parameters are checked where they
enter, with one line naming the parameter.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tabinv import api
from tabinv.attacks.specs import DEFAULT_ATTACKS, DEFAULT_PRIORS
from tabinv.cli import app
from tabinv.core import ThreatModel, load_dataset, train_target
from tabinv.exceptions import TabinvError
from tabinv.vocabulary import ACCESS_LEVELS


@pytest.fixture(scope="module")
def fitted(iwpc):
    return train_target(iwpc, "linear", random_state=0)


def test_item1_records_without_a_reference_get_the_published_prior(fitted):
    """The CLI's fallback, now the core's: no reference sample and no prior chosen ->
    the model's own training marginals (before: the Python call raised)."""
    model, splits = fitted
    assessment, posterior = api.attack_records(model, splits.non_members.head(50),
                                               sensitive=["vkorc1"], n_boot=5)
    variants = {r.variant for r in assessment.results if r.method == "map"}
    assert variants == {"published prior"}
    assert posterior.n_records == 50


def test_item1_features_missing_from_the_records_are_unknown(fitted):
    """Without ``known``, a model feature the records lack is summed out, not an error."""
    model, splits = fitted
    records = splits.non_members.head(50).drop(columns=["amiodarone", "race"])
    assessment, _ = api.attack_records(model, records, sensitive=["vkorc1"], n_boot=5,
                                       reference=splits.reference)
    assert set(assessment.threat["unknown"]) == {"amiodarone", "race"}
    assert "race" not in assessment.threat["known"]
    with pytest.raises(TabinvError, match="race"):  # named as known: it must be there
        api.attack_records(model, records, sensitive=["vkorc1"], known=["race", "age"])


def test_item1_the_label_the_attacker_holds_is_the_models(fitted):
    model, splits = fitted
    with pytest.raises(TabinvError, match="label 'dose_class' is not the model's label"):
        api.attack_records(model, splits.members.head(5), sensitive=["vkorc1"],
                           label="dose_class")


def test_item1_a_generated_data_set_follows_the_seed():
    first = load_dataset("genomic", params={"people": 300, "snps": 30}, seed=1)
    again = load_dataset("genomic", params={"people": 300, "snps": 30}, seed=1)
    other = load_dataset("genomic", params={"people": 300, "snps": 30}, seed=2)
    assert first.frame.equals(again.frame) and not first.frame.equals(other.frame)
    named = load_dataset("genomic", params={"people": 300, "snps": 30, "seed": 2}, seed=1)
    assert named.frame.equals(other.frame)  # a seed given as a parameter wins


@pytest.mark.parametrize(("arguments", "message"), [
    ({"dataset": "iwpc", "data": "x.csv"}, "exactly one of"),
    ({"data": "x.csv"}, "needs a card"),
    ({"dataset": "iwpc", "card": "x.toml"}, "describes a data file"),
])
def test_item1_which_data_is_checked_once_for_every_front_end(arguments, message):
    with pytest.raises(TabinvError, match=message):
        load_dataset(**arguments)


def test_item2_python_and_cli_run_the_same_default_attacks(iwpc):
    """One home for the defaults: `assess` from Python and from the CLI run the same
    attacks x priors, DEFAULT_ATTACKS x DEFAULT_PRIORS."""
    python = api.assess(iwpc, "linear", sensitive=["cyp2c9"], n_boot=5)
    result = CliRunner().invoke(app, ["assess", "-s", "cyp2c9", "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.output)
    expected = {(name, f"{prior} prior") for name in DEFAULT_ATTACKS for prior in DEFAULT_PRIORS}
    assert {(r.method, r.variant) for r in python.results if r.variant} == expected
    assert {(r["method"], r["variant"]) for r in cli["results"] if r["variant"]} == expected


@pytest.mark.parametrize(("access", "decimals", "answers"), [
    ("confidences", None, "confidence"), ("rounded", 1, "confidence"),
    ("label-only", None, "label"), ("white-box", None, "confidence")])
def test_item2_one_access_vocabulary_from_threat_model_to_result(iwpc, access, decimals,
                                                                 answers):
    attacks = ["whitebox-tree"] if access == "white-box" else ["map"]
    result = api.assess(iwpc, "tree", sensitive=["vkorc1"], label="dose_class",
                        attacks=attacks, priors=["marginal"], access=access,
                        decimals=decimals, n_boot=5)
    assert access in ACCESS_LEVELS
    assert result.threat["access"] == access and result.threat["answers"] == answers
    assert result.threat["rounding"] == decimals
    assert result.threat["white_box"] == (access == "white-box")


def test_item2_an_attack_needing_access_the_level_lacks_is_refused(iwpc):
    with pytest.raises(TabinvError, match="grant access 'white-box'"):
        api.assess(iwpc, "tree", sensitive=["vkorc1"], label="dose_class",
                   attacks=["whitebox-tree"], access="confidences", n_boot=5)


@pytest.mark.parametrize(("arguments", "message"), [
    ({"top_k": 0}, r"^threat model: top_k must be an int in \[1, inf\), got 0$"),
    ({"n_boot": 2.5}, r"^threat model: n_boot must be an int in \[1, inf\), got 2.5$"),
    ({"access": "full"}, r"^threat model: access must be one of 'confidences', "),
    ({"access": "rounded"}, r"^access 'rounded' needs decimals"),
    ({"decimals": 2}, r"decimals apply to access 'rounded'"),
    ({"label_source": "guessed"}, r"^threat model: label_source must be one of 'true'"),
    ({"memory": True}, r"^threat model: memory must be an int in \[1, inf\) or None"),
    ({"attacks": ["mapp"]}, r"unknown attack 'mapp' \(did you mean 'map'\?\)"),
    ({"priors": ["uniform"]}, r"^map: prior must be one of"),
    ({"attack_params": {"map": {"smoothin": 1}}}, r"did you mean 'smoothing'"),
])
def test_item4_the_threat_model_checks_its_parameters_where_they_enter(arguments, message):
    with pytest.raises(TabinvError, match=message):
        ThreatModel(sensitive=("vkorc1",), **arguments)


def test_item4_api_entry_points_check_their_own_parameters():
    with pytest.raises(TabinvError, match=r"^assess: model must be a family name, a "
                                          r"deployed endpoint or a model file, URI or "
                                          r"object, got 3$"):
        api.assess("iwpc", 3, sensitive=["vkorc1"])  # type: ignore[arg-type]
    with pytest.raises(TabinvError, match=r"^assess: dataset_params must be a mapping"):
        api.assess("iwpc", sensitive=["vkorc1"], dataset_params=["people"])  # type: ignore
