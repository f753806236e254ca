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

import functools
import hashlib
import html
import json
import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..exceptions import TabinvError
from .executors import Executor, LocalExecutor, TaskFailure
from .inventory import Entry, Inventory

__all__ = ["ROW_COLUMNS", "BatchProgress", "BatchResult", "EntryOutcome", "assess_entry",
           "entry_key", "run_batch"]

RESULT_FORMAT = 1
RESULT_FILE = "result.json"
REPORTS = ("report.json", "report.md", "report.html")
POPULATIONS = ("members", "non-members")
ROW_COLUMNS = (
    "entry", "status", "error", "sensitive", "hidden", "population", "n", "attack",
    "attack_accuracy", "attack_low", "attack_high", "attack_auc", "baseline_prior_mode",
    "baseline_imputation", "baseline_imputation_low", "baseline_imputation_high",
    "baseline_label_rule", "baseline_ideal", "leakage", "leakage_low", "leakage_high",
    "verdict", "data", "label", "family", "format", "access", "key")
_NUMBERS = [c for c in ROW_COLUMNS if c.startswith(("attack_", "baseline_", "leakage"))]


# -- keys ------------------------------------------------------------------------------
def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_key(entry: Entry) -> str:
    """SHA-256 of the entry's settings, the bytes of its files and tabinv's version."""
    try:
        files = {key: _digest(path.read_bytes()) for key, path in entry.files().items()}
    except OSError as error:
        raise TabinvError(f"cannot read {error.filename}: {error.strerror}") from None
    document = {"result_format": RESULT_FORMAT, "tabinv": __version__,
                "entry": entry.settings(), "files": files}
    return _digest(json.dumps(document, sort_keys=True, separators=(",", ":"),
                              default=str).encode("utf-8"))


# -- one entry (runs in a worker) ------------------------------------------------------
@dataclass(frozen=True)
class EntryOutcome:
    """What a worker sends back for one entry: rows and report bytes, or the error."""

    name: str
    key: str
    status: str
    error: str = ""
    rows: tuple[Mapping[str, Any], ...] = ()
    files: Mapping[str, bytes] = field(default_factory=dict)
    log: str = ""
    seconds: float = 0.0


def one_line(error: BaseException) -> str:
    """tabinv's own message, or "Type: first line" for anything unexpected."""
    text = (str(error).strip().splitlines() or [""])[0][:300]
    if isinstance(error, TabinvError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def assess_entry(entry: Entry) -> EntryOutcome:
    """Load the entry's data and model, run its attacks and render its reports.

    Never raises: an error becomes a failed outcome with a one-line message, and the
    traceback in ``log``.
    """
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    key = ""
    try:
        key = entry_key(entry)
        with threadpool_limits(limits=1):  # the executor decides the parallelism
            assessments, model = _assess(entry)
            files = _render(assessments, entry)
        rows = [row for a in assessments for row in _rows(entry, a, model, key)]
        return EntryOutcome(entry.name, key, "ok", rows=tuple(rows), files=files,
                            seconds=time.perf_counter() - started)
    except Exception as error:  # one bad entry never stops the batch
        return EntryOutcome(entry.name, key, "failed", error=one_line(error),
                            log=traceback.format_exc(), seconds=time.perf_counter() - started)


@functools.lru_cache(maxsize=4)
def _builtin(name: str, params: str) -> Any:
    """A built-in data set, loaded once per worker process (its frame is never changed)."""
    from ..data.registry import load_builtin

    return load_builtin(name, **json.loads(params))


def _dataset(entry: Entry) -> Any:
    from ..data.dataset import Dataset
    from ..data.schema import read_card
    from ..data.tables import load_table

    if entry.data is not None:
        data = _builtin(entry.data, json.dumps(dict(entry.data_params), sort_keys=True))
    else:
        card = read_card(entry.card)  # type: ignore[arg-type]
        return load_table(entry.data_file, card.with_label(entry.label))  # type: ignore
    if data.card.label == entry.label:
        return data
    return Dataset(data.name, data.card.with_label(entry.label), data.frame, data.cleaning,
                   data.raw_rows)


def _model(entry: Entry, card: Any, members: pd.DataFrame) -> Any:
    from ..exceptions import ModelError, UnsafeModelError
    from ..models.onnx import load_onnx_model
    from ..models.persist import _sniff, load_model

    if entry.format == "onnx":
        return load_onnx_model(entry.model, card, categorical=entry.onnx_encoding,
                               classes=entry.onnx_classes, output=entry.onnx_output
                               ).fit(members)
    found = _sniff(entry.model.read_bytes())
    kind = "pickle" if found == "pickle" or found.startswith("joblib") else found
    declared = "pickle" if entry.format in ("pickle", "joblib") else entry.format
    if kind == "pickle" and declared != "pickle":
        raise UnsafeModelError(f"{entry.model} is a pickle file (reading it runs code), not "
                               f"the {entry.format} file the inventory declares; refused")
    if kind in _KINDS and kind != declared:
        raise ModelError(f"{entry.model} is {_KINDS[kind]}, not the {entry.format} file the "
                         "inventory declares")
    model = load_model(entry.model, allow_pickle=entry.allow_pickle and declared == "pickle")
    if model.label != entry.label:
        raise ModelError(f"{entry.model} predicts {model.label!r}, but the entry's label is "
                         f"{entry.label!r}")
    return model


_KINDS = {"skops": "a skops file", "xgboost-json": "an XGBoost JSON file",
          "xgboost-ubj": "an XGBoost UBJ file", "pickle": "a pickle file"}


def _threat(entry: Entry, onnx: bool) -> dict[str, Any]:
    from ..api import expand_specs
    from ..attacks.priors import TablePrior
    from ..data.tables import read_table
    from ..exceptions import AttackError

    priors: list[Any] = list(entry.priors)
    if entry.prior_table is not None:
        priors = [TablePrior(read_table(entry.prior_table), origin=entry.prior_table.name)]
    specs = expand_specs(entry.attacks, priors)
    if entry.access != "white-box" or onnx:
        forced = [s.name for s in specs if s.needs_white_box and not s.optional]
        if forced:
            why = "an ONNX graph does not give tabinv (it is a black box)" if onnx else \
                "the entry's access does not grant (set access = 'white-box')"
            raise AttackError(f"attack {forced[0]!r} needs the model's structure, which {why}")
        specs = tuple(s for s in specs if not s.needs_white_box)
    return {"known": entry.known, "attacks": specs, "label_source": entry.label_source,
            "label_only": entry.access == "label-only",
            "rounding": entry.decimals if entry.access == "rounded" else None,
            "positive": dict(entry.positive), "top_k": entry.top_k, "n_boot": entry.n_boot,
            "random_state": entry.seed}


def _assess(entry: Entry) -> tuple[list[Any], Any]:
    from ..api import assess
    from ..data.splits import split_dataset

    data = _dataset(entry)
    splits = split_dataset(data.frame, random_state=entry.seed)
    model = _model(entry, data.card, splits.members)
    threat = _threat(entry, entry.format == "onnx")
    return [assess(data, model, sensitive=group, splits=splits, **threat)
            for group in entry.sensitive], model


def _render(assessments: Sequence[Any], entry: Entry) -> dict[str, bytes]:
    from ..report.files import markdown_report, write_report

    command = f"tabinv batch (entry {entry.name})"
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="tabinv-entry-") as scratch:
        for name in REPORTS:
            try:
                files[name] = write_report(assessments, Path(scratch) / name,
                                           command=command).read_bytes()
            except TabinvError:  # a report writer without HTML: the Markdown, escaped
                text = html.escape(markdown_report(assessments, command))
                files[name] = (f"<!doctype html><meta charset='utf-8'><title>{entry.name}"
                               f"</title><pre>{text}</pre>\n").encode()
    return files


# -- summary rows ----------------------------------------------------------------------
def _estimate(metrics: Mapping[str, Any], name: str) -> tuple[float, float, float]:
    estimate = metrics.get(name)
    if estimate is None:
        return math.nan, math.nan, math.nan
    return estimate.value, estimate.low, estimate.high


def _rows(entry: Entry, assessment: Any, model: Any, key: str) -> list[dict[str, Any]]:
    """Per inferred attribute and population: the attack that leaks most over imputation,
    next to the baselines."""
    from ..attacks.baselines import BASELINES

    common = _common(entry, key, family=model.family)
    hidden = " + ".join(assessment.threat["sensitive"])
    pairs = dict.fromkeys((r.sensitive, r.population) for r in assessment.results)
    rows = []
    for sensitive, population in pairs:
        results = [r for r in assessment.results
                   if (r.sensitive, r.population) == (sensitive, population)]
        baselines = {r.method: r for r in results if r.method in BASELINES}
        attacks = [r for r in results if r.method not in BASELINES]
        leaks = {(x.method, x.variant): x for x in assessment.leakage if x.over == "imputation"
                 and (x.sensitive, x.population) == (sensitive, population)}
        if leaks:
            worst = max(leaks.values(), key=lambda x: x.estimate.value)
            attack = next(r for r in attacks if (r.method, r.variant) ==
                          (worst.method, worst.variant))
            leak = (worst.estimate.value, worst.estimate.low, worst.estimate.high)
        else:
            attack = max(attacks, key=lambda r: r.metrics["accuracy"].value)
            leak = (math.nan, math.nan, math.nan)
        accuracy = _estimate(attack.metrics, "accuracy")
        imputation = _estimate(getattr(baselines.get("imputation"), "metrics", {}), "accuracy")
        rows.append({**common, "sensitive": sensitive, "hidden": hidden,
                     "population": population, "n": attack.n, "attack": attack.key,
                     "attack_accuracy": accuracy[0], "attack_low": accuracy[1],
                     "attack_high": accuracy[2],
                     "attack_auc": _estimate(attack.metrics, "auc")[0],
                     **{f"baseline_{name.replace('-', '_')}":
                        _estimate(getattr(baselines.get(name), "metrics", {}), "accuracy")[0]
                        for name in BASELINES},
                     "baseline_imputation_low": imputation[1],
                     "baseline_imputation_high": imputation[2],
                     "leakage": leak[0], "leakage_low": leak[1], "leakage_high": leak[2],
                     "verdict": _verdict(*leak)})
    return rows


def _verdict(value: float, low: float, high: float) -> str:
    if math.isnan(value):
        return ""
    return "leaks" if low > 0 else "below" if high < 0 else "no gain"


def _common(entry: Entry, key: str, *, family: str = "", status: str = "ok",
            error: str = "") -> dict[str, Any]:
    return {"entry": entry.name, "status": status, "error": error, "data": entry.data_name,
            "label": entry.label, "family": family, "format": entry.format,
            "access": entry.access, "key": key}


def failure_rows(entry: Entry, key: str, error: str) -> list[dict[str, Any]]:
    """A failed entry's rows: each attribute it should infer, in each population."""
    rows = []
    for group in entry.sensitive:
        for name in (*group, *(["+".join(group)] if len(group) > 1 else [])):
            rows += [{**_common(entry, key, status="failed", error=error), "sensitive": name,
                      "hidden": " + ".join(group), "population": population}
                     for population in POPULATIONS]
    return rows


# -- records on disk -------------------------------------------------------------------
def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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


def _strict(row: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON values: numpy scalars unwrapped, NaN as null."""
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in plain.items()}


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


# -- summary files ---------------------------------------------------------------------
def write_summary(out: Path, inventory: Inventory, records: Mapping[str, Mapping[str, Any]]
                  ) -> pd.DataFrame:
    """DIR/summary.parquet, DIR/summary.csv and DIR/index.html, each written atomically."""
    rows = [row for entry in inventory.entries for row in records[entry.name]["rows"]]
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    for column in _NUMBERS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["n"] = pd.to_numeric(frame["n"], errors="coerce").astype("Int64")
    for name, writer in (("summary.parquet", lambda p: frame.to_parquet(p, index=False)),
                         ("summary.csv", lambda p: frame.to_csv(p, index=False))):
        handle, temporary = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        os.close(handle)
        try:
            writer(temporary)
            os.replace(temporary, out / name)
        finally:
            Path(temporary).unlink(missing_ok=True)
    descriptions = {e.name: e.description for e in inventory.entries}
    write_atomic(out / "index.html", index_html(frame, descriptions).encode("utf-8"))
    return frame


_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;"
          "padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}"
          ".leaks{color:#a40000;font-weight:bold}.failed{color:#a40000}"
          "td.num{text-align:right;font-variant-numeric:tabular-nums}")


def _interval(value: float, low: float, high: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"


def index_html(frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None) -> str:
    """A self-contained page (inline CSS, no scripts): entries, worst leakage first."""
    descriptions = descriptions or {}
    ok = frame[frame["status"] == "ok"]
    failed = frame[frame["status"] != "ok"].drop_duplicates("entry")
    worst = ok.sort_values("leakage", ascending=False, na_position="last", kind="stable")
    worst = worst.drop_duplicates("entry")
    esc = html.escape
    lines = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>tabinv batch: {frame['entry'].nunique()} entries</title>",
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>tabinv batch: {frame['entry'].nunique()} entries</h1>",
             f"<p>{len(worst)} assessed, {len(failed)} failed. Leakage is the attack's "
             "accuracy minus the imputation baseline's on the same records, with its 95% "
             "interval; entries are ordered by their worst leakage.</p>"]
    if len(failed):
        lines += ["<h2>Failed entries</h2>", "<table><tr><th>entry</th><th>error</th></tr>"]
        lines += [f"<tr><td class='failed'>{esc(str(r.entry))}</td><td>{esc(str(r.error))}"
                  "</td></tr>" for r in failed.itertuples()]
        lines.append("</table>")
    lines += ["<h2>Assessed entries</h2>", "<table><tr><th>#</th><th>entry</th>"
              "<th>worst leakage over imputation</th><th>attribute</th><th>population</th>"
              "<th>attack</th><th>attack accuracy</th><th>data</th><th>label</th>"
              "<th>model</th><th>access</th></tr>"]
    for rank, row in enumerate(worst.itertuples(), start=1):
        link = f"entries/{esc(str(row.entry), quote=True)}/report.html"
        note = descriptions.get(str(row.entry)) or ""
        mark = " class='num leaks'" if row.verdict == "leaks" else " class='num'"
        lines.append(
            f"<tr><td class='num'>{rank}</td><td><a href='{link}'>{esc(str(row.entry))}</a>"
            f"{'<br><small>' + esc(note) + '</small>' if note else ''}</td>"
            f"<td{mark}>{esc(_interval(row.leakage, row.leakage_low, row.leakage_high))} "
            f"{esc(str(row.verdict))}</td><td>{esc(str(row.sensitive))}</td>"
            f"<td>{esc(str(row.population))}</td><td>{esc(str(row.attack))}</td>"
            f"<td class='num'>{row.attack_accuracy:.3f}</td><td>{esc(str(row.data))}</td>"
            f"<td>{esc(str(row.label))}</td><td>{esc(f'{row.family} ({row.format})')}</td>"
            f"<td>{esc(str(row.access))}</td></tr>")
    lines += ["</table>", f"<p><small>tabinv {esc(__version__)}</small></p>",
              "</body></html>", ""]
    return "\n".join(lines)
