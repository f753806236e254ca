"""A zygote: one child process that imported the heavy modules once and forks workers.

Starting a worker as a new Python costs about 3.5 s of CPU to import tabinv,
scikit-learn, XGBoost, matplotlib... for every worker of every run. A :class:`Zygote` is
a child process (running :func:`main`) that imports them once (:data:`PRELOAD`, after
taking the parent's ``sys.path``), then forks a worker on each request:
:meth:`Zygote.spawn` sends it the worker's pipes (file descriptors over a Unix socket)
with the parent's current working folder, ``sys.path`` and environment, and returns a
:class:`Child` handle. The zygote reaps its children and sends each one's exit code
(negative: killed by that signal, as :class:`subprocess.Popen` reports it) on a status
pipe of the child's own.

The zygote is started with one thread for numerical libraries (``OMP_NUM_THREADS=1``
...), at most two glibc malloc arenas and no jemalloc background thread (pyarrow's): it
must stay single-threaded, as forking a process with threads is unsafe (it checks this
after importing, and exits if not). It ignores SIGINT, asks Linux to kill it when the
thread that started it ends (``PR_SET_PDEATHSIG``), and exits when its socket closes;
each worker asks to be killed when the zygote ends. So killing the parent, even with
SIGKILL, leaves neither the zygote nor a worker. One zygote is kept per thread of the
parent (:func:`zygote`), because of ``PR_SET_PDEATHSIG``; it is closed when the thread
ends. Not :mod:`multiprocessing`'s forkserver: its processes cannot be started from a
daemonic process, which Dask's workers are; it re-runs the parent's ``__main__`` in each
child; and it starts a resource tracker process.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import weakref
from multiprocessing.connection import Connection
from typing import Any

from ..processes import die_with_parent

__all__ = ["Child", "PRELOAD", "ENVIRONMENT", "Zygote", "zygote"]

# one thread per numerical library, two malloc arenas, no jemalloc thread (pyarrow's)
ENVIRONMENT = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "NUMBA_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1",
               "MALLOC_ARENA_MAX": "2", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
PRELOAD = ("tabinv.batch.task", "tabinv.batch.isolation", "tabinv.models.persist",
           "tabinv.models.onnx", "tabinv.models.dp", "tabinv.attacks._treewalk",
           "tabinv.report.files", "tabinv.report.plots", "tabinv.core")
# not onnxruntime: importing it starts a thread (and takes 0.04 s)
_STATUS = struct.Struct("i")


class Child:
    """A worker forked by the zygote: ``pid``, and ``poll`` / ``wait`` / ``kill`` like
    :class:`subprocess.Popen` (``returncode`` negative when a signal killed it)."""

    def __init__(self, pid: int, status: Connection) -> None:
        self.pid, self.status = pid, status
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code, or None while the child runs."""
        return self.wait(0.0)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the child ended (None if still running after ``timeout``,
        or if the zygote died without reporting it: its children die with it)."""
        if self.returncode is None and not self.status.closed:
            if not self.status.poll(timeout):
                return None
            try:
                self.returncode = _STATUS.unpack(self.status.recv_bytes())[0]
            except (EOFError, OSError):
                self.returncode = -signal.SIGKILL
            self.status.close()
        return self.returncode

    def kill(self) -> None:
        """SIGKILL, unless the child is known to have ended (the zygote reports an exit
        right after reaping the child: only in that moment could its pid be reused)."""
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class Zygote:
    """The zygote process, started now (its imports run while the first request waits)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from tabinv.batch.zygote import main; main()",
                 str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env={**os.environ, **ENVIRONMENT})
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.socket, self.owner = ours, os.getpid()
        self.control = Connection(os.dup(ours.fileno()))
        # when the thread ends, its zygote is dropped: close and reap it then
        self._finalizer = weakref.finalize(self, _close, self.socket, self.control,
                                           self.process)
        self.control.send(list(sys.path))

    def alive(self) -> bool:
        """The zygote still runs, and is this process's (not inherited through a fork)."""
        return (self.owner == os.getpid() and not self.control.closed
                and self.process.poll() is None)

    def spawn(self, task_fd: int, result_fd: int) -> Child:
        """Fork a worker serving tasks on these pipe ends (see :func:`serve_tasks`).

        Raises OSError or EOFError if the zygote is gone."""
        status_read, status_write = os.pipe()
        try:
            self.control.send((_cwd(), list(sys.path), dict(os.environ)))
            socket.send_fds(self.socket, [b"F"], [task_fd, result_fd, status_write])
            pid = self.control.recv()
        except BaseException:
            os.close(status_read)
            raise
        finally:
            os.close(status_write)
        return Child(pid, Connection(status_read, writable=False))

    def close(self) -> None:
        """Close the socket (the zygote exits) and reap it."""
        self._finalizer()


def _close(sock: socket.socket, control: Connection, process: subprocess.Popen[bytes]
           ) -> None:
    control.close()
    sock.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # removed
        return None


_LOCAL = threading.local()


def zygote(*, fresh: bool = False) -> Zygote:
    """This thread's zygote, started on first use, again if it died or ``fresh``."""
    current = getattr(_LOCAL, "zygote", None)
    if current is None or fresh or not current.alive():
        if current is not None:
            current.close()
        current = _LOCAL.zygote = Zygote()
    return current


# -- the zygote process ----------------------------------------------------------------
def _preload() -> None:
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a worker that needs it reports the error
            pass
    if len(os.listdir("/proc/self/task")) > 1:  # forking threads would copy held locks
        raise SystemExit("the zygote must stay single-threaded after its imports")


def main() -> None:
    """The zygote process: ``main() <socket fd> <parent pid>`` (its command line)."""
    control_fd, parent = int(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    sock = socket.socket(fileno=control_fd)
    control = Connection(os.dup(control_fd))
    sys.path[:] = control.recv()
    _preload()
    wake_read, wake_write = os.pipe()
    for fd in (wake_read, wake_write):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    statuses: dict[int, Connection] = {}
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    own = [control_fd, control.fileno(), wake_read, wake_write, selector.fileno()]
    while True:
        ready = {key.fileobj for key, _ in selector.select()}
        if wake_read in ready:
            while _drained(wake_read):
                pass
            _reap(statuses)
        if sock in ready:
            try:
                request = control.recv()
                _, fds, _, _ = socket.recv_fds(sock, 1, 3)
            except (EOFError, OSError):
                return
            pid = _fork(request, fds, [*own, *(c.fileno() for c in statuses.values())])
            statuses[pid] = Connection(fds[2], readable=False)
            control.send(pid)


def _drained(fd: int) -> bool:
    try:
        return bool(os.read(fd, 512))
    except BlockingIOError:
        return False


def _fork(request: tuple[str | None, list[str], dict[str, str]], fds: list[int],
          inherited: list[int]) -> int:
    """Fork a worker on the request's pipes; in the zygote, close the worker's ends."""
    zygote_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        _child(request, fds, zygote_pid, inherited)
    os.close(fds[0])
    os.close(fds[1])
    return pid


def _reap(statuses: dict[int, Connection]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = statuses.pop(pid, None)
        if connection is not None:
            try:
                connection.send_bytes(_STATUS.pack(os.waitstatus_to_exitcode(status)))
            except OSError:
                pass
            connection.close()


def _child(request: tuple[str | None, list[str], dict[str, str]], fds: list[int],
           zygote: int, inherited: list[int]) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in inherited:
            os.close(fd)
        os.close(fds[2])
        die_with_parent(zygote)
        cwd, path, environment = request
        sys.path[:] = path
        os.environ.clear()
        os.environ.update({**environment, **ENVIRONMENT})
        if cwd is not None:
            with contextlib.suppress(OSError):  # removed since: stay in the zygote's
                os.chdir(cwd)
        serve_tasks(fds[0], fds[1])
        code = 0
    finally:
        os._exit(code)


# -- a worker's loop (in the forked child) ---------------------------------------------
def serve_tasks(task_fd: int, result_fd: int) -> None:
    """Run the tasks the parent sends (pickles over a private pipe, from tabinv's own
    executor) one at a time, each under its address-space limit; send back one outcome
    each: ``ok`` with the result, ``memory`` or ``error`` with one line."""
    import resource
    import traceback

    tasks = Connection(task_fd, writable=False)
    results = Connection(result_fd, readable=False)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    while True:
        try:
            received = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            import pickle

            task, item, memory = pickle.loads(received)
            results.send(("started", None))
            if hard == resource.RLIM_INFINITY or memory < hard:
                resource.setrlimit(resource.RLIMIT_AS, (memory, hard))
            outcome: tuple[str, Any] = ("ok", task(item))
        except MemoryError:
            outcome = ("memory", "")
        except BaseException as error:  # noqa: BLE001 - reported to the parent, one line
            text = (str(error).strip().splitlines() or [""])[0][:300]
            outcome = ("error", f"{type(error).__name__}: {text}" if text else
                       type(error).__name__)
            traceback.clear_frames(error.__traceback__)
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        results.send(outcome)
