"""Checkpoints of an endpoint entry: the server's answers, chunk by chunk, on disk.

An entry that queries a model server pays for every row it sends and may be stopped at
any moment (Ctrl-C, SIGKILL, the server gone, its query budget spent). Its worker keeps a
:class:`QueryJournal` in the entry's own folder, ``DIR/entries/NAME/checkpoint/KEY/``
(``KEY``: the start of a digest of the server's URL, protocol and model name; the
answer to a row depends on nothing else, so an edited entry reuses them). Each chunk of
rows the attack sends is a file named by the SHA-256 of the rows' bytes (shape and type
included)::

    <digest>.sent     written (atomically) before the chunk is sent: its row count and
                      how many times it was sent
    <digest>.npz      written (atomically) once answered: the answers, what they cost
                      (rows, requests, retries, seconds) and the earlier sends whose
                      answers were lost; numbers only (no pickle)

A rerun asks the same chunks in the same order (the assessment is seeded); a chunk with
an answer file is answered from it, not sent again and not counted again, so the rerun's
posteriors are those of an uninterrupted run, computed from the same answers. A chunk is
answered whole or not at all; a record is scored only once all of its chunks are
answered. The entry's cost (:meth:`QueryJournal.totals`) sums each answer file once, and
counts as ``lost`` the sends of a chunk by a killed run that kept no answer (whether
the chunk was answered later or not): an attacker paid for them too. Within one run, a
chunk asked twice is sent once.

Only the worker of an endpoint entry writes here (a Dask worker therefore needs the
output folder on a shared file system); files are renamed into place, links are never
followed, and temporaries a killed run left (``*.tmp``) are removed when the journal
opens.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import TabinvError
from ..utils import write_atomic

__all__ = ["CHECKPOINT", "COSTS", "QueryJournal", "chunk_digest", "columns_digest",
           "entry_journal"]

#: the folder of an endpoint entry's answers, in the entry's folder
CHECKPOINT = "checkpoint"

#: what answering a chunk cost, as the endpoint client counts it
COSTS = ("rows", "requests", "retries", "seconds")
LOST = ("lost_rows", "lost_chunks")

Send = Callable[[np.ndarray], tuple[np.ndarray, Mapping[str, float]]]


def chunk_digest(rows: np.ndarray) -> str:
    """SHA-256 of a chunk: its type, shape and bytes (C order)."""
    rows = np.ascontiguousarray(rows)
    if rows.dtype.hasobject:
        raise TabinvError("a chunk sent to a model server must hold numbers, not objects")
    head = json.dumps([rows.dtype.str, list(rows.shape)]).encode()
    return hashlib.sha256(head + b"\0" + rows.tobytes()).hexdigest()


class QueryJournal:
    """A model server's answers to the chunks of one entry, kept under ``folder``.

    Parameters
    ----------
    folder : path
        The entry's checkpoint folder (created; must not be a link).
    key : str
        A hex digest naming the answers' source (the server); its first 32 characters
        name the subfolder used.
    """

    def __init__(self, folder: str | os.PathLike[str], key: str) -> None:
        if not key or not key.isalnum():
            raise TabinvError("a checkpoint needs a key naming the server")
        self.folder = Path(folder) / key[:32]
        for path in (self.folder.parent, self.folder):
            _real_folder(path)
        for leftover in self.folder.glob("*.tmp"):
            if stat.S_ISREG(leftover.lstat().st_mode):
                leftover.unlink()
        self._memo: dict[str, np.ndarray] = {}
        self._used = np.zeros(len(COSTS) + len(LOST))  # cost of the answers used so far
        self.replayed = 0  # chunks answered from files of an earlier run
        self.sent = 0  # chunks sent in this run

    def answer(self, rows: np.ndarray, send: Send) -> np.ndarray:
        """The server's answer to ``rows``: from this run, from a file, or from ``send``.

        ``send(rows)`` returns the answers (first axis: one per row) and their cost
        (:data:`COSTS`); the answers are written before they are returned.
        """
        return self.ask(chunk_digest(rows), len(rows), lambda: send(rows))

    def ask(self, digest: str, count: int,
            send: Callable[[], tuple[np.ndarray, Mapping[str, float]]],
            check: Callable[[], None] | None = None) -> np.ndarray:
        """The answer to the chunk of ``count`` rows whose digest is ``digest`` (see
        :func:`chunk_digest`, :func:`columns_digest`): from this run, from a file, or
        from ``send()``. ``check()`` runs before a chunk is marked as sent and may
        refuse it (e.g. a spent budget), so that a refused chunk never counts as lost."""
        if digest in self._memo:
            return self._memo[digest]
        loaded = self._load(self.folder / f"{digest}.npz")
        if loaded is not None and loaded[0].shape[:1] == (count,):
            self.replayed += 1
            stored = loaded[0]
            self._used += loaded[1]
        else:
            if check is not None:
                check()
            earlier = _sends(self.folder / f"{digest}.sent")
            write_atomic(self.folder / f"{digest}.sent", f"{count} {earlier + 1}")
            answers, cost = send()
            answers = np.asarray(answers)
            if answers.shape[:1] != (count,) or not answers.ndim:
                raise TabinvError(f"the server answered {answers.shape[:1]} rows for "
                                  f"{count} rows sent")
            self._used += self._write(digest, answers, cost, lost=(earlier * count, earlier))
            self.sent += 1
            stored = answers
        self._memo[digest] = stored
        return stored

    def totals(self) -> dict[str, float]:
        """What every run of this entry paid: each answer file's cost once, and the rows
        and chunks sent by a killed run whose answers were lost."""
        totals = dict.fromkeys((*COSTS, "chunks", "lost_rows", "lost_chunks"), 0.0)
        answered = set()
        for path in sorted(self.folder.glob("*.npz")):
            loaded = self._load(path)
            if loaded is None:
                continue
            answered.add(path.stem)
            totals["chunks"] += 1
            for name, value in zip((*COSTS, *LOST), loaded[1], strict=True):
                totals[name] += float(value)
        for path in sorted(self.folder.glob("*.sent")):
            if path.stem not in answered:
                rows, sends = _marker(path)
                totals["lost_chunks"] += sends
                totals["lost_rows"] += rows * sends
        return _counts(totals)

    # -- files --------------------------------------------------------------------------
    def used(self) -> dict[str, float]:
        """What the answers used in this run cost, each distinct chunk once, replayed
        ones at their cost when they were answered (so a resumed run reports what an
        uninterrupted one would, plus the sends lost in between)."""
        return _counts(dict(zip((*COSTS, *LOST), self._used, strict=True)))

    def _write(self, digest: str, answers: np.ndarray, cost: Mapping[str, float],
               lost: tuple[int, int]) -> np.ndarray:
        spent = np.array([*(float(cost.get(name, 0.0)) for name in COSTS), *lost])
        buffer = io.BytesIO()
        if answers.dtype.kind in "biuf":
            np.savez(buffer, answers=answers, cost=spent)
        else:  # labels: kept as JSON text (numbers only in the file, never a pickle)
            if not all(isinstance(v, (str, int, float, bool)) for v in answers.flat):
                raise TabinvError("the server answered values that are neither numbers "
                                  "nor labels")
            text = json.dumps(answers.tolist(), allow_nan=True)
            np.savez(buffer, labels=np.array(text), shape=np.array(answers.shape),
                     cost=spent)
        write_atomic(self.folder / f"{digest}.npz", buffer.getvalue())
        return spent

    @staticmethod
    def _load(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """(answers, cost) of an answer file, or None if absent, a link or damaged."""
        try:
            data = _read_small(path, binary=True)
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                cost = stored["cost"]
                if "labels" in stored.files:
                    answers = np.empty(tuple(stored["shape"]), dtype=object)
                    answers[...] = _nested(json.loads(str(stored["labels"])), answers.ndim)
                else:
                    answers = stored["answers"]
        except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile):
            return None
        if cost.shape != (len(COSTS) + len(LOST),) or not answers.ndim:
            return None
        return answers, cost


def columns_digest(columns: Mapping[str, Any], start: int, stop: int) -> str:
    """SHA-256 of rows ``start:stop`` of a table given as ``{name: values}`` (names in
    order; numbers by their bytes, other values by their JSON)."""
    digest = hashlib.sha256(f"{stop - start}".encode())
    for name, values in columns.items():
        part = np.asarray(values)[start:stop]
        digest.update(b"\0" + json.dumps(str(name)).encode() + b"\0")
        if part.dtype.kind in "biuf":
            digest.update(part.dtype.str.encode() + np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part.tolist(), default=repr).encode())
    return digest.hexdigest()


def _nested(values: Any, ndim: int) -> Any:
    """JSON lists of labels as an array-assignable value (a 2-D answer stays 2-D)."""
    if ndim == 1:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    return values


def entry_journal(entries: str | os.PathLike[str] | None, name: str,
                  key: str) -> QueryJournal | None:
    """The journal of entry ``name`` under the batch's ``entries`` folder (None without
    one: a single assessment outside a batch keeps no checkpoint)."""
    if entries is None:
        return None
    return QueryJournal(Path(entries) / name / CHECKPOINT, key)


def _real_folder(path: Path) -> None:
    """Create ``path`` if absent; refuse a link or a file there."""
    try:
        path.mkdir(exist_ok=True)
        mode = path.lstat().st_mode
    except OSError as error:
        raise TabinvError(f"cannot use the checkpoint folder {path}: {error.strerror} (an "
                          "endpoint entry's worker writes it; a remote worker needs the "
                          "output folder on a shared file system)") from None
    if not stat.S_ISDIR(mode):
        raise TabinvError(f"{path} is not a folder (a link or a file); tabinv keeps an "
                          "endpoint entry's checkpoint there: move it away")


def _counts(values: Mapping[str, float]) -> dict[str, float]:
    return {k: (round(float(v), 6) if k == "seconds" else int(v)) for k, v in values.items()}


def _marker(path: Path) -> tuple[int, int]:
    """(rows, sends) of a ``.sent`` marker; (0, 0) when absent or damaged."""
    try:
        words = _read_small(path).split()
    except OSError:
        return 0, 0
    if len(words) != 2 or not all(w.isdigit() for w in words):
        return 0, 0
    return int(words[0]), int(words[1])


def _sends(path: Path) -> int:
    return _marker(path)[1]


def _read_small(path: Path, *, binary: bool = False) -> Any:
    """A regular file's content, never through a link."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise OSError("not a regular file")
        data = stream.read()
    return data if binary else data.decode("ascii", "replace").strip()
