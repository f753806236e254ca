"""Inventory entries that name a deployed model's endpoint instead of a model file.

::

    [[entry]]
    name = "dosing-api"
    endpoint = "https://models.example.org/dose"   # instead of model (exactly one of them)
    protocol = "v2"              # mlflow (POST /invocations) | v2 (Open Inference Protocol)
    model_name = "dose"          # v2 only: /v2/models/NAME/infer
    auth_env = "DOSE_API_TOKEN"  # the NAME of an environment variable holding the token
    batch_rows = 1000            # rows per request
    concurrency = 4              # requests in flight at once
    max_queries = 200000         # rows this entry may send in one run
    retries = 6                  # attempts beyond a batch's first (429, 5xx, resets)

The URL is hostile input: http or https only, a host, no ``user:password@`` (the
credentials would end up in the entry's key, its reports and logs; a token belongs in the
environment variable ``auth_env`` names, whose value tabinv never reads into a report),
no query string or fragment (the protocol's path is added by tabinv), no whitespace or
control characters. Errors never repeat a URL that carries credentials.

The entry's key covers the URL, protocol and model name, not the model behind them, and
not ``auth_env``, ``batch_rows``, ``concurrency``, ``max_queries`` or ``retries`` (how it
is queried, not what it computes). A model redeployed at the same URL is therefore not noticed: a
finished entry is reused and an unfinished or edited one resumes from the old model's
answers (kept per server: :mod:`.checkpoint`); remove ``DIR/entries/NAME`` to assess the
new model.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..text import shorten

__all__ = ["ENDPOINT", "ENDPOINT_KEYS", "ENDPOINT_ONLY", "PROTOCOLS", "RUN_KEYS",
           "check_endpoint", "check_url", "endpoint_validators"]

#: the ``format`` an endpoint entry gets (it has no model file)
ENDPOINT = "endpoint"

PROTOCOLS = ("mlflow", "v2")

#: keys that apply to endpoint entries only
ENDPOINT_ONLY = ("protocol", "model_name", "auth_env", "batch_rows", "concurrency",
                 "max_queries", "retries")

ENDPOINT_KEYS = ("endpoint", *ENDPOINT_ONLY)

#: how an endpoint entry is queried, not what it computes: not in its key (a run that
#: spends its budget fails and is never reused; a larger budget resumes it)
RUN_KEYS = ("auth_env", "batch_rows", "concurrency", "max_queries", "retries")

#: keys of model files that mean nothing for an endpoint
_FILE_ONLY = ("format", "allow_pickle", "trust", "allow_code", "feature_map",
              "onnx_encoding", "onnx_classes", "onnx_output")

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_URL_LIMIT = 2000


class EndpointKeyError(ValueError):
    """A bad value; the message says what was expected (and never holds a secret)."""


def check_url(value: Any) -> str:
    """``value`` if it is an http(s) URL with a host and nothing secret or surprising.

    Raises
    ------
    EndpointKeyError
        With a one-line reason; a URL with credentials is never repeated.
    """
    if not isinstance(value, str) or not value.strip():
        raise EndpointKeyError("expected the URL of a model server, e.g. "
                               "\"http://127.0.0.1:5000\"")
    try:
        parts = urlsplit(value)
        netloc = parts.netloc
        port = parts.port
    except ValueError:
        netloc, port = "", None
        if "@" in value:
            raise EndpointKeyError(_CREDENTIALS) from None
        raise EndpointKeyError(f"{shorten(value)} is not a URL (bad host or port)") from None
    if "@" in netloc:
        raise EndpointKeyError(_CREDENTIALS)
    if len(value) > _URL_LIMIT or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127
                                      for ch in value):
        raise EndpointKeyError("the URL is too long or holds whitespace or control "
                               "characters")
    if parts.scheme.lower() not in ("http", "https"):
        raise EndpointKeyError(f"{shorten(value)} is not an http:// or https:// URL")
    if not parts.hostname:
        raise EndpointKeyError(f"{shorten(value)} names no host")
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise EndpointKeyError(f"{shorten(value.split('?')[0].split('#')[0])} has a query "
                               "string or fragment; give the server's base URL (tabinv "
                               "adds the protocol's path) and put any token in the "
                               "variable auth_env names")
    if port == 0:
        raise EndpointKeyError(f"{shorten(value)} has port 0")
    return value


_CREDENTIALS = ("the URL carries credentials (user:password@host); they would be copied "
                "into the entry's key, reports and logs; remove them and put a token in an "
                "environment variable named by auth_env (the URL is not shown here)")


def _env_name(value: Any) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise EndpointKeyError("expected the NAME of an environment variable (letters, digits "
                               "and '_', not starting with a digit), never the token itself; "
                               "the value given is not shown")
    return value


def _protocol(value: Any) -> str:
    if value not in PROTOCOLS:
        raise EndpointKeyError(f"{shorten(str(value))} is not one of {', '.join(PROTOCOLS)} "
                               "(mlflow: POST /invocations; v2: Open Inference Protocol)")
    return str(value)


def _model_name(value: Any) -> str:
    if not isinstance(value, str) or not _MODEL_NAME.fullmatch(value):
        raise EndpointKeyError(f"{shorten(str(value))} is not a model name; use 1-200 "
                               "letters, digits, '.', '_' or '-' (it becomes part of the URL "
                               "path)")
    return value


def _count(low: int, high: int):  # noqa: ANN202 - a validator factory
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise EndpointKeyError(f"expected an integer from {low} to {high}, got "
                                   f"{shorten(str(value))}")
        return value
    return check


def endpoint_validators() -> dict[str, Any]:
    """The validator of each endpoint key (raising :class:`EndpointKeyError`)."""
    return {"endpoint": check_url, "protocol": _protocol, "model_name": _model_name,
            "auth_env": _env_name, "batch_rows": _count(1, 1_000_000),
            "concurrency": _count(1, 64), "max_queries": _count(1, 10**12),
            "retries": _count(0, 20)}


def check_endpoint(values: dict[str, Any], where: str, problems: list[str],
                   written: tuple[set[str], set[str]] = (set(), set())) -> bool:
    """Cross-key checks of an entry's source; True when it names an endpoint.

    Exactly one of ``model`` and ``endpoint``; an endpoint needs ``protocol`` (and
    ``model_name`` for v2) and refuses the keys of model files; the endpoint keys need an
    endpoint. ``written``: the keys written in the entry and in [defaults], with values
    that were refused (already reported: not reported again as missing).
    """
    named = {*values, *written[0], *written[1]}
    has_model, has_endpoint = "model" in named, "endpoint" in named
    if not has_model and not has_endpoint:
        problems.append(f"{where}: key 'model' (or 'endpoint') is required")
        return False
    if has_model and has_endpoint:
        origin = [k for k in ("model", "endpoint") if k in written[1] and k not in written[0]]
        hint = f" ({' and '.join(origin)} from [defaults])" if origin else ""
        problems.append(f"{where}, key 'endpoint': give either model (a file, folder or "
                        f"models:/ URI) or endpoint (a server's URL), not both{hint}")
        return False
    if not has_endpoint:
        for key in ENDPOINT_ONLY:
            if key in values:
                problems.append(f"{where}, key {key!r}: applies to entries with an endpoint "
                                "only")
        return False
    if "endpoint" not in values:  # its value was refused
        return False
    protocol = values.get("protocol")
    if "protocol" not in named:
        problems.append(f"{where}, key 'protocol': required with endpoint (mlflow or v2)")
    elif protocol == "v2" and "model_name" not in named:
        problems.append(f"{where}, key 'model_name': required with protocol = 'v2' (the "
                        "served model's name, /v2/models/NAME/infer)")
    elif protocol == "mlflow" and "model_name" in values:
        problems.append(f"{where}, key 'model_name': applies to protocol = 'v2' only (an "
                        "MLflow scoring server serves one model)")
    for key in _FILE_ONLY:
        if key in values:
            problems.append(f"{where}, key {key!r}: applies to model files, not to an "
                            "endpoint")
    if values.get("access") == "white-box":
        problems.append(f"{where}, key 'access': an endpoint is queried as a black box "
                        "(confidences, rounded or label-only); white-box needs a model file")
    return True
