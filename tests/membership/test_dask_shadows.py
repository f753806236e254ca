"""Shadow models trained on a Dask cluster (issue 18): a 2-worker LocalCluster in this
process (threads, ``processes=False``: it starts in a fraction of a second; the batch
tests run tabinv's process cluster), each shadow one task. The shadows' answers equal
those of ``n_jobs=1`` bit for bit, through a given client or a scheduler address; the
connection tabinv opened for an address is closed, the caller's client and cluster are
left open, failed tasks leave nothing behind, and no process outlives the cluster."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest

from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.exceptions import AttackError, DataError
from tabinv.membership import RMIA, LiRA, assess_membership, train_shadows
from tabinv.membership import cluster as cluster_module
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

CARD = builtin_card("iwpc").with_label("dose_class")


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two single-threaded workers; after the module, the cluster is closed and no new
    process is left."""
    from distributed import LocalCluster

    before = children()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as local:
        yield local
    assert local.status.name == "closed"
    assert children() <= before


@pytest.fixture(scope="module")
def client(cluster: Any) -> Iterator[Any]:
    from distributed import Client

    with Client(cluster, set_as_default=False) as opened:
        yield opened


@pytest.fixture(scope="module")
def small() -> tuple[Any, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frame = synthetic_iwpc(120, random_state=3)
    members, non_members, reference = (part.reset_index(drop=True) for part in
                                       (frame[:40], frame[40:80], frame[80:]))
    target = make_model("forest", CARD, random_state=0, n_estimators=5, max_depth=4)
    return target.fit(members), members, non_members, reference


def answers(shadows: Any, target: Any, records: pd.DataFrame) -> np.ndarray:
    return shadows.confidences(Oracle.for_model(target), records)


def test_shadows_on_dask_equal_one_process_bit_for_bit(small, client):
    target, members, _, reference = small
    one = train_shadows(target, reference, n_shadows=6, random_state=5)
    on_dask = train_shadows(target, reference, n_shadows=6, random_state=5, client=client)
    by_address = train_shadows(target, reference, n_shadows=6, random_state=5,
                               client=client.scheduler.address)
    records = pd.concat([reference, members], ignore_index=True)
    for other in (on_dask, by_address):
        assert np.array_equal(one.keep, other.keep) and one.source == other.source
        assert [m.estimator.random_state for m in one.models] == \
            [m.estimator.random_state for m in other.models]
        assert np.array_equal(answers(one, target, records), answers(other, target, records))


def test_the_cluster_keeps_nothing_and_an_address_connection_is_closed(small, cluster,
                                                                       client):
    target, _, _, reference = small
    connected = set(cluster.scheduler.clients)
    train_shadows(target, reference, n_shadows=4, random_state=1,
                  client=cluster.scheduler_address)
    deadline = time.monotonic() + 10  # the scheduler hears of the close asynchronously
    while set(cluster.scheduler.clients) != connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(cluster.scheduler.clients) == connected
    assert not client.status == "closed" and client.scheduler_info()["workers"]
    assert not cluster.scheduler.tasks  # the pool and the shadows were released


def test_attacks_and_the_assessment_give_the_same_answers_on_dask(small, client):
    target, members, non_members, reference = small
    candidates = pd.concat([members, non_members], ignore_index=True)
    for attack in (LiRA(online=True, n_shadows=4), RMIA(n_shadows=4)):
        here = attack.fit(target, reference, candidates=candidates).score(candidates)
        there = attack.fit(target, reference, candidates=candidates,
                           client=client).score(candidates)
        assert np.array_equal(here, there)
    assert "client" not in LiRA().get_params()  # a place to run, not a parameter
    kwargs = {"n_shadows": 4, "n_boot": 20, "random_state": 2}
    plain = assess_membership(target, members, non_members, reference, **kwargs)
    on_dask = assess_membership(target, members, non_members, reference, client=client,
                                **kwargs)
    assert [r.to_dict() for r in plain] == [r.to_dict() for r in on_dask]


def test_a_failing_shadow_raises_as_in_one_process_and_leaves_no_task(small, cluster,
                                                                      client):
    target, _, _, reference = small
    one_class = reference[reference["dose_class"] == reference["dose_class"].iloc[0]]
    with pytest.raises(DataError, match="holds 1 class") as here:
        train_shadows(target, one_class, n_shadows=4, random_state=0)
    with pytest.raises(DataError) as there:
        train_shadows(target, one_class, n_shadows=4, random_state=0, client=client)
    assert str(there.value) == str(here.value)
    deadline = time.monotonic() + 10
    while cluster.scheduler.tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not cluster.scheduler.tasks


def test_a_cluster_losing_the_shadows_is_one_clear_line(small, monkeypatch):
    """Shadow tasks cancelled (their scheduler went away, a worker holding the pool
    died ...): one AttackError line, the tasks cancelled (no cluster needed)."""
    from contextlib import contextmanager

    from distributed.client import FutureCancelledError

    target, _, _, reference = small
    cancelled = []

    class Lost:
        def scatter(self, data, hash):
            return "pool"

        def submit(self, *args, pure):
            return "shadow"

        def gather(self, futures):
            raise FutureCancelledError("fit_half-1", reason="scheduler-connection-lost")

        def cancel(self, futures):
            cancelled.extend(futures)

    @contextmanager
    def connected(_: Any) -> Iterator[Lost]:
        yield Lost()

    monkeypatch.setattr(cluster_module, "_connected", connected)
    with pytest.raises(AttackError, match=r"^the Dask cluster did not train the shadow "
                       r"models \(FutureCancelledError: ") as caught:
        train_shadows(target, reference, n_shadows=2, client="tcp://127.0.0.1:9")
    assert "\n" not in str(caught.value) and cancelled == ["shadow", "shadow", "pool"]


def test_bad_clients_are_one_clear_line(small, client, monkeypatch):
    target, _, _, reference = small
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", 1)
    calls = [
        (lambda: train_shadows(target, reference, n_shadows=4, n_jobs=2, client=client),
         "leave n_jobs at 1"),
        (lambda: train_shadows(target, reference, n_shadows=4, client=8786),
         "received int"),
        (lambda: train_shadows(target, reference, n_shadows=4, client="tcp://127.0.0.1:9"),
         "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9' within 1 s"),
    ]
    for call, message in calls:
        with pytest.raises(AttackError, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)


def test_without_dask_the_error_names_what_to_install(small, monkeypatch):
    target, _, _, reference = small
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(AttackError, match=r"pip install 'dask\[distributed\]'"):
        train_shadows(target, reference, n_shadows=4, client="tcp://127.0.0.1:8786")
    train_shadows(target, reference, n_shadows=2, random_state=0)  # here: no Dask needed
