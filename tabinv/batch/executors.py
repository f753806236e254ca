"""Where the entries of a batch run: local worker processes (joblib's loky) or Dask.

An executor takes a task function and its items and yields ``(index, result)`` pairs as
tasks finish, in any order. A task that could not finish because of the machinery (its
worker process died, the scheduler gave up on it) yields a :class:`TaskFailure` instead
of a result, so the runner records that entry as failed and goes on.

``local`` runs every entry in a separate process, also with ``jobs=1``: a model file that
crashes a native library takes down a worker, never the run. When a worker dies, every
entry that was running in the pool is retried alone; an entry whose worker dies while it
runs alone is the culprit and fails. ``dask`` submits the same tasks to a Dask
scheduler. ``serial`` runs them in the calling process (no isolation; for debugging).
"""

from __future__ import annotations

import concurrent.futures
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..exceptions import TabinvError

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "SerialExecutor", "TaskFailure",
           "make_executor"]

EXECUTORS = ("local", "dask", "serial")


@dataclass(frozen=True)
class TaskFailure:
    """A task the executor could not run to the end (one line, for the summary)."""

    message: str


class Executor(Protocol):
    """Runs ``task(item)`` for every item; yields (index, result or TaskFailure)."""

    def run(self, task: Callable[[Any], Any], items: Sequence[Any]
            ) -> Iterator[tuple[int, Any]]: ...

    def describe(self) -> str: ...


class SerialExecutor:
    """Every task in this process, one after the other (debugging, notebooks, tests).

    No isolation: a crash in native code while loading a model ends the run.
    """

    def describe(self) -> str:
        return "serial, in this process"

    def run(self, task: Callable[[Any], Any], items: Sequence[Any]
            ) -> Iterator[tuple[int, Any]]:
        for index, item in enumerate(items):
            yield index, task(item)


class LocalExecutor:
    """``jobs`` worker processes of joblib's loky pool on this machine."""

    def __init__(self, jobs: int = 1) -> None:
        if jobs < 1:
            raise TabinvError(f"--jobs must be 1 or more, got {jobs}")
        self.jobs = jobs

    def describe(self) -> str:
        return f"local, {self.jobs} worker process{'es' if self.jobs > 1 else ''}"

    def run(self, task: Callable[[Any], Any], items: Sequence[Any]
            ) -> Iterator[tuple[int, Any]]:
        # joblib's own reusable pool (not loky's bare one): joblib.Parallel elsewhere in
        # the same process (epsilon sweeps) reuses it and expects joblib's flavour
        from joblib.executor import get_memmapping_executor

        waiting, alone = deque(range(len(items))), deque[int]()
        running: dict[concurrent.futures.Future[Any], int] = {}
        solo = False  # an entry suspected of killing its worker runs with nothing beside it
        while waiting or alone or running:
            pool = get_memmapping_executor(self.jobs)
            if alone and not running:
                index, solo = alone.popleft(), True
                running[pool.submit(task, items[index])] = index
            while waiting and not alone and not solo and len(running) < self.jobs:
                index = waiting.popleft()
                running[pool.submit(task, items[index])] = index
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            alone_in_pool = len(running) == 1
            for future in finished:
                index = running.pop(future)
                outcome = _outcome(future)
                if isinstance(outcome, _Died) and not alone_in_pool:
                    alone.append(index)  # not known to be this entry's fault: retry alone
                    continue
                if isinstance(outcome, _Died):
                    outcome = TaskFailure("the worker process died while assessing this "
                                          "entry (a crash in native code, or out of memory)")
                yield index, outcome
            solo = solo and bool(running)


class _Died:
    """Marker: the task's worker process died."""


def _outcome(future: concurrent.futures.Future[Any]) -> Any:
    from joblib.externals.loky.process_executor import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool:
        return _Died()
    except Exception as error:  # the task could not be sent or its result not returned
        return TaskFailure(f"the local executor could not run this entry "
                           f"({type(error).__name__}: {str(error).splitlines()[0][:200]})")


class DaskExecutor:
    """A Dask distributed scheduler: ``address``, a given ``client``, or a LocalCluster.

    The LocalCluster (when neither is given) has ``workers`` single-threaded worker
    processes listening on 127.0.0.1 only, without dashboards, started without Dask's
    ``MALLOC_TRIM_THRESHOLD_`` (see :func:`_keep_malloc_defaults`). A task whose worker dies is
    rescheduled by Dask (up to ``distributed.scheduler.allowed-failures`` times, 3 by
    default); after that the entry fails. Workers read the inventory's files by path, so
    on a real cluster they need the same file system view as this machine.
    """

    def __init__(self, address: str | None = None, *, workers: int = 2,
                 client: Any = None) -> None:
        if workers < 1:
            raise TabinvError(f"--jobs must be 1 or more, got {workers}")
        self.address = address
        self.workers = workers
        self.client = client

    def describe(self) -> str:
        if self.client is not None:
            return "dask, given client"
        if self.address:
            return f"dask scheduler at {self.address}"
        return f"dask LocalCluster on 127.0.0.1, {self.workers} workers"

    def run(self, task: Callable[[Any], Any], items: Sequence[Any]
            ) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        with self._connect() as client:
            futures = {client.submit(task, item, pure=False, key=f"tabinv-entry-{i}-"
                                     f"{id(items):x}"): i for i, item in enumerate(items)}
            for future in as_completed(futures):
                index = futures.pop(future)
                yield index, _dask_outcome(future)
                future.release()

    def _connect(self) -> Any:
        from contextlib import ExitStack, nullcontext

        from distributed import Client, LocalCluster

        if self.client is not None:
            return nullcontext(self.client)
        stack = ExitStack()
        try:
            if self.address:
                client = stack.enter_context(Client(self.address, timeout="30s"))
            else:
                stack.enter_context(_keep_malloc_defaults())
                cluster = stack.enter_context(LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address="127.0.0.1:0",
                    worker_dashboard_address=None))
                client = stack.enter_context(Client(cluster))
        except OSError as error:
            stack.close()
            raise TabinvError(f"cannot reach the Dask scheduler {self.address or ''}: "
                              f"{error}") from None
        return _Connected(stack, client)


def _keep_malloc_defaults() -> Any:
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc
    hand memory back after nearly every numpy array; an entry then takes about twice as
    long (1.3 s -> 2.4 s per entry measured). Our LocalCluster keeps glibc's default."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    return dask.config.set({"distributed.nanny.pre-spawn-environ": environ})


class _Connected:
    """Context manager giving a client and closing what was opened for it."""

    def __init__(self, stack: Any, client: Any) -> None:
        self.stack, self.client = stack, client

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.stack.close()


def _dask_outcome(future: Any) -> Any:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker:
        return TaskFailure("Dask workers died every time they ran this entry (a crash in "
                           "native code, or out of memory); the scheduler gave up on it")
    except Exception as error:
        return TaskFailure(f"the Dask executor could not run this entry "
                           f"({type(error).__name__}: {str(error).splitlines()[0][:200]})")


def make_executor(name: str, *, jobs: int = 1, scheduler: str | None = None) -> Executor:
    """``local`` (``jobs`` processes), ``dask`` (``scheduler`` or a LocalCluster with
    ``jobs`` workers) or ``serial`` (this process)."""
    if name == "local":
        if scheduler is not None:
            raise TabinvError("--scheduler applies to --executor dask only")
        return LocalExecutor(jobs)
    if name == "dask":
        return DaskExecutor(scheduler, workers=jobs)
    if name == "serial":
        if scheduler is not None or jobs != 1:
            raise TabinvError("--executor serial runs one entry at a time in this process; "
                              "it takes neither --jobs nor --scheduler")
        return SerialExecutor()
    raise TabinvError(f"unknown executor {name!r}; use one of {', '.join(EXECUTORS)}")
