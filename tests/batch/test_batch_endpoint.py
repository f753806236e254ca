"""Issue 15, item 4 in a batch: an inventory entry naming an endpoint (a fake MLflow
server on 127.0.0.1 around a real pipeline) is assessed; a batch stopped mid-entry
(Ctrl-C, that is SIGINT to the command's process group, or SIGKILL) and rerun resumes
from the entry's checkpoint: the same rows as an uninterrupted batch (``reference``, run
once for the module), only unanswered chunks sent again, and the budget (max_queries)
stopping an entry that a rerun with a larger budget finishes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from models.fakeendpoint import FakeEndpoint
from sessions import session_members
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tabinv.batch.inventory import read_inventory
from tabinv.batch.runner import run_batch

from . import FAST, write_inventory

ROOT = Path(__file__).resolve().parents[2]
CATEGORICAL = ["race", "cyp2c9", "vkorc1"]
NUMERIC = ["weight_kg", "age", "height_cm", "amiodarone", "enzyme_inducer"]


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    from tabinv.data.registry import load_builtin
    from tabinv.data.splits import split_dataset

    frame = load_builtin("iwpc").with_label("dose_class").frame
    members = split_dataset(frame, random_state=0).members
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                              ("num", StandardScaler(), NUMERIC)])
    model = Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=300))])
    return model.fit(members[CATEGORICAL + NUMERIC], members["dose_class"])


#: seconds: only against a hang, far above a normal run on a busy machine; never a limit
HANG_GUARD = 900
#: requests the held server answers before it holds the rest (until the test lets go)
HELD_AFTER = 12


def _serve(pipe: Pipeline, gate: threading.Event | None = None) -> FakeEndpoint:
    """The pipeline behind a fake server; with ``gate``, requests after the first
    HELD_AFTER wait until the gate opens (a run cannot finish before it is stopped)."""
    def proba(frame: Any) -> np.ndarray:
        if gate is not None and len(fake.faults.rows) > HELD_AFTER:
            gate.wait(HANG_GUARD)
        return pipe.predict_proba(frame[CATEGORICAL + NUMERIC])

    fake = FakeEndpoint(proba, list(pipe.classes_))
    return fake


@pytest.fixture
def server(pipe: Pipeline) -> Iterator[FakeEndpoint]:
    with _serve(pipe) as fake:
        yield fake


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Opened by the test once it has stopped the run (and at teardown in any case)."""
    opened = threading.Event()
    yield opened
    opened.set()


@pytest.fixture
def held_server(pipe: Pipeline, gate: threading.Event) -> Iterator[FakeEndpoint]:
    """Answers HELD_AFTER requests, then holds the others until ``gate`` opens: the run
    is stopped mid-entry however busy the machine is."""
    with _serve(pipe, gate) as fake:
        try:
            yield fake
        finally:
            gate.set()  # before the server shuts down: no handler left waiting


def _inventory(folder: Path, url: str, **extra: Any) -> Path:
    entry = {"name": "api", "endpoint": url, "protocol": "mlflow", "label": "dose_class",
             "sensitive": ["vkorc1"], "batch_rows": 200, "concurrency": 2, **extra}
    return write_inventory(folder / "inventory.toml", [entry], {**FAST, "n_boot": 5})


def _rows(out: Path) -> list[dict[str, Any]]:
    """The entry's result rows, but their key (it names the server's address) and what
    was sent (a run that retried or lost a chunk in flight sent more)."""
    record = json.loads((out / "entries" / "api" / "result.json").read_text())
    assert record["status"] == "ok", record["error"]
    return [{k: v for k, v in row.items() if k != "key" and not k.startswith("queries_")}
            for row in record["rows"]]


@dataclass(frozen=True)
class Reference:
    """An uninterrupted batch of the entry: its rows and what it sent."""

    rows: list[dict[str, Any]]
    requests: int  # answered requests
    sent_rows: int
    queries: dict[str, Any]  # the report's query totals
    server: FakeEndpoint  # the module's server it ran against (still running)
    out: Path  # its output folder


@pytest.fixture(scope="module")
def module_server(pipe: Pipeline) -> Iterator[FakeEndpoint]:
    """The server of ``reference``, kept for the module (a test that redoes the
    reference's entry starts from its output folder instead of running it again)."""
    with _serve(pipe) as fake:
        yield fake


@pytest.fixture(scope="module")
def reference(module_server: FakeEndpoint, tmp_path_factory: pytest.TempPathFactory
              ) -> Reference:
    folder = tmp_path_factory.mktemp("reference")
    fake = module_server
    answered, sent = len(fake.faults.rows), sum(fake.faults.rows)
    assert run_batch(read_inventory(_inventory(folder, fake.url)),
                     folder / "out").exit_code == 0
    report = json.loads((folder / "out" / "entries" / "api" / "report.json").read_text())
    return Reference(_rows(folder / "out"), len(fake.faults.rows) - answered,
                     sum(fake.faults.rows) - sent,
                     report["assessments"][0]["threat"]["queries"]["total"], fake,
                     folder / "out")


def _stop_mid_entry(server: FakeEndpoint, gate: threading.Event, command: list[str],
                    folder: Path, how: signal.Signals) -> subprocess.CompletedProcess[str]:
    """``command`` run in a session of its own, stopped by ``how`` sent to its process
    group (as a terminal's Ctrl-C is) once a dozen requests were answered (the server
    holds the next ones until then); the gate is opened once the signal is sent."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    batch = subprocess.Popen(command, cwd=folder, env=env, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + HANG_GUARD  # bounded polling, a hang guard only
        while time.monotonic() < deadline:
            if len(server.faults.rows) >= HELD_AFTER or batch.poll() is not None:
                break
            time.sleep(0.01)
        assert batch.poll() is None, batch.communicate(timeout=60)
        os.killpg(batch.pid, how)
        gate.set()
        stdout, stderr = batch.communicate(timeout=120)
    finally:
        gate.set()
        if batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
            batch.wait(timeout=60)
    for _ in range(500):  # bounded: the workers it stopped may take a moment to go
        if not session_members(batch.pid):
            break
        time.sleep(0.02)
    assert not session_members(batch.pid)  # no worker left behind
    return subprocess.CompletedProcess(command, batch.returncode, stdout, stderr)


#: runs its arguments with SIGINT ignored, as a shell starts a script's background job
IGNORING_SIGINT = [sys.executable, "-c", "import os, signal, sys; "
                   "signal.signal(signal.SIGINT, signal.SIG_IGN); "
                   "os.execv(sys.argv[1], sys.argv[1:])"]


@pytest.mark.parametrize(("how", "background"), [(signal.SIGINT, False),
                                                 (signal.SIGINT, True),
                                                 (signal.SIGKILL, False)],
                         ids=["ctrl-c", "ctrl-c-background", "sigkill"])
def test_an_endpoint_entry_stopped_mid_run_resumes(held_server: FakeEndpoint,
                                                   gate: threading.Event,
                                                   reference: Reference, tmp_path: Path,
                                                   how: signal.Signals,
                                                   background: bool) -> None:
    """Stopped mid-entry, then rerun. ``ctrl-c-background``: the command started with
    SIGINT ignored (a test suite run as a script's background job starts it so) stops
    on SIGINT all the same, instead of finishing the entry."""
    server = held_server
    inventory = _inventory(tmp_path, server.url)
    out = tmp_path / "out"
    if how == signal.SIGINT:  # the command as a user runs it
        command = [str(Path(sys.executable).parent / "tabinv"), "batch", str(inventory),
                   "--out", str(out)]
        if background:
            command = [*IGNORING_SIGINT, *command]
    else:
        command = [sys.executable, "-c", "import sys; from tabinv.batch.inventory import "
                   "read_inventory; from tabinv.batch.runner import run_batch; "
                   "run_batch(read_inventory(sys.argv[1]), sys.argv[2])",
                   str(inventory), str(out)]
    stopped = _stop_mid_entry(server, gate, command, tmp_path, how)
    if how == signal.SIGINT:
        assert stopped.returncode == 128 + signal.SIGINT, stopped.stderr
        # the progress line, then one line saying what stopped it; no traceback
        assert stopped.stderr.strip().splitlines()[-1].startswith(
            "stopped by SIGINT: "), stopped.stderr
        assert "Traceback" not in stopped.stderr
    else:
        assert stopped.returncode == -signal.SIGKILL
    assert not (out / "entries" / "api" / "result.json").exists()
    assert list((out / "entries" / "api" / "checkpoint").rglob("*.npz"))
    first = len(server.faults.rows)

    result = run_batch(read_inventory(inventory), out)
    assert result.exit_code == 0
    second = len(server.faults.rows) - first
    assert _rows(out) == reference.rows  # the same numbers, bit for bit
    whole = reference.requests
    assert second < whole <= first + second  # answered chunks were not sent again
    assert first + second - whole <= 2  # at most a chunk in flight (2 requests) was lost


def test_a_spent_budget_stops_the_entry_and_a_larger_one_resumes(server: FakeEndpoint,
                                                                 reference: Reference,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    small = run_batch(read_inventory(_inventory(tmp_path, server.url, max_queries=1000)),
                      out)
    assert small.exit_code == 1 and "budget" in small.failures[0][1]
    assert "answered so far are kept; a rerun resumes from them" in small.failures[0][1]
    spent = sum(server.faults.rows)
    assert 0 < spent <= 1000
    done = run_batch(read_inventory(_inventory(tmp_path, server.url, max_queries=10**7)),
                     out)
    assert done.exit_code == 0 and done.reused == 0
    rest = sum(server.faults.rows) - spent
    assert spent + rest == reference.sent_rows  # nothing sent twice
    assert _rows(out) == reference.rows


#: the endpoint entries, one per protocol, beside the same pipeline read from a file
PROTOCOLS = {"api": {"protocol": "mlflow"}, "api-v2": {"protocol": "v2", "model_name": "dose"}}


def test_the_endpoint_entry_equals_the_same_pipeline_read_from_a_file(
        server: FakeEndpoint, pipe: Pipeline, tmp_path: Path) -> None:
    """Each protocol's entry against one ``file`` entry (one batch: the file entry is
    assessed once for both)."""
    import skops.io as sio

    sio.dump(pipe, tmp_path / "pipe.skops")
    common = {"label": "dose_class", "sensitive": ["vkorc1"]}
    inventory = write_inventory(tmp_path / "inventory.toml", [
        *({"name": name, "endpoint": server.url, **protocol, **common}
          for name, protocol in PROTOCOLS.items()),
        {"name": "file", "model": "pipe.skops", **common}], {**FAST, "n_boot": 5})
    out = tmp_path / "out"
    assert run_batch(read_inventory(inventory), out).exit_code == 0
    rows = {name: json.loads((out / "entries" / name / "result.json").read_text())["rows"]
            for name in (*PROTOCOLS, "file")}
    import pandas as pd
    summary = pd.read_csv(out / "summary.csv")
    for api in PROTOCOLS:
        numbers = [k for k in rows[api][0] if k not in ("entry", "key", "format", "family")
                   and not k.startswith("queries_")]
        assert [{k: r[k] for k in numbers} for r in rows[api]] == \
            [{k: r[k] for k in numbers} for r in rows["file"]], api
        assert {r["format"] for r in rows[api]} == {"endpoint"}
        # what the endpoint was sent, in the rows (and summary.csv); nothing for a file
        report = json.loads((out / "entries" / api / "report.json").read_text())
        queries = report["assessments"][0]["threat"]["queries"]
        for row in rows[api]:
            spent = next(q for q in queries["attacks"] if
                         (q["attack"], q["population"]) == (row["attack"], row["population"]))
            assert (row["queries_rows"], row["queries_requests"], row["queries_retries"]) == (
                spent["rows"], spent["requests"], 0) and spent["rows"] > 0
            assert row["queries_per_record"] == pytest.approx(3.0)  # K = 3 vkorc1 values
            assert row["queries_entry_rows"] == queries["total"]["rows"] > spent["rows"]
        entry = summary[summary["entry"] == api]
        assert list(entry["queries_rows"]) == [r["queries_rows"] for r in rows[api]]
    assert all(row[k] is None for row in rows["file"] for k in row if k.startswith("queries_"))
    assert summary[summary["entry"] == "file"]["queries_rows"].isna().all()


def test_a_link_planted_at_the_checkpoint_is_refused(server: FakeEndpoint,
                                                     tmp_path: Path) -> None:
    from tabinv.exceptions import TabinvError

    out = tmp_path / "out"
    (out / "entries" / "api").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (out / "entries" / "api" / "checkpoint").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(TabinvError, match="is a symbolic link"):
        run_batch(read_inventory(_inventory(tmp_path, server.url)), out)
    assert not list((tmp_path / "elsewhere").iterdir())
    assert server.faults.requests == 0


def test_a_budget_spent_mid_attack_is_not_a_result_and_the_rerun_resumes(
        server: FakeEndpoint, reference: Reference, tmp_path: Path) -> None:
    """Setup (probe and statistics) costs about 2,100 rows, the attacks about 9,400."""
    out = tmp_path / "out"
    small = run_batch(read_inventory(_inventory(tmp_path, server.url, max_queries=4000)),
                      out)
    assert small.exit_code == 1
    error = small.failures[0][1]
    assert error.startswith(("not every record was inferred: map (marginal prior) on ",
                             "the query budget (--max-queries 4,000) is spent")), error
    assert error.endswith("answered so far are kept; a rerun resumes from them)")
    assert not (out / "entries" / "api" / "report.json").exists()
    spent = sum(server.faults.rows)
    assert 2000 < spent <= 4000
    done = run_batch(read_inventory(_inventory(tmp_path, server.url, max_queries=10**7)),
                     out)
    assert done.exit_code == 0
    rest = sum(server.faults.rows) - spent
    whole = reference.sent_rows
    # resent at most: the records of the chunk the budget cut short (batch_rows x concurrency)
    assert rest < whole <= spent + rest <= whole + 400
    assert _rows(out) == reference.rows
    report = json.loads((out / "entries" / "api" / "report.json").read_text())
    used, total = report["assessments"][0]["threat"]["queries"]["total"], reference.queries
    assert (used["rows"], used["requests"]) == (total["rows"], total["requests"])


def test_a_server_gone_mid_entry_fails_it_and_the_rerun_resumes(pipe: Pipeline,
                                                                reference: Reference,
                                                                tmp_path: Path) -> None:
    """After 12 answers the server answers only 503 (down, retries spent); back up, the
    rerun sends only what was never answered."""
    calls: list[int] = []

    def proba(frame: Any) -> np.ndarray:
        calls.append(len(frame))
        if len(calls) == 12:
            fake.faults.fail_every = 1  # from the next request on
        return pipe.predict_proba(frame[CATEGORICAL + NUMERIC])

    with FakeEndpoint(proba, list(pipe.classes_)) as fake:
        inventory = _inventory(tmp_path, fake.url, retries=1)  # down: give up soon
        out = tmp_path / "out"
        down = run_batch(read_inventory(inventory), out)
        assert down.exit_code == 1 and "503" in down.failures[0][1]
        assert "a rerun resumes from them" in down.failures[0][1]
        first = len(calls)
        fake.faults.fail_every = 0
        assert run_batch(read_inventory(inventory), out).exit_code == 0
        second = len(calls) - first
    whole = reference.requests
    # at most the answered half of a chunk (2 requests) whose other half failed is resent
    assert first == 12 and whole <= first + second <= whole + 1
    assert _rows(out) == reference.rows


def test_the_token_is_sent_and_written_nowhere(server: FakeEndpoint, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    token = "tok-9f8e7d6c5b4a"
    monkeypatch.setenv("DOSE_API_TOKEN", token)
    out = tmp_path / "out"
    result = run_batch(read_inventory(_inventory(tmp_path, server.url,
                                                 auth_env="DOSE_API_TOKEN")), out)
    assert result.exit_code == 0
    assert {h.get("Authorization") for h in server.faults.seen} == {f"Bearer {token}"}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and not any(token.encode() in p.read_bytes() for p in files)
    monkeypatch.delenv("DOSE_API_TOKEN")
    unset = run_batch(read_inventory(_inventory(tmp_path, server.url, auth_env="DOSE_API_TOKEN",
                                                seed=1)), tmp_path / "other")
    assert unset.exit_code == 1 and "DOSE_API_TOKEN" in unset.failures[0][1]


def test_an_edited_entry_is_redone_from_the_answers_kept(reference: Reference,
                                                         tmp_path: Path) -> None:
    """From the reference's finished output (the same entry on the same server: the same
    key), an edited entry is redone from the answers kept, sending nothing."""
    server = reference.server
    out = tmp_path / "out"
    shutil.copytree(reference.out, out)
    again = run_batch(read_inventory(_inventory(tmp_path, server.url)), out)
    assert again.exit_code == 0 and again.reused == 1
    sent = server.faults.requests
    edited = run_batch(read_inventory(_inventory(tmp_path, server.url, n_boot=7)), out)
    assert edited.exit_code == 0 and edited.reused == 0
    assert server.faults.requests == sent  # a new key, the same rows: nothing sent
    elsewhere = run_batch(read_inventory(_inventory(tmp_path, server.url + "/")), out)
    assert elsewhere.exit_code == 0 and server.faults.requests > sent  # another server
