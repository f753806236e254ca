"""Issue 14, item 4: per-value and confusion counts of 1 to min_cell - 1 records are
withheld (default 10, 0 withholds none); the metrics are computed on every record."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tabinv import api
from tabinv.attacks.candidates import Candidates, Posterior
from tabinv.batch.inventory import InventoryError, parse_inventory
from tabinv.cli import app
from tabinv.core import ThreatModel
from tabinv.data.dataset import Dataset
from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.evaluation.results import score_posterior
from tabinv.evaluation.smallcells import (
    DEFAULT_MIN_CELL,
    suppress_confusion,
    suppress_rows,
)
from tabinv.exceptions import AttackError
from tabinv.report.document import as_document
from tabinv.report.files import report_text
from tabinv.report.json import to_json

# true value -> inferred value -> records: a hand-made confusion matrix
CONFUSION = [[40, 3, 0],
             [9, 25, 10],
             [1, 0, 12]]


def _scored(min_cell: int) -> Any:
    """The result of a posterior that infers exactly the cells of CONFUSION."""
    candidates = Candidates.from_domains({"g": ["a", "b", "c"]})
    truth, inferred = [], []
    for true, row in enumerate(CONFUSION):
        for guess, count in enumerate(row):
            truth += [true] * count
            inferred += [guess] * count
    probabilities = np.full((len(truth), 3), 0.1)
    probabilities[np.arange(len(truth)), inferred] = 0.8
    posterior = Posterior(candidates, probabilities, "map")
    [result] = score_posterior(posterior, np.asarray(truth), population="members",
                               n_boot=20, min_cell=min_cell)
    return result


def test_default_is_ten_and_the_threat_model_takes_it():
    assert DEFAULT_MIN_CELL == 10 == ThreatModel(sensitive=("vkorc1",)).min_cell
    assert ThreatModel(sensitive=("vkorc1",), min_cell=0).min_cell == 0
    for bad in (-1, 2.5, "10", None):
        with pytest.raises(AttackError, match="min_cell"):
            ThreatModel(sensitive=("vkorc1",), min_cell=bad)


def test_counts_one_to_nine_are_withheld_by_default():
    result = _scored(DEFAULT_MIN_CELL)
    assert result.confusion == ((40, None, 0), (None, 25, 10), (None, 0, 12))
    assert result.suppressed_below == 10
    a, b, c = result.per_value
    # a: 43 hold it, 50 inferred as it, 40 right: nothing small
    assert (a["support"], a["predicted"], a["suppressed"]) == (43, 50, False)
    assert a["precision"].value == pytest.approx(40 / 50)
    assert a["recall"].value == pytest.approx(40 / 43)
    # b: 44 hold it, 28 inferred as it, 25 right: nothing small either
    assert (b["support"], b["predicted"], b["suppressed"]) == (44, 28, False)
    # c: 13 hold it, 22 inferred as it, 12 right: counts shown; zero cells kept
    assert (c["support"], c["predicted"], c["suppressed"]) == (13, 22, False)


def test_a_small_count_takes_the_rates_that_would_give_it_back():
    result = _scored(15)
    c = result.per_value[2]
    # 13 hold c (small), 12 right (small): support, precision and recall withheld
    assert (c["support"], c["predicted"], c["precision"], c["recall"]) == (None, 22, None,
                                                                            None)
    assert c["suppressed"] is True
    assert result.confusion == ((40, None, 0), (None, 25, None), (None, 0, None))


def test_zero_withholds_nothing_and_metrics_do_not_change():
    shown, hidden = _scored(0), _scored(DEFAULT_MIN_CELL)
    assert shown.confusion == tuple(tuple(row) for row in CONFUSION)
    assert shown.suppressed_below == 0
    assert not any(row["suppressed"] for row in shown.per_value)
    assert shown.metrics == hidden.metrics  # accuracy, AUC ... on every record
    assert shown.metrics["accuracy"].value == pytest.approx(77 / 100)


@pytest.mark.parametrize("min_cell, expected", [
    (0, ((12, 3), (0, 40))), (3, ((12, 3), (0, 40))), (4, ((12, None), (0, 40))),
    (10, ((12, None), (0, 40))), (40, ((None, None), (0, 40))),
    (41, ((None, None), (0, None)))])
def test_confusion_cells(min_cell, expected):
    assert suppress_confusion([[12, 3], [0, 40]], min_cell) == expected


def test_rows_by_hand():
    rows = [{"value": "x", "support": 20, "predicted": 20, "precision": 0.25, "recall": 0.25},
            {"value": "y", "support": 0, "predicted": 0, "precision": None, "recall": None}]
    x, y = suppress_rows(rows, [5, 0], 10)
    # 5 right out of 20 and 20: the counts are shown, the rates would give 5 back
    assert (x["support"], x["predicted"], x["precision"], x["recall"], x["suppressed"]) == (
        20, 20, None, None, True)
    assert (y["support"], y["predicted"], y["suppressed"]) == (0, 0, False)


@pytest.fixture(scope="module")
def cohort() -> Dataset:
    return Dataset("synthetic-iwpc", builtin_card("iwpc"), synthetic_iwpc(400, 3))


def _counts(document: Any) -> list[int]:
    """Every per-value and confusion count of a JSON document."""
    counts = []
    for scenario in document["assessments"]:
        for row in scenario["results"]:
            counts += [c for line in row["confusion"] for c in line if c is not None]
            counts += [r[k] for r in row["per_value"] for k in ("support", "predicted")
                       if r[k] is not None]
    return counts


def test_assessment_json_holds_no_small_count(cohort):
    options = {"sensitive": ["cyp2c9"], "n_boot": 20, "attacks": ["map"],
               "priors": ["marginal"]}
    plain = api.assess(cohort, "linear", min_cell=0, **options)
    default = api.assess(cohort, "linear", **options)
    raw = json.loads(to_json(as_document(plain)))
    assert any(0 < c < 10 for c in _counts(raw))  # the data have small cells ...
    document = json.loads(to_json(as_document(default)))
    assert not any(0 < c < 10 for c in _counts(document))  # ... none is written
    assert document["assessments"][0]["settings"]["min_cell"] == 10
    assert raw["assessments"][0]["settings"]["min_cell"] == 0
    for before, after in zip(plain.results, default.results, strict=True):
        assert before.metrics == after.metrics
    text = report_text([default], ".md")
    assert "Counts of fewer than 10 records are withheld" in text
    assert "| &lt;10 |" in text  # a withheld count in the per-value table (Markdown)


def test_command_line_and_inventory_take_min_cell(tmp_path):
    result = CliRunner().invoke(app, ["assess", "-s", "vkorc1", "--min-cell", "-1"])
    assert result.exit_code == 2 and "min-cell" in result.output
    base = {"defaults": {"data": "iwpc", "label": "dose", "sensitive": ["vkorc1"]}}
    model = tmp_path / "m.skops"
    model.write_bytes(b"")
    good = parse_inventory({**base, "entry": [{"name": "a", "model": str(model),
                                                "min_cell": 0}]}, base=tmp_path)
    assert good.entries[0].min_cell == 0
    for bad in (-1, "10", True, 2.5):
        with pytest.raises(InventoryError, match="key 'min_cell': expected an integer >= 0"):
            parse_inventory({**base, "entry": [{"name": "a", "model": str(model),
                                                "min_cell": bad}]}, base=tmp_path)
