"""Real model servers on loopback, started and stopped by the tests (issue 15).

Two implementations a healthcare team deploys with, serving one scikit-learn pipeline
(trained here on a sample of the built-in IWPC cohort, its own column order):

- :func:`serve_mlflow`: ``mlflow models serve -m DIR --env-manager local`` (MLflow's
  scoring server: ``GET /ping``, ``POST /invocations`` with ``dataframe_split``) on a
  model directory saved by ``mlflow.sklearn`` (skops, ``predict_proba``);
- :func:`serve_mlserver`: ``mlserver start FOLDER`` (Seldon MLServer 1.7 with its
  scikit-learn runtime: Open Inference Protocol v2, ``GET /v2/health/ready``,
  ``POST /v2/models/NAME/infer``) on the same pipeline dumped with joblib (the server's
  own loading, not tabinv's), ``predict_fn`` = ``predict_proba``.

Each server is a child process in a session of its own on 127.0.0.1 and a port found by
binding port 0; readiness is polled a bounded number of times (and never past a hang
guard); teardown stops the whole session (SIGTERM, then SIGKILL) and polls, bounded,
until no process of it is alive; a test process killed outright (no teardown) takes its
servers along (``PR_SET_PDEATHSIG``). The module-scoped fixtures :func:`served`,
:func:`mlflow_server` and :func:`mlserver_server` give one server of each kind per test
module; import them into the module (``from serving import mlflow_server  # noqa: F401``).
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import psutil
import pytest
from sessions import session_members

__all__ = ["CATEGORICAL", "COLUMNS", "LOOPBACK", "NUMERIC", "Served", "Server", "free_port",
           "mlflow_server", "mlserver_server", "serve_mlflow", "serve_mlserver", "served",
           "served_pipeline", "stop_session"]

LOOPBACK = "127.0.0.1"
#: the served pipeline's inputs, in its own order (numeric first, then categorical)
NUMERIC = ["weight_kg", "age", "height_cm", "amiodarone", "enzyme_inducer"]
CATEGORICAL = ["vkorc1", "race", "cyp2c9"]
COLUMNS = NUMERIC + CATEGORICAL
#: the model's name on the Open Inference Protocol server
MODEL_NAME = "iwpc-dose"
READY_POLLS = 1200  # readiness requests at most (one every READY_INTERVAL seconds)
READY_INTERVAL = 0.1
POLL_TIMEOUT = 2.0  # seconds a readiness request may take
HANG_GUARD = 300.0  # seconds: a server not ready by then is broken (not a speed limit)
STOP_GRACE = 10.0  # seconds for the session to end after SIGTERM, then SIGKILL
SETTLE_POLLS = 200  # polls (every 0.05 s) until no process of the session is left
#: MLflow's scoring server answers these; given so that MLflow does not infer them
REQUIREMENTS = ["scikit-learn"]


@dataclass(frozen=True)
class Server:
    """A running server: its base URL, the protocol it speaks, and where it logs."""

    kind: str  # "mlflow" or "mlserver"
    url: str  # http://127.0.0.1:PORT
    protocol: str  # "mlflow" or "v2"
    model_name: str | None  # the v2 model name (None for MLflow)
    pid: int  # the session leader
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def log_tail(self, characters: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-characters:]


@dataclass(frozen=True)
class Served:
    """The served pipeline, what it was trained on, and the records the tests attack."""

    card: Any  # the IWPC card, label dose_class
    splits: Any  # members (trained on) / non-members / reference
    pipe: Any  # the fitted scikit-learn Pipeline

    @property
    def classes(self) -> list[Any]:
        return list(self.pipe.classes_)


def free_port() -> int:
    """A TCP port on the loopback address that was free a moment ago (bound to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def server_environment() -> dict[str, str]:
    """This interpreter's environment with its ``bin/`` first on PATH (``mlflow models
    serve`` starts uvicorn through ``bash -c``) and MLflow's telemetry off."""
    environment = dict(os.environ)
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                           environment.get("PATH", "")])
    environment["MLFLOW_DISABLE_TELEMETRY"] = "true"
    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        environment.pop(variable, None)
    return environment


def _answers(port: int, path: str) -> bool:
    """Whether ``GET path`` on the loopback port answers 200 (no proxy is consulted)."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=POLL_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def stop_session(process: subprocess.Popen[bytes]) -> list[int]:
    """Stop the session led by ``process``: SIGTERM to its group, SIGKILL after
    STOP_GRACE seconds, then poll (bounded) until none of its processes is alive; the
    pids still alive at the end (killed once more), an empty list when all went."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE), (signal.SIGKILL, STOP_GRACE)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    for _ in range(SETTLE_POLLS):
        left = session_members(process.pid)
        if not left:
            return []
        time.sleep(0.05)
    for member in left:
        try:
            member.kill()
        except psutil.Error:
            pass
    return [member.pid for member in left]


def _die_with_parent() -> None:
    """In the server's process before it runs: SIGKILL when the test process dies, even
    by SIGKILL (Linux ``PR_SET_PDEATHSIG``; MLflow passes SIGTERM on to its uvicorn)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_ready(process: subprocess.Popen[bytes], server: Server, ready: str) -> None:
    """Poll ``GET ready`` until it answers 200: READY_POLLS times at most, never past
    HANG_GUARD seconds, and not after the server has exited (its log in the error)."""
    deadline = time.monotonic() + HANG_GUARD
    for _ in range(READY_POLLS):
        if process.poll() is not None:
            raise RuntimeError(f"{server.kind} exited with {process.returncode} before it "
                               f"was ready:\n{server.log_tail()}")
        if _answers(server.port, ready):
            return
        if time.monotonic() > deadline:
            break
        time.sleep(READY_INTERVAL)
    raise RuntimeError(f"{server.kind} did not answer GET {ready} (polled at most "
                       f"{READY_POLLS} times, {HANG_GUARD} s):\n{server.log_tail()}")


@contextmanager
def running(kind: str, command: list[str], ready: str, port: int, workdir: Path,
            protocol: str, model_name: str | None = None) -> Iterator[Server]:
    """``command`` in a session of its own (output to ``workdir/KIND.log``), once ``GET
    ready`` answers 200 on ``port``; stopped with its whole session on exit."""
    log = workdir / f"{kind}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=workdir, env=server_environment(),
                                   stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent)
    server = Server(kind, f"http://{LOOPBACK}:{port}", protocol, model_name, process.pid,
                    log)
    try:
        wait_ready(process, server, ready)
        yield server
    finally:
        left = stop_session(process)
        if left:
            raise RuntimeError(f"{kind}: processes {left} outlived SIGKILL of their session")


def save_mlflow(pipe: Any, example: pd.DataFrame, directory: Path) -> Path:
    """``pipe`` saved by ``mlflow.sklearn`` (skops, the types of this pipeline trusted,
    ``predict_proba`` as the served function) with a signature inferred from ``example``."""
    import skops.io as sio

    from tabinv.models.mlflowstore import import_mlflow

    import_mlflow("pyfunc")  # imported lazily by save_model, with a warning of its own
    infer_signature = import_mlflow("models").infer_signature
    save_model = import_mlflow("sklearn").save_model
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer",
                                category=UserWarning)
        signature = infer_signature(example, pipe.predict_proba(example))
    save_model(pipe, str(directory), signature=signature, pip_requirements=REQUIREMENTS,
               serialization_format="skops", pyfunc_predict_fn="predict_proba",
               skops_trusted_types=sio.get_untrusted_types(data=sio.dumps(pipe)))
    return directory


@contextmanager
def serve_mlflow(pipe: Any, example: pd.DataFrame, workdir: Path) -> Iterator[Server]:
    """MLflow's scoring server on ``pipe`` (saved under ``workdir``), on loopback."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        model = save_mlflow(pipe, example, workdir / "model")
    port = free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m",
               str(model), "--env-manager", "local", "-h", LOOPBACK, "-p", str(port)]
    with running("mlflow", command, "/ping", port, workdir, "mlflow") as server:
        yield server


@contextmanager
def serve_mlserver(pipe: Any, workdir: Path, name: str = MODEL_NAME) -> Iterator[Server]:
    """MLServer (scikit-learn runtime, ``predict_proba``) on ``pipe``, on loopback: the
    HTTP and gRPC ports free, metrics off, no parallel workers (one process)."""
    folder = workdir / "repository"
    (folder / name).mkdir(parents=True)
    joblib.dump(pipe, folder / name / "model.joblib")
    (folder / name / "model-settings.json").write_text(json.dumps({
        "name": name, "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "extra": {"predict_fn": "predict_proba"}}}))
    port = free_port()
    (folder / "settings.json").write_text(json.dumps({
        "host": LOOPBACK, "http_port": port, "grpc_port": free_port(),
        "metrics_endpoint": None, "parallel_workers": 0, "debug": False}))
    command = [str(Path(sys.executable).parent / "mlserver"), "start", str(folder)]
    with running("mlserver", command, "/v2/health/ready", port, workdir, "v2",
                 name) as server:
        yield server


def served_pipeline(n_sample: int = 900, seed: int = 0) -> Served:
    """A random forest pipeline (one-hot categories, scaled numbers) predicting the IWPC
    dose class from ``COLUMNS``, trained on the members of a sample of the cohort."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from tabinv.core.inputs import load_dataset
    from tabinv.data.splits import split_dataset

    dataset = load_dataset("iwpc").with_label("dose_class")
    splits = split_dataset(dataset.frame.sample(n_sample, random_state=seed),
                           (0.5, 0.25, 0.25), seed)
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                              ("num", StandardScaler(), NUMERIC)])
    forest = RandomForestClassifier(8, max_depth=5, random_state=seed)
    members = splits.members
    pipe = Pipeline([("prep", prep), ("clf", forest)]).fit(members[COLUMNS],
                                                           members[dataset.card.label])
    return Served(dataset.card, splits, pipe)


@pytest.fixture(scope="module")
def served() -> Served:
    """The pipeline both servers serve (one per test module)."""
    return served_pipeline()


@pytest.fixture(scope="module")
def mlflow_server(served: Served, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Server]:
    """``mlflow models serve`` on :func:`served`, for the whole test module."""
    with serve_mlflow(served.pipe, served.splits.members[COLUMNS].head(20),
                      tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture(scope="module")
def mlserver_server(served: Served, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[Server]:
    """MLServer on :func:`served`, for the whole test module."""
    with serve_mlserver(served.pipe, tmp_path_factory.mktemp("mlserver")) as server:
        yield server
