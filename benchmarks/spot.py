"""Spot check of one case: the best of several timed ``infer`` calls at two sizes, against
the floor, and how the time grows between them.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.spot FAMILY:ATTACK:K [...] [--rounds R] [--sizes A,B]
    # e.g. tree:map:18 linear:map:27 tree:whitebox:27 --rounds 5

Worlds and attacks are those of ``benchmarks/memory.py`` (``map``, ``queries``,
``whitebox``); the floor is ``test_families.floor_seconds`` (best of two). One warm-up
call precedes the timed rounds at each size.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from . import memory
from .test_families import floor_seconds


def spot(family: str, kind: str, k: int, sizes: Sequence[int], rounds: int) -> str:
    """One Markdown row per size, and the growth from the first size to the last."""
    attack = memory.attack(family, kind, k)
    best: list[float] = []
    lines = []
    for n in sizes:
        records = memory.records(n)
        attack.infer(records)  # warm-up
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            attack.infer(records)
            times.append(time.perf_counter() - started)
        floor = min(floor_seconds(attack, records) for _ in range(2))
        best.append(min(times))
        every = " ".join(f"{t:.3f}" for t in times)
        lines.append(f"| {family} | {kind} | {k} | {n:,} | {min(times):.3f} | {every} | "
                     f"{floor:.3f} | {min(times) / floor:.2f}x |")
    growth = f"growth {sizes[0]:,} -> {sizes[-1]:,}: {best[-1] / best[0]:.1f}"
    return "\n".join(lines) + f"\n\n{family} {kind} K={k}: {growth}"


def main(arguments: Sequence[str]) -> None:
    rounds, sizes, cases = 5, (100_000, 1_000_000), []
    items = iter(arguments)
    for argument in items:
        if argument == "--rounds":
            rounds = int(next(items))
        elif argument == "--sizes":
            sizes = tuple(int(s) for s in next(items).split(","))
        else:
            cases.append(argument)
    print("| family | attack | K | N | best s | every round s | floor s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        family, kind, k = case.split(":")
        print(spot(family, kind, int(k), sizes, rounds), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
