"""Tasks for the executor tests of test_procs (imported by worker processes: kept light)."""

from __future__ import annotations

from typing import Any


def hostile_task(item: str) -> Any:
    """Segfaults on ``"segfault"``, asks for 64 GiB on ``"memory"``, sleeps 10 minutes on
    ``"hang"``, describes its process on ``"process"``, else upper-cases."""
    if item == "segfault":  # a real crash in native code
        import ctypes

        ctypes.string_at(0)
    if item == "memory":  # over any limit below 64 GiB
        bytearray(64 * 1024**3)
    if item == "hang":
        import time

        time.sleep(600)
    if item == "process":
        import os
        import resource
        import sys

        names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_ARENA_MAX")
        return {"environment": {name: os.environ.get(name) for name in names},
                "threads": len(os.listdir("/proc/self/task")), "parent": os.getppid(),
                "tabinv": sys.modules["tabinv"].__file__, "cwd": os.getcwd(),
                "memory": resource.getrlimit(resource.RLIMIT_AS)[0]}
    return item.upper()
