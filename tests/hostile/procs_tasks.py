"""Tasks for the executor tests of test_procs (imported by worker processes: kept light)."""

from __future__ import annotations


def hostile_task(item: str) -> str:
    """Segfaults on ``"segfault"``, asks for 64 GiB on ``"memory"``, else upper-cases."""
    if item == "segfault":  # a real crash in native code
        import ctypes

        ctypes.string_at(0)
    if item == "memory":  # over any limit below 64 GiB
        bytearray(64 * 1024**3)
    return item.upper()
