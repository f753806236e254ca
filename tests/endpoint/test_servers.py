"""Issue 15 against real servers on loopback: MLflow's scoring server (`mlflow models
serve --env-manager local`) and MLServer (Open Inference Protocol v2, scikit-learn
runtime), both serving one IWPC pipeline (tests/serving.py), each with the fault proxy
of tests/faultproxy.py in front: rounded probabilities, labels only, 429 above a rate,
10 % of requests failing with 503 or a reset connection.

For each: the detected access; the MAP attack's posteriors through the endpoint equal
the in-process attack's on the same pipeline (exactly; with the detected rounding or
labels-only access); the query counts (rows, requests, retries) equal what the proxy
saw, every row answered exactly once (none lost, none counted twice). Request loops end
by themselves (a server that always fails stops after the client's retries),
everything listens on 127.0.0.1 only, and a test process killed with SIGKILL leaves no
server behind. One server of each kind per module; a few hundred
records, K = 3 (`vkorc1`).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from faultproxy import FaultProxy, ProxyCounts
from serving import (  # noqa: F401  (mlflow_server, mlserver_server, served: fixtures)
    LOOPBACK,
    STOP_GRACE,
    Served,
    Server,
    mlflow_server,
    mlserver_server,
    served,
)
from sessions import nothing_left_behind  # noqa: F401  (autouse fixture)

from tabinv.attacks.map import MAPInversion
from tabinv.models.endpoint import EndpointError, EndpointModel, EndpointSpec
from tabinv.models.oracle import Oracle
from tabinv.models.sources import open_model

BATCH_ROWS = 64
#: the access each proxy mode leaves (Oracle access level, decimals)
ACCESS = {"pass": ("confidences", None), "round": ("rounded", 2), "labels": ("label-only", None),
          "throttle": ("confidences", None), "flaky": ("confidences", None)}
LEVEL = {"pass": "confidences", "round": "rounded", "labels": "label-only",
         "throttle": "confidences", "flaky": "confidences"}


@pytest.fixture(scope="module")
def servers(mlflow_server: Server, mlserver_server: Server) -> dict[str, Server]:  # noqa: F811
    return {"mlflow": mlflow_server, "mlserver": mlserver_server}


@pytest.fixture(scope="module")
def local(served: Served) -> Any:  # noqa: F811
    """The served pipeline opened in process (queried on every candidate row)."""
    return open_model(served.pipe, card=served.card, records=served.splits.members,
                      recognise=False)


def posteriors(model: Any, served: Served, access: str = "confidences",  # noqa: F811
               decimals: int | None = None) -> np.ndarray:
    """The MAP attack on ``vkorc1`` (K = 3) over every non-member."""
    known = [f for f in model.features if f != "vkorc1"]
    oracle = Oracle.for_model(model, access, decimals=decimals, shortcuts=False)
    fitted = MAPInversion(numeric_points=3).fit(oracle, sensitive=("vkorc1",), known=known,
                                                reference=served.splits.reference)
    return fitted.infer(served.splits.non_members).probabilities


def spec(server: Server, url: str, **options: Any) -> EndpointSpec:
    return EndpointSpec(url, protocol=server.protocol, model_name=server.model_name,
                        batch_rows=BATCH_ROWS, **options)


def expected_rows(served: Served, probe_rows: int) -> int:  # noqa: F811
    """Rows the endpoint must answer: the probe, the members' published statistics,
    and every non-member's K = 3 candidates."""
    splits = served.splits
    k = len(served.card.column("vkorc1").domain)
    return probe_rows + len(splits.members) + k * len(splits.non_members)


def check_counts(counts: ProxyCounts, stats: Any, rows: int) -> None:
    """The client's accounting against what the proxy saw."""
    assert stats.requests == counts.received  # every attempt, retries included
    assert stats.retries == counts.faults  # each fault was retried once
    assert stats.rows == counts.rows_answered == rows  # every row answered exactly once
    assert counts.forwarded - counts.answered == counts.dropped


@pytest.mark.parametrize("mode", ["pass", "round", "labels", "throttle", "flaky"])
@pytest.mark.parametrize("kind", ["mlflow", "mlserver"])
def test_endpoint_attack_equals_in_process(kind: str, mode: str, servers: dict[str, Server],
                                           served: Served, local: Any) -> None:  # noqa: F811
    """items 2, 4, 5 and the fault tests: detected access, equal posteriors, and query
    counts that match the proxy's, with faults retried and counted."""
    server = servers[kind]
    with FaultProxy(server.url, mode, classes=served.classes, rate=8, seed=3) as proxy:
        model = open_model(spec(server, proxy.url, backoff=0.01), card=served.card,
                           records=served.splits.members)
        try:
            assert isinstance(model, EndpointModel)
            assert model.access_.level == LEVEL[mode]
            assert model.reveals_decimals == (2 if mode == "round" else None)
            access, decimals = ACCESS[mode]
            remote = posteriors(model, served, access, decimals)
            stats = model.query_stats()
        finally:
            model.close()
        counts = proxy.counts()
    np.testing.assert_array_equal(remote, posteriors(local, served, access, decimals))
    check_counts(counts, stats, expected_rows(served, model.client_.spec.probe_rows))
    assert counts.rows_forwarded <= counts.rows_received
    if mode in ("throttle", "flaky"):  # the faults really happened, and were retried
        assert counts.faults > 0 and stats.retries > 0
    else:
        assert counts.faults == 0 and stats.retries == 0
    if mode == "flaky":
        assert counts.unavailable > 0 and counts.dropped > 0


@pytest.mark.parametrize("kind", ["mlflow", "mlserver"])
def test_a_server_that_always_fails_stops_the_client(kind: str, servers: dict[str, Server],
                                                     served: Served) -> None:  # noqa: F811
    """Bounded loops: every request failing, the client stops after its retries with one
    error, having sent retries + 1 requests; nothing was answered."""
    server = servers[kind]
    with FaultProxy(server.url, "flaky", failure_rate=1.0, seed=0) as proxy:
        with pytest.raises(EndpointError, match="after 4 attempt"):
            open_model(spec(server, proxy.url, retries=3, backoff=0.01), card=served.card,
                       records=served.splits.members)
        counts = proxy.counts()
    assert counts.received == 4 and counts.answered == 0 and counts.faults == 4


def loopback(ip: str) -> bool:
    """Whether ``ip`` is a loopback address (IPv4-mapped IPv6 ones included: MLServer's
    gRPC server binds ``::ffff:127.0.0.1``)."""
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def test_servers_listen_on_loopback_only(servers: dict[str, Server]) -> None:
    """Every socket the servers' processes listen on (HTTP, MLServer's gRPC) is bound to a
    loopback address."""
    for server in servers.values():
        assert server.url.startswith(f"http://{LOOPBACK}:")
        leader = psutil.Process(server.pid)
        listening = [c.laddr for p in [leader, *leader.children(recursive=True)]
                     for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
        assert listening and all(loopback(address.ip) for address in listening), listening
        assert server.port in {address.port for address in listening}


#: a test process that starts MLServer, says its pid, and waits to be killed
_HOLDER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from serving import serve_mlserver, served_pipeline
with serve_mlserver(served_pipeline(300).pipe, Path(sys.argv[2])) as server:
    print(server.pid, flush=True)
    time.sleep(600)
"""


def test_a_killed_test_process_takes_its_server_along(tmp_path: Path) -> None:
    """No server outlives the test process, even one killed with SIGKILL (no teardown
    runs): the server asked the kernel for SIGKILL at its parent's death."""
    tests = Path(__file__).resolve().parents[1]
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(tests), str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()  # the server is ready (or the holder failed)
        assert line.strip().isdigit(), line
        server = psutil.Process(int(line))
        assert server.is_running()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    try:
        server.wait(timeout=STOP_GRACE)
    except psutil.TimeoutExpired:
        server.kill()
        raise AssertionError(f"the server {server.pid} outlived its killed parent") from None
