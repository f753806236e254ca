"""One inventory entry as a task: its key, its assessment, its rows and reports (never raises)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..exceptions import TabinvError
from ..text import html_text
from .entry import FORMAT_KEYS, MLFLOW, Entry
from .modelfiles import file_digest, model_digest

__all__ = ["NUMBER_COLUMNS", "POPULATIONS", "REPORTS", "RESULT_FORMAT", "ROW_COLUMNS",
           "EntryOutcome", "assess_entry", "entry_key", "failure_rows", "one_line"]

RESULT_FORMAT = 4  # 2: records carry a digest of their own content; 3: rows rate the
#                    leakage over the best baseline and carry the model's utility; kind,
#                    schema_version; 4: a row's attack is the strongest chosen out of
#                    fold, and boosted imputation is a baseline
REPORTS = ("report.json", "report.md", "report.html")

POPULATIONS = ("members", "non-members")
ROW_COLUMNS = (
    "entry", "status", "error", "sensitive", "hidden", "population", "n", "attack",
    "attack_accuracy", "attack_low", "attack_high", "attack_auc", "baseline_prior_mode",
    "baseline_imputation", "baseline_imputation_low", "baseline_imputation_high",
    "baseline_boosted_imputation", "baseline_label_rule", "baseline_ideal", "over",
    "leakage", "leakage_low", "leakage_high", "verdict", "size", "utility_metric", "utility",
    "utility_low", "utility_high", "data", "label", "family", "format", "access", "queries_rows",
    "queries_requests", "queries_retries", "queries_per_record", "queries_entry_rows",
    "key")
#: the columns of :data:`ROW_COLUMNS` holding numbers (the others are text)
NUMBER_COLUMNS = tuple(c for c in ROW_COLUMNS if c.startswith(
    ("attack_", "baseline_", "leakage", "utility", "queries_")) and c != "utility_metric")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_key(entry: Entry) -> str:
    """SHA-256 of the entry's settings, the bytes of its files and its model, and
    tabinv's version.

    The model's bytes: a file's, every file of an MLflow model directory, or the files of
    the version a ``models:/`` URI resolves to now (:func:`.modelfiles.model_digest`), so
    a new version behind an alias redoes the entry.

    Raises
    ------
    TabinvError
        A file cannot be read, or a registry URI cannot be resolved.
    """
    files = {key: file_digest(path) for key, path in entry.files().items()}
    if entry.model is not None:  # an endpoint's URL is a setting; its model has no bytes here
        files["model"] = model_digest(entry.model)
    document = {"result_format": RESULT_FORMAT, "tabinv": __version__,
                "entry": entry.settings(), "files": files}
    return _digest(json.dumps(document, sort_keys=True, separators=(",", ":"),
                              default=str).encode("utf-8"))


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


def assess_entry(entry: Entry, checkpoints: str | None = None,
                 shadows_on: str | None = None) -> EntryOutcome:
    """Load the entry's data and model, run its attacks and render its reports.

    ``checkpoints``: the batch's ``entries`` folder, where an endpoint entry keeps the
    server's answers as they arrive (:mod:`.checkpoint`) and resumes from them.
    ``shadows_on``: the address of the Dask scheduler to train the entry's shadow models
    on (connected to for that, then closed), or None to train them in this process; the
    same shadows either way, so neither the key nor the rows depend on it (the report's
    settings say where they were trained).

    Never raises: an error becomes a failed outcome with a one-line message, and the
    traceback in ``log``; except ``MemoryError``, which the executor's worker process
    reports with its memory limit.
    """
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    key = ""
    try:
        key = entry_key(entry)
        with threadpool_limits(limits=1):  # the executor decides the parallelism
            assessments, model = _assess(entry, checkpoints, shadows_on)
            files = _render(assessments, entry)
        rows = [row for a in assessments for row in _rows(entry, a, model, key)]
        return EntryOutcome(entry.name, key, "ok", rows=tuple(rows), files=files,
                            seconds=time.perf_counter() - started)
    except MemoryError:
        raise
    except Exception as error:  # one bad entry never stops the batch
        return EntryOutcome(entry.name, key, "failed",
                            error=one_line(error) + _kept(entry, checkpoints),
                            log=traceback.format_exc(), seconds=time.perf_counter() - started)


def _journal(entry: Entry, checkpoints: str | None) -> Any:
    """An endpoint entry's journal (:mod:`.checkpoint`), or None. It is kept per server
    (URL, protocol, model name), not per entry key: the server's answer to a row does
    not depend on the entry's other settings, so an edited entry reuses them too."""
    from .checkpoint import entry_journal

    if not (entry.is_endpoint and checkpoints):
        return None
    server = json.dumps([entry.endpoint, entry.protocol, entry.model_name])
    return entry_journal(checkpoints, entry.name, _digest(server.encode("utf-8")))


def _kept(entry: Entry, checkpoints: str | None) -> str:
    """For a failed endpoint entry: the answers its checkpoint keeps for a rerun."""
    try:
        journal = _journal(entry, checkpoints)
        totals = journal.totals() if journal is not None else {"rows": 0}
    except (OSError, TabinvError):
        return ""
    return (f" ({totals['rows']:,} rows answered so far are kept; a rerun resumes from "
            "them)") if totals["rows"] else ""


@functools.lru_cache(maxsize=4)
def _builtin(name: str, params: str) -> Any:
    """A built-in data set, loaded once per worker process (its frame is never changed)."""
    from ..data.registry import load_builtin

    return load_builtin(name, **json.loads(params))


def _dataset(entry: Entry) -> Any:
    from ..data.schema import read_card
    from ..data.tables import load_table

    if entry.data is not None:
        data = _builtin(entry.data, json.dumps(dict(entry.data_params), sort_keys=True))
    else:
        card = read_card(entry.card)  # type: ignore[arg-type]
        return load_table(entry.data_file, card.with_label(entry.label),  # type: ignore
                          entry.data_options())
    return data.with_label(entry.label)


def _model(entry: Entry, card: Any, members: pd.DataFrame, journal: Any = None) -> Any:
    """The entry's model through :func:`~tabinv.models.sources.open_model` (any file,
    MLflow directory or registry URI), with the entry's opt-ins, feature map and class
    order; or its endpoint (:func:`.endpointtask.open_entry_endpoint`)."""
    from ..exceptions import ModelError
    from ..models.sources import open_model

    if entry.is_endpoint:
        from .endpointtask import open_entry_endpoint

        return open_entry_endpoint(entry, card, members, journal)
    options = {key: getattr(entry, key) for key in FORMAT_KEYS}
    if entry.classes is not None:
        options["classes"] = list(entry.classes)
        if entry.format == "onnx":
            options["onnx_classes"] = entry.classes
    model = open_model(entry.model, card=card, records=members,
                       feature_map=dict(entry.feature_map) or None, trust=entry.trust,
                       allow_pickle=entry.allow_pickle, allow_code=entry.allow_code,
                       format=None if entry.format == MLFLOW else entry.format,
                       options=options)
    if model.label != entry.label:
        raise ModelError(f"{entry.model} predicts {model.label!r}, but the entry's label is "
                         f"{entry.label!r}")
    if entry.classes is not None:
        _check_classes(entry, model)
    return model


def _check_classes(entry: Entry, model: Any) -> None:
    """The label values of the model's output columns, in order, are the entry's."""
    from ..exceptions import ModelError

    if model.task != "classification":
        raise ModelError(f"{entry.model} is a regression; the entry's classes apply to "
                         "classifiers")
    domain = model.domain(model.label)
    found = [domain[i] for i in model.classes_present_]
    if found != list(entry.classes or ()):
        raise ModelError(f"{entry.model} gives probabilities for classes {found} in that "
                         f"order, not the entry's classes {list(entry.classes or ())}")


def _threat(entry: Entry, group: tuple[str, ...]) -> Any:
    from ..core import ThreatModel

    return ThreatModel(
        sensitive=group, known=entry.known, attacks=entry.attacks,
        attack_params=entry.attack_params,
        priors=(entry.prior_table,) if entry.prior_table is not None else entry.priors,
        access=entry.access, decimals=entry.decimals if entry.access == "rounded" else None,
        label_source=entry.label_source, positive=entry.positive, top_k=entry.top_k,
        n_boot=entry.n_boot, random_state=entry.seed, min_cell=entry.min_cell)


def _given(entry: Entry) -> Any:
    """The owner's members, non-members and reference (tabinv.core.inputs.given_splits)."""
    from ..core.inputs import given_splits
    from ..data.schema import read_card

    card = read_card(entry.card).with_label(entry.label)  # type: ignore[arg-type]
    return given_splits(card, data=entry.data_file if entry.member_column else None,
                        members=entry.members, non_members=entry.non_members,
                        reference=entry.reference, member_column=entry.member_column,
                        options=entry.data_options(), random_state=entry.seed)


def _assess(entry: Entry, checkpoints: str | None = None,
            shadows_on: str | None = None) -> tuple[list[Any], Any]:
    from ..core import assess
    from ..data.splits import split_dataset
    from ..membership.verdict import MembershipOptions

    reference = None
    if entry.given_membership:
        given = _given(entry)
        data, splits, reference = given.dataset, given.splits, given.reference_source
    else:
        data = _dataset(entry)
        splits = split_dataset(data.frame, random_state=entry.seed)
    journal = _journal(entry, checkpoints)
    model = _model(entry, data.card, splits.members, journal)
    membership = None if entry.membership_attacks is None else MembershipOptions(
        attacks=entry.membership_attacks, shadows=entry.shadows, cluster=shadows_on)
    try:  # membership is the model's, not an attribute's: with the first group only
        assessments = [assess(_threat(entry, group), data, model, splits=splits,
                              membership_attacks=membership if index == 0 else None)
                       for index, group in enumerate(entry.sensitive)]
    finally:
        if entry.is_endpoint:  # its connections (the model answers no more queries)
            model.close()
    not_done = [text for a in assessments for text in a.threat.get("queries", {}).get(
        "not_done", ())]
    if not_done:  # never a partial result among complete ones: the rerun resumes it
        more = f" (and {len(not_done) - 1} more)" if len(not_done) > 1 else ""
        raise TabinvError(f"not every record was inferred: {not_done[0]}{more}")
    if reference is not None:  # the report says where the attacker's sample came from
        assessments = [dataclasses.replace(a, dataset={**a.dataset, "reference_source": reference})
                       for a in assessments]
    return assessments, model


def _render(assessments: Sequence[Any], entry: Entry) -> dict[str, bytes]:
    """The entry's reports as bytes, rendered in memory (a worker writes no file) from
    one document."""
    from ..report.document import with_command
    from ..report.files import report_text
    from ..report.markdown import render_markdown

    document = with_command(assessments, f"tabinv batch (entry {entry.name})")
    files: dict[str, bytes] = {}
    for name in REPORTS:
        try:
            files[name] = report_text(document, Path(name).suffix).encode("utf-8")
        except TabinvError:  # a report writer without HTML: the Markdown, escaped
            text = html_text(render_markdown(document))
            files[name] = (f"<!doctype html><meta charset='utf-8'><title>{html_text(entry.name)}"
                           f"</title><pre>{text}</pre>\n").encode()
    return files


def _estimate(metrics: Mapping[str, Any], name: str) -> tuple[float, float, float]:
    estimate = metrics.get(name)
    if estimate is None:
        return math.nan, math.nan, math.nan
    return estimate.value, estimate.low, estimate.high


def _rows(entry: Entry, assessment: Any, model: Any, key: str) -> list[dict[str, Any]]:
    """Per inferred attribute and population: the strongest attack, chosen out of fold
    (:class:`~tabinv.evaluation.results.Strongest`), its accuracy and leakage over the
    best model-free baseline (its rating in ``verdict``), next to the baselines and the
    model's utility on non-members."""
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
        chosen = next((x for x in assessment.strongest
                       if (x.leakage.sensitive, x.leakage.population)
                       == (sensitive, population)), None)
        worst = chosen.leakage if chosen is not None else None
        if chosen is not None:
            attack = next(r for r in attacks if (r.method, r.variant) ==
                          (worst.method, worst.variant))
            leak = (worst.estimate.value, worst.estimate.low, worst.estimate.high)
            accuracy = (chosen.accuracy.value, chosen.accuracy.low, chosen.accuracy.high)
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
                     "over": worst.over if worst else "",
                     "leakage": leak[0], "leakage_low": leak[1], "leakage_high": leak[2],
                     "verdict": worst.rating if worst else "",
                     "size": worst.size if worst else "", **_utility(assessment),
                     **_queries(assessment, attack.key, population)})
    return rows


def _queries(assessment: Any, attack: str, population: str) -> dict[str, Any]:
    """What a deployed endpoint was sent for ``attack`` on ``population`` (rows,
    requests, retries, rows per record inferred) and for the whole entry (the setup and
    the utility included); NaN for a model read from a file."""
    queries = assessment.threat.get("queries") or {}
    spent = next((q for q in queries.get("attacks") or ()
                  if (q.get("attack"), q.get("population")) == (attack, population)), {})
    total = queries.get("total") or {}
    return {"queries_rows": spent.get("rows", math.nan),
            "queries_requests": spent.get("requests", math.nan),
            "queries_retries": spent.get("retries", math.nan),
            "queries_per_record": _number(spent.get("queries_per_record")),
            "queries_entry_rows": total.get("rows", math.nan)}


def _number(value: Any) -> float:
    return math.nan if value is None else value


def _utility(assessment: Any) -> dict[str, Any]:
    """The model's first utility metric on non-members (accuracy or R^2), NaN without."""
    first = next(iter(assessment.utility), None)
    if first is None:
        return {"utility_metric": "", "utility": math.nan, "utility_low": math.nan,
                "utility_high": math.nan}
    return {"utility_metric": first["metric"], "utility": first["value"],
            "utility_low": first["low"], "utility_high": first["high"]}


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
    # an entry with nothing to infer still gets a row: the summary never drops an entry
    return rows or [{**_common(entry, key, status="failed", error=error), "sensitive": "",
                     "hidden": "", "population": ""}]
