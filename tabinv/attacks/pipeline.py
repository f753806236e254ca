"""Chunks of the candidate grid through a two-thread pipeline, and lazily encoded records.

A black-box attack does three things per chunk of records: build the candidate rows
(encode the records, repeat them, patch the hidden columns), query the model on them,
and reduce the answers (likelihoods, posterior). Only the query is the model's work;
the rest is tabinv's. :func:`pipelined` runs the model queries one chunk at a time in
the caller's thread, exactly as a plain call would, while one worker thread prepares
the next chunks and reduces the previous ones, so on a machine with two cores the
bookkeeping hides behind the model's evaluation. The chunks' results do not depend on
the order of execution: the output is the same as a serial run, bit for bit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

__all__ = ["ENCODE_BLOCK", "LazyRecords", "pipelined"]

#: records encoded per call when encoding is lazy (smaller blocks cost per-call overhead)
ENCODE_BLOCK = 1 << 15
#: chunks prepared ahead of the model's queries
AHEAD = 2

Chunk = tuple[int, int]
T = TypeVar("T")


class LazyRecords:
    """Encoded records, produced block by block when the chunks reach them.

    Parameters
    ----------
    encode : callable (start, stop) -> ndarray (stop - start, width)
        Encodes the records in ``[start, stop)``.
    n : int
        Number of records.
    width : int
        Columns of the encoded matrix.
    block : int, optional
        Records encoded per call (default ``ENCODE_BLOCK``); chunks never straddle two
        blocks.
    """

    def __init__(self, encode: Callable[[int, int], np.ndarray], n: int, width: int,
                 block: int | None = None) -> None:
        self.encode = encode
        self.n = n
        self.width = width
        self.block = max(1, ENCODE_BLOCK if block is None else block)
        self._cached: tuple[int, np.ndarray] | None = None

    @classmethod
    def of(cls, encoded: np.ndarray) -> LazyRecords:
        """An already encoded matrix (one block: slicing only)."""
        return cls(lambda start, stop: encoded[start:stop], len(encoded), encoded.shape[1],
                   block=max(1, len(encoded)))

    def chunks(self, step: int) -> list[Chunk]:
        """(start, stop) of chunks of at most ``step`` records, aligned to the blocks."""
        bounds = []
        for first in range(0, self.n, self.block):
            last = min(self.n, first + self.block)
            bounds += [(start, min(last, start + step)) for start in range(first, last, step)]
        return bounds or [(0, 0)]

    def get(self, start: int, stop: int) -> np.ndarray:
        """The encoded records ``[start, stop)`` (inside one block)."""
        first = (start // self.block) * self.block
        if self._cached is None or self._cached[0] != first:
            self._cached = (first, self.encode(first, min(self.n, first + self.block)))
        return self._cached[1][start - first:stop - first]


def pipelined(chunks: Sequence[Chunk], prepare: Callable[[Chunk], T],
              query: Callable[[T], Any], finish: Callable[[Any, Chunk], None],
              finish_here: bool = False) -> None:
    """``finish(query(prepare(chunk)), chunk)`` for every chunk, in order.

    ``query`` runs in the calling thread, one chunk at a time; ``prepare`` runs in one
    worker thread, and so does ``finish`` unless ``finish_here`` (for a cheap ``query``,
    so that the two threads share the work evenly), in submission order (``prepare`` of
    a chunk always before its ``finish``). An exception from any stage stops the
    pipeline and is raised here.
    """
    if len(chunks) == 1:
        finish(query(prepare(chunks[0])), chunks[0])
        return
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabinv-grid")
    try:
        prepared: deque[Future[T]] = deque(worker.submit(prepare, c) for c in chunks[:AHEAD])
        finished: list[Future[None]] = []
        for i, chunk in enumerate(chunks):
            outputs = query(prepared.popleft().result())
            if finish_here:
                finish(outputs, chunk)
            else:
                finished.append(worker.submit(finish, outputs, chunk))
            del outputs
            if i + AHEAD < len(chunks):
                prepared.append(worker.submit(prepare, chunks[i + AHEAD]))
            if finished and finished[0].done():  # surface a failed reduction early
                finished.pop(0).result()
        for future in finished:
            future.result()
    finally:
        worker.shutdown(wait=True, cancel_futures=True)
