"""Where the entries of a batch run: worker processes on this machine, or Dask.

An executor takes a task function and its items and yields ``(index, result)`` pairs as
tasks finish, in any order. A task that could not finish yields a :class:`TaskFailure`
(one line) instead of a result, so the runner records that entry as failed and goes on.

Every executor runs each task in a worker process it can kill
(:class:`~tabinv.batch.isolation.Worker`, forked by a zygote process that imported the
libraries once, so a new worker costs a fork, not a new Python), under a wall-clock and
a memory limit (:class:`~tabinv.batch.isolation.Limits`: 600 s and 4 GiB unless the
executor or the item says otherwise): a task that runs too long is stopped, one that
needs more memory fails with a ``MemoryError``, one that crashes native code takes down
its worker only; each is reported for that entry and the others go on. ``local`` keeps
up to ``jobs`` workers busy, ``serial`` one (entries one after the other), ``dask``
submits the tasks to a Dask scheduler, each of whose workers runs them in a child process
of its own. When the run ends, or is interrupted (an exception, SIGINT, SIGTERM turned
into an exception by the command), every worker process is stopped.

A task may submit tasks of its own to the Dask cluster (an entry's shadow models): the
caller gives ``run`` a ``task_on_cluster`` (the scheduler's address -> the task to run
instead), which the Dask executor uses when its cluster can take such sub-tasks without
deadlock (:func:`~.daskexecutor.subtask_capacity`); the other executors ignore it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..exceptions import TabinvError
from .daskexecutor import (
    ENTRY_RESOURCE,
    WORKER_COMMAND,
    DaskExecutor,
    TaskOnCluster,
    subtask_capacity,
)
from .isolation import PENDING, Limits, TaskFailure, Worker, wait_any

__all__ = ["ENTRY_RESOURCE", "WORKER_COMMAND", "DaskExecutor", "Executor", "Limits",
           "LocalExecutor", "SerialExecutor", "TaskFailure", "make_executor",
           "subtask_capacity"]

EXECUTORS = ("local", "dask", "serial")


class Executor(Protocol):
    """Runs ``task(item)`` for every item; yields (index, result or TaskFailure).

    ``task_on_cluster``, when given: a Dask executor whose cluster can take sub-tasks
    runs ``task_on_cluster(scheduler_address)(item)`` instead; the others ignore it.
    """

    def run(self, task: Callable[[Any], Any], items: Sequence[Any], *,
            task_on_cluster: TaskOnCluster | None = None
            ) -> Iterator[tuple[int, Any]]: ...

    def describe(self) -> str: ...


class LocalExecutor:
    """Up to ``jobs`` worker processes on this machine, each running one task at a time.

    A worker is reused for the next task unless its task was stopped or failed for
    memory; there are never more workers than tasks. ``limits`` apply to each task,
    overridden by an item's own ``timeout`` / ``memory`` attributes.
    """

    def __init__(self, jobs: int = 1, *, limits: Limits | None = None) -> None:
        if jobs < 1:
            raise TabinvError(f"--jobs must be 1 or more, got {jobs}")
        self.jobs = jobs
        self.limits = limits or Limits()

    def describe(self) -> str:
        return f"local, {self.jobs} worker process{'es' if self.jobs > 1 else ''}"

    def run(self, task: Callable[[Any], Any], items: Sequence[Any], *,
            task_on_cluster: TaskOnCluster | None = None
            ) -> Iterator[tuple[int, Any]]:
        """``task`` in this machine's workers (``task_on_cluster`` is for Dask only)."""
        waiting = deque(range(len(items)))
        busy: dict[Worker, int] = {}
        idle: list[Worker] = []
        try:
            while waiting or busy:
                while waiting and len(busy) < self.jobs:
                    index = waiting.popleft()
                    worker = _ready_worker(idle)
                    worker.start(task, items[index], self.limits.for_item(items[index]))
                    busy[worker] = index
                for worker in wait_any(list(busy)):
                    outcome = worker.step()
                    if outcome is PENDING:
                        continue
                    index = busy.pop(worker)
                    if worker.usable:
                        idle.append(worker)
                    yield index, outcome
        finally:  # normal end: the workers exit when their pipe closes; else killed
            for worker in idle:
                worker.close(grace=5.0)
            for worker in busy:
                worker.kill()


def _ready_worker(idle: list[Worker]) -> Worker:
    """An idle worker whose process still runs, else a new one."""
    while idle:
        worker = idle.pop()
        if worker.process.poll() is None:
            return worker
        worker.close()
    return Worker()


class SerialExecutor(LocalExecutor):
    """One worker process, one entry after the other, under the same limits."""

    def __init__(self, *, limits: Limits | None = None) -> None:
        super().__init__(1, limits=limits)

    def describe(self) -> str:
        return "serial, one worker process"


def make_executor(name: str, *, jobs: int = 1, scheduler: str | None = None,
                  limits: Limits | None = None, scratch: Path | None = None) -> Executor:
    """``local`` (``jobs`` processes), ``dask`` (``scheduler`` or a LocalCluster with
    ``jobs`` workers, its scratch space under ``scratch``) or ``serial`` (one worker
    process); every entry runs under ``limits`` (default :class:`Limits`)."""
    if name == "local":
        if scheduler is not None:
            raise TabinvError("--scheduler applies to --executor dask only")
        return LocalExecutor(jobs, limits=limits)
    if name == "dask":
        return DaskExecutor(scheduler, workers=jobs, limits=limits, scratch=scratch)
    if name == "serial":
        if scheduler is not None or jobs != 1:
            raise TabinvError("--executor serial runs one entry at a time; it takes "
                              "neither --jobs nor --scheduler")
        return SerialExecutor(limits=limits)
    raise TabinvError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
