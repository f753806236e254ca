"""The Dask executor: entries as tasks on a Dask cluster, and their shadow models too.

See :class:`DaskExecutor`. Each entry task runs in a child process of its Dask worker
under the entry's limits (:func:`~tabinv.batch.isolation.run_limited`); an entry may
submit tasks of its own (its shadow models) to the same cluster when every worker keeps
a thread that entries cannot take (:func:`subtask_capacity`), so that it cannot
deadlock. Dask is imported only when a run starts.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..exceptions import TabinvError
from .isolation import Limits, TaskFailure, run_limited

__all__ = ["ENTRY_RESOURCE", "WORKER_COMMAND", "DaskExecutor", "TaskOnCluster",
           "subtask_capacity"]

#: the Dask worker resource an entry task holds: a worker declaring ``tabinv-entry=1``
#: and two threads runs one entry at a time and keeps a thread for its sub-tasks
ENTRY_RESOURCE = "tabinv-entry"
#: how to start Dask workers whose cluster can train the entries' shadow models
WORKER_COMMAND = f"dask worker ADDRESS --nthreads 2 --resources {ENTRY_RESOURCE}=1"

#: the scheduler's address -> the task to run on the cluster (it may submit sub-tasks)
TaskOnCluster = Callable[[str], Callable[[Any], Any]]


class DaskExecutor:
    """A Dask distributed scheduler: ``address``, a given ``client``, or a LocalCluster.

    The LocalCluster (when neither is given) has ``workers`` worker processes (never more
    than tasks, unless the tasks may submit sub-tasks) of two threads each, each
    declaring one unit of :data:`ENTRY_RESOURCE`, listening on 127.0.0.1 only, without
    dashboards, started without Dask's ``MALLOC_TRIM_THRESHOLD_`` (see
    :func:`_keep_malloc_defaults`), with their scratch space in a folder made under
    ``scratch`` (removed at the end; Dask would use the system's temporary folder). On
    each Dask worker a task runs in a child process under ``limits``
    (:func:`~tabinv.batch.isolation.run_limited`). A task whose Dask worker dies is
    rescheduled by Dask (up to ``distributed.scheduler.allowed-failures`` times, 3 by
    default); after that the entry fails. Workers read the inventory's files by path,
    so on a real cluster they need the same file system view as this machine.

    When every worker declares :data:`ENTRY_RESOURCE` (the LocalCluster's do), each task
    holds one unit of it, so a worker runs as many entries at once as it declares units
    (one for ``--jobs`` workers of the LocalCluster). When moreover every worker has more
    threads than that (:func:`subtask_capacity`) and ``run`` is given a
    ``task_on_cluster``, the tasks run ``task_on_cluster(scheduler_address)``: an entry's
    child process then submits its shadow models to the same cluster as tasks needing no
    resource. This cannot deadlock: a worker's spare thread can only run resource-free
    tasks, which wait for nothing, so they finish, and so do the entries waiting for them.
    A cluster whose workers do not qualify (start them with :data:`WORKER_COMMAND`) runs
    every entry's shadows inside the entry, as without Dask; :meth:`describe` says which.
    A shadow task runs in a Dask worker's thread, not in a limited child: it fits
    tabinv's own model (the target's family or the stated substitute) on half the
    attacker's sample, sized by the entry's checks, under the Dask worker's memory limit.
    """

    def __init__(self, address: str | None = None, *, workers: int = 2,
                 client: Any = None, limits: Limits | None = None,
                 scratch: Path | None = None) -> None:
        if workers < 1:
            raise TabinvError(f"--jobs must be 1 or more, got {workers}")
        self.address = address
        self.workers = workers
        self.client = client
        self.limits = limits or Limits()
        self.scratch = scratch
        self.shadows = ""  # where the entries' shadow models went, once a run asked

    def describe(self) -> str:
        if self.client is not None:
            where = "dask, given client"
        elif self.address:
            where = f"dask scheduler at {self.address}"
        else:
            where = f"dask LocalCluster on 127.0.0.1, {self.workers} workers"
        return f"{where}; {self.shadows}" if self.shadows else where

    def run(self, task: Callable[[Any], Any], items: Sequence[Any], *,
            task_on_cluster: TaskOnCluster | None = None
            ) -> Iterator[tuple[int, Any]]:
        """One Dask task per item; ``task_on_cluster`` as the class docstring says."""
        from distributed import as_completed

        if not items:
            return
        # shadow tasks use every worker, however few entries: start --jobs of them
        with self._connect(len(items) if task_on_cluster is None else self.workers
                           ) as client:
            workers = client.scheduler_info()["workers"]
            restrictions = {"resources": {ENTRY_RESOURCE: 1}} if workers and all(
                _entry_slots(worker) for worker in workers.values()) else {}
            if task_on_cluster is not None:
                reason = subtask_capacity(workers)
                if reason:
                    self.shadows = f"shadow models trained inside each entry: {reason}"
                else:
                    task = task_on_cluster(client.scheduler.address)
                    self.shadows = "shadow models trained as tasks on the cluster"
            futures = {client.submit(run_limited, task, item, self.limits.for_item(item),
                                     pure=False, key=f"tabinv-entry-{i}-{id(items):x}",
                                     **restrictions): i
                       for i, item in enumerate(items)}
            try:
                for future in as_completed(futures):
                    index = futures.pop(future)
                    yield index, _dask_outcome(future)
                    future.release()
            finally:
                client.cancel(list(futures))

    def _connect(self, tasks: int) -> Any:
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
                scratch = stack.enter_context(_scratch_folder(self.scratch))
                cluster = stack.enter_context(LocalCluster(
                    n_workers=min(self.workers, tasks), threads_per_worker=2,
                    resources={ENTRY_RESOURCE: 1}, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", worker_dashboard_address=None,
                    local_directory=scratch))
                client = stack.enter_context(Client(cluster))
        except OSError as error:
            stack.close()
            raise TabinvError(f"cannot reach the Dask scheduler {self.address or ''}: "
                              f"{error}") from None
        except BaseException:
            stack.close()
            raise
        return _Connected(stack, client)


def _entry_slots(worker: Mapping[str, Any]) -> int:
    """How many entries a Dask worker (an entry of ``scheduler_info()["workers"]``) runs
    at once: the whole units of :data:`ENTRY_RESOURCE` it declares (0: none)."""
    amount = (worker.get("resources") or {}).get(ENTRY_RESOURCE, 0)
    try:
        return max(0, math.floor(float(amount)))
    except (TypeError, ValueError, OverflowError):
        return 0


def subtask_capacity(workers: Mapping[str, Mapping[str, Any]]) -> str:
    """Why the entries of a cluster cannot submit sub-tasks to it, or "" when they can.

    ``workers``: ``Client.scheduler_info()["workers"]``. They can when every worker
    declares :data:`ENTRY_RESOURCE` and has more threads than the entries that resource
    lets it run at once: a thread that only tasks without the resource can use.
    """
    start = f"; to train them on the cluster, start its workers with {WORKER_COMMAND}"
    if not workers:
        return "the scheduler has no worker yet" + start
    for address, worker in workers.items():
        slots, threads = _entry_slots(worker), worker.get("nthreads")
        name = str(address)[:100]
        if not slots:
            return f"worker {name} does not declare the resource {ENTRY_RESOURCE}" + start
        if not isinstance(threads, int) or threads <= slots:
            return (f"worker {name} has {threads} thread(s) for {slots} entr"
                    f"{'ies' if slots > 1 else 'y'} at a time, none left for sub-tasks"
                    + start)
    return ""


SCRATCH_PREFIX = "run-"


class _scratch_folder:
    """A new folder ``run-*`` under ``parent`` for Dask's scratch space, as Dask's
    ``temporary-directory`` too; removed on exit, with any ``run-*`` folder an earlier,
    killed run left there. Without ``parent``: Dask's default (None)."""

    def __init__(self, parent: Path | None) -> None:
        self.parent = parent
        self.path: Path | None = None
        self.config: Any = None

    def __enter__(self) -> str | None:
        import dask

        if self.parent is None:
            return None
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            for stale in self.parent.glob(f"{SCRATCH_PREFIX}*"):
                if stale.is_dir() and not stale.is_symlink():
                    shutil.rmtree(stale, ignore_errors=True)
            self.path = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=self.parent))
        except OSError as error:
            raise TabinvError(f"cannot make Dask's scratch folder in {self.parent}: "
                              f"{error.strerror}") from None
        self.config = dask.config.set({"temporary-directory": str(self.path)})
        self.config.__enter__()
        return str(self.path)

    def __exit__(self, *exc: object) -> None:
        if self.config is not None:
            self.config.__exit__(None, None, None)
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            try:
                self.parent.rmdir()  # type: ignore[union-attr]
            except OSError:
                pass  # not empty (another file was put there): left as it is


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
