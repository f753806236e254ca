"""What an endpoint is (:class:`EndpointSpec`), what querying it cost (:class:`QueryStats`),
and the errors of talking to it.

A spec holds no secret: the token is read from the environment variable ``auth_env``
names, when the client is made, and lives only in that client's headers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any
from urllib.parse import urlsplit

from ...exceptions import ModelError
from ...text import shorten

__all__ = ["PROTOCOLS", "BudgetExhausted", "EndpointError", "EndpointSpec", "QueryStats"]

#: wire protocols: MLflow's scoring server (``POST /invocations``, ``dataframe_split``)
#: and the Open Inference Protocol v2 (``POST /v2/models/NAME/infer``)
PROTOCOLS = ("mlflow", "v2")

#: rows per request when ``batch_rows`` is not given (halved on HTTP 413)
DEFAULT_BATCH_ROWS = 1000


class EndpointError(ModelError):
    """The endpoint failed or answered something that is not a model's answer (the
    message never holds the token)."""


class BudgetExhausted(EndpointError):
    """Sending more rows would exceed ``max_queries``: nothing more was sent.
    ``stats`` holds what was spent."""

    def __init__(self, message: str, stats: QueryStats) -> None:
        super().__init__(message)
        self.stats = stats


@dataclass(frozen=True)
class QueryStats:
    """Queries sent to an endpoint.

    ``rows``: records answered (a retried batch counts once); ``requests``: HTTP
    requests sent, every attempt counted; ``retries``: attempts beyond a batch's first;
    ``seconds``: wall time spent in requests (overlapping requests counted once).
    """

    rows: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    def __sub__(self, other: QueryStats) -> QueryStats:
        return QueryStats(self.rows - other.rows, self.requests - other.requests,
                          self.retries - other.retries, self.seconds - other.seconds)

    def __add__(self, other: QueryStats) -> QueryStats:
        return QueryStats(self.rows + other.rows, self.requests + other.requests,
                          self.retries + other.retries, self.seconds + other.seconds)

    def per_record(self, records: int) -> float | None:
        """Rows queried per record inferred (the attacker's cost); None for no record."""
        return self.rows / records if records > 0 else None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "requests": self.requests, "retries": self.retries,
                "seconds": round(self.seconds, 6)}


@dataclass(frozen=True)
class EndpointSpec:
    """A deployed model to query.

    Parameters
    ----------
    url : str
        ``http(s)://host:port`` (the protocol's path is added) or the full inference URL.
        Credentials inside the URL are refused: give them through ``auth_env``.
    protocol : {"mlflow", "v2"}
    model_name : str, optional
        The model's name on a v2 server (required for ``v2`` unless the URL is full).
    batch_rows : int, optional
        Rows per request; default :data:`DEFAULT_BATCH_ROWS`, halved when the server
        answers 413 (payload too large).
    concurrency : int
        Requests in flight at once (1-64).
    auth_env : str, optional
        Environment variable holding a token, sent as ``auth_header: auth_scheme TOKEN``
        (``Authorization: Bearer ...`` by default; ``auth_scheme=""`` sends the key alone,
        e.g. with ``auth_header="X-API-Key"``).
    max_queries : int, optional
        Rows the attacker may send in all (probe and published statistics included);
        a call that would exceed it raises :class:`BudgetExhausted` before sending.
    connect_timeout, read_timeout : float
        Seconds.
    retries : int
        Attempts beyond the first for a batch failing with 429, 5xx or a dropped
        connection, with exponential backoff (``backoff`` seconds doubling, full jitter)
        or the server's ``Retry-After``; ``retry_seconds`` bounds a batch's waiting.
    verify : bool
        Verify TLS certificates (default; turn off only for a test server).
    probe_rows : int
        Records sent to detect what the endpoint reveals.
    dry_run : bool
        Send nothing: every request is answered here with uniform probabilities (or
        zeros for a regression) and counted as if sent, so that a run states the rows
        and requests each attack would send (its results mean nothing).
    """

    url: str
    protocol: str = "mlflow"
    model_name: str | None = None
    batch_rows: int | None = None
    concurrency: int = 4
    auth_env: str | None = None
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    max_queries: int | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    retries: int = 6
    backoff: float = 0.25
    retry_seconds: float = 120.0
    verify: bool = True
    probe_rows: int = 16
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise EndpointError(f"protocol {shorten(self.protocol)} is not one of "
                                f"{', '.join(PROTOCOLS)}")
        parts = urlsplit(str(self.url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EndpointError(f"endpoint URL {shorten(self.url)} is not an http(s)://host "
                                "URL")
        if parts.username or parts.password:
            raise EndpointError("the endpoint URL holds credentials; give the token through "
                                "an environment variable (--auth-env NAME)")
        if self.protocol == "v2" and not self.model_name and "/infer" not in parts.path:
            raise EndpointError("a v2 endpoint needs the model's name (--model-name NAME)")
        _whole(self.batch_rows, "batch_rows", 1, 10**7, optional=True)
        _whole(self.concurrency, "concurrency", 1, 64)
        _whole(self.max_queries, "max_queries", 0, 10**15, optional=True)
        _whole(self.retries, "retries", 0, 100)
        _whole(self.probe_rows, "probe_rows", 1, 10_000)
        for name in ("connect_timeout", "read_timeout", "backoff", "retry_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not 0 <= value <= 86_400:
                raise EndpointError(f"{name} must be seconds between 0 and 86400; got "
                                    f"{shorten(repr(value))}")

    @property
    def rows_per_batch(self) -> int:
        return self.batch_rows or DEFAULT_BATCH_ROWS

    @property
    def inference_url(self) -> str:
        """The URL requests go to (the protocol's path added to a bare host URL)."""
        parts = urlsplit(self.url)
        if parts.path not in ("", "/"):
            return self.url
        base = self.url.rstrip("/")
        if self.protocol == "mlflow":
            return base + "/invocations"
        from urllib.parse import quote
        return f"{base}/v2/models/{quote(str(self.model_name), safe='')}/infer"

    @property
    def shown_url(self) -> str:
        """The URL as reports show it: scheme, host, port and path (no query string)."""
        parts = urlsplit(self.inference_url)
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    def with_options(self, **changes: Any) -> EndpointSpec:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise EndpointError(f"unknown endpoint option(s) {', '.join(unknown)}")
        return replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly facts (never the token; the variable's name only)."""
        return {"endpoint": self.shown_url, "protocol": self.protocol,
                "model_name": self.model_name, "batch_rows": self.rows_per_batch,
                "concurrency": self.concurrency, "auth_env": self.auth_env,
                "max_queries": self.max_queries, "dry_run": self.dry_run}


def _whole(value: Any, name: str, low: int, high: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EndpointError(f"{name} must be a whole number from {low} to {high:,}; got "
                            f"{shorten(repr(value))}")
