"""Issue 13, item 5: the generic black-box path on a pipeline tabinv did not train.

Candidate rows reach the pipeline in its own input form (object text columns, its
column order), chunked so that the chunks in flight, the model's own copy of them
included, fit the ``memory`` budget; the posteriors equal a brute-force reference that
calls the pipeline itself on every candidate row, whatever the chunking.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks.budget import AHEAD, record_bytes
from tabinv.attacks.candidates import normalise_log_scores, row_sums
from tabinv.attacks.map import MAPInversion
from tabinv.core.inputs import load_dataset
from tabinv.exceptions import AttackError
from tabinv.models.foreign import UNMEASURED_ROW_BYTES, ForeignModel, traced_peak
from tabinv.models.oracle import Oracle
from tabinv.models.sources import open_model

from .reference import brute_force_map

CATEGORICAL = ["race", "vkorc1", "cyp2c9"]
NUMERIC = ["age", "height_cm", "weight_kg", "enzyme_inducer", "amiodarone"]
COLUMNS = NUMERIC[::-1] + CATEGORICAL  # the pipeline's own order
SENSITIVE = ("vkorc1", "cyp2c9")


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    dataset = load_dataset("iwpc").with_label("dose_class")
    frame = dataset.frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    members, reference, attacked = frame[:600], frame[600:1400], frame[1400:1430]
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                              ("num", StandardScaler(), NUMERIC)])
    pipe = Pipeline([("prep", prep), ("clf", RandomForestClassifier(
        n_estimators=15, max_depth=6, random_state=0))]).fit(members[COLUMNS],
                                                              members["dose_class"])
    model = open_model(pipe, card=dataset.card, records=members, recognise=False)
    return {"card": dataset.card, "pipe": pipe, "model": model, "members": members,
            "reference": reference, "attacked": attacked.reset_index(drop=True)}


def fit_attack(world: dict[str, Any], memory: int | None = None) -> MAPInversion:
    model = world["model"]
    known = [f for f in model.features if f not in SENSITIVE]
    attack = MAPInversion() if memory is None else MAPInversion(memory=memory)
    return attack.fit(Oracle.for_model(model), sensitive=SENSITIVE, known=known,
                      reference=world["reference"])


class PipelineRows:
    """The pipeline asked directly on one-row-per-query frames (no tabinv encoding or
    decoding): what :func:`brute_force_map` calls the model."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.pipe = world["pipe"]
        self.model = world["model"]
        self.card, self.features, self.label = self.model.card, self.model.features, \
            self.model.label
        self.task = "classification"

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        present = self.pipe.predict_proba(frame[COLUMNS])
        domain = list(self.card["columns"][self.label]["domain"])
        full = np.zeros((len(frame), len(domain)))
        full[:, [domain.index(c) for c in self.pipe.classes_]] = present
        return full


def test_item5_generic_posteriors_equal_the_pipeline_asked_row_by_row(
        world: dict[str, Any]) -> None:
    """item 5: the generic path (decoded chunks, object columns, measured chunking)
    gives the posteriors of the pipeline called on every candidate row."""
    attack = fit_attack(world)
    assert attack.grid_.scorer(attack.oracle_) is None  # the pipeline answers the rows
    fast = attack.infer(world["attacked"]).probabilities
    slow = brute_force_map(PipelineRows(world), world["attacked"], sensitive=SENSITIVE,
                           known=attack.known_, reference=world["reference"],
                           access="confidence")
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


@pytest.mark.parametrize("records_per_chunk", [2, 7])
def test_item5_chunking_does_not_change_the_posteriors(world: dict[str, Any],
                                                       records_per_chunk: int) -> None:
    """item 5 (and issue 15, item 5): chunks of 2 or 7 records give the same posteriors
    as the default chunks (one chunk here), bit for bit: a record's posterior does not
    depend on the chunk it lands in (an endpoint's chunks are not the in-process
    attack's)."""
    default = fit_attack(world)
    grid = default.grid_
    n = len(world["attacked"])
    reserved = default.reserved_bytes(n)
    per_record = (AHEAD + 1) * record_bytes(grid.n_points, grid.point_width(default.oracle_))
    per_record += grid.n_points * grid.query_bytes(default.oracle_)
    tight = grid.table_bytes + reserved + records_per_chunk * per_record
    small = fit_attack(world, memory=tight)
    step = small.grid_.chunk_size(grid.point_width(small.oracle_), tight, reserved,
                                  small.grid_.query_bytes(small.oracle_))
    assert step == records_per_chunk
    np.testing.assert_array_equal(small.infer(world["attacked"]).probabilities,
                                  default.infer(world["attacked"]).probabilities)


def test_row_sums_depend_on_the_row_only() -> None:
    """issue 15, item 5: a row's sum is the same bit for bit whatever rows surround it
    (a BLAS matrix-vector product sums the last rows of a block in another order)."""
    values = np.random.default_rng(0).random((600, 18)) ** 3
    whole = row_sums(values)
    for start in range(0, 9):
        for length in (1, 2, 3, 5, 7, 13, 291):
            np.testing.assert_array_equal(row_sums(values[start:start + length]),
                                          whole[start:start + length])
    logs = np.log(values)
    np.testing.assert_array_equal(normalise_log_scores(logs[3:10], "map"),
                                  normalise_log_scores(logs, "map")[3:10])


def test_item5_the_pipeline_gets_its_own_column_types(world: dict[str, Any]) -> None:
    """item 5: the candidate table is in the pipeline's order, text as object columns
    holding the card's values (not pandas' inferred string dtype), numbers as floats."""
    model: ForeignModel = world["model"]
    tables: list[pd.DataFrame] = []
    record_model = model.estimator_
    original = record_model._proba
    record_model._proba = lambda table: tables.append(table) or original(table)
    try:
        fit_attack(world).infer(world["attacked"])
    finally:
        record_model._proba = original
    table = tables[0]
    assert list(table.columns) == COLUMNS
    assert all(table[c].dtype == object for c in CATEGORICAL)
    assert all(table[c].dtype == np.float64 for c in NUMERIC)
    assert set(table["cyp2c9"]) == set(world["card"].column("cyp2c9").domain)
    assert sum(len(t) for t in tables) == len(world["attacked"]) * 18


def test_item5_chunks_hold_the_models_own_memory_within_the_budget(
        world: dict[str, Any]) -> None:
    """item 5: a foreign model declares the bytes it holds per row (measured on its fit
    records); the chunk size counts them, and what the pipeline allocates answering one
    chunk stays within that share of the budget."""
    attack = fit_attack(world)
    grid, oracle = attack.grid_, attack.oracle_
    per_row = world["model"].query_row_bytes
    assert per_row > 8 * len(COLUMNS)  # at least its input table
    assert grid.query_bytes(oracle) == per_row
    n = 400
    reserved = attack.reserved_bytes(n)
    memory = grid.table_bytes + reserved + 60 * (
        (AHEAD + 1) * record_bytes(grid.n_points, grid.point_width(oracle))
        + grid.n_points * per_row)
    step = grid.chunk_size(grid.point_width(oracle), memory, reserved, per_row)
    assert step == 60  # more rows than the fit records the model was measured on
    rows = grid.rows(attack.encode_known(world["reference"].iloc[:step]))
    tracemalloc.start()
    try:
        world["model"].output_encoded(rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= step * grid.n_points * per_row, (peak, step * grid.n_points * per_row)
    assert attack.grid_.fixed_bytes(oracle) >= grid.n_points * per_row


def test_item5_a_budget_without_room_for_the_models_copy_is_refused(
        world: dict[str, Any]) -> None:
    """item 5: the model's own memory counts when one record's chunk is checked against
    the budget: room for the rows alone is not enough."""
    attack = fit_attack(world)
    grid, oracle = attack.grid_, attack.oracle_
    rows_only = grid.table_bytes + (AHEAD + 1) * record_bytes(grid.n_points,
                                                              grid.point_width(oracle))
    with pytest.raises(AttackError, match="one record's chunk of the candidate grid"):
        grid.chunk_size(grid.point_width(oracle), rows_only, 0, grid.query_bytes(oracle))


def test_item5_unmeasured_model_memory_takes_the_generous_default(
        world: dict[str, Any]) -> None:
    """item 5: while someone else traces allocations the model's memory is not measured
    (their trace is left alone) and the default per-row guess applies."""
    tracemalloc.start()
    try:
        assert traced_peak(lambda: 1) == (1, None)
        model = open_model(world["pipe"], card=world["card"], records=world["members"],
                           recognise=False)
    finally:
        tracemalloc.stop()
    assert model.query_row_bytes == UNMEASURED_ROW_BYTES
    result, peak = traced_peak(lambda: np.ones(1000))
    assert result.shape == (1000,) and peak is not None and peak >= 8000


def test_item5_the_measure_travels_with_the_model(world: dict[str, Any]) -> None:
    """item 5: a saved and reloaded model keeps its measured bytes per row (no new
    measurement on the attack's first chunk); refitted on another record model, it
    measures again."""
    import pickle

    model: ForeignModel = world["model"]
    copy = pickle.loads(pickle.dumps(model))
    assert copy.query_row_bytes == model.query_row_bytes != UNMEASURED_ROW_BYTES
    refit = ForeignModel.wrap(copy.estimator_, world["card"])
    refit.row_bytes_ = copy.row_bytes_
    refit.estimator = pickle.loads(pickle.dumps(copy.estimator_))
    refit.fit(world["members"])
    assert refit.row_bytes_[0] is refit.estimator_
