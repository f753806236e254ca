"""The attacker's query cost against a deployed endpoint, and clean stops on a budget.

A model that counts its queries (an endpoint: ``query_stats()``) gets a
:class:`QueryLedger`: the queries of the setup (the probe and the statistics its owner
publishes) and of each attack on each population (rows, requests, retries, wall time,
rows per record inferred: the attacker's cost the papers report). With a query budget
(``max_queries``) or an endpoint failing for good (retries exhausted, server gone),
records are inferred in chunks: the records completed are kept (their result is marked
partial) and what was not done is listed with the reason; an endpoint that failed is not
asked again in the run. A record is either fully inferred or not done.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..attacks.base import BaseAttack
from ..attacks.candidates import Posterior

__all__ = ["QueryLedger", "counts_queries"]


def counts_queries(model: Any) -> bool:
    """Whether ``model`` counts the queries it answers (a deployed endpoint)."""
    return callable(getattr(model, "query_stats", None))


class QueryLedger:
    """Queries spent per attack and population on a model that counts them."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.setup = model.query_stats()
        self.entries: list[dict[str, Any]] = []
        self.not_done: list[str] = []
        client = getattr(model, "client_", None)
        spec = getattr(client, "spec", None)
        self.budget: int | None = getattr(spec, "max_queries", None)
        self.batch_rows: int = int(getattr(spec, "rows_per_batch", 1000))
        self.concurrency: int = int(getattr(spec, "concurrency", 1))
        #: why the endpoint is not asked again in this run ('' while it answers)
        self.failed = ""

    def fit_failed(self, label: str, error: Exception) -> str:
        if not _is_budget(error) and not self.failed:
            self.failed = f"the endpoint failed: {error}"
        self.not_done.append(f"{label}: not done ({self.failed or error})")
        return f"{label}: {error}"

    def infer(self, label: str, attack: BaseAttack, records: pd.DataFrame, labels: Any,
              population: str) -> tuple[Posterior | None, int]:
        """``attack``'s posterior on ``records`` and how many records it covers (all
        of them, fewer when the budget ran out: the first ones, in order; None and 0
        when not one was done)."""
        from ..models.endpoint import EndpointError

        before = self.model.query_stats()
        n = len(records)
        if self.failed:
            self.not_done.append(f"{label} on {population}: not done ({self.failed})")
            return None, 0
        # chunks of records keeping every allowed request busy: a fault or the budget
        # loses at most the chunk in flight, never a record already done
        size = max(1, self.concurrency * self.batch_rows // max(1, attack.candidates_.size))
        parts: list[Posterior] = []
        done = 0
        reason = ""
        cost = max(1, attack.candidates_.size)  # rows per record, until measured
        while done < n:
            remaining = self._remaining()
            if remaining is not None:  # the largest chunk the budget can still pay for
                size = max(1, min(size, remaining // cost))
            chunk = records.iloc[done:done + size]
            given = None if labels is None else _rows(labels, done, done + size)
            try:
                parts.append(attack.infer(chunk, given))
            except EndpointError as error:  # budget spent, or the endpoint failed
                reason = str(error)
                if not _is_budget(error):
                    self.failed = f"the endpoint failed: {error}"
                break
            done += len(chunk)
            cost = max(cost, -(-(self.model.query_stats() - before).rows // done))
        spent = self.model.query_stats() - before
        self.entries.append({"attack": label, "population": population, "records": done,
                             "records_total": n, "partial": done < n, **spent.to_dict(),
                             "queries_per_record": spent.per_record(done)})
        if done == 0:
            self.not_done.append(f"{label} on {population}: not done ({reason})")
            return None, 0
        if done < n:
            self.not_done.append(f"{label} on {population}: {n - done:,} of {n:,} records "
                                 f"not done ({reason})")
        if len(parts) == 1:
            return parts[0], done
        return Posterior(parts[0].candidates, np.concatenate(
            [p.probabilities for p in parts], axis=0), parts[0].method), done

    def _remaining(self) -> int | None:
        client = getattr(self.model, "client_", None)
        return None if client is None else client.remaining

    def to_dict(self) -> dict[str, Any]:
        total = self.model.query_stats()
        access = getattr(self.model, "access_", None)
        return {"setup": self.setup.to_dict(), "total": total.to_dict(),
                "max_queries": self.budget,
                "detected_access": None if access is None else access.to_dict(),
                "attacks": list(self.entries), "not_done": list(self.not_done)}


def _is_budget(error: Exception) -> bool:
    from ..models.endpoint import BudgetExhausted

    return isinstance(error, BudgetExhausted)


def _rows(labels: Any, start: int, stop: int) -> Any:
    if isinstance(labels, pd.Series):
        return labels.iloc[start:stop]
    return np.asarray(labels)[start:stop]
