"""The DP sweep with membership attacks (issue 18, item 3): per epsilon, membership AUC
and TPR at low FPR next to attribute leakage and utility, and which risk DP removes
first."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.defences.sweep import sweep
from tabinv.defences.verdict import sweep_verdict
from tabinv.evaluation.estimate import Estimate
from tabinv.membership.verdict import MembershipOptions
from tabinv.schemas import validate

runner = CliRunner()


@pytest.fixture(scope="module")
def swept():
    return sweep("iwpc", "logistic", epsilons=[0.1], seeds=[0, 1], sensitive=["vkorc1"],
                 label="dose_class", attacks=["map"], priors=["marginal"], n_boot=10,
                 membership_attacks=MembershipOptions(attacks=["loss", "rmia"], shadows=4))


def test_every_point_has_each_membership_attack_over_seeds(swept):
    for point in swept.points:
        rows = point["membership"]
        assert [r["attack"] for r in rows] == ["loss", "rmia"]
        for row in rows:
            seeds = row["auc_per_seed"]
            assert len(seeds) == 2
            # two seeds: the mean with a Student t interval over seeds
            assert row["auc"].value == pytest.approx(sum(seeds) / 2)
            assert row["auc"].low <= row["auc"].value <= row["auc"].high
            assert [t["fpr"] for t in row["tpr_at_fpr"]] == [0.001, 0.01]
            assert row["rating"] in ("leaks", "inconclusive", "no measurable leakage")
    assert swept.settings["membership_attacks"]["attacks"] == ["loss", "rmia"]
    assert "Membership: without DP, " in swept.verdict
    validate(json.loads(json.dumps(swept.to_dict())))


def test_a_sweep_without_membership_has_no_membership_key():
    plain = sweep("iwpc", "logistic", epsilons=[1], seeds=1, sensitive=["vkorc1"],
                  label="dose_class", attacks=["map"], priors=["marginal"], n_boot=10)
    assert all("membership" not in point for point in plain.points)
    assert "Membership" not in plain.verdict


def _point(epsilon, attribute, membership):
    """A sweep point: map's leakage rating on vkorc1 and RMIA's AUC (value, low, high)."""
    value, low, high = membership
    return {"epsilon": epsilon,
            "utility": {"accuracy": Estimate(.6, .58, .62)},
            "attacks": [{"method": "map", "variant": "", "sensitive": "vkorc1",
                         "population": "members", "accuracy": Estimate(.7, .6, .8),
                         "leakage": Estimate(*attribute[1:]), "over": "imputation",
                         "rating": attribute[0], "size": "some"}],
            "membership": [{"attack": "rmia", "auc": Estimate(value, low, high),
                            "rating": "leaks" if low > .5 else "no measurable leakage"
                            if high < .55 else "inconclusive"}]}


LEAK, GONE = ("leaks", .1, .08, .12), ("no measurable leakage", 0, -.02, .02)


@pytest.mark.parametrize(("points", "expected"), [
    # membership gone from epsilon 10 down, attribute leakage only from 1 down
    ([(None, LEAK, (.6, .57, .63)), (1, GONE, (.5, .48, .52)),
      (10, LEAK, (.51, .49, .53)), (100, LEAK, (.6, .57, .63))],
     "at epsilon 10 it falls to chance (AUC 0.510 [0.490, 0.530]), and it leaks from "
     "epsilon 100 on (AUC 0.600 [0.570, 0.630]). DP removes membership leakage first: it "
     "is gone from epsilon 10 down, attribute leakage only from 1 down."),
    ([(None, LEAK, (.6, .57, .63)), (1, GONE, (.5, .48, .52)),
      (10, GONE, (.58, .56, .6)), (100, LEAK, (.6, .57, .63))],
     "at epsilon 1 it falls to chance (AUC 0.500 [0.480, 0.520]), and it leaks from "
     "epsilon 10 on (AUC 0.580 [0.560, 0.600]). DP removes attribute leakage first: it is "
     "gone from epsilon 10 down, membership leakage only from 1 down."),
    ([(None, LEAK, (.6, .57, .63)), (1, GONE, (.5, .48, .52)),
      (10, LEAK, (.56, .53, .6))],
     "at epsilon 1 it falls to chance (AUC 0.500 [0.480, 0.520]), and it leaks from "
     "epsilon 10 on (AUC 0.560 [0.530, 0.600])."),
    ([(None, LEAK, (.6, .57, .63)), (1, LEAK, (.58, .56, .6))],
     "it still leaks at the smallest epsilon tried, 1 (AUC 0.580 [0.560, 0.600])."),
    ([(None, LEAK, (.52, .49, .54)), (1, GONE, (.5, .48, .52))],
     "with AUC 0.520 [0.490, 0.540] (no measurable leakage); there is no membership "
     "leakage for DP to remove."),
])
def test_the_verdict_says_which_risk_dp_removes_first(points, expected):
    built = [_point(*p) for p in points]
    text = sweep_verdict(built, ["accuracy"], {})
    assert expected in text


def test_the_sweep_command_takes_membership_options(tmp_path):
    result = runner.invoke(app, ["sweep", "--dataset", "iwpc", "--model", "logistic",
                                 "--label", "dose_class", "-s", "vkorc1", "--epsilons",
                                 "1", "--seeds", "1", "--attack", "map", "--prior",
                                 "marginal", "--membership-attack", "loss", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [m["attack"] for m in document["points"][0]["membership"]] == ["loss"]
    bad = runner.invoke(app, ["sweep", "--dataset", "iwpc", "--model", "logistic",
                              "-s", "vkorc1", "--membership", "--shadows", "0"])
    assert bad.exit_code == 2 and "membership shadows must be an integer" in bad.output


def test_the_sweep_report_shows_membership_per_epsilon(swept):
    from tabinv.report.document import as_document
    from tabinv.report.markdown import render_markdown
    from tabinv.text import markdown_text

    text = render_markdown(as_document(swept.to_dict()))
    assert "## Membership inference against epsilon" in text
    section = text.split("## Membership inference against epsilon", 1)[1]
    for point in swept.points:
        epsilon = "non-private" if point["epsilon"] is None else f"{point['epsilon']:g}"
        for n, row in enumerate(point["membership"]):
            auc = row["auc"]
            cells = [epsilon if n == 0 else "",
                     {"loss": "loss threshold", "rmia": "RMIA"}[row["attack"]],
                     f"{auc.value:.3f} [{auc.low:.3f}, {auc.high:.3f}]"]
            line = "| " + " | ".join(markdown_text(c) for c in cells) + " |"
            assert line in section, line


def test_a_label_only_sweep_runs_the_label_only_membership_attacks():
    """The sweep's membership attacks query each model with the sweep's access."""
    labels = sweep("iwpc", "logistic", epsilons=[1.0], seeds=[0], sensitive=["vkorc1"],
                   label="dose_class", attacks=["map"], priors=["marginal"], n_boot=10,
                   access="label-only",
                   membership_attacks=MembershipOptions(attacks=["all"], shadows=2))
    for point in labels.points:
        assert [r["attack"] for r in point["membership"]] == ["gap", "label-noise"]
    validate(json.loads(json.dumps(labels.to_dict())))
