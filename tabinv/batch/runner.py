"""The resumable batch runner: one task per inventory entry, results that survive a crash.

Layout of the output directory::

    DIR/summary.parquet, .csv, .json        one row per entry x attribute x population
    DIR/index.html                          summary box, what to do, models worst first
    DIR/batch.log                           full tracebacks of failed entries
    DIR/entries/NAME/report.json|.md|.html  the entry's reports
    DIR/entries/NAME/result.json            the entry's record (a batch-entry document):
                                            key, status, rows, hashes
    DIR/entries/NAME/checkpoint/            an endpoint entry's answers so far (its
                                            worker writes them: :mod:`.checkpoint`)
    DIR/.tabinv-scratch/                    temporary files (cleared by the next run)

Every file is written under a temporary name in the scratch folder and renamed into
place, and an entry's record is written after its reports. The record holds the entry's
**key** (SHA-256 over the entry's settings, the bytes of every file it reads, or a
built-in data set's name and parameters, and tabinv's version), the SHA-256 of each
report, its rows, and a ``digest``: the SHA-256 of all of that. A rerun reuses a record
only if its bytes are exactly what a run writes for its content, its digest matches, its
key matches the entry as it is now, its status is ``ok`` and every report still has its
hash; anything else (a changed model, a failed entry, an edited or truncated file, a run
killed halfway) is done again. Every entry of the inventory has at least one summary
row: a failed entry shows its status and error. The digests detect edits and corruption;
they are not a signature (whoever can write DIR can also recompute them). Links and
other surprises planted in DIR are refused before a run starts (:mod:`.outdir`). Only
this process writes under DIR: workers return their rows and reports as bytes (rendered in
memory), so a remote Dask worker needs no access to DIR and writes no temporary file;
except the checkpoint of an entry that queries a model server, which its worker writes as
answers arrive so that a killed run loses none (a Dask worker then needs DIR on a shared
file system).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..exceptions import TabinvError
from ..schemas import stamp
from .entry import Entry
from .executors import Executor, LocalExecutor, TaskFailure
from .inventory import Inventory
from .outdir import RESULT_FILE, OutputFolder
from .summary import _strict, write_summary
from .task import (
    REPORTS,
    RESULT_FORMAT,
    ROW_COLUMNS,
    EntryOutcome,
    _digest,
    assess_entry,
    entry_key,
    failure_rows,
)

__all__ = ["ROW_COLUMNS", "BatchProgress", "BatchResult", "EntryOutcome", "assess_entry",
           "entry_key", "run_batch"]

# -- records on disk -------------------------------------------------------------------
def read_record(out: Path | OutputFolder, name: str, key: str) -> dict[str, Any] | None:
    """The entry's record if it is exactly as a run wrote it, ``ok`` and made for ``key``.

    Reused only when its bytes are what :func:`write_outcome` writes for its content, its
    ``digest`` matches that content (rows included), it has a row for this entry and key,
    and every report still has the hash it lists; anything else returns None (redo it).
    """
    folder = out if isinstance(out, OutputFolder) else OutputFolder(out)
    directory = folder.entry(name)
    try:
        data = folder.read(directory / RESULT_FILE)
        record = json.loads(data)
        if not (isinstance(record, dict) and record.get("format") == RESULT_FORMAT
                and record.get("entry") == name and record.get("key") == key
                and record.get("status") == "ok" and _serialise(record) == data
                and record.get("digest") == _content_digest(record)
                and _rows_belong(record.get("rows"), name, key)
                and isinstance(record.get("files"), dict)
                and sorted(record["files"]) == sorted(REPORTS)):
            return None
        for report, digest in record["files"].items():
            if _digest(folder.read(directory / report)) != digest:
                return None
    except (OSError, ValueError):
        return None
    return record


def write_outcome(out: Path | OutputFolder, outcome: EntryOutcome,
                  rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Reports first, then the record that vouches for them; returns the record."""
    folder = out if isinstance(out, OutputFolder) else OutputFolder(out)
    directory = folder.entry(outcome.name)
    for name, data in outcome.files.items():
        folder.write(directory / name, data)
    record = stamp({
        "format": RESULT_FORMAT, "entry": outcome.name, "key": outcome.key,
        "status": outcome.status, "error": outcome.error, "tabinv": __version__,
        "seconds": round(outcome.seconds, 3), "rows": [_strict(r) for r in rows],
        "files": {name: _digest(data) for name, data in outcome.files.items()}},
        "batch-entry")
    record["digest"] = _content_digest(record)
    folder.write(directory / RESULT_FILE, _serialise(record))
    if outcome.status != "ok":  # reports of an earlier success no longer apply
        for name in REPORTS:
            folder.remove(directory / name)
    return record


def _serialise(record: dict[str, Any]) -> bytes:
    """A record's bytes on disk (deterministic: a reread record gives the same bytes)."""
    return json.dumps(record, indent=1, allow_nan=False).encode("utf-8")


def _content_digest(record: dict[str, Any]) -> str:
    """SHA-256 over everything in a record but its ``digest``, in canonical JSON."""
    content = {k: v for k, v in record.items() if k != "digest"}
    return _digest(json.dumps(content, sort_keys=True, separators=(",", ":"),
                              allow_nan=False).encode("utf-8"))


def _rows_belong(rows: Any, name: str, key: str) -> bool:
    """At least one row, each an object naming this entry, its key and status ok."""
    return isinstance(rows, list) and bool(rows) and all(
        isinstance(r, dict) and r.get("entry") == name and r.get("key") == key
        and r.get("status") == "ok" for r in rows)


# -- the run ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchProgress:
    """Counts after each finished entry (``reused`` are included in ``succeeded``)."""

    total: int
    succeeded: int = 0
    failed: int = 0
    reused: int = 0
    last: str = ""

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def remaining(self) -> int:
        return self.total - self.done


@dataclass(frozen=True)
class BatchResult:
    """What a batch run produced; ``exit_code`` is 0 only when every entry succeeded."""

    out: Path
    total: int
    succeeded: int
    failed: int
    reused: int
    seconds: float
    executor: str
    summary: pd.DataFrame = field(repr=False)
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def exit_code(self) -> int:
        return 0 if self.failed == 0 else 1

    def to_dict(self) -> dict[str, Any]:
        """What ``tabinv batch --json`` prints: a ``batch-run`` document."""
        return stamp({"out": str(self.out), "total": self.total, "succeeded": self.succeeded,
                "failed": self.failed, "reused": self.reused,
                "seconds": round(self.seconds, 3), "executor": self.executor,
                "failures": [{"entry": n, "error": e} for n, e in self.failures],
                "summary": str(self.out / "summary.parquet"),
                "summary_json": str(self.out / "summary.json"),
                "index": str(self.out / "index.html")}, "batch-run")


def run_batch(inventory: Inventory, out: str | os.PathLike[str], *,
              executor: Executor | None = None,
              progress: Callable[[BatchProgress], None] | None = None) -> BatchResult:
    """Assess every entry of ``inventory`` into ``out``, reusing valid earlier results.

    Parameters
    ----------
    inventory : Inventory
        From :func:`~tabinv.batch.inventory.read_inventory`.
    out : path
        Output directory (created); see the module docstring for its layout.
    executor : Executor, optional
        Default: one local worker process.
    progress : callable, optional
        Called with a :class:`BatchProgress` once before any work and after each entry.

    Raises
    ------
    TabinvError
        ``out`` cannot be created, holds a link or a wrong kind of file at a path the run
        uses (see :mod:`~tabinv.batch.outdir`), or another batch is writing to it.
    """
    folder = OutputFolder(out)
    executor = executor or LocalExecutor(1)
    started = time.perf_counter()
    with _locked(folder, [entry.name for entry in inventory.entries]):
        records, pending = _reusable(inventory, folder)
        state = BatchProgress(len(inventory), succeeded=len(records), reused=len(records))
        _report(progress, state)
        for entry, _ in pending:
            if entry.is_endpoint:  # its worker resumes from the answers kept there
                folder.checkpoint(entry.name)
        task = functools.partial(assess_entry, checkpoints=str(folder.entries))
        shadows = any(_trains_shadows(entry) for entry, _ in pending)
        on_cluster = {"task_on_cluster": functools.partial(
            _on_cluster, str(folder.entries))} if shadows else {}
        for index, outcome in executor.run(task, [e for e, _ in pending], **on_cluster):
            entry, key = pending[index]
            outcome = _as_outcome(outcome, entry, key)
            records[entry.name] = _record(folder, entry, outcome)
            failed = records[entry.name]["status"] != "ok"
            state = BatchProgress(state.total, state.succeeded + (not failed),
                                  state.failed + failed, state.reused, entry.name)
            _report(progress, state)
        summary = write_summary(folder.root, inventory, records, scratch=folder.scratch)
    failures = tuple((e.name, records[e.name]["error"]) for e in inventory.entries
                     if records[e.name]["status"] != "ok")
    return BatchResult(folder.root, len(inventory), state.succeeded, state.failed, state.reused,
                       time.perf_counter() - started, executor.describe(), summary, failures)


def _trains_shadows(entry: Entry) -> bool:
    """The entry runs a membership attack with shadow models (any but ``loss``)."""
    return bool(set(entry.membership_attacks or ()) - {"loss"})


def _on_cluster(checkpoints: str, scheduler: str) -> Callable[[Entry], EntryOutcome]:
    """The entry task for a Dask executor whose cluster takes sub-tasks: it trains the
    entry's shadow models there (:func:`~.task.assess_entry`'s ``shadows_on``)."""
    return functools.partial(assess_entry, checkpoints=checkpoints, shadows_on=scheduler)


def _report(progress: Callable[[BatchProgress], None] | None, state: BatchProgress) -> None:
    if progress is not None:
        progress(state)


class _locked:
    """Create and check ``DIR``, hold an exclusive lock on it (released even by SIGKILL)
    and, once it is held, clear the temporaries a killed run left in its scratch folder."""

    def __init__(self, folder: OutputFolder, names: list[str]) -> None:
        self.folder, self.names = folder, names

    def __enter__(self) -> None:
        self.folder.create()
        self.folder.check(self.names)
        self.handle = self.folder.open_lock()
        try:
            import fcntl

            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        except OSError:
            self.handle.close()
            raise TabinvError(f"another tabinv batch is writing to {self.folder.root}"
                              ) from None
        try:
            self.folder.clear_scratch()
        except OSError as error:
            self.handle.close()
            raise TabinvError(f"cannot clear {self.folder.scratch}: {error.strerror}"
                              ) from None

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def _reusable(inventory: Inventory, folder: OutputFolder
              ) -> tuple[dict[str, dict[str, Any]], list[tuple[Entry, str]]]:
    """Valid records of unchanged entries, and the (entry, key) pairs still to run."""
    records: dict[str, dict[str, Any]] = {}
    pending: list[tuple[Entry, str]] = []
    for entry in inventory.entries:
        try:
            key = entry_key(entry)
        except TabinvError:
            key = ""  # the task reports the unreadable file
        record = read_record(folder, entry.name, key) if key else None
        if record is None:
            pending.append((entry, key))
        else:
            records[entry.name] = record
    return records, pending


def _as_outcome(outcome: Any, entry: Entry, key: str) -> EntryOutcome:
    if isinstance(outcome, EntryOutcome):
        return outcome
    message = outcome.message if isinstance(outcome, TaskFailure) else repr(outcome)
    return EntryOutcome(entry.name, key, "failed", error=message)


def _record(folder: OutputFolder, entry: Entry, outcome: EntryOutcome) -> dict[str, Any]:
    if outcome.status == "ok" and not outcome.rows:  # never an entry without a summary row
        outcome = dataclasses.replace(outcome, status="failed", files={},
                                      error="the assessment produced no result rows")
    rows = [dict(row) for row in outcome.rows] if outcome.status == "ok" else \
        failure_rows(entry, outcome.key, outcome.error)
    if outcome.status != "ok":
        folder.log(f"entry {entry.name} failed: {outcome.error}\n"
                   f"{outcome.log or '(no traceback)'}\n")
    return write_outcome(folder, outcome, rows)


