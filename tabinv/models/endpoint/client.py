"""EndpointClient: a model's answers from a deployed endpoint, in bounded batches.

One httpx client (HTTP/1.1 keep-alive, TLS verified by default) shared by a bounded
thread pool (``concurrency`` requests in flight). Rows go out in batches of
``batch_rows`` (halved when the server answers 413). A batch failing with 429, 5xx or a
dropped connection is sent again after an exponential backoff with full jitter, or after
the server's ``Retry-After``, within ``retries`` attempts and ``retry_seconds`` of
waiting; its rows count once, each attempt counts as a request. ``max_queries`` is
checked before a call sends anything: a call that would exceed it raises
:class:`BudgetExhausted` and sends nothing.

The token (from the environment variable ``auth_env``) lives only in the client's
headers: it is in no message, no ``repr`` and no report.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from ...text import shorten
from .protocols import MAX_RESPONSE_BYTES, decode_response, encode_request
from .spec import BudgetExhausted, EndpointError, EndpointSpec, QueryStats

__all__ = ["EndpointClient"]

#: statuses worth sending again
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class EndpointClient:
    """Queries to one endpoint, counted (:meth:`stats`) and bounded (``max_queries``).

    Parameters
    ----------
    spec : EndpointSpec
    environ : mapping, optional
        Where ``spec.auth_env`` is looked up (default ``os.environ``).
    sleep : callable, optional
        Waits between attempts (default ``time.sleep``).
    """

    def __init__(self, spec: EndpointSpec, *, environ: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        import httpx

        self.spec = spec
        self._sleep = sleep or time.sleep
        self._random = random.Random()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if spec.auth_env:
            token = (os.environ if environ is None else environ).get(spec.auth_env)
            if not token:
                raise EndpointError(f"the environment variable {shorten(spec.auth_env)} "
                                    "(--auth-env) is not set")
            headers[spec.auth_header] = f"{spec.auth_scheme} {token}".strip()
        limits = httpx.Limits(max_connections=spec.concurrency,
                              max_keepalive_connections=spec.concurrency)
        timeout = httpx.Timeout(spec.read_timeout, connect=spec.connect_timeout)
        self._http = httpx.Client(headers=headers, limits=limits, timeout=timeout,
                                  verify=spec.verify, follow_redirects=False,
                                  trust_env=False)
        #: the threads that send a call's batches (made at the first call that needs them)
        self._pool: list[ThreadPoolExecutor] = []
        # connections and threads closed when the client goes, even without close()
        self._closer = weakref.finalize(self, _close, self._http, self._pool)
        self._lock = threading.Lock()
        self._batch_rows = spec.rows_per_batch
        self._reserved = 0
        self._stats = QueryStats()
        #: probability columns of a dry run's answers (0: a regression's numbers)
        self.dry_width = 2

    def __repr__(self) -> str:
        return f"EndpointClient({self.spec.shown_url!r}, protocol={self.spec.protocol!r})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("an EndpointClient holds a connection and is not pickled; open "
                        "the endpoint again in the other process")

    def close(self) -> None:
        self._closer()

    def __enter__(self) -> EndpointClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- accounting ---------------------------------------------------------------------
    def stats(self) -> QueryStats:
        """Queries sent so far (a snapshot)."""
        with self._lock:
            return self._stats

    def _count(self, rows: int = 0, requests: int = 0, retries: int = 0,
               seconds: float = 0.0) -> None:
        with self._lock:
            self._stats = self._stats + QueryStats(rows, requests, retries, seconds)

    def reserve(self, n: int) -> None:
        """Take ``n`` rows from the budget, or raise BudgetExhausted sending nothing."""
        with self._lock:
            budget = self.spec.max_queries
            if budget is not None and self._reserved + n > budget:
                raise BudgetExhausted(
                    f"the query budget (--max-queries {budget:,}) is spent: "
                    f"{self._reserved:,} rows sent, {n:,} more needed", self._stats)
            self._reserved += n

    @property
    def remaining(self) -> int | None:
        """Rows left in the budget (None: no budget)."""
        with self._lock:
            budget = self.spec.max_queries
            return None if budget is None else budget - self._reserved

    # -- queries ------------------------------------------------------------------------
    def predict(self, columns: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """The endpoint's answers for ``n`` rows given as ``{input name: values}``:
        (n, C) numbers or (n,) labels / numbers, in row order."""
        if n == 0:
            return np.zeros((0,))
        self.reserve(n)
        started = time.perf_counter()
        try:
            size = self._batch_rows
            slices = [(start, min(start + size, n)) for start in range(0, n, size)]
            if len(slices) == 1 or self.spec.concurrency == 1:
                parts = [self._batch(columns, a, b) for a, b in slices]
            else:
                futures = [self._threads().submit(self._batch, columns, a, b)
                           for a, b in slices]
                try:
                    parts = [future.result() for future in futures]
                except BaseException as error:  # batches not yet sent are not sent
                    for future in futures:
                        future.cancel()
                    if isinstance(error, Exception):  # those in flight are counted
                        wait(futures)
                    raise
        finally:
            self._count(seconds=time.perf_counter() - started)
        return np.concatenate(parts, axis=0)

    def _threads(self) -> ThreadPoolExecutor:
        with self._lock:
            if not self._pool:
                if not self._closer.alive:
                    raise EndpointError(f"the connection to {self.spec.shown_url} is "
                                        "closed")
                self._pool.append(ThreadPoolExecutor(
                    max_workers=self.spec.concurrency, thread_name_prefix="tabinv-endpoint"))
            return self._pool[0]

    def _batch(self, columns: Mapping[str, np.ndarray], start: int, stop: int
               ) -> np.ndarray:
        n = stop - start
        body = encode_request(self.spec.protocol,
                              {k: np.asarray(v)[start:stop] for k, v in columns.items()}, n)
        status, payload = self._send(body)
        if status == 413 and n > 1:  # too large: halve, and keep the smaller size
            with self._lock:
                self._batch_rows = max(1, min(self._batch_rows, n // 2))
            middle = start + n // 2
            return np.concatenate([self._batch(columns, start, middle),
                                   self._batch(columns, middle, stop)], axis=0)
        if status != 200:
            raise EndpointError(f"{self.spec.shown_url} answered HTTP {status} for {n:,} "
                                f"rows: {_snippet(payload)}")
        answers = decode_response(self.spec.protocol, payload, n)
        self._count(rows=n)
        return answers

    def _send(self, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` with retries; (status, body) of the last attempt."""
        import httpx

        waited = 0.0
        for attempt in range(self.spec.retries + 1):
            if attempt:
                self._count(retries=1)
            self._count(requests=1)
            retry_after: float | None = None
            try:
                status, payload, retry_after = self._post(body)
                if status not in RETRY_STATUSES:
                    return status, payload
                failure = f"HTTP {status}"
            except httpx.TransportError as error:  # refused, reset, dropped, timed out
                if isinstance(error, (httpx.UnsupportedProtocol, httpx.ProxyError)):
                    raise EndpointError(f"cannot reach {self.spec.shown_url} "
                                        f"({type(error).__name__})") from None
                if isinstance(error, httpx.ConnectError) and "SSL" in str(error):
                    raise EndpointError(  # a certificate or handshake: not worth retrying
                        f"TLS with {self.spec.shown_url} failed "
                        f"({shorten(str(error), 160)}); --insecure only for a test "
                        "server") from None
                status, payload, failure = 0, b"", type(error).__name__
            if attempt == self.spec.retries:
                break
            delay = self._delay(attempt, retry_after)
            if waited + delay > self.spec.retry_seconds:
                break
            self._sleep(delay)
            waited += delay
        raise EndpointError(f"{self.spec.shown_url} kept failing ({failure}) after "
                            f"{attempt + 1} attempt(s) and {waited:.1f} s of waiting")

    def _post(self, body: bytes) -> tuple[int, bytes, float | None]:
        if self.spec.dry_run:
            return 200, _dry_answer(self.spec.protocol, body, self.dry_width), None
        with self._http.stream("POST", self.spec.inference_url, content=body) as response:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and \
                    int(declared) > MAX_RESPONSE_BYTES:
                raise EndpointError(f"the endpoint's answer ({int(declared):,} bytes) is "
                                    f"larger than {MAX_RESPONSE_BYTES:,}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise EndpointError(f"the endpoint's answer is larger than "
                                        f"{MAX_RESPONSE_BYTES:,} bytes")
                chunks.append(chunk)
            return (response.status_code, b"".join(chunks),
                    _retry_after(response.headers.get("retry-after")))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.spec.retry_seconds)
        return self._random.uniform(0, self.spec.backoff * 2 ** attempt)


def _close(http: Any, pool: list[ThreadPoolExecutor]) -> None:
    """Stop the client's threads (batches not started are dropped) and close its
    connections."""
    for threads in pool:
        threads.shutdown(wait=True, cancel_futures=True)
    pool.clear()
    http.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header (seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()[:64]
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _dry_answer(protocol: str, body: bytes, width: int) -> bytes:
    """What a dry run answers to one of its own requests: uniform probabilities over
    ``width`` classes (zeros for a regression), in the protocol's form."""
    import json

    request = json.loads(body)
    if protocol == "mlflow":
        n = len(request["dataframe_split"]["data"])
    else:
        n = int(request["inputs"][0]["shape"][0])
    row = [1.0 / width] * width if width else 0.0
    if protocol == "mlflow":
        return json.dumps({"predictions": [row] * n}).encode()
    shape = [n, width] if width else [n]
    data = [v for _ in range(n) for v in (row if width else [0.0])]
    return json.dumps({"outputs": [{"name": "dry-run", "shape": shape, "datatype": "FP64",
                                    "data": data}]}).encode()


def _snippet(payload: bytes) -> str:
    return shorten(payload[:200].decode("utf-8", "replace"), 120)
