"""Run tasks in a child process that can be stopped: a time and a memory limit per task.

A :class:`Worker` is one child process, forked by this thread's zygote
(:mod:`tabinv.batch.zygote`, which imported tabinv and its numerical libraries once), that
runs tasks one at a time, sent and returned as pickles over two pipes of its own (never
its stdout, which libraries may write to). Before each task the child lowers its
address-space limit (``RLIMIT_AS``) to the task's memory limit, and restores it after;
the parent kills the child when the task's wall-clock limit passes. Whatever happens to
the task, the parent gets one line back (:class:`~tabinv.batch.executors.TaskFailure`):
stopped after the time limit, over the memory limit (a ``MemoryError`` in the child),
killed by a signal (a crash in native code), or the child's exit code. A child that is
killed or failed for memory is not reused; the next task gets a fresh one.

The child ignores SIGINT (its parent decides when it stops), asks Linux to kill it when
the zygote ends (``PR_SET_PDEATHSIG``; the zygote in turn when the thread that started it
ends), and exits when its pipe closes, so it never outlives the process that started it.
Each child runs with the parent's working folder, ``sys.path`` and environment as they
are when it is forked, and numerical libraries with one thread (``OMP_NUM_THREADS=1``
...): the executor decides the parallelism, and each thread would reserve address space
counted by the memory limit (so would glibc's malloc arenas, limited to two). Measured
on small IWPC entries: without a limit a worker reserves 1.7-2.0 GB of address space,
0.3-0.45 GB resident; under a limit libraries reserve less (scikit-learn and XGBoost
entries run within 1 GiB, an ONNX one does not), so the default of 4 GiB leaves room for
larger data and attacks.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..utils import format_bytes
from .zygote import Child, zygote

__all__ = ["DEFAULT_MEMORY", "DEFAULT_TIMEOUT", "Limits", "TaskFailure", "Worker",
           "run_limited"]

DEFAULT_TIMEOUT = 600.0
DEFAULT_MEMORY = 4 * 1024**3
STARTUP = 120.0
PENDING = object()  # Worker.step: no outcome yet


@dataclass(frozen=True)
class TaskFailure:
    """A task that could not run to the end (one line, for the summary)."""

    message: str


@dataclass(frozen=True)
class Limits:
    """Wall-clock seconds and bytes of address space for one task."""

    timeout: float = DEFAULT_TIMEOUT
    memory: int = DEFAULT_MEMORY

    def __post_init__(self) -> None:
        from ..exceptions import TabinvError

        if not 0 < self.timeout < 1e9:
            raise TabinvError(f"the time limit must be a positive number of seconds (below "
                              f"10^9), got {self.timeout!r}")
        if not 0 < self.memory < 2**62:
            raise TabinvError(f"the memory limit must be a positive size below 4 EiB, got "
                              f"{self.memory!r}")

    def for_item(self, item: Any) -> Limits:
        """These limits, overridden by the item's own ``timeout`` / ``memory`` if set."""
        timeout, memory = getattr(item, "timeout", None), getattr(item, "memory", None)
        return Limits(self.timeout if timeout is None else timeout,
                      self.memory if memory is None else memory)


class Worker:
    """One child process running tasks one at a time, under per-task limits."""

    def __init__(self) -> None:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            self.process = _fork(task_read, result_write)
        except BaseException:
            os.close(task_write)
            os.close(result_read)
            raise
        finally:
            os.close(task_read)
            os.close(result_write)
        self.tasks = Connection(task_write, readable=False)
        self.results = Connection(result_read, writable=False)
        self.limits = Limits()
        self.deadline = self.started = 0.0
        self.running, self.usable = False, True

    def start(self, task: Callable[[Any], Any], item: Any, limits: Limits) -> None:
        """Send ``task(item)`` to the child; its result is read by :meth:`step`.

        The time limit counts from the moment the child begins the task (a new child
        may wait for the zygote's imports, up to :data:`STARTUP` seconds).
        """
        self.limits, self.started = limits, time.monotonic()
        self.deadline, self.running = self.started + STARTUP, False
        try:
            self.tasks.send((task, item, limits.memory))
        except OSError:  # the child is gone: step() reports how it ended
            self.usable = False

    def step(self) -> Any:
        """After :meth:`results` became readable or the deadline passed: the task's
        result, a TaskFailure, or :data:`PENDING` (the child has just begun the task)."""
        if not self.results.poll(max(0.0, self.deadline - time.monotonic())):
            self.kill()
            if not self.running:
                return TaskFailure(f"the worker process did not start within {STARTUP:.0f} s")
            return TaskFailure(f"stopped after {_seconds(time.monotonic() - self.started)} "
                               f"(timeout; the limit is {_seconds(self.limits.timeout)})")
        try:
            kind, value = self.results.recv()
        except (EOFError, OSError):
            return TaskFailure(self._death())
        if kind == "started":
            self.started, self.running = time.monotonic(), True
            self.deadline = self.started + self.limits.timeout
            return PENDING
        if kind == "ok":
            return value
        self.kill()  # after a MemoryError or an unexpected error, start afresh
        if kind == "memory":
            return TaskFailure(f"exceeded the memory limit of {format_bytes(self.limits.memory)}"
                               " (MemoryError)")
        return TaskFailure(f"the worker process could not run this task ({value})")

    def finish(self) -> Any:
        """Wait for the task's result or TaskFailure (:meth:`step` until not PENDING)."""
        while (outcome := self.step()) is PENDING:
            pass
        return outcome

    def _death(self) -> str:
        self.usable = False
        code = self.process.wait(timeout=10)
        if code is None:
            self.kill()
            code = self.process.returncode
        self.close()
        if code is not None and code < 0:
            name = _signal_name(-code)
            return (f"the worker process was killed by signal {-code} ({name}: a crash in "
                    "native code, or the system ran out of memory)")
        return f"the worker process died with exit code {code} (a crash in native code)"

    def kill(self) -> None:
        """Stop the child now; it is not used again."""
        self.usable = False
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.close()

    def close(self, grace: float = 0.0) -> None:
        """Close the pipes (the child exits); after ``grace`` seconds, kill it."""
        self.usable = False
        for connection in (self.tasks, self.results):
            if not connection.closed:
                connection.close()
        if grace:
            self.process.wait(timeout=grace)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def fileno(self) -> int:
        """The result pipe (for :func:`multiprocessing.connection.wait`)."""
        return self.results.fileno()


def _fork(task_fd: int, result_fd: int) -> Child:
    """A worker forked by this thread's zygote (a new zygote if it died, once)."""
    from ..exceptions import TabinvError

    for fresh in (False, True):
        try:
            return zygote(fresh=fresh).spawn(task_fd, result_fd)
        except (OSError, EOFError) as error:
            problem = f"{type(error).__name__}: {error}".rstrip(": ")
    raise TabinvError(f"cannot start a worker process (its zygote process ended: {problem})")


def _seconds(value: float) -> str:
    return f"{value:.3g} s" if value < 100 else f"{value:.0f} s"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "an unknown signal"


def wait_any(workers: list[Worker]) -> list[Worker]:
    """The workers whose result is ready or whose time is up (blocks until one is)."""
    if not workers:
        return []
    timeout = max(0.0, min(w.deadline for w in workers) - time.monotonic())
    ready = set(wait([w.results for w in workers], timeout))
    now = time.monotonic()
    return [w for w in workers if w.results in ready or w.deadline <= now]


_IDLE: list[Worker] = []  # this process's workers waiting for a task
_IDLE_LOCK = threading.Lock()


def run_limited(task: Callable[[Any], Any], item: Any, limits: Limits) -> Any:
    """``task(item)`` in a worker process of this process, under limits.

    Returns the result or a :class:`TaskFailure`. For executors whose tasks run in a
    thread of a long-lived process (a Dask worker). A worker is reused for the next task
    whichever thread runs it (a Dask worker with two threads that runs one entry at a
    time keeps one worker process, not one per thread); there are never more workers
    than tasks running at once.
    """
    worker = _idle_worker()
    try:
        worker.start(task, item, limits)
        outcome = worker.finish()
    except BaseException:
        worker.kill()
        raise
    if worker.usable:
        with _IDLE_LOCK:
            _IDLE.append(worker)
    return outcome


def _idle_worker() -> Worker:
    """An idle worker whose process still runs, else a new one (forked by this thread's
    zygote)."""
    with _IDLE_LOCK:
        while _IDLE:
            worker = _IDLE.pop()
            if worker.usable and worker.process.poll() is None:
                return worker
            worker.close()
    return Worker()
