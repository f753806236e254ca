"""The resumable batch runner: one task per inventory entry, results that survive a crash.

Layout of the output directory::

    DIR/summary.parquet, DIR/summary.csv   one row per entry x attribute x population
    DIR/index.html                          entries, worst leakage first, linking reports
    DIR/batch.log                           full tracebacks of failed entries
    DIR/entries/NAME/report.json|.md|.html  the entry's reports
    DIR/entries/NAME/result.json            the entry's record: key, status, rows, hashes

Every file is written under a temporary name and renamed into place, and an entry's
record is written after its reports. The record holds the entry's **key** (SHA-256 over
the entry's settings, the bytes of every file it reads, or a built-in data set's name
and parameters, and tabinv's version) and the SHA-256 of each report. A rerun reuses a
record only if it parses, its key matches the entry as it is now, its status is ``ok``
and every report still has its hash; anything else (a changed model, a failed entry, a
run killed halfway) is done again. Only this process writes under DIR: workers return
their rows and reports as bytes, so a remote Dask worker needs no access to DIR.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..exceptions import TabinvError
from ..utils import write_atomic
from .entry import Entry
from .executors import Executor, LocalExecutor, TaskFailure
from .inventory import Inventory
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

RESULT_FILE = "result.json"


# -- records on disk -------------------------------------------------------------------
def _entry_directory(out: Path, name: str) -> Path:
    return out / "entries" / name


def read_record(out: Path, name: str, key: str) -> dict[str, Any] | None:
    """The entry's record if it is complete, ``ok`` and made for ``key``; else None."""
    directory = _entry_directory(out, name)
    try:
        record = json.loads((directory / RESULT_FILE).read_bytes())
        if not (isinstance(record, dict) and record.get("format") == RESULT_FORMAT
                and record.get("entry") == name and record.get("key") == key
                and record.get("status") == "ok" and isinstance(record.get("rows"), list)
                and isinstance(record.get("files"), dict)):
            return None
        for report, digest in record["files"].items():
            if report not in REPORTS or _digest((directory / report).read_bytes()) != digest:
                return None
    except (OSError, ValueError):
        return None
    return record


def write_outcome(out: Path, outcome: EntryOutcome, rows: list[dict[str, Any]]
                  ) -> dict[str, Any]:
    """Reports first, then the record that vouches for them; returns the record."""
    directory = _entry_directory(out, outcome.name)
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in outcome.files.items():
        write_atomic(directory / name, data)
    record = {"format": RESULT_FORMAT, "entry": outcome.name, "key": outcome.key,
              "status": outcome.status, "error": outcome.error, "tabinv": __version__,
              "seconds": round(outcome.seconds, 3), "rows": [_strict(r) for r in rows],
              "files": {name: _digest(data) for name, data in outcome.files.items()}}
    write_atomic(directory / RESULT_FILE, json.dumps(record, indent=1, allow_nan=False
                                                     ).encode("utf-8"))
    if outcome.status != "ok":  # reports of an earlier success no longer apply
        for name in REPORTS:
            (directory / name).unlink(missing_ok=True)
    return record


def _remove_temporaries(out: Path) -> None:
    """Temporary files a killed run left behind (never trusted, just tidied)."""
    for pattern in (".*.tmp", "entries/*/.*.tmp"):
        for path in out.glob(pattern):
            path.unlink(missing_ok=True)


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
        return {"out": str(self.out), "total": self.total, "succeeded": self.succeeded,
                "failed": self.failed, "reused": self.reused,
                "seconds": round(self.seconds, 3), "executor": self.executor,
                "failures": [{"entry": n, "error": e} for n, e in self.failures],
                "summary": str(self.out / "summary.parquet"),
                "index": str(self.out / "index.html")}


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
        ``out`` cannot be created, or another batch is writing to it.
    """
    out = Path(out)
    executor = executor or LocalExecutor(1)
    started = time.perf_counter()
    with _locked(out):
        _remove_temporaries(out)
        records, pending = _reusable(inventory, out)
        state = BatchProgress(len(inventory), succeeded=len(records), reused=len(records))
        _report(progress, state)
        for index, outcome in executor.run(assess_entry, [e for e, _ in pending]):
            entry, key = pending[index]
            outcome = _as_outcome(outcome, entry, key)
            records[entry.name] = _record(out, entry, outcome)
            failed = outcome.status != "ok"
            state = BatchProgress(state.total, state.succeeded + (not failed),
                                  state.failed + failed, state.reused, entry.name)
            _report(progress, state)
        summary = write_summary(out, inventory, records)
    failures = tuple((e.name, records[e.name]["error"]) for e in inventory.entries
                     if records[e.name]["status"] != "ok")
    return BatchResult(out, len(inventory), state.succeeded, state.failed, state.reused,
                       time.perf_counter() - started, executor.describe(), summary, failures)


def _report(progress: Callable[[BatchProgress], None] | None, state: BatchProgress) -> None:
    if progress is not None:
        progress(state)


class _locked:
    """Create ``out`` and hold an exclusive lock on it (released even by SIGKILL)."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def __enter__(self) -> None:
        try:
            (self.out / "entries").mkdir(parents=True, exist_ok=True)
            self.handle = (self.out / ".lock").open("w")
        except OSError as error:
            raise TabinvError(f"cannot write to {self.out}: {error.strerror}") from None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            raise TabinvError(f"another tabinv batch is writing to {self.out}") from None

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def _reusable(inventory: Inventory, out: Path
              ) -> tuple[dict[str, dict[str, Any]], list[tuple[Entry, str]]]:
    """Valid records of unchanged entries, and the (entry, key) pairs still to run."""
    records: dict[str, dict[str, Any]] = {}
    pending: list[tuple[Entry, str]] = []
    for entry in inventory.entries:
        try:
            key = entry_key(entry)
        except TabinvError:
            key = ""  # the task reports the unreadable file
        record = read_record(out, entry.name, key) if key else None
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


def _record(out: Path, entry: Entry, outcome: EntryOutcome) -> dict[str, Any]:
    rows = [dict(row) for row in outcome.rows] if outcome.status == "ok" else \
        failure_rows(entry, outcome.key, outcome.error)
    if outcome.status != "ok":
        with (out / "batch.log").open("a", encoding="utf-8") as log:
            log.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] entry {entry.name} failed: "
                      f"{outcome.error}\n{outcome.log or '(no traceback)'}\n")
    return write_outcome(out, outcome, rows)


