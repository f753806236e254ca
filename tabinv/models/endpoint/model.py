"""A deployed endpoint behind tabinv's model interface (:func:`open_endpoint`).

The endpoint becomes a :class:`~tabinv.models.foreign.RecordModel` whose calls are
HTTP requests (:class:`EndpointClient`), wrapped in :class:`EndpointModel`, a
:class:`~tabinv.models.foreign.ForeignModel`: every attack queries it through the
same :class:`~tabinv.models.oracle.Oracle`. What it reveals is measured first
(:func:`detect_access` on ``probe_rows`` records): an endpoint answering labels only
reveals ``labels`` (label-only attacks), one rounding its probabilities reveals
``rounded`` access at the detected decimals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...data.schema import Card
from ...exceptions import ModelError
from ...text import listed, shorten
from ..foreign import ForeignModel, RecordModel
from ..modelinputs import parse_feature_map
from .client import EndpointClient
from .probe import DetectedAccess, detect_access
from .spec import EndpointSpec, QueryStats

__all__ = ["EndpointModel", "open_endpoint"]


class EndpointModel(ForeignModel):
    """A ForeignModel whose answers come from an endpoint. ``access_`` is what the
    probe detected; ``client_`` counts the queries (:meth:`query_stats`)."""

    @property
    def reveals_decimals(self) -> int | None:
        """Decimals the endpoint rounds its probabilities to (None: not rounded)."""
        access = getattr(self, "access_", None)
        return None if access is None else access.decimals

    @property
    def query_row_bytes(self) -> int:
        return 512  # the JSON of a row and its answer, held while a batch is in flight

    def output_encoded(self, encoded: np.ndarray) -> np.ndarray:
        """The endpoint's answers on ordinal-coded rows (no allocation tracing: the
        memory is the JSON in flight, :attr:`query_row_bytes`)."""
        return self._answer(encoded, encoded.shape[0])

    def _answer(self, encoded: np.ndarray, n: int) -> np.ndarray:
        """The answers for ordinal-coded rows; with a journal (``journal_``, an object
        with ``answer(rows, send)``, e.g. a resumable run's checkpoint) each batch is
        asked of the journal first, and only batches it has not seen are sent."""
        journal = getattr(self, "journal_", None)
        if journal is None:
            return super()._answer(encoded, n)
        size = self.client_.spec.rows_per_batch
        parts = [np.asarray(journal.answer(encoded[start:start + size], self._send))
                 for start in range(0, n, size)]
        return np.concatenate(parts, axis=0) if parts else super()._answer(encoded, n)

    def _send(self, rows: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """``rows`` sent to the endpoint: (answers, their cost as QueryStats.to_dict())."""
        before = self.client_.stats()
        answers = super()._answer(rows, rows.shape[0])
        return answers, (self.client_.stats() - before).to_dict()

    def close(self) -> None:
        """Close the endpoint's connections (the model answers no more queries)."""
        self.client_.close()

    def query_stats(self) -> QueryStats:
        return self.client_.stats()

    def structure_note(self) -> str:
        return ("the model is queried as a black box: it is a deployed endpoint "
                f"({self.client_.spec.shown_url}), answering queries only")

    def _shape_output(self, raw: np.ndarray, n: int) -> np.ndarray:
        decimals = self.reveals_decimals
        if decimals is None or self.task != "classification" or \
                self.estimator_.reveals == "labels":
            return super()._shape_output(raw, n)
        values = np.asarray(raw, dtype=float)  # rounded: rows sum to 1 within rounding
        width = len(self.classes_present_)
        slack = width * 0.5 * 10.0 ** -decimals + 1e-9
        if values.shape != (n, width) or not np.isfinite(values).all() or \
                (values < 0).any() or np.abs(values.sum(axis=1) - 1).max(initial=0) > slack:
            raise ModelError(f"{self.estimator_.origin} returned outputs that are not "
                             f"class probabilities rounded to {decimals} decimals")
        return self.place_classes(values)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts.update(self.client_.spec.describe())
        facts["detected_access"] = self.access_.to_dict()
        facts["reveals"] = self.access_.describe()
        return facts

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("an endpoint model holds a connection and is not pickled; open "
                        "the endpoint again in the other process")


def open_endpoint(spec: EndpointSpec, *, card: Card, records: pd.DataFrame,
                  feature_map: Mapping[str, str] | Sequence[str] | None = None,
                  classes: Sequence[Any] | None = None,
                  client: EndpointClient | None = None, journal: Any = None
                  ) -> EndpointModel:
    """The endpoint of ``spec`` as a fitted :class:`EndpointModel`.

    ``records`` (with the label; the members when known) give the statistics an owner
    publishes; their first ``spec.probe_rows`` records are the probe. ``classes``: the
    label values of the probability columns in order (default: the label's domain,
    sorted, as scikit-learn orders ``classes_``). ``journal``: an object with
    ``answer(rows, send) -> answers`` through which every batch of ordinal-coded rows
    goes (``send(rows) -> (answers, cost dict)`` queries the endpoint), so that a rerun
    resumes without sending answered batches again. Raises EndpointError, ModelError,
    BudgetExhausted.
    """
    if card.label not in records.columns:
        raise ModelError(f"the endpoint {spec.shown_url} was not trained by tabinv: the "
                         f"records its statistics are computed on need the label column "
                         f"{shorten(card.label)}")
    renames = parse_feature_map(feature_map)
    owned = client is None  # made here: closed here when opening fails
    client = client or EndpointClient(spec)
    try:
        return _opened(spec, card, records, renames, classes, client, journal)
    except BaseException:
        if owned:
            client.close()
        raise


def _opened(spec: EndpointSpec, card: Card, records: pd.DataFrame,
            renames: dict[str, str], classes: Sequence[Any] | None,
            client: EndpointClient, journal: Any) -> EndpointModel:
    if card.task == "classification":
        client.dry_width = len(card.column(card.label).domain or ())
    else:
        client.dry_width = 0
    probe = records.head(spec.probe_rows)
    table = {renames.get(f, f): probe[f].to_numpy() for f in card.features
             if f in probe.columns}
    access = detect_access(client.predict(table, len(probe)), card.task)
    if spec.dry_run:  # the answers are made up: nothing was measured
        access = DetectedAccess(access.answers, None, access.width, access.rows,
                                dry_run=True)
    labels = _classes(spec, card, access, classes)
    record_model = RecordModel(
        client, origin=spec.shown_url, kind=f"{spec.protocol} endpoint", inputs=None,
        classes=labels, proba=None if access.answers == "labels" else _Call(client),
        predict=_Call(client), table=_columns)
    model = EndpointModel.wrap(record_model, card, renames,
                               "it is a deployed endpoint, answering queries only")
    model.access_ = access
    model.client_ = client
    model.journal_ = journal
    return model.fit(records)


def _classes(spec: EndpointSpec, card: Card, access: DetectedAccess,
             classes: Sequence[Any] | None) -> tuple[Any, ...] | None:
    if card.task == "regression":
        return None
    domain = tuple(card.column(card.label).domain or ())
    if classes is not None:
        chosen = tuple(classes)
    elif access.answers == "labels":
        return domain
    else:
        chosen = tuple(sorted(domain))
    if access.answers == "probabilities" and len(chosen) != access.width:
        raise ModelError(f"{spec.shown_url} answers {access.width} probability columns but "
                         f"the label {shorten(card.label)} has {len(chosen)} values "
                         f"{listed(chosen)}; name the classes of its columns in order")
    return chosen


class _Call:
    """``client.predict`` on a table of columns (picklable name for a RecordModel)."""

    def __init__(self, client: EndpointClient) -> None:
        self.client = client

    def __call__(self, table: tuple[dict[str, np.ndarray], int]) -> np.ndarray:
        columns, n = table
        return self.client.predict(columns, n)


def _columns(columns: dict[str, np.ndarray], n: int) -> tuple[dict[str, np.ndarray], int]:
    return columns, n
