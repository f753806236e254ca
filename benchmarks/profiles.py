"""Where an attack's time goes: cProfile of one ``infer``, top entries as Markdown.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.profiles FAMILY:ATTACK:N [FAMILY:ATTACK:N ...]
    # e.g. linear:map:1000000 tree:whitebox:1000000 forest:map:100000

Worlds and attacks are those of ``benchmarks/memory.py`` at K = 18. Each case runs once
to warm up, then once under the profiler with the chunk pipeline run serially, so that
the profiler (which follows one thread) sees the worker thread's work too: encoding,
building rows and reductions, which overlap the model's queries in normal runs.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import memory

TOP = 6


def _serial(chunks: Sequence[Any], prepare: Callable[..., Any], query: Callable[..., Any],
            finish: Callable[..., Any], finish_here: bool = False) -> None:
    for chunk in chunks:
        finish(query(prepare(chunk)), chunk)


def profile(family: str, kind: str, n: int) -> str:
    """One case's Markdown: its time under the profiler and the top entries by own time."""
    import tabinv.attacks.grid as grid

    records = memory.records(n)
    attack = memory.attack(family, kind, 18)
    attack.infer(records)  # warm-up
    pipelined, grid.pipelined = grid.pipelined, _serial
    profiler = cProfile.Profile()
    try:
        start = time.perf_counter()
        profiler.enable()
        attack.infer(records)
        profiler.disable()
        seconds = time.perf_counter() - start
    finally:
        grid.pipelined = pipelined
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    top = sorted(stats.items(), key=lambda item: -item[1][2])[:TOP]
    lines = [f"#### {family} {kind}, N={n:,}, K=18: {seconds:.2f} s serial, under cProfile",
             "| tottime s | cumtime s | calls | function |", "|---:|---:|---:|---|"]
    for (path, line, function), (_, calls, own, cumulative, _) in top:
        where = path.split("site-packages/")[-1].split(str(memory.ROOT) + "/")[-1]
        lines.append(f"| {own:.3f} | {cumulative:.3f} | {calls} | "
                     f"`{where}:{line}({function})` |")
    return "\n".join(lines)


def main(arguments: Sequence[str]) -> None:
    for argument in arguments:
        family, kind, n = argument.split(":")
        print(profile(family, kind, int(n)), end="\n\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
