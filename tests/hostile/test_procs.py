"""Issue 11, items 5, 6 and 9 (processes): a batch entry that crashes, hangs or needs too
much memory is stopped and reported while the others go on (every executor runs entries
in a worker process it can kill); ``--jobs`` is capped at the cores; SIGTERM leaves no
child process behind; Dask's scratch space lives under ``--out``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import typer
from typer.testing import CliRunner

from tabinv.batch.executors import SerialExecutor, TaskFailure
from tabinv.batch.inventory import InventoryError, read_inventory
from tabinv.batch.isolation import Limits
from tabinv.batch.task import entry_key
from tabinv.cli.batch import batch
from tabinv.exceptions import TabinvError
from tabinv.processes import available_cores, cap_jobs

from .procs_tasks import hostile_task

ROOT = Path(__file__).resolve().parents[2]
#: seconds: only against a hang, far above a normal run on a busy machine (issue 12,
#: item 7); never a speed limit
HANG_GUARD = 900
#: seconds for killed processes to be gone (polled: the test goes on as soon as they are)
SETTLE = 60
FAST = {"data": "iwpc", "n_boot": 10, "attacks": ["map"], "priors": ["marginal"]}


def toml(entries: list[dict[str, Any]], defaults: dict[str, Any] | None = None) -> str:
    def value(v: Any) -> str:
        return "[" + ", ".join(map(value, v)) + "]" if isinstance(v, list) else \
            ("true" if v is True else f'"{v}"' if isinstance(v, str) else str(v))
    lines = ["[defaults]", *(f"{k} = {value(v)}" for k, v in (defaults or FAST).items())]
    for entry in entries:
        lines += ["[[entry]]", *(f"{k} = {value(v)}" for k, v in entry.items())]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tabinv.data.registry import load_builtin
    from tabinv.data.splits import split_dataset
    from tabinv.models.families import make_model
    from tabinv.models.persist import save_model

    folder = tmp_path_factory.mktemp("models")
    data = load_builtin("iwpc")
    members = split_dataset(data.frame, random_state=0).members
    save_model(make_model("linear", data.card).fit(members), folder / "linear.skops")
    nested = b'{"learner":' + b"[" * 50_000 + b"]" * 50_000 + b"}"  # segfaults XGBoost
    (folder / "deep.json").write_bytes(nested)
    return folder


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("batch")(batch)
    app.command("other")(lambda: None)
    return app


def test_item5_hang_and_crash_are_one_line_failures_and_the_run_goes_on(
        models: Path, tmp_path: Path) -> None:
    """item 5: a model that segfaults the parser fails its entry only (`--executor serial`
    included); the next entry runs, and is stopped when it runs past its `timeout`; an
    entry needing more than its `memory` fails with that limit."""
    linear = str(models / "linear.skops")
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(toml([
        {"name": "deep", "model": str(models / "deep.json"), "format": "xgboost-json",
         "label": "dose", "sensitive": ["vkorc1"]},
        {"name": "slow", "model": linear, "sensitive": ["vkorc1"], "n_boot": 100000,
         "attacks": ["all"], "timeout": 1},
        {"name": "greedy", "model": linear, "sensitive": ["vkorc1"], "memory": "300MiB"}]))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli(), ["batch", str(inventory), "--out", str(out),
                                        "--executor", "serial", "--allow-path", str(models)])
    assert result.exit_code == 1, result.output
    assert "3 entries: 0 succeeded, 3 failed" in result.stdout
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines()}
    assert "stopped after" in lines["failed slow"] and "(timeout" in lines["failed slow"]
    assert lines["failed greedy"].endswith("exceeded the memory limit of 300 MiB (MemoryError)")
    assert "failed deep" in lines and "Traceback" not in result.output
    record = (out / "entries" / "deep" / "result.json").read_text()
    assert '"status": "failed"' in record and '"entry": "deep"' in record


def test_item6_the_jobs_cap_is_shown_on_stderr(tmp_path: Path) -> None:
    """item 6: `batch --jobs 1000` says it uses the cores (before anything runs)."""
    inventory = tmp_path / "inventory.toml"
    model = tmp_path / "m.skops"
    model.write_bytes(b"PK\x03\x04")
    inventory.write_text(toml([{"name": "a", "model": str(model), "sensitive": ["vkorc1"]}]))
    (tmp_path / "file").write_text("")
    result = CliRunner().invoke(cli(), ["batch", str(inventory), "--out",
                                        str(tmp_path / "file"), "--jobs", "1000"])
    assert result.exit_code == 2  # --out is a file: nothing ran
    assert f"note: --jobs 1000 capped at {available_cores()}" in result.stderr


def test_item5_segfault_and_memory_in_the_serial_executor() -> None:
    """item 5: a task that exceeds the memory limit, one that segfaults (a test-only way,
    whatever the parsers refuse): each fails alone, in the serial executor too."""
    results = dict(SerialExecutor(limits=Limits(HANG_GUARD, 4 * 1024**3)).run(
        hostile_task, ["fine", "memory", "segfault"]))
    assert results[0] == "FINE"
    assert results[1] == TaskFailure("exceeded the memory limit of 4 GiB (MemoryError)")
    assert isinstance(results[2], TaskFailure)
    assert "killed by signal 11 (SIGSEGV" in results[2].message


def test_item5_limits_are_inventory_keys_outside_the_entry_key(models: Path,
                                                               tmp_path: Path) -> None:
    """item 5: `timeout` and `memory` per entry (or in [defaults]); changing them does not
    redo a finished entry; bad values are listed with the entry, in one line each."""
    linear = str(models / "linear.skops")
    path = tmp_path / "inventory.toml"
    path.write_text(toml([{"name": "a", "model": linear, "sensitive": ["vkorc1"],
                           "timeout": 2.5, "memory": "6GiB"},
                          {"name": "b", "model": linear, "sensitive": ["vkorc1"]}]))
    first, second = read_inventory(path, allow_paths=[models]).entries
    assert (first.timeout, first.memory, second.timeout, second.memory) == \
        (2.5, 6 * 1024**3, None, None)
    limits = Limits(600, 4 * 1024**3)
    assert limits.for_item(first) == Limits(2.5, 6 * 1024**3)
    assert limits.for_item(second) == limits
    path.write_text(toml([{"name": "a", "model": linear, "sensitive": ["vkorc1"]}]))
    assert entry_key(read_inventory(path, allow_paths=[models]).entries[0]) == entry_key(first)
    path.write_text(toml([{"name": "a", "model": linear, "sensitive": ["vkorc1"],
                           "timeout": -1, "memory": "x" * 10_000}]))
    with pytest.raises(InventoryError) as caught:
        read_inventory(path, allow_paths=[models])
    assert len(caught.value.problems) == 2
    assert all(len(p) < 300 for p in caught.value.problems)
    assert "key 'timeout': expected a number of seconds above 0" in caught.value.problems[0]


def test_item6_jobs_capped_at_the_cores_unless_forced() -> None:
    """item 6: --jobs is capped at the cores (-1: all of them) and at the tasks."""
    cores = available_cores()
    capped = cap_jobs(cores + 998)
    assert capped.jobs == cores and f"capped at {cores}" in capped.note
    assert "--force-jobs" in capped.note
    assert cap_jobs(cores + 998, force=True).jobs == cores + 998
    assert cap_jobs(-1) == cap_jobs(cores)
    assert cap_jobs(cores + 998, tasks=1, force=True).jobs == 1
    assert cap_jobs(1).note == ""
    with pytest.raises(TabinvError, match="--jobs must be 1 or more"):
        cap_jobs(0)


def _stop_and_check(command: list[str], workers: int, cwd: Path, signum: int) -> None:
    """Start ``command``, wait for ``workers`` child processes, send it ``signum``; then
    nothing it started may survive, and it says why it stopped in one line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    # started as this test runs, SIGINT ignored or not (a shell's background job starts
    # with it ignored): a command stops on SIGINT either way (tests/test_processes.py)
    process = subprocess.Popen(command, cwd=cwd, start_new_session=True, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen: dict[int, psutil.Process] = {}
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + HANG_GUARD
        while len(seen) < workers and time.monotonic() < deadline \
                and process.poll() is None:
            seen.update((p.pid, p) for p in parent.children(recursive=True))
            time.sleep(0.1)
        assert len(seen) >= workers, "the command never started its workers"
        time.sleep(0.5)
        seen.update((p.pid, p) for p in parent.children(recursive=True))
        process.send_signal(signum)
        try:
            _, stderr = process.communicate(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:  # orphans that hold its stdout / stderr open
            pytest.fail(f"the command's output stayed open {HANG_GUARD} s after the signal")
    finally:  # the whole session, orphans included
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    _, alive = psutil.wait_procs(list(seen.values()), timeout=SETTLE)
    for survivor in alive:  # clean up before failing
        survivor.kill()
    assert not alive, f"still running after the signal: {[p.pid for p in alive]}"
    assert process.returncode == 128 + signum
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith(f"stopped by {signal.Signals(signum).name}")
    assert "Traceback" not in stderr.decode()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_item9_sigterm_or_sigint_to_batch_leaves_no_worker(models: Path, tmp_path: Path,
                                                           signum: int) -> None:
    """item 9: SIGTERM / SIGINT to `tabinv batch` stops its worker processes, exits
    128 + signal."""
    linear = str(models / "linear.skops")
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(toml([{"name": f"e{i}", "model": linear, "sensitive": ["vkorc1"],
                                "n_boot": 100000} for i in range(2)]))
    _stop_and_check([sys.executable, "-m", "tabinv.cli.batch", "batch", str(inventory),
                     "--out", str(tmp_path / "out"), "--jobs", "2", "--allow-path", str(models)],
                    2, tmp_path, signum)


def test_item9_sigterm_to_sweep_leaves_no_worker(tmp_path: Path) -> None:
    """item 9: SIGTERM to `tabinv sweep --jobs 2` ends joblib's workers and trackers."""
    _stop_and_check([sys.executable, "-c", "from tabinv.cli import app; app()", "sweep",
                     "-s", "vkorc1", "--seeds", "20", "--epsilons", "1,10", "--jobs", "2"],
                    2, tmp_path, signal.SIGTERM)


def test_item5_workers_are_forked_by_a_single_threaded_zygote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """item 5: a worker (forked by the zygote, which imported the libraries once) runs
    with one thread per library, two malloc arenas, the task's memory limit, this
    process's tabinv and its working folder at the time of the fork."""
    import tabinv
    from tabinv.batch.zygote import zygote

    monkeypatch.chdir(tmp_path)
    result = dict(SerialExecutor(limits=Limits(HANG_GUARD, 3 * 1024**3)).run(hostile_task,
                                                                      ["process"]))[0]
    assert result["environment"] == {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                                     "MALLOC_ARENA_MAX": "2"}
    assert result["threads"] == 1 and result["memory"] == 3 * 1024**3
    assert (result["tabinv"], result["cwd"]) == (tabinv.__file__, str(tmp_path))
    process = zygote().process
    assert result["parent"] == process.pid
    assert psutil.Process(process.pid).num_threads() == 1


def test_item5_item9_a_killed_zygote_fails_one_entry_and_zygotes_end_with_their_thread(
        ) -> None:
    """item 5: when a zygote is killed, its workers die with it (the running entry is
    reported killed by SIGKILL) and the next entry runs in a worker of a new zygote;
    item 9: PR_SET_PDEATHSIG: a thread's zygote (and its workers) end with the thread.
    (In a thread of its own, so the zygote of the tests' main thread is left alone.)"""
    import threading

    from tabinv.batch.zygote import zygote

    zygotes: list[psutil.Process] = []
    results: dict[int, Any] = {}

    def kill_when_busy() -> None:
        deadline = time.monotonic() + HANG_GUARD
        while not zygotes[0].children() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        zygotes[0].kill()

    def run() -> None:
        zygotes.append(psutil.Process(zygote().process.pid))
        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        results.update(SerialExecutor(limits=Limits(2 * HANG_GUARD, 4 * 1024**3)).run(
            hostile_task, ["hang", "process"]))
        killer.join()
        zygotes.append(psutil.Process(zygote().process.pid))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=3 * HANG_GUARD)
    assert len(zygotes) == 2, "the thread's tasks did not run"
    assert isinstance(results[0], TaskFailure)
    assert "killed by signal 9 (SIGKILL" in results[0].message
    assert results[1]["parent"] == zygotes[1].pid != zygotes[0].pid
    _, alive = psutil.wait_procs(zygotes[1:], timeout=SETTLE)
    assert not alive, "the zygote outlived the thread that started it"


def test_item9_sigkill_leaves_neither_zygote_nor_worker(tmp_path: Path) -> None:
    """item 9: SIGKILL to the process running a batch (not to its process group): its
    zygote and the workers the zygote forked end too."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    script = ("from hostile.procs_tasks import hostile_task\n"
              "from tabinv.batch.executors import LocalExecutor\n"
              "list(LocalExecutor(2).run(hostile_task, ['hang', 'hang']))\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT / "tests", env=env,
                               start_new_session=True)
    seen: dict[int, psutil.Process] = {}
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + HANG_GUARD
        while len(seen) < 3 and time.monotonic() < deadline and process.poll() is None:
            seen.update((p.pid, p) for p in parent.children(recursive=True))
            time.sleep(0.1)
        assert len(seen) >= 3, "no zygote and two workers"
        process.kill()
        process.wait()
        _, alive = psutil.wait_procs(list(seen.values()), timeout=SETTLE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):  # clean up before failing
            os.killpg(process.pid, signal.SIGKILL)
    assert not alive, f"still running after SIGKILL: {[p.pid for p in alive]}"
