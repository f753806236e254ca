"""A fake serving endpoint on 127.0.0.1 for the client's unit tests: stdlib http.server
speaking MLflow's ``/invocations`` and the v2 ``/v2/models/NAME/infer`` around a model
callable, with switchable faults (rounding, labels only, 503 / 429 / 413). Real servers
are in tests/endpoint (helper T)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pandas as pd


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-answer (a test killed it) is expected: no report."""
        import sys
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Faults:
    decimals: int | None = None     # round probabilities
    labels: bool = False            # answer the predicted class only
    fail_every: int = 0             # every k-th request answers 503
    throttle_every: int = 0         # every k-th request answers 429 + Retry-After: 0
    max_rows: int = 0               # more rows answer 413
    gone_after: int = 0             # requests after this many answer 503 for good
    drop_every: int = 0             # every k-th request: connection closed, no answer
    seen: list[dict[str, str]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)   # rows of each answered request
    requests: int = 0


class FakeEndpoint:
    """``with FakeEndpoint(proba, classes) as fake: fake.url``"""

    def __init__(self, proba: Callable[[pd.DataFrame], np.ndarray], classes: list[Any],
                 faults: Faults | None = None) -> None:
        self.proba, self.classes = proba, list(classes)
        self.faults = faults or Faults()
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        faults = self.faults
        with self.lock:
            faults.requests += 1
            count = faults.requests
        if (faults.fail_every and count % faults.fail_every == 0) or (
                faults.gone_after and count > faults.gone_after):
            return 503, {"error": "busy"}
        if faults.throttle_every and count % faults.throttle_every == 0:
            return 429, {"error": "slow down"}
        if path == "/invocations":
            split = body["dataframe_split"]
            frame = pd.DataFrame(split["data"], columns=split["columns"])
        else:
            inputs = body["inputs"]
            frame = pd.DataFrame({t["name"]: t["data"] for t in inputs})
        if faults.max_rows and len(frame) > faults.max_rows:
            return 413, {"error": "too large"}
        with self.lock:
            faults.rows.append(len(frame))
        proba = np.asarray(self.proba(frame), dtype=float)
        if faults.labels:
            result: Any = [self.classes[i] for i in proba.argmax(axis=1)]
        else:
            result = (np.round(proba, faults.decimals) if faults.decimals is not None
                      else proba).tolist()
        if path == "/invocations":
            return 200, {"predictions": result}
        array = np.asarray(result)
        return 200, {"outputs": [{"name": "predict", "shape": list(array.shape),
                                  "datatype": "FP64" if not faults.labels else "BYTES",
                                  "data": array.ravel().tolist()}]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                with fake.lock:
                    fake.faults.seen.append(dict(self.headers))
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length))
                with fake.lock:
                    count = fake.faults.requests + 1
                if fake.faults.drop_every and count % fake.faults.drop_every == 0:
                    with fake.lock:
                        fake.faults.requests += 1
                    self.close_connection = True  # no status line: a dropped connection
                    return
                status, document = fake.answer(self.path, body)
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
