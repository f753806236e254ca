"""Worker processes: how many a command may start, and stopping them on SIGTERM / SIGINT.

:func:`cap_jobs` bounds a requested number of worker processes by the cores this process
may run on (its CPU affinity), unless the caller forces more, and by the number of tasks
(never an idle worker). It returns the reason next to the number, for the command line to
show; the library itself never prints.

:func:`signals_raise` turns SIGTERM and SIGINT into an exception in the main thread, so
that every ``finally`` and context manager between the signal and the command runs:
executors kill their worker processes, joblib terminates its pool, Dask closes its
cluster. It does so even when the process started with SIGINT ignored (a shell starts the
background jobs of a script so, and Python then never installs its KeyboardInterrupt
handler, so a command would let Ctrl-C pass and run to the end).

:func:`joblib_workers` gives a block its own joblib process pool: its workers die with
this process (:func:`die_with_parent`, even when it is killed) and are stopped
when the block ends (:func:`stop_joblib_workers`); loky would otherwise keep them for
reuse after the call that started them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from .exceptions import TabinvError

if TYPE_CHECKING:
    from joblib import Parallel

__all__ = ["JobsCap", "Terminated", "available_cores", "cap_jobs", "die_with_parent",
           "joblib_workers", "signals_raise", "stop_joblib_workers", "stop_signal"]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class JobsCap:
    """The number of worker processes to start, and why it differs from the request."""

    jobs: int
    note: str = ""


def cap_jobs(requested: int, *, tasks: int | None = None, force: bool = False,
             option: str = "--jobs") -> JobsCap:
    """Bound ``requested`` workers by the available cores (unless ``force``) and ``tasks``.

    ``-1`` asks for one worker per available core.

    Raises
    ------
    TabinvError
        ``requested`` is 0 or below -1.
    """
    cores = available_cores()
    if requested == -1:
        requested = cores
    if requested < 1:
        raise TabinvError(f"{option} must be 1 or more (or -1 for every core), got "
                          f"{requested}")
    jobs, notes = requested, []
    if jobs > cores and not force:
        jobs = cores
        notes.append(f"{option} {requested} capped at {cores}, the cores this process may "
                     "use (more workers than cores only add memory; --force-jobs starts "
                     "them anyway)")
    if tasks is not None and jobs > max(tasks, 1):
        jobs = max(tasks, 1)
        notes.append(f"{jobs} worker{'s' if jobs > 1 else ''} for {tasks} "
                     f"task{'s' if tasks != 1 else ''}")
    return JobsCap(jobs, "; ".join(notes))


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread like SIGINT's KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_signal(stop: KeyboardInterrupt) -> signal.Signals:
    """The signal behind an interruption: SIGTERM for :class:`Terminated`, else SIGINT.

    A command exits with ``128 + stop_signal(stop)``, as a shell reports it.
    """
    return signal.Signals(stop.signum if isinstance(stop, Terminated) else signal.SIGINT)


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


#: what :func:`signals_raise` installs: SIGINT raises KeyboardInterrupt, SIGTERM Terminated
_RAISING = ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, _raise))


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGINT raises KeyboardInterrupt and SIGTERM :class:`Terminated`.

    Both handlers are installed whatever the process inherited: Python leaves SIGINT
    ignored when it started ignored (a shell's background job without job control), and
    such a command would then let a SIGINT pass and run to the end. The previous
    handlers are restored when the block ends. Only in the main thread (elsewhere,
    signal handlers cannot be set: a no-op).
    """
    previous: list[tuple[signal.Signals, Any]] = []
    try:
        for signum, handler in _RAISING:
            previous.append((signum, signal.signal(signum, handler)))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for signum, handler in reversed(previous):
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(signum, handler)


def stop_joblib_workers() -> None:
    """Kill the worker processes of joblib's reusable pool, if it was started."""
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def die_with_parent(parent: int) -> None:
    """Ask Linux for SIGKILL when the parent ends; exit now if ``parent`` is gone already.

    Run first in a child process (``parent``: the pid that started it). The signal comes
    when the parent *thread* that started the child ends.
    """
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


@contextmanager
def joblib_workers(jobs: int) -> Iterator[Parallel]:
    """joblib's ``Parallel`` over ``jobs`` processes that the block owns.

    Results come back as they finish (``return_as="generator_unordered"``). The worker
    processes end with this process, even when it is killed (:func:`die_with_parent`),
    and are stopped when the block ends, normally or by an exception: none outlives the
    command that started it. ``jobs=1`` runs the tasks in this process.
    """
    from joblib import Parallel

    parallel = Parallel(n_jobs=jobs, return_as="generator_unordered",
                        initializer=die_with_parent, initargs=(os.getpid(),))
    try:
        yield parallel
    finally:
        if jobs > 1:
            stop_joblib_workers()
