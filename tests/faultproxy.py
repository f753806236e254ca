"""A fault-injecting HTTP proxy on loopback, in front of a real model server (issue 15).

:class:`FaultProxy` listens on 127.0.0.1 (a port found by binding port 0), relays every
request to its upstream server (loopback only) over keep-alive connections, and, on the
inference requests (``POST /invocations`` for MLflow, ``POST /v2/models/NAME/infer`` for
the Open Inference Protocol v2), does what its mode says:

- ``"pass"``: nothing (the server's own answers);
- ``"round"``: probabilities rounded to ``decimals`` (2) places, as ``numpy.round``;
- ``"labels"``: each row's probabilities replaced by its class label (``classes`` in the
  model's column order, argmax), shaped as the server answers ``predict``;
- ``"throttle"``: above ``rate`` requests (every method) in a sliding window of
  ``window`` seconds, ``429 Too Many Requests`` with ``Retry-After: retry_after``
  (whole seconds), not forwarded;
- ``"flaky"``: a seeded ``failure_rate`` (10 %) of inference requests fail: half of them
  answer ``503 Service Unavailable`` (not forwarded), half are forwarded and then the
  connection is reset (RST) instead of the answer: the server did the work, the client
  never saw it.

It counts what it received, forwarded and answered (requests and rows) and each fault
injected (:class:`ProxyCounts`), so a test can check that the client's query accounting
matches and that every row was answered exactly once. Stopping it ends every handler
thread: open keep-alive connections are shut down, then the threads are joined.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np

__all__ = ["MODES", "FaultProxy", "ProxyCounts", "request_rows"]

MODES = ("pass", "round", "labels", "throttle", "flaky")
LOOPBACK = "127.0.0.1"
MAX_BODY = 256 << 20  # bytes of a request body the proxy reads at most
IDLE_TIMEOUT = 60.0  # seconds a keep-alive connection may idle before the proxy closes it
UPSTREAM_TIMEOUT = 120.0  # seconds the upstream server may take to answer
#: headers relayed from the client to the server and back (the rest are the proxy's own)
REQUEST_HEADERS = ("content-type", "accept", "authorization")
RESPONSE_HEADERS = ("content-type", "retry-after")


@dataclass(frozen=True)
class ProxyCounts:
    """What the proxy saw: every request; the inference requests received, forwarded to
    the server and answered 200 to the client (and their rows); the faults it injected."""

    requests: int = 0
    received: int = 0
    forwarded: int = 0
    answered: int = 0
    rows_received: int = 0
    rows_forwarded: int = 0
    rows_answered: int = 0
    throttled: int = 0
    unavailable: int = 0
    dropped: int = 0

    @property
    def faults(self) -> int:
        """Inference requests that got no answer the client could use."""
        return self.throttled + self.unavailable + self.dropped


def request_rows(path: str, body: bytes) -> int:
    """Rows in an inference request body: MLflow's ``dataframe_split`` /
    ``dataframe_records`` / ``instances`` / ``inputs``, or the first dimension of the
    first v2 input; 0 when the body is not one."""
    try:
        document = json.loads(body)
    except ValueError:
        return 0
    if not isinstance(document, dict):
        return 0
    if path.startswith("/v2/"):
        inputs = document.get("inputs")
        first = inputs[0] if isinstance(inputs, list) and inputs else {}
        shape = first.get("shape") if isinstance(first, dict) else None
        return int(shape[0]) if isinstance(shape, list) and shape else 0
    if isinstance(document.get("dataframe_split"), dict):
        return len(document["dataframe_split"].get("data") or [])
    for key in ("dataframe_records", "instances", "inputs"):
        if isinstance(document.get(key), list):
            return len(document[key])
    return 0


def is_inference(method: str, path: str) -> bool:
    path = path.split("?", 1)[0]
    return method == "POST" and (path == "/invocations" or (path.startswith("/v2/models/")
                                                            and path.endswith("/infer")))


class FaultProxy:
    """The proxy (see the module docstring); a context manager that starts and stops it.

    Parameters
    ----------
    upstream : str
        ``http://127.0.0.1:PORT`` of the real server (loopback only).
    mode : str
        One of :data:`MODES`.
    classes : list, optional
        The model's classes in its probability columns' order (mode ``"labels"``).
    """

    def __init__(self, upstream: str, mode: str = "pass", *, classes: list[Any] | None = None,
                 decimals: int = 2, rate: int = 20, window: float = 1.0, retry_after: int = 1,
                 failure_rate: float = 0.10, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname not in (LOOPBACK, "localhost"):
            raise ValueError(f"upstream must be http://127.0.0.1:PORT, got {upstream!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "labels" and not classes:
            raise ValueError("mode 'labels' needs the model's classes")
        self.upstream = (LOOPBACK, int(parts.port or 80))
        self.mode, self.classes, self.decimals = mode, list(classes or []), decimals
        self.rate, self.window, self.retry_after = rate, window, max(1, int(retry_after))
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {f.name: 0 for f in fields(ProxyCounts)}
        self._recent: deque[float] = deque()
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        server = ThreadingHTTPServer((LOOPBACK, 0), _handler(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.05}, name="faultproxy", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()  # serve_forever returns
        with self._lock:
            open_connections = list(self._connections)
        for connection in open_connections:  # wakes handlers waiting for the next request
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join()

    # -- accounting --------------------------------------------------------------------
    def counts(self) -> ProxyCounts:
        with self._lock:
            return ProxyCounts(**self._counts)

    def reset(self) -> None:
        """Counts back to zero (the fault sequence goes on)."""
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)

    def _count(self, **increments: int) -> None:
        with self._lock:
            for name, value in increments.items():
                self._counts[name] += value

    # -- decisions ---------------------------------------------------------------------
    def _throttles(self) -> bool:
        """Mode ``throttle``: whether this request is above the rate (else it counts)."""
        if self.mode != "throttle":
            return False
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] >= self.window:
                self._recent.popleft()
            if len(self._recent) >= self.rate:
                return True
            self._recent.append(now)
            return False

    def _fault(self) -> str | None:
        """Mode ``flaky``: ``"unavailable"``, ``"dropped"`` or None, seeded, in the order
        the requests arrive."""
        if self.mode != "flaky":
            return None
        with self._lock:
            draw = self._random.random()
        if draw < self.failure_rate / 2:
            return "unavailable"
        return "dropped" if draw < self.failure_rate else None

    def transform(self, path: str, body: bytes) -> bytes:
        """The server's 200 answer to an inference request as the mode shows it."""
        if self.mode not in ("round", "labels"):
            return body
        document = json.loads(body)
        if path.startswith("/v2/"):
            output = document["outputs"][0]
            rows, width = output["shape"][0], output["shape"][-1]
            values = np.asarray(output["data"], dtype=float).reshape(rows, width)
            if self.mode == "round":
                output["data"] = np.round(values, self.decimals).ravel().tolist()
            else:
                document["outputs"] = [{
                    "name": "predict", "shape": [rows, 1], "datatype": _datatype(self.classes),
                    "parameters": {"content_type": "np"}, "data": self._labels(values)}]
        else:
            values = np.asarray(document["predictions"], dtype=float)
            document["predictions"] = (np.round(values, self.decimals).tolist()
                                       if self.mode == "round" else self._labels(values))
        return json.dumps(document).encode()

    def _labels(self, values: np.ndarray) -> list[Any]:
        return [_plain(self.classes[int(i)]) for i in np.argmax(values, axis=1)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _datatype(classes: list[Any]) -> str:
    kinds = {np.asarray([_plain(c)]).dtype.kind for c in classes}
    if kinds <= {"i", "u"}:
        return "INT64"
    return "FP64" if kinds <= {"f", "i", "u"} else "BYTES"


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT
        upstream: http.client.HTTPConnection | None = None

        def setup(self) -> None:
            super().setup()
            with proxy._lock:
                proxy._connections.add(self.connection)

        def finish(self) -> None:
            with proxy._lock:
                proxy._connections.discard(self.connection)
            if self.upstream is not None:
                self.upstream.close()
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # quiet: the tests read the counts, not a log

        def do_GET(self) -> None:  # noqa: N802
            self.relay("GET")

        def do_POST(self) -> None:  # noqa: N802
            self.relay("POST")

        def relay(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                self.answer(413, b'{"error": "body too large"}')
                return
            body = self.rfile.read(length) if length else b""
            inference = is_inference(method, self.path)
            rows = request_rows(self.path, body) if inference else 0
            proxy._count(requests=1, received=int(inference), rows_received=rows)
            if proxy._throttles():
                proxy._count(throttled=int(inference))
                self.answer(429, b'{"error": "too many requests"}',
                            {"Retry-After": str(proxy.retry_after)})
                return
            fault = proxy._fault() if inference else None
            if fault == "unavailable":
                proxy._count(unavailable=1)
                self.answer(503, b'{"error": "service unavailable"}')
                return
            status, headers, answer = self.forward(method, body)
            if inference:
                proxy._count(forwarded=1, rows_forwarded=rows)
            if fault == "dropped":
                proxy._count(dropped=1)
                self.reset()
                return
            if inference and status == 200:
                answer = proxy.transform(self.path, answer)
                proxy._count(answered=1, rows_answered=rows)
            self.answer(status, answer, headers)

        def forward(self, method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
            headers = {k: v for k, v in self.headers.items() if k.lower() in REQUEST_HEADERS}
            for attempt in (1, 2):  # a kept-alive upstream connection may have been closed
                if self.upstream is None:
                    self.upstream = http.client.HTTPConnection(*proxy.upstream,
                                                               timeout=UPSTREAM_TIMEOUT)
                try:
                    self.upstream.request(method, self.path, body=body, headers=headers)
                    response = self.upstream.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    self.upstream.close()
                    self.upstream = None
                    if attempt == 2:
                        raise
                    continue
                kept = {k: v for k, v in response.getheaders()
                        if k.lower() in RESPONSE_HEADERS}
                return response.status, kept, answer
            raise AssertionError("unreachable")

        def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None
                   ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if not any(k.lower() == "content-type" for k in (headers or {})):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def reset(self) -> None:
            """Close the client's connection with a TCP reset, no answer sent."""
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()

    return Handler
