"""Item 2: one home (tabinv.vocabulary) for the "method (variant)" label, the baseline
names and their meanings; every layer uses it and they agree."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pandas as pd
import pytest

from tabinv import api, vocabulary
from tabinv.attacks import baselines
from tabinv.attacks.priors import TablePrior
from tabinv.attacks.specs import AttackSpec, expand_specs
from tabinv.data.dataset import Dataset
from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.defences.verdict import sweep_verdict
from tabinv.evaluation.estimate import Estimate
from tabinv.report.document import as_document, is_baseline, method_key
from tabinv.report.markdown import render_markdown
from tabinv.text import markdown_text
from tabinv.vocabulary import BASELINE_MEANINGS, BASELINES, method_label


@functools.cache
def classifier_assessment() -> api.Assessment:
    """A small decision-tree classifier of the dose class: every baseline applies."""
    data = Dataset("tiny", builtin_card("iwpc"), synthetic_iwpc(400, random_state=3))
    specs = expand_specs(["map"], ["marginal", "conditional:race"])
    return api.assess(data, "tree", sensitive=["vkorc1"], label="dose_class", n_boot=5,
                      attacks=specs, random_state=0)


def test_item2_every_baseline_produced_has_a_meaning_in_the_report():
    """item 2: every baseline attacks/baselines.py can produce is a vocabulary baseline
    with a meaning, and the report explains each one it shows."""
    assert baselines.BASELINES is BASELINES
    assert set(BASELINE_MEANINGS) == set(BASELINES)
    assessment = classifier_assessment()
    produced = {r.method for r in assessment.results if r.method != "map"}
    # a classifier with members: all apply but boosted-imputation, which runs with the
    # meta attack only (tests/attacks/test_boosted_imputation.py)
    assert produced == set(BASELINES) - {"boosted-imputation"}
    document = as_document(assessment)
    text = render_markdown(document)
    for name in sorted(produced):
        assert markdown_text(f"{name}: {BASELINE_MEANINGS[name]}.", start=True) in text
    assert {r["method"] for r in document["results"] if is_baseline(r)} == produced


@pytest.mark.parametrize("spec", [
    *expand_specs(["map"], ["marginal", "learned", "conditional:race,age"]),
    AttackSpec(prior=TablePrior(pd.DataFrame({"vkorc1": ["A/A"], "probability": [1.0]}))),
    AttackSpec("csmia"),
], ids=lambda spec: spec.label)
def test_item2_attack_spec_label_is_the_method_label(spec):
    """item 2: an attack spec's label is the vocabulary's label of its name and variant."""
    assert spec.label == method_label(spec.name, spec.variant)
    assert spec.label == (f"{spec.name} ({spec.variant})" if spec.variant else spec.name)


def test_item2_results_report_and_verdict_use_the_same_labels():
    """item 2: a result's key, the report's label of its row, the timings and the sweep
    verdict all name a method the same way."""
    assessment = classifier_assessment()
    keys = {r.key for r in assessment.results}
    assert {"map (marginal prior)", "map (prior given race)", *BASELINES} \
        - {"boosted-imputation"} == keys
    document = as_document(assessment)
    for result, row in zip(assessment.results, document["results"], strict=True):
        assert result.key == method_key(row) == method_label(result.method, result.variant)
    text = render_markdown(document)
    assert all(f"| {markdown_text(key)} |" in text for key in keys)
    timings = assessment.settings["timings_seconds"]
    assert {"fit map (marginal prior)", "fit map (prior given race)"} <= set(timings)
    row = {"method": "map", "variant": "learned prior", "sensitive": "vkorc1",
           "population": "members", "accuracy": Estimate(0.7, 0.65, 0.75),
           "leakage": Estimate(0.1, 0.05, 0.15), "over": "imputation", "rating": "leaks",
           "size": "guesses vkorc1 right 10 points more often than population statistics "
                   "allow"}
    points = [{"epsilon": None, "attacks": [row], "utility": {"r2": Estimate(0.4, 0.3, 0.5)}},
              {"epsilon": 1.0, "attacks": [row], "utility": {"r2": Estimate(0.3, 0.2, 0.4)}}]
    verdict = sweep_verdict(points, ["r2"], {})
    assert verdict.startswith(f"Without DP, {method_label('map', 'learned prior')} guesses")


def test_item2_vocabulary_imports_nothing_from_tabinv():
    """item 2: the vocabulary sits below every layer (no tabinv import, so no cycle)."""
    tree = ast.parse(Path(vocabulary.__file__).read_text(encoding="utf-8"))
    imported = [n.module or "" if isinstance(n, ast.ImportFrom) else a.name
                for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
                for a in n.names]
    assert imported == ["__future__"]
    assert method_label("map", None) == "map" and method_label("map", "") == "map"
