"""Issue 15, item 4 in a batch: an inventory entry naming an endpoint (a fake MLflow
server on 127.0.0.1 around a real pipeline) is assessed; a batch killed mid-entry
(SIGKILL of its process group) and rerun resumes from the entry's checkpoint: the same
rows as an uninterrupted batch, only unanswered chunks sent again, and the budget
(max_queries) stopping an entry that a rerun with a larger budget finishes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from models.fakeendpoint import FakeEndpoint
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


@pytest.fixture
def server(pipe: Pipeline) -> Iterator[FakeEndpoint]:
    def proba(frame: Any) -> np.ndarray:
        time.sleep(0.01)  # slow enough to be killed mid-entry
        return pipe.predict_proba(frame[CATEGORICAL + NUMERIC])

    with FakeEndpoint(proba, list(pipe.classes_)) as fake:
        yield fake


def _inventory(folder: Path, url: str, **extra: Any) -> Path:
    entry = {"name": "api", "endpoint": url, "protocol": "mlflow", "label": "dose_class",
             "sensitive": ["vkorc1"], "batch_rows": 200, "concurrency": 2, **extra}
    return write_inventory(folder / "inventory.toml", [entry], {**FAST, "n_boot": 5})


def _rows(out: Path) -> list[dict[str, Any]]:
    record = json.loads((out / "entries" / "api" / "result.json").read_text())
    assert record["status"] == "ok", record["error"]
    return record["rows"]


def test_an_endpoint_entry_killed_mid_run_resumes(server: FakeEndpoint,
                                                  tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, server.url)
    out = tmp_path / "out"
    code = ("import sys; from tabinv.batch.inventory import read_inventory; "
            "from tabinv.batch.runner import run_batch; "
            "run_batch(read_inventory(sys.argv[1]), sys.argv[2])")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT),
                                                        os.environ.get("PYTHONPATH", "")])}
    batch = subprocess.Popen([sys.executable, "-c", code, str(inventory), str(out)],
                             cwd=tmp_path, env=env, start_new_session=True)
    for _ in range(6000):  # bounded: at most 6000 polls
        if len(server.faults.rows) >= 12 or batch.poll() is not None:
            break
        time.sleep(0.01)
    os.killpg(batch.pid, signal.SIGKILL)
    batch.wait(timeout=60)
    assert not (out / "entries" / "api" / "result.json").exists()
    kept = list((out / "entries" / "api" / "checkpoint").rglob("*.npz"))
    assert kept
    first = len(server.faults.rows)

    result = run_batch(read_inventory(inventory), out)
    assert result.exit_code == 0
    resumed = _rows(out)
    second = len(server.faults.rows) - first

    fresh = tmp_path / "fresh"
    before = len(server.faults.rows)
    assert run_batch(read_inventory(inventory), fresh).exit_code == 0
    whole = len(server.faults.rows) - before
    assert resumed == _rows(fresh)  # the same numbers, bit for bit
    assert second < whole <= first + second  # answered chunks were not sent again
    assert first + second - whole <= 2  # at most a chunk in flight (2 requests) was lost


def test_a_spent_budget_stops_the_entry_and_a_larger_one_resumes(server: FakeEndpoint,
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
    fresh = run_batch(read_inventory(_inventory(tmp_path, server.url)), tmp_path / "fresh")
    assert fresh.exit_code == 0
    assert spent + rest == sum(server.faults.rows) - spent - rest  # nothing sent twice
    assert _rows(out) == _rows(tmp_path / "fresh")


@pytest.mark.parametrize("protocol", [{"protocol": "mlflow"},
                                      {"protocol": "v2", "model_name": "dose"}])
def test_the_endpoint_entry_equals_the_same_pipeline_read_from_a_file(
        server: FakeEndpoint, pipe: Pipeline, tmp_path: Path, protocol: dict[str, str]
        ) -> None:
    import skops.io as sio

    sio.dump(pipe, tmp_path / "pipe.skops")
    common = {"label": "dose_class", "sensitive": ["vkorc1"]}
    inventory = write_inventory(tmp_path / "inventory.toml", [
        {"name": "api", "endpoint": server.url, **protocol, **common},
        {"name": "file", "model": "pipe.skops", **common}], {**FAST, "n_boot": 5})
    out = tmp_path / "out"
    assert run_batch(read_inventory(inventory), out).exit_code == 0
    rows = {name: json.loads((out / "entries" / name / "result.json").read_text())["rows"]
            for name in ("api", "file")}
    numbers = [k for k in rows["api"][0] if k not in ("entry", "key", "format", "family")]
    assert [{k: r[k] for k in numbers} for r in rows["api"]] == \
        [{k: r[k] for k in numbers} for r in rows["file"]]
    assert {r["format"] for r in rows["api"]} == {"endpoint"}


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
        server: FakeEndpoint, tmp_path: Path) -> None:
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
    fresh = run_batch(read_inventory(_inventory(tmp_path, server.url, max_queries=10**7)),
                      tmp_path / "fresh")
    assert fresh.exit_code == 0
    whole = sum(server.faults.rows) - spent - rest
    # resent at most: the records of the chunk the budget cut short (batch_rows x concurrency)
    assert rest < whole <= spent + rest <= whole + 400
    assert _rows(out) == _rows(tmp_path / "fresh")
    report = json.loads((out / "entries" / "api" / "report.json").read_text())
    alone = json.loads((tmp_path / "fresh" / "entries" / "api" / "report.json").read_text())
    used, total = (r["assessments"][0]["threat"]["queries"]["total"] for r in (report, alone))
    assert (used["rows"], used["requests"]) == (total["rows"], total["requests"])


def test_a_server_gone_mid_entry_fails_it_and_the_rerun_resumes(pipe: Pipeline,
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
        assert run_batch(read_inventory(inventory), tmp_path / "fresh").exit_code == 0
        whole = len(calls) - first - second
    # at most the answered half of a chunk (2 requests) whose other half failed is resent
    assert first == 12 and whole <= first + second <= whole + 1
    assert _rows(out) == _rows(tmp_path / "fresh")


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


def test_an_edited_entry_is_redone_from_the_answers_kept(server: FakeEndpoint,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_batch(read_inventory(_inventory(tmp_path, server.url)), out).exit_code == 0
    sent = server.faults.requests
    edited = run_batch(read_inventory(_inventory(tmp_path, server.url, n_boot=7)), out)
    assert edited.exit_code == 0 and edited.reused == 0
    assert server.faults.requests == sent  # a new key, the same rows: nothing sent
    elsewhere = run_batch(read_inventory(_inventory(tmp_path, server.url + "/")), out)
    assert elsewhere.exit_code == 0 and server.faults.requests > sent  # another server
