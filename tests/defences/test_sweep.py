"""Sweeps: document shape, reproducibility (also across jobs), utility metrics, verdict."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import psutil
import pytest
from sklearn.metrics import r2_score, roc_auc_score
from typer.testing import CliRunner

from tabinv.api import AttackSpec
from tabinv.cli import app
from tabinv.cli import sweep as commands
from tabinv.data.dataset import Dataset
from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.defences.sweep import summarise, sweep
from tabinv.defences.verdict import sweep_verdict
from tabinv.defences.warfarin import warfarin_dp
from tabinv.evaluation.estimate import Estimate
from tabinv.evaluation.utility import utility, utility_metric_names, utility_values
from tabinv.exceptions import ModelError
from tabinv.models.families import make_model
from tabinv.report.json import to_json
from tabinv.vocabulary import LEAKAGE_BASELINES, RATINGS, rating, size_words

POINT_KEYS = {"epsilon", "epsilon_spent", "utility", "attacks", "baselines"}
ATTACK_KEYS = {"method", "variant", "sensitive", "population", "accuracy", "leakage",
               "leakage_per_seed", "over", "rating", "size"}
BASELINE_KEYS = {"method", "sensitive", "population", "accuracy"}
ESTIMATE_KEYS = {"value", "low", "high"}


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return Dataset("synthetic-iwpc", builtin_card("iwpc"), synthetic_iwpc(400, 3))


@pytest.fixture(scope="module")
def tiny_sweep(tiny):
    calls = []
    result = sweep(tiny, "linear", epsilons=[1000, 2], seeds=2, sensitive=["vkorc1"],
                   progress=lambda done, total: calls.append((done, total)))
    return result, calls


def _without_time(document: dict) -> dict:
    return {**document, "settings": {k: v for k, v in document["settings"].items()
                                     if k not in ("seconds", "jobs")}}


def test_document_has_the_agreed_keys(tiny_sweep):
    result, _ = tiny_sweep
    document = json.loads(to_json(result.to_dict()))
    assert document["kind"] == "sweep"
    assert {"dataset", "model", "threat", "epsilons", "seeds", "utility_metrics", "points",
            "verdict", "settings"} <= set(document)
    assert {"family", "task", "label"} <= set(document["model"])
    assert document["model"]["family"] == "linear"
    assert document["dataset"]["name"] == "synthetic-iwpc"
    assert document["threat"]["sensitive"] == ["vkorc1"]
    assert document["epsilons"] == [2.0, 1000.0] and document["seeds"] == [0, 1]
    assert document["utility_metrics"] == ["r2", "within_20"]
    assert [p["epsilon"] for p in document["points"]] == [None, 2.0, 1000.0]
    assert [p["epsilon_spent"] for p in document["points"]] == [None, 2.0, 1000.0]
    for point in document["points"]:
        assert POINT_KEYS <= set(point)
        assert set(point["utility"]) == {"r2", "within_20"}
        assert all(set(e) == ESTIMATE_KEYS for e in point["utility"].values())
        assert point["attacks"] and point["baselines"]
        for row in point["attacks"]:
            assert ATTACK_KEYS <= set(row) and set(row["leakage"]) == ESTIMATE_KEYS
            assert row["rating"] in RATINGS and "advantage" not in row
        for row in point["baselines"]:
            assert BASELINE_KEYS <= set(row)
        populations = {row["population"] for row in point["attacks"]}
        assert populations == {"members", "non-members"}
        assert {r["method"] for r in point["baselines"]} >= {"prior-mode", "imputation"}
    assert {"jobs", "random_state", "tabinv", "seconds"} <= set(document["settings"])
    assert document["settings"]["budget"]["epsilon_per_seed"] == pytest.approx(1002.0)
    assert "epsilon" in document["verdict"]
    row = document["points"][1]["attacks"][0]
    assert len(row["accuracy_per_seed"]) == 2 and len(row["leakage_per_seed"]) == 2
    assert len(document["points"][1]["utility_per_seed"]["within_20"]) == 2


def test_leakage_is_attack_minus_the_best_baseline_per_seed(tiny_sweep):
    result, _ = tiny_sweep
    point = result.point(None)
    row = next(a for a in point["attacks"] if a["variant"] == "marginal prior"
               and a["population"] == "members")
    used = [b["accuracy_per_seed"] for b in point["baselines"]
            if b["method"] in LEAKAGE_BASELINES and b["population"] == "members"]
    differences = np.subtract(row["accuracy_per_seed"], np.max(used, axis=0))
    np.testing.assert_allclose(row["leakage_per_seed"], differences)
    assert row["leakage"].value == pytest.approx(np.mean(differences))
    assert row["rating"] == rating(row["leakage"].low, row["leakage"].high)
    assert set(row["over"].split(" or ")) <= set(LEAKAGE_BASELINES)
    assert row["accuracy"].value == pytest.approx(np.mean(row["accuracy_per_seed"]))


def test_progress_reports_every_task(tiny_sweep):
    _, calls = tiny_sweep
    assert calls[0] == (0, 6) and calls[-1] == (6, 6) and len(calls) == 7


def test_reproducible_and_independent_of_jobs(tiny, tiny_sweep):
    """Also issue 12, item 8: once `sweep(..., jobs=2)` returns, the caller (which lives
    on) has no joblib worker left (loky would keep them idle for reuse); only the
    interpreter's resource trackers stay, as for any joblib user."""
    result, _ = tiny_sweep
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    again = sweep(tiny, "linear", epsilons=[2, 1000], seeds=2, sensitive=["vkorc1"], jobs=2)
    assert _without_time(again.to_dict()) == _without_time(result.to_dict())
    assert again.settings["jobs"] == 2
    workers = []
    for child in me.children(recursive=True):
        try:
            if child.pid not in before and child.status() != psutil.STATUS_ZOMBIE \
                    and "resource_tracker" not in " ".join(child.cmdline()):
                workers.append(f"{child.pid}: {' '.join(child.cmdline())[:100]}")
        except psutil.Error:  # ended meanwhile
            continue
    assert not workers, f"joblib workers alive after sweep() returned: {workers}"


def test_other_seeds_give_other_numbers(tiny, tiny_sweep):
    result, _ = tiny_sweep
    other = sweep(tiny, "linear", epsilons=[2], seeds=1, sensitive=["vkorc1"],
                  random_state=5, attacks=[AttackSpec()])
    assert other.seeds == (5,)
    assert other.point(2.0)["utility"]["r2"] != result.point(2.0)["utility"]["r2"]


def test_classifier_sweep_measures_accuracy_and_auc(tiny):
    result = sweep(tiny, "naive-bayes", epsilons=[1.0], seeds=[4], sensitive=["vkorc1"],
                   label="dose_class", attacks=[AttackSpec("map")])
    assert result.utility_metrics == ("accuracy", "auc")
    point = result.point(1.0)
    assert 0 <= point["utility"]["accuracy"].value <= 1
    assert math.isnan(point["utility"]["auc"].low)  # one seed: no interval over seeds
    for row in point["attacks"]:  # one seed: the leakage keeps its bootstrap interval
        assert row["leakage"].low <= row["leakage"].value <= row["leakage"].high
        assert row["leakage_per_seed"] == [row["leakage"].value]
        assert row["rating"] == rating(row["leakage"].low, row["leakage"].high)
    assert result.model["task"] == "classification"


def test_bad_sweeps_are_refused(tiny):
    for kwargs in ({"epsilons": []}, {"epsilons": [0]}, {"epsilons": ["x"]},
                   {"seeds": 0}, {"seeds": []}, {"seeds": [1.5]}, {"seeds": "ab"}):
        arguments = {"epsilons": [1.0], "seeds": 1, **kwargs}
        with pytest.raises(ModelError):
            sweep(tiny, "linear", sensitive=["vkorc1"], **arguments)
    with pytest.raises(ModelError, match="no differentially private"):
        sweep(tiny, "xgboost", epsilons=[1], seeds=1, sensitive=["vkorc1"])


def test_summarise_is_a_t_interval():
    estimate = summarise([1.0, 2.0, 3.0])
    assert estimate.value == 2.0
    assert estimate.high - 2.0 == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert summarise([0.1, 0.9], 0.0, 1.0).low == 0.0
    single = summarise([0.5, math.nan])
    assert single.value == 0.5 and math.isnan(single.low)
    assert math.isnan(summarise([]).value)


def _point(epsilon, leakage, within, half=0.01):
    estimate = Estimate(leakage, leakage - half, leakage + half)
    return {"epsilon": epsilon,
            "utility": {"r2": Estimate(0.4, 0.39, 0.41),
                        "within_20": Estimate(within, within - 0.01, within + 0.01)},
            "attacks": [{"method": "map", "variant": "marginal prior", "sensitive": "s",
                         "population": "members", "accuracy": estimate,
                         "leakage": estimate, "over": "prior-mode",
                         "rating": rating(estimate.low, estimate.high),
                         "size": size_words(leakage, "s")}],
            "baselines": []}


def test_verdict_names_where_the_leakage_vanishes_and_the_cost():
    points = [_point(None, 0.1, 0.46), _point(1.0, 0.0, 0.0),
              _point(10.0, 0.0, 0.05), _point(100.0, 0.08, 0.45)]
    text = sweep_verdict(points, ["r2", "within_20"], {})
    assert text.startswith("Without DP, map (marginal prior) guesses s right 10 points more "
                           "often than population statistics allow (+0.100 [+0.090, +0.110] "
                           "over prior-mode): it leaks;")
    assert "at epsilon 10 the attack falls to the baseline" in text
    assert "leaks again from epsilon 100 on (guesses s right 8 points more" in text
    assert ("At epsilon 10, 5% of patients are dosed within 20% of their stable dose "
            "[4%, 6%] (without DP: 46% of patients") in text
    assert "utility reaches the non-private level from epsilon 100" in text
    wide = [_point(None, 0.1, 0.46), _point(1.0, 0.02, 0.1, half=0.05)]
    assert "at epsilon 1 the attack no longer measurably leaks" in sweep_verdict(
        wide, ["within_20"], {})
    never = [_point(None, -0.1, 0.46), _point(1.0, -0.1, 0.4)]
    text = sweep_verdict(never, ["r2", "within_20"], {})
    assert "no measurable leakage; there is nothing for DP to remove" in text
    assert "The cost of DP: at the smallest epsilon tried (1), 40% of patients" in text
    both = [{**point, "attacks": point["attacks"] + [{**point["attacks"][0],
                                                       "variant": "learned prior"}]}
            for point in never]
    assert sweep_verdict(both, ["r2"], {}).startswith(
        "Without DP, no measurable leakage for these attacks (map (marginal prior) on s "
        "-0.100 [-0.110, -0.090] over prior-mode; map (learned prior) on s -0.100 "
        "[-0.110, -0.090] over prior-mode): there is nothing for DP to remove.")
    unsure = [_point(None, 0.02, 0.46, half=0.05), _point(1.0, 0.0, 0.4)]
    assert "inconclusive; these records cannot tell" in sweep_verdict(unsure, ["r2"], {})


def test_utility_matches_hand_and_sklearn(iwpc_splits):
    model = make_model("linear", builtin_card("iwpc")).fit(iwpc_splits.members)
    records = iwpc_splits.non_members
    values = utility_values(model, records)
    truth = np.sqrt(records["dose"].to_numpy())
    assert values["r2"] == pytest.approx(r2_score(truth, model.predict_fitted(records)))
    predicted, stable = model.predict(records), records["dose"].to_numpy()
    assert values["within_20"] == np.mean(np.abs(predicted - stable) <= 0.2 * stable)
    with_intervals = utility(model, records, n_boot=50)
    for name, estimate in with_intervals.items():
        assert estimate.low <= values[name] <= estimate.high
    card = builtin_card("iwpc").with_label("dose_class")
    classifier = make_model("tree", card, max_depth=3).fit(iwpc_splits.members)
    scores = utility(classifier, records, n_boot=20)
    codes = classifier.label_codes(records["dose_class"])
    expected = roc_auc_score(codes, classifier.predict_proba(records), multi_class="ovr")
    assert scores["auc"].value == pytest.approx(expected)
    assert utility_metric_names(card) == ["accuracy", "auc"]
    assert utility_metric_names(builtin_card("iwpc")) == ["r2", "within_20"]


def test_cli_sweep_and_demo(tmp_path, monkeypatch, tiny_sweep):
    runner = CliRunner()
    out = tmp_path / "sweep.json"
    result = runner.invoke(app, ["sweep", "--sensitive", "vkorc1", "--epsilons", "1000",
                                 "--seeds", "1", "--prior", "marginal", "--json",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["kind"] == "sweep"
    bad = runner.invoke(app, ["sweep", "--sensitive", "vkorc1", "--epsilons", "1,x"])
    assert bad.exit_code == 2 and "numbers separated by commas" in bad.output
    received = {}

    def fake_demo(**kwargs):  # the real one is measured in the README, not in tests
        received.update(kwargs)
        return dataclasses.replace(tiny_sweep[0], notes=("a note",))

    monkeypatch.setattr(commands, "warfarin_dp", fake_demo)
    demo_out = tmp_path / "warfarin" / "result.json"
    shown = runner.invoke(app, ["demo", "warfarin-dp", "--epsilons", "1,1000", "--seeds", "3",
                                "--jobs", "2", "--out", str(demo_out)])
    assert shown.exit_code == 0, shown.output
    assert received["epsilons"] == [1.0, 1000.0] and received["seeds"] == 3
    assert received["jobs"] == 2
    assert json.loads(demo_out.read_text())["notes"] == ["a note"]
    assert "attacks on training members" in shown.output and "- a note" in shown.output


def test_warfarin_demo_runs_the_2014_setup():
    result = warfarin_dp(epsilons=[1000], seeds=1, n_boot=5)
    assert result.threat["sensitive"] == ["vkorc1", "cyp2c9"]
    assert result.model["family"] == "linear" and result.model["label"] == "dose"
    variants = {a["variant"] for a in result.point(None)["attacks"]}
    assert variants == {"marginal prior", "learned prior"}
    assert len(result.notes) == 3 and "Fredrikson" in result.notes[0]


@pytest.mark.slow
def test_iwpc_shape(iwpc):
    result = sweep(iwpc, "linear", epsilons=[1, 1000], seeds=2, sensitive=["vkorc1"],
                   attacks=[AttackSpec()])
    plain, low, high = (result.point(e) for e in (None, 1.0, 1000.0))
    assert low["utility"]["within_20"].value < 0.05
    assert high["utility"]["within_20"].value > 0.4
    assert abs(high["utility"]["within_20"].value - plain["utility"]["within_20"].value) < 0.03

    def members(point):
        return next(a["accuracy"].value for a in point["attacks"]
                    if a["population"] == "members")
    assert abs(members(high) - members(plain)) < 0.03
