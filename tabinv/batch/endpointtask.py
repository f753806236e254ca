"""An inventory entry's endpoint, opened with its checkpoint (:mod:`.checkpoint`).

The entry's model is :func:`tabinv.models.endpoint.open_endpoint` on a
:class:`JournaledClient`: an :class:`~tabinv.models.endpoint.EndpointClient` whose every
call (the probe, the published statistics, each attack's queries) is cut into chunks of
``batch_rows x concurrency`` rows, each answered from the entry's journal when an
earlier run kept it, sent otherwise (and kept before it is used). So a rerun after a
crash sends only what was never answered, and:

- its query counts (:meth:`JournaledClient.stats`) are what the answers it used cost,
  over every run that sent them: each distinct chunk's rows, requests, retries and
  seconds once, as they were when it was answered (so a resumed run reports what an
  uninterrupted one would); a send of that chunk by a killed run that kept no answer
  counts as one more request and retry (at least);
- its budget ``max_queries`` bounds the rows sent over all runs of the entry: a run
  that spent it fails with that message, keeps what it got, and a rerun with a larger
  budget resumes.

A chunk is found again when a rerun asks the same rows in the same chunks: same data,
split and ``batch_rows`` and ``concurrency`` (other settings, such as ``n_boot`` or the
attacks' priors, may change: the answers are the server's, kept per server).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .checkpoint import QueryJournal, columns_digest
from .entry import Entry

__all__ = ["JournaledClient", "entry_spec", "open_entry_endpoint"]


def entry_spec(entry: Entry) -> Any:
    """The entry's :class:`~tabinv.models.endpoint.EndpointSpec`."""
    from ..models.endpoint import EndpointSpec

    options = {key: getattr(entry, key) for key in ("batch_rows", "concurrency", "auth_env",
                                                     "max_queries", "retries")
               if getattr(entry, key) is not None}
    return EndpointSpec(entry.endpoint or "", protocol=entry.protocol or "mlflow",
                        model_name=entry.model_name, **options)


def open_entry_endpoint(entry: Entry, card: Any, records: pd.DataFrame,
                        journal: QueryJournal | None) -> Any:
    """The entry's endpoint as a fitted model; its answers go through ``journal`` (None:
    no checkpoint, every query sent)."""
    from ..models.endpoint import EndpointClient, open_endpoint

    spec = entry_spec(entry)
    client = EndpointClient(spec) if journal is None else JournaledClient(spec, journal)
    try:
        return open_endpoint(spec, card=card, records=records,
                             feature_map=dict(entry.feature_map) or None,
                             classes=list(entry.classes) if entry.classes else None,
                             client=client)
    except BaseException:
        client.close()
        raise


def _client_class() -> type:
    from ..models.endpoint import EndpointClient

    return EndpointClient


class JournaledClient(_client_class()):  # type: ignore[misc]
    """An endpoint client answering chunks from an entry's journal when it can.

    Parameters
    ----------
    spec : EndpointSpec
    journal : QueryJournal
    environ : mapping, optional
        Where the token's variable is looked up (default ``os.environ``).
    """

    def __init__(self, spec: Any, journal: QueryJournal, *,
                 environ: Mapping[str, str] | None = None) -> None:
        super().__init__(spec, environ=environ)
        self.journal = journal
        earlier = journal.totals()
        self._reserved = earlier["rows"] + earlier["lost_rows"]  # the budget spans runs

    def stats(self) -> Any:
        """What the answers used so far cost, over every run that sent them (each
        distinct chunk once)."""
        from ..models.endpoint import QueryStats

        used = self.journal.used()  # a chunk sent by a killed run: one more attempt
        return QueryStats(used["rows"], used["requests"] + used["lost_chunks"],
                          used["retries"] + used["lost_chunks"], used["seconds"])

    def predict(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        if n == 0:
            return super().predict(columns, n)
        size = self.spec.rows_per_batch * self.spec.concurrency
        parts = [self._chunk(columns, start, min(start + size, n))
                 for start in range(0, n, size)]
        return np.concatenate(parts, axis=0)

    def _chunk(self, columns: Mapping[str, np.ndarray], start: int, stop: int
               ) -> np.ndarray:
        def send() -> tuple[np.ndarray, dict[str, float]]:
            before = super(JournaledClient, self).stats()
            answers = super(JournaledClient, self).predict(
                {k: np.asarray(v)[start:stop] for k, v in columns.items()}, stop - start)
            spent = super(JournaledClient, self).stats() - before
            return answers, spent.to_dict()

        def check() -> None:  # a spent budget refuses the chunk before it is marked sent
            remaining = self.remaining
            if remaining is not None and remaining < stop - start:
                self.reserve(stop - start)  # raises BudgetExhausted, reserving nothing

        return self.journal.ask(columns_digest(columns, start, stop), stop - start, send,
                                check)
