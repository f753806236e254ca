"""The chunk pipeline and lazily encoded records: same results as a serial run, bit for
bit, whatever the chunk and block sizes; errors surface with whole-data messages."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from tabinv.attacks import pipeline
from tabinv.attacks.map import MAPInversion
from tabinv.attacks.pipeline import LazyRecords, pipelined
from tabinv.exceptions import DataError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .reference import ToyWorld


def test_pipeline_runs_every_chunk_in_order_and_queries_in_the_calling_thread() -> None:
    chunks = [(i, i + 1) for i in range(9)]
    caller = threading.get_ident()
    queried, finished = [], []

    def query(value: int) -> int:
        assert threading.get_ident() == caller
        queried.append(value)
        return value * 10

    pipelined(chunks, lambda chunk: chunk[0], query,
              lambda output, chunk: finished.append((output, chunk)))
    assert queried == list(range(9))
    assert finished == [(10 * i, (i, i + 1)) for i in range(9)]


def test_finish_here_runs_the_reduction_in_the_calling_thread() -> None:
    caller = threading.get_ident()
    threads = set()
    pipelined([(i, i + 1) for i in range(5)], lambda chunk: chunk[0], lambda value: value,
              lambda output, chunk: threads.add(threading.get_ident()), finish_here=True)
    assert threads == {caller}


@pytest.mark.parametrize("stage", ["prepare", "query", "finish"])
def test_an_error_in_any_stage_is_raised(stage: str) -> None:
    def fail_at_3(name: str) -> Any:
        def run(*args: Any) -> Any:
            value = args[-1][0] if name != "query" else args[0]
            if name == stage and value == 3:
                raise ValueError(f"{name} failed")
            return value if name == "prepare" else args[0]
        return run

    with pytest.raises(ValueError, match=f"{stage} failed"):
        pipelined([(i, i + 1) for i in range(6)], fail_at_3("prepare"), fail_at_3("query"),
                  fail_at_3("finish"))


def test_lazy_records_encode_each_block_once_and_chunks_stay_inside_blocks() -> None:
    data = np.arange(23 * 2, dtype=float).reshape(23, 2)
    calls = []

    def encode(start: int, stop: int) -> np.ndarray:
        calls.append((start, stop))
        return data[start:stop]

    lazy = LazyRecords(encode, 23, 2, block=10)
    chunks = lazy.chunks(4)
    assert chunks == [(0, 4), (4, 8), (8, 10), (10, 14), (14, 18), (18, 20), (20, 23)]
    stacked = np.concatenate([lazy.get(*chunk) for chunk in chunks])
    np.testing.assert_array_equal(stacked, data)
    assert calls == [(0, 10), (10, 20), (20, 23)]
    assert LazyRecords(encode, 0, 2).chunks(4) == [(0, 0)]


@pytest.fixture(scope="module")
def toy() -> dict[str, Any]:
    world = ToyWorld(7, task="classification", n_numeric=2, n_classes=3)
    model = make_model("tree", world.card(), random_state=0, max_depth=5).fit(
        world.sample(400))
    return {"model": model, "reference": world.sample(100), "records": world.sample(257)}


def _attack(toy: dict[str, Any], **params: Any) -> MAPInversion:
    model = toy["model"]
    known = [f for f in model.features if f not in ("c0", "n1")]
    return MAPInversion(**params).fit(Oracle.for_model(model), sensitive=["c0"],
                                      known=known, reference=toy["reference"])


def test_map_posterior_is_the_same_for_any_chunk_and_block_size(
        toy: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    whole = _attack(toy).infer(toy["records"]).probabilities
    monkeypatch.setattr(pipeline, "ENCODE_BLOCK", 13)
    least = _attack(toy).memory_needed(len(toy["records"]))  # one-record chunks
    for memory in (least, least + 5_000, least + 50_000):
        chunked = _attack(toy, memory=memory).infer(toy["records"]).probabilities
        np.testing.assert_array_equal(chunked, whole)


def test_a_bad_value_is_reported_for_all_records_not_one_block(
        toy: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "ENCODE_BLOCK", 10)
    records = toy["records"].copy()
    records.loc[[3, 150, 250], "c1"] = None  # three blocks
    with pytest.raises(DataError, match="'c1' has 3 missing value"):
        _attack(toy, memory=_attack(toy).memory_needed(len(records))).infer(records)
