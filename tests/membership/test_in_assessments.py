"""Membership attacks in the same assessment as attribute inference (issue 18, item 3):
``tabinv assess --membership`` and ``api.assess(membership_attacks=...)``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tabinv import api
from tabinv.cli import app
from tabinv.data.registry import builtin_card
from tabinv.data.splits import split_dataset
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.exceptions import AttackError
from tabinv.membership import assess_membership
from tabinv.membership.verdict import MembershipOptions, membership_entry
from tabinv.schemas import validate

runner = CliRunner()
CARD = builtin_card("iwpc").with_label("dose_class")


@pytest.fixture(scope="module")
def splits():
    return split_dataset(synthetic_iwpc(600, random_state=4), (0.4, 0.3, 0.3), 0)


@pytest.fixture(scope="module")
def target(splits):
    from tabinv.models.families import make_model

    return make_model("tree", CARD, random_state=0, max_depth=6).fit(splits.members)


@pytest.fixture(scope="module")
def assessed(splits, target):
    return api.assess(_dataset(), target, sensitive=["vkorc1"], splits=splits,
                      membership_attacks=["loss", "rmia", "lira-offline"], shadows=4,
                      n_boot=20, random_state=3)


def _dataset():
    from tabinv.data.dataset import Dataset

    return Dataset("synthetic", CARD, synthetic_iwpc(600, random_state=4))


def test_the_assessment_holds_each_membership_attack_with_its_verdict(assessed, splits,
                                                                        target):
    entries = assessed.membership_inference
    assert [e["attack"] for e in entries] == ["loss", "rmia", "lira-offline"]
    # the numbers of the membership API on the same model, records and seed
    direct = assess_membership(target, splits.members, splits.non_members,
                               splits.reference, attacks=["loss", "rmia", "lira-offline"],
                               n_shadows=4, n_boot=20, random_state=3)
    assert entries == tuple(membership_entry(r) for r in direct)
    for entry in entries:
        auc = entry["metrics"]["auc"]
        assert auc["low"] <= auc["value"] <= auc["high"]
        assert entry["metrics"]["n_members"] == len(splits.members)
        assert entry["metrics"]["n_non_members"] == len(splits.non_members)
        expected = ("leaks" if auc["low"] > 0.5 else "no measurable leakage"
                    if auc["high"] < 0.55 else "inconclusive")
        assert entry["rating"] == expected
        assert f"AUC {auc['value']:.3f} [{auc['low']:.3f}, {auc['high']:.3f}]" \
            in entry["verdict"]
    assert assessed.settings["membership_attacks"]["shadows"] == 4
    assert "membership attacks" in assessed.settings["timings_seconds"]
    validate(api.combine([assessed]))


def test_without_membership_the_document_has_no_membership_key(splits, target):
    plain = api.assess(_dataset(), target, sensitive=["vkorc1"], splits=splits,
                       n_boot=20, attacks=["map"], priors=["marginal"])
    assert plain.membership_inference == ()
    assert "membership_inference" not in plain.to_dict()
    assert "membership_attacks" not in plain.settings


@pytest.mark.parametrize(("options", "message"), [
    ({"attacks": ["lira"]}, "^unknown membership attack 'lira'"),
    ({"attacks": []}, "^no membership attack to run$"),
    ({"shadows": 1}, "^membership shadows must be an integer from 2 to 1024, received 1$"),
    ({"jobs": 0}, "^membership jobs must be an integer from 1 to 64, received 0$"),
])
def test_bad_options_are_one_clear_error(options, message):
    with pytest.raises(AttackError, match=message):
        MembershipOptions(**options)


def test_all_is_kept_until_the_access_is_known():
    """``all`` is resolved when the attacks run (every attack that applies to the
    assessment's access); the names are checked and kept once each."""
    assert MembershipOptions(attacks=["all", "loss", "all"]).attacks == ("all", "loss")
    assert MembershipOptions().attacks == ("all",)


@pytest.mark.parametrize(("flags", "message"), [
    (["--membership-attack", "lira"], "unknown membership attack 'lira'"),
    (["--membership", "--shadows", "1"], "membership shadows must be an integer from 2"),
])
def test_the_command_line_refuses_bad_membership_options_in_one_line(flags, message):
    result = runner.invoke(app, ["assess", "--dataset", "iwpc", "--model", "tree",
                                 "--label", "dose_class", "-s", "vkorc1", *flags])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_membership_entry_is_the_result_with_rating_and_verdict(splits):
    from tabinv.models.families import make_model

    target = make_model("tree", CARD, random_state=0, max_depth=5).fit(splits.members)
    [result] = assess_membership(target, splits.members, splits.non_members,
                                 splits.reference, attacks=["loss"], n_boot=20)
    entry = membership_entry(result)
    assert {k: v for k, v in entry.items() if k not in ("rating", "verdict")} \
        == json.loads(json.dumps(result.to_dict()))
    assert entry["verdict"].startswith("The loss-threshold attack tells members from ")


def test_label_only_access_runs_the_label_only_membership_attacks(splits, target):
    """The membership attacks query the model as the attribute attacks do: with
    label-only access, ``all`` is the gap and noise attacks, on label answers."""
    from tabinv.models.oracle import Oracle

    assessed = api.assess(_dataset(), target, sensitive=["vkorc1"], splits=splits,
                          access="label-only", membership_attacks=["all"], shadows=4,
                          n_boot=20, random_state=3)
    assert assessed.threat["access"] == "label-only"
    entries = assessed.membership_inference
    assert [e["attack"] for e in entries] == ["gap", "label-noise"]
    assert assessed.settings["membership_attacks"]["attacks"] == ["gap", "label-noise"]
    direct = assess_membership(Oracle.for_model(target, "label-only"), splits.members,
                               splits.non_members, splits.reference, n_shadows=4,
                               n_boot=20, random_state=3)
    assert entries == tuple(membership_entry(r) for r in direct)
    assert entries[0]["verdict"].startswith("The gap attack tells members from ")
    validate(api.combine([assessed]))
    with pytest.raises(AttackError, match="^membership attack 'loss' reads the confidence "
                       "of the true label .* but the oracle answers labels only"):
        api.assess(_dataset(), target, sensitive=["vkorc1"], splits=splits, n_boot=20,
                   access="label-only", membership_attacks=["loss"], attacks=["map"],
                   priors=["marginal"])


def test_rounded_access_gives_the_membership_attacks_rounded_answers(splits, target):
    from tabinv.models.oracle import Oracle

    assessed = api.assess(_dataset(), target, sensitive=["vkorc1"], splits=splits,
                          access="rounded", decimals=1, membership_attacks=["loss", "gap"],
                          shadows=4, n_boot=20, random_state=3, attacks=["map"],
                          priors=["marginal"])
    assert assessed.threat["rounding"] == 1
    rounded, plain = (assess_membership(oracle, splits.members, splits.non_members,
                                        splits.reference, attacks=["loss", "gap"],
                                        n_boot=20, random_state=3)
                      for oracle in (Oracle.for_model(target, "rounded", decimals=1),
                                     Oracle.for_model(target)))
    assert assessed.membership_inference == tuple(membership_entry(r) for r in rounded)
    assert rounded[0].metrics.auc != plain[0].metrics.auc  # the rounding shows


def test_the_command_line_with_label_only_access_runs_the_label_only_attacks():
    flags = ["assess", "--dataset", "iwpc", "--model", "tree", "--label", "dose_class",
             "-s", "vkorc1", "--attack", "map", "--prior", "marginal", "--label-only"]
    result = runner.invoke(app, [*flags, "--membership", "--shadows", "2", "--json"])
    assert result.exit_code == 0, result.output
    [scenario] = json.loads(result.stdout)["assessments"]
    assert scenario["threat"]["access"] == "label-only"
    assert [m["attack"] for m in scenario["membership_inference"]] == ["gap", "label-noise"]
    refused = runner.invoke(app, [*flags, "--membership-attack", "lira-offline"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert refused.output.strip() == (
        "error: membership attack 'lira-offline' reads the confidence of the true label "
        "(confidence or rounded access; a regression's output), but the oracle answers "
        "labels only (label-only access)")
