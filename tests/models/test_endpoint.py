"""Issue 15 items 1-3 and 5 against a fake endpoint on 127.0.0.1 (fakeendpoint.py)
wrapping a real scikit-learn pipeline: posteriors equal the in-process attack's
(exactly; with the detected rounding), the detected access, retries counted, the
budget, batching, and the token kept out of every message."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabinv.attacks.map import MAPInversion
from tabinv.core.inputs import load_dataset
from tabinv.data.splits import split_dataset
from tabinv.models.endpoint import (
    BudgetExhausted,
    EndpointClient,
    EndpointError,
    EndpointModel,
    EndpointSpec,
    open_endpoint,
)
from tabinv.models.oracle import Oracle
from tabinv.models.sources import open_model

from .fakeendpoint import FakeEndpoint, Faults

CATEGORICAL = ["race", "cyp2c9", "vkorc1"]
NUMERIC = ["weight_kg", "age", "height_cm", "amiodarone", "enzyme_inducer"]
TOKEN = "s3cret-token-value"


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    data = load_dataset("iwpc").with_label("dose_class")
    frame = data.frame.sample(600, random_state=3).reset_index(drop=True)
    splits = split_dataset(frame, (0.5, 0.25, 0.25), 0)
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                              ("num", StandardScaler(), NUMERIC)])
    pipe = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=400))])
    pipe.fit(splits.members[CATEGORICAL + NUMERIC], splits.members["dose_class"])
    local = open_model(pipe, card=data.card, records=splits.members, recognise=False)
    return {"card": data.card, "splits": splits, "pipe": pipe, "local": local}


def serve(world: dict[str, Any], faults: Faults | None = None) -> FakeEndpoint:
    pipe = world["pipe"]
    return FakeEndpoint(lambda frame: pipe.predict_proba(frame[CATEGORICAL + NUMERIC]),
                        list(pipe.classes_), faults)


def posteriors(model: Any, world: dict[str, Any], access: str = "confidences",
               decimals: int | None = None) -> np.ndarray:
    splits = world["splits"]
    known = [f for f in model.features if f != "vkorc1"]
    oracle = Oracle.for_model(model, access, decimals=decimals, shortcuts=False)
    fitted = MAPInversion(numeric_points=3).fit(oracle, sensitive=("vkorc1",), known=known,
                                                reference=splits.reference)
    return fitted.infer(splits.non_members.head(30)).probabilities


@pytest.mark.parametrize("protocol", ["mlflow", "v2"])
def test_item5_posteriors_equal_the_in_process_attack(world, protocol) -> None:
    with serve(world) as fake:
        spec = EndpointSpec(fake.url, protocol=protocol, model_name="lr", batch_rows=64,
                            concurrency=2)
        model = open_model(spec, card=world["card"], records=world["splits"].members)
        assert isinstance(model, EndpointModel)
        assert model.access_.describe() == "probabilities" and model.reveals_decimals is None
        before = model.query_stats()
        remote = posteriors(model, world)
        spent = model.query_stats() - before
        model.close()
    np.testing.assert_array_equal(remote, posteriors(world["local"], world))
    assert spent.rows > 0 and spent.retries == 0 and spent.requests >= spent.rows / 64
    assert max(fake.faults.rows) <= 64


def test_item2_rounded_probabilities_are_detected_and_applied(world) -> None:
    with serve(world, Faults(decimals=2)) as fake:
        model = open_model(EndpointSpec(fake.url), card=world["card"],
                           records=world["splits"].members)
        assert model.access_.level == "rounded" and model.reveals_decimals == 2
        assert model.describe()["reveals"] == "probabilities rounded to 2 decimals"
        remote = posteriors(model, world, "rounded", 2)
        model.close()
    np.testing.assert_array_equal(remote, posteriors(world["local"], world, "rounded", 2))


def test_item2_labels_only_is_detected(world) -> None:
    with serve(world, Faults(labels=True)) as fake:
        model = open_model(EndpointSpec(fake.url), card=world["card"],
                           records=world["splits"].members)
        assert model.reveals == "labels" and model.access_.level == "label-only"
        with pytest.raises(Exception, match="label-only"):
            Oracle.for_model(model, "confidences")
        remote = posteriors(model, world, "label-only")
        model.close()
    np.testing.assert_array_equal(remote, posteriors(world["local"], world, "label-only"))


def test_retries_on_503_and_429_count_rows_once(world) -> None:
    members = world["splits"].members
    with serve(world, Faults(fail_every=3, throttle_every=5)) as fake:
        waits: list[float] = []
        spec = EndpointSpec(fake.url, batch_rows=20, concurrency=1, backoff=0.0)
        client = EndpointClient(spec, sleep=waits.append)
        model = open_endpoint(spec, card=world["card"], records=members, client=client)
        stats = model.query_stats()
        remote = posteriors(model, world)
        after = model.query_stats()
        model.close()
    assert stats.rows == spec.probe_rows + len(members)  # probe + published statistics
    assert stats.retries > 0 and after.requests == fake.faults.requests
    assert after.rows - stats.rows == sum(fake.faults.rows) - stats.rows
    assert len(waits) == after.retries and 0.0 in waits  # Retry-After: 0 honoured
    np.testing.assert_array_equal(remote, posteriors(world["local"], world))


def test_dropped_connections_are_retried(world) -> None:
    with serve(world, Faults(drop_every=4)) as fake:
        spec = EndpointSpec(fake.url, batch_rows=30, concurrency=2, backoff=0.0)
        model = open_endpoint(spec, card=world["card"], records=world["splits"].members,
                              client=EndpointClient(spec, sleep=lambda s: None))
        remote = posteriors(model, world)
        stats = model.query_stats()
        model.close()
    assert stats.retries > 0 and stats.requests == fake.faults.requests
    assert stats.rows == sum(fake.faults.rows)  # each answered row counted once
    np.testing.assert_array_equal(remote, posteriors(world["local"], world))


def test_batches_shrink_on_413(world) -> None:
    with serve(world, Faults(max_rows=25)) as fake:
        spec = EndpointSpec(fake.url, batch_rows=100, concurrency=1)
        model = open_model(spec, card=world["card"], records=world["splits"].members)
        assert model.query_stats().rows == spec.probe_rows + len(world["splits"].members)
        model.close()
    assert max(fake.faults.rows) <= 25


def test_item3_budget_stops_before_sending(world) -> None:
    members = world["splits"].members
    with serve(world) as fake:
        spec = EndpointSpec(fake.url, max_queries=spec_budget(members))
        model = open_model(spec, card=world["card"], records=members)
        sent = fake.faults.requests
        with pytest.raises(BudgetExhausted, match="--max-queries") as caught:
            posteriors(model, world)
        assert caught.value.stats.rows <= spec.max_queries
        assert fake.faults.requests == sent  # nothing sent past the budget
        model.close()


def spec_budget(members: Any) -> int:
    return 16 + len(members) + 10


def test_token_is_sent_and_never_shown(world, monkeypatch) -> None:
    monkeypatch.setenv("TABINV_TEST_TOKEN", TOKEN)
    with serve(world, Faults(fail_every=1)) as fake:
        spec = EndpointSpec(fake.url, auth_env="TABINV_TEST_TOKEN", retries=1, backoff=0.0)
        with EndpointClient(spec) as client, pytest.raises(EndpointError) as caught:
            client.predict({"age": np.array([1.0])}, 1)
    assert fake.faults.seen[0]["Authorization"] == f"Bearer {TOKEN}"
    shown = " ".join([str(caught.value), repr(client), repr(spec), str(spec.describe())])
    assert TOKEN not in shown and "kept failing (HTTP 503) after 2 attempt(s)" in shown
    monkeypatch.delenv("TABINV_TEST_TOKEN")
    with pytest.raises(EndpointError, match="TABINV_TEST_TOKEN"):
        EndpointClient(spec)


@pytest.mark.parametrize(("url", "options", "message"), [
    ("http://user:pw@127.0.0.1:1", {}, "credentials"),
    ("ftp://127.0.0.1", {}, "http"),
    ("http://127.0.0.1:1", {"protocol": "v2"}, "model-name"),
    ("http://127.0.0.1:1", {"protocol": "grpc"}, "protocol"),
    ("http://127.0.0.1:1", {"batch_rows": 0}, "batch_rows"),
])
def test_spec_refuses(url, options, message) -> None:
    with pytest.raises(EndpointError, match=message):
        EndpointSpec(url, **options)


def test_unreachable_endpoint_is_one_error() -> None:
    spec = EndpointSpec("http://127.0.0.1:9", retries=2, backoff=0.0)
    with EndpointClient(spec, sleep=lambda s: None) as client, \
            pytest.raises(EndpointError, match="kept failing .ConnectError. after 3"):
        client.predict({"age": np.array([1.0, 2.0])}, 2)
    assert client.stats().requests == 3 and client.stats().retries == 2
    assert client.stats().rows == 0


class Journal:
    """Remembers answered batches by their bytes (what a resumable run's checkpoint does)."""

    def __init__(self) -> None:
        self.answers: dict[bytes, np.ndarray] = {}
        self.cost: list[dict[str, Any]] = []

    def answer(self, rows: np.ndarray, send: Any) -> np.ndarray:
        key = np.ascontiguousarray(rows).tobytes()
        if key not in self.answers:
            self.answers[key], cost = send(rows)
            self.cost.append(cost)
        return self.answers[key]


def test_journal_answers_batches_it_has_seen(world) -> None:
    journal = Journal()
    with serve(world) as fake:
        spec = EndpointSpec(fake.url, batch_rows=50)
        first = open_endpoint(spec, card=world["card"], records=world["splits"].members,
                              journal=journal)
        remote = posteriors(first, world)
        sent = fake.faults.requests
        first.close()
        again = open_endpoint(spec, card=world["card"], records=world["splits"].members,
                              journal=journal)
        assert fake.faults.requests == sent + 1  # only the probe: every batch journaled
        np.testing.assert_array_equal(posteriors(again, world), remote)
        assert fake.faults.requests == sent + 1 and again.query_stats().rows == 16
        again.close()
    assert sum(c["rows"] for c in journal.cost) == first.query_stats().rows - 16


def test_a_failed_opening_closes_its_client(world) -> None:
    """An endpoint failing on the probe: one error, and no connection left open (a
    ResourceWarning would fail the test under filterwarnings=error)."""
    with serve(world, Faults(fail_every=1)) as fake:
        spec = EndpointSpec(fake.url, retries=0)
        with pytest.raises(EndpointError, match="HTTP 503"):
            open_model(spec, card=world["card"], records=world["splits"].members)
    import gc

    gc.collect()


def test_tls_is_verified_unless_turned_off() -> None:
    import ssl

    for verify, mode in ((True, ssl.CERT_REQUIRED), (False, ssl.CERT_NONE)):
        with EndpointClient(EndpointSpec("https://127.0.0.1:1", verify=verify)) as client:
            context = client._http._transport._pool._ssl_context  # httpx's own context
            assert context.verify_mode == mode and context.check_hostname is verify


def test_a_https_endpoint_without_a_valid_certificate_is_refused(world) -> None:
    """The fake speaks plain HTTP: the TLS handshake fails, once, not retried."""
    with serve(world) as fake:
        spec = EndpointSpec(fake.url.replace("http://", "https://"), backoff=0.0)
        with EndpointClient(spec) as client, pytest.raises(EndpointError,
                                                           match="^TLS with https://"):
            client.predict({"age": np.array([1.0])}, 1)
        assert client.stats().requests == 1


def endpoint_threads() -> list[Any]:
    import threading
    return [t for t in threading.enumerate() if t.name.startswith("tabinv-endpoint")]


def test_a_failed_call_leaves_nothing_in_flight_and_close_stops_the_threads(world) -> None:
    """A server gone mid-call: the call raises once every batch in flight has settled
    (each counted; the rest never sent), and ``close`` stops the client's threads."""
    members = world["splits"].members
    with serve(world) as fake:
        spec = EndpointSpec(fake.url, batch_rows=10, concurrency=3, retries=1, backoff=0.0)
        client = EndpointClient(spec, sleep=lambda s: None)
        model = open_endpoint(spec, card=world["card"], records=members, client=client)
        fake.faults.gone_after = fake.faults.requests + 5
        with pytest.raises(EndpointError, match="kept failing"):
            posteriors(model, world)
        stats = model.query_stats()
        assert stats.requests == fake.faults.requests  # nothing still on its way
        assert stats.rows == sum(fake.faults.rows)
        assert endpoint_threads()
        model.close()
        assert endpoint_threads() == []
        with pytest.raises(EndpointError, match="closed"):
            client.predict({f: members[f].to_numpy()[:40] for f in CATEGORICAL + NUMERIC}, 40)
