"""Executing a lesson: its notebook in a Jupyter kernel (nbclient), its figures collected.

The kernel is this interpreter's ``python3`` kernel (ipykernel, the ``lessons`` extra),
started for the run in a temporary folder that is its working folder, talking over Unix
sockets in that folder (not TCP), with ``PYTHONHASHSEED=0`` and one thread per numerical
library so that a lesson gives the same numbers and figures every run; it is shut down
when the run ends, however it ends, and the folder removed. A failing cell is one
:class:`~tabinv.lessons.catalog.LessonError` naming the lesson, the cell and the error.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from ..text import cap, terminal_text
from . import RESULTS_MIME
from .catalog import Lesson, LessonError

__all__ = ["LessonRun", "notebook", "notebook_results", "run_lesson"]

#: seconds a lesson may run (the issue's bound is 3 minutes on 2 cores; room for a busy one)
DEFAULT_TIMEOUT = 600.0


@dataclass(frozen=True)
class LessonRun:
    """An executed lesson: the notebook with its outputs, the figures it computed
    (``results``), the wall time, and the figures it drew (PNG bytes, in order)."""

    lesson: Lesson
    notebook: Any = field(repr=False)
    results: dict[str, float]
    seconds: float
    images: tuple[bytes, ...] = field(repr=False, default=())

    def reproduced(self) -> list[dict[str, Any]]:
        """Each published figure beside the lesson's value, and whether they agree."""
        rows = []
        for figure in self.lesson.reproduces:
            value = self.results.get(figure.key)
            rows.append({"key": figure.key, "what": figure.what, "published": figure.published,
                         "tolerance": figure.tolerance, "source": figure.source,
                         "value": value,
                         "agrees": value is not None and figure.agrees(value)})
        return rows


def _requires() -> tuple[Any, Any]:
    try:
        import jupytext
        import nbclient
    except ImportError as error:
        raise LessonError(f"running a lesson needs the lessons extra ({error.name} is not "
                          "installed): pip install 'tabinv[lessons]'") from None
    return jupytext, nbclient


def notebook(lesson: Lesson) -> Any:
    """The lesson as an nbformat notebook (not executed)."""
    jupytext, _ = _requires()
    return jupytext.reads(lesson.text(), fmt="md")


def run_lesson(lesson: Lesson, *, timeout: float = DEFAULT_TIMEOUT) -> LessonRun:
    """Execute ``lesson`` in a fresh kernel; raises LessonError when a cell fails or the
    lesson runs longer than ``timeout`` seconds."""
    _, nbclient = _requires()
    from jupyter_client.manager import KernelManager
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    book = notebook(lesson)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tabinv-lesson-") as folder:
        manager = KernelManager(kernel_name="python3", transport="ipc",
                                ip=os.path.join(folder, "kernel"))
        manager.connection_file = os.path.join(folder, "kernel.json")
        client = nbclient.NotebookClient(book, km=manager, timeout=timeout,
                                         startup_timeout=120,
                                         resources={"metadata": {"path": folder}})
        try:
            client.execute(cwd=folder, env=_environment(folder))
        except CellExecutionError as error:
            raise LessonError(f"lesson {lesson.number} failed in cell "
                              f"{_failed_cell(book)}: {_last_line(error)}") from None
        except (CellTimeoutError, TimeoutError):
            raise LessonError(f"lesson {lesson.number} ran longer than {timeout:.0f} s "
                              "and was stopped") from None
        except DeadKernelError:
            raise LessonError(f"lesson {lesson.number}: its kernel died (out of memory?)"
                              ) from None
        finally:  # a kernel manager given to nbclient is ours to close, with its client
            if client.kc is not None:
                client.kc.stop_channels()
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
            manager.cleanup_resources()
    seconds = time.perf_counter() - started
    return LessonRun(lesson, book, notebook_results(book), seconds, _images(book))


def _environment(folder: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "JUPYTER_"))}
    env.update(PYTHONHASHSEED="0", MPLBACKEND="module://matplotlib_inline.backend_inline",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MPLCONFIGDIR=os.path.join(folder, "matplotlib"),
               IPYTHONDIR=os.path.join(folder, "ipython"))
    return env


def _failed_cell(book: Any) -> int:
    for number, cell in enumerate(book.cells, 1):
        if any(o.get("output_type") == "error" for o in cell.get("outputs", ())):
            return number
    return 0


def _last_line(error: Exception) -> str:
    name = getattr(error, "ename", "") or type(error).__name__
    value = getattr(error, "evalue", "") or ""
    return cap(terminal_text(f"{name}: {value}".strip(": "), one_line=True), 300)


def notebook_results(book: Any) -> dict[str, float]:
    """The figures an executed notebook displayed with ``show_results``."""
    results: dict[str, float] = {}
    for cell in book.cells:
        for output in cell.get("outputs", ()):
            data = output.get("data") or {}
            if RESULTS_MIME in data:
                results.update({str(k): float(v) for k, v in dict(data[RESULTS_MIME]).items()})
    return results


def _images(book: Any) -> tuple[bytes, ...]:
    import base64

    return tuple(base64.b64decode(output["data"]["image/png"])
                 for cell in book.cells for output in cell.get("outputs", ())
                 if "image/png" in (output.get("data") or {}))
