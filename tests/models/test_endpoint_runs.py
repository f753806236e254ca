"""Issue 15 item 3 through the assessment core: the query cost in the result document,
the detected access chosen by default, and a clean partial stop on --max-queries."""

from __future__ import annotations

import numpy as np
import pytest

from tabinv import api
from tabinv.exceptions import AttackError
from tabinv.models.endpoint import EndpointSpec
from tabinv.models.sources import open_model

from .fakeendpoint import Faults
from .test_endpoint import serve, world  # noqa: F401  (the module's fixture)


def run(model, world, **options):  # noqa: F811
    splits = world["splits"]
    return api.attack_records(model, splits.non_members.head(40), sensitive=["vkorc1"],
                              reference=splits.reference, attacks=["map"], n_boot=20,
                              **options)


def test_queries_and_cost_per_record_are_in_the_result(world) -> None:  # noqa: F811
    with serve(world, Faults(decimals=3)) as fake:
        model = open_model(EndpointSpec(fake.url, batch_rows=200), card=world["card"],
                           records=world["splits"].members)
        assessment, _ = run(model, world)
        with pytest.raises(AttackError, match="rounds its probabilities to 3 decimals"):
            run(model, world, access="confidences")
        model.close()
    threat = assessment.to_dict()["threat"]
    assert threat["access"] == "rounded" and threat["rounding"] == 3
    queries = threat["queries"]
    assert queries["detected_access"]["detected"] == "probabilities rounded to 3 decimals"
    entry = queries["attacks"][0]
    assert entry["records"] == 40 and not entry["partial"] and entry["rows"] > 0
    assert entry["queries_per_record"] == entry["rows"] / 40
    assert queries["total"]["rows"] == queries["setup"]["rows"] + sum(
        e["rows"] for e in queries["attacks"])
    assert queries["total"]["requests"] == fake.faults.requests
    assert queries["setup"]["rows"] == 16 + len(world["splits"].members)


def test_budget_stops_cleanly_with_partial_records(world) -> None:  # noqa: F811
    members = world["splits"].members
    with serve(world) as fake:
        full = open_model(EndpointSpec(fake.url), card=world["card"], records=members)
        complete, _ = run(full, world)
        per_record = complete.to_dict()["threat"]["queries"]["attacks"][0]["rows"] // 40
        full.close()
        budget = 16 + len(members) + per_record * 25 + per_record // 2
        limited = open_model(EndpointSpec(fake.url, max_queries=budget, batch_rows=100),
                             card=world["card"], records=members)
        partial, posterior = run(limited, world)
        limited.close()
    queries = partial.to_dict()["threat"]["queries"]
    entry = queries["attacks"][0]
    assert entry["partial"] and 0 < entry["records"] < 40
    assert queries["total"]["rows"] <= budget and queries["not_done"]
    populations = {r.population for r in partial.results}
    assert populations == {f"given (partial: first {entry['records']} records)"}
    done = entry["records"]
    np.testing.assert_array_equal(
        posterior.probabilities,
        next(iter(complete_posteriors(complete, world, done))))


def complete_posteriors(assessment, world, done):  # noqa: F811
    """The complete run's posterior for the first ``done`` records (run again in
    process: the complete run's posterior is not kept in the assessment)."""
    model = open_model(world["pipe"], card=world["card"], records=world["splits"].members,
                       recognise=False)
    _, posterior = run(model, world)
    yield posterior.probabilities[:done]


def test_result_document_with_queries_is_valid(world) -> None:  # noqa: F811
    import json

    from tabinv.report.document import as_document
    from tabinv.report.json import to_json
    from tabinv.schemas import validate

    with serve(world) as fake:
        model = open_model(EndpointSpec(fake.url), card=world["card"],
                           records=world["splits"].members)
        assessment, _ = run(model, world)
        model.close()
    document = json.loads(to_json(as_document(assessment)))
    validate(document)
    queries = document["assessments"][0]["threat"]["queries"]
    assert queries["attacks"][0]["queries_per_record"] > 0


def test_dry_run_counts_what_a_run_would_send_without_sending(world) -> None:  # noqa: F811
    with serve(world) as fake:
        real = open_model(EndpointSpec(fake.url, batch_rows=50), card=world["card"],
                          records=world["splits"].members)
        sent, _ = run(real, world)
        real.close()
        requests = fake.faults.requests
        dry = open_model(EndpointSpec(fake.url, batch_rows=50, dry_run=True),
                         card=world["card"], records=world["splits"].members)
        planned, _ = run(dry, world)
        dry.close()
        assert fake.faults.requests == requests  # nothing sent
    assert planned.threat["queries"]["detected_access"]["detected"].startswith(
        "not measured (dry run")
    keys = ("attack", "population", "records", "rows", "requests")
    counts = [{k: e[k] for k in keys} for e in sent.threat["queries"]["attacks"]]
    assert counts == [{k: e[k] for k in keys} for e in planned.threat["queries"]["attacks"]]


def test_endpoint_gone_mid_run_keeps_completed_records(world) -> None:  # noqa: F811
    members = world["splits"].members
    with serve(world) as fake:
        spec = EndpointSpec(fake.url, batch_rows=30, concurrency=1, retries=1,
                            backoff=0.0)
        model = open_model(spec, card=world["card"], records=members)
        fake.faults.gone_after = fake.faults.requests + 2  # two more answers, then 503s
        assessment, posterior = run(model, world)
        model.close()
    queries = assessment.threat["queries"]
    entry = queries["attacks"][0]
    assert entry["partial"] and 0 < entry["records"] < 40
    assert posterior.probabilities.shape[0] == entry["records"]
    assert all("the endpoint failed" in item or "records not done" in item
               for item in queries["not_done"])
    assert len(queries["attacks"]) == 1  # the second attack was not sent at all
    assert any(item.startswith("map (learned prior) on given: not done (the endpoint "
                               "failed") for item in queries["not_done"])
    assert queries["total"]["requests"] == fake.faults.requests
