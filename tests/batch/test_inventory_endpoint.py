"""Issue 15: inventory entries that name a model server (``endpoint``) instead of a
model file: the keys, and one-line errors naming the entry and key for hostile values
(credentials in the URL are refused and never repeated)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tabinv.batch.entry import Entry
from tabinv.batch.inventory import InventoryError, read_inventory
from tabinv.batch.task import entry_key

from . import FAST, write_inventory

SERVER = {"name": "api", "endpoint": "http://127.0.0.1:5000", "protocol": "mlflow",
          "label": "dose_class", "sensitive": ["vkorc1"]}


def _read(tmp_path: Path, entries: list[dict[str, Any]],
          defaults: dict[str, Any] | None = None) -> Any:
    return read_inventory(write_inventory(tmp_path / "inv.toml", entries,
                                          {**FAST, **(defaults or {})}))


def _problems(tmp_path: Path, entries: list[dict[str, Any]],
              defaults: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        _read(tmp_path, entries, defaults)
    return caught.value.problems


def test_an_endpoint_entry_with_every_key(tmp_path: Path) -> None:
    inventory = _read(tmp_path, [
        {**SERVER, "auth_env": "DOSE_TOKEN", "batch_rows": 500, "concurrency": 4,
         "max_queries": 10_000},
        {**SERVER, "name": "oip", "endpoint": "https://models.example.org/base",
         "protocol": "v2", "model_name": "dose-1.2", "access": "label-only"}])
    first, second = inventory.entries
    assert (first.endpoint, first.protocol, first.model, first.format) == (
        "http://127.0.0.1:5000", "mlflow", None, "endpoint")
    assert (first.auth_env, first.batch_rows, first.concurrency, first.max_queries) == (
        "DOSE_TOKEN", 500, 4, 10_000)
    assert first.is_endpoint and second.model_name == "dose-1.2"
    assert second.access == "label-only"


def test_the_key_follows_what_is_computed_not_how_it_is_queried(tmp_path: Path) -> None:
    entry = _read(tmp_path, [SERVER]).entries[0]
    key = entry_key(entry)
    import dataclasses

    same = [dataclasses.replace(entry, batch_rows=7), dataclasses.replace(entry, concurrency=3),
            dataclasses.replace(entry, auth_env="OTHER"),
            dataclasses.replace(entry, max_queries=100), dataclasses.replace(entry, retries=0)]
    assert {entry_key(e) for e in same} == {key}
    other = [dataclasses.replace(entry, endpoint="http://127.0.0.1:5001"),
             dataclasses.replace(entry, access="label-only"),
             dataclasses.replace(entry, protocol="v2", model_name="m")]
    assert len({key, *(entry_key(e) for e in other)}) == 4


def test_exactly_one_of_model_and_endpoint(tmp_path: Path) -> None:
    (tmp_path / "m.skops").write_bytes(b"x")
    both = _problems(tmp_path, [{**SERVER, "model": "m.skops"}])
    assert both == ["entry 'api', key 'endpoint': give either model (a file, folder or "
                    "models:/ URI) or endpoint (a server's URL), not both"]
    from_defaults = _problems(tmp_path, [SERVER], {"model": "m.skops"})
    assert len(from_defaults) == 1 and "(model from [defaults])" in from_defaults[0]
    neither = _problems(tmp_path, [{k: v for k, v in SERVER.items() if k != "endpoint"
                                    and k != "protocol"}])
    assert neither == ["entry 'api': key 'model' (or 'endpoint') is required"]


SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize("url", [
    f"http://alice:{SECRET}@127.0.0.1:5000", f"https://{SECRET}@host.example",
    f"ftp://bob:{SECRET}@host", f"http://u:{SECRET}@[::1", f"http://u:{SECRET}@h:99999"])
def test_credentials_in_the_url_are_refused_and_never_repeated(tmp_path: Path,
                                                               url: str) -> None:
    problems = _problems(tmp_path, [{**SERVER, "endpoint": url}])
    assert len(problems) == 1
    assert problems[0].startswith("entry 'api', key 'endpoint': ")
    assert SECRET not in problems[0] and "credentials" in problems[0]
    assert "\n" not in problems[0]


@pytest.mark.parametrize(("url", "fragment"), [
    ("ftp://host/x", "is not an http:// or https:// URL"),
    ("file:///etc/passwd", "is not an http:// or https:// URL"),
    ("127.0.0.1:5000", "is not an http:// or https:// URL"),
    ("http://", "names no host"),
    ("http://host/x?token=abc", "has a query string"),
    ("http://host/#x", "has a query string"),
    ("http://host:99999", "is not a URL"),
    ("http://ho st", "whitespace or control"),
    ("http://host/\x00", "whitespace or control"),
    ("", "expected the URL"),
    (5000, "expected the URL"),
])
def test_bad_urls_get_one_line_each(tmp_path: Path, url: Any, fragment: str) -> None:
    problems = _problems(tmp_path, [{**SERVER, "endpoint": url}])
    assert len(problems) == 1 and fragment in problems[0], problems
    assert problems[0].startswith("entry 'api', key 'endpoint': ")
    assert "token=abc" not in problems[0]


@pytest.mark.parametrize(("changes", "expected"), [
    ({"protocol": "grpc"}, "entry 'api', key 'protocol': 'grpc' is not one of mlflow, v2"),
    ({"protocol": None}, "entry 'api', key 'protocol': required with endpoint"),
    ({"protocol": "v2"}, "entry 'api', key 'model_name': required with protocol = 'v2'"),
    ({"model_name": "m"}, "entry 'api', key 'model_name': applies to protocol = 'v2' only"),
    ({"protocol": "v2", "model_name": "../admin"}, "entry 'api', key 'model_name': "
     "'../admin' is not a model name"),
    ({"batch_rows": 0}, "entry 'api', key 'batch_rows': expected an integer from 1"),
    ({"concurrency": 1000}, "entry 'api', key 'concurrency': expected an integer from 1 to 64"),
    ({"retries": -1}, "entry 'api', key 'retries': expected an integer from 0 to 20"),
    ({"max_queries": True}, "entry 'api', key 'max_queries': expected an integer"),
    ({"format": "skops"}, "entry 'api', key 'format': applies to model files, not to an "
     "endpoint"),
    ({"trust": True}, "entry 'api', key 'trust': applies to model files"),
    ({"access": "white-box"}, "entry 'api', key 'access': an endpoint is queried as a "
     "black box"),
])
def test_endpoint_keys_are_checked(tmp_path: Path, changes: dict[str, Any],
                                   expected: str) -> None:
    entry = {k: v for k, v in {**SERVER, **changes}.items() if v is not None}
    problems = _problems(tmp_path, [entry])
    assert any(p.startswith(expected) for p in problems), problems
    assert all("\n" not in p for p in problems)


def test_auth_env_is_a_name_and_a_token_given_there_is_not_shown(tmp_path: Path) -> None:
    token = "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"
    problems = _problems(tmp_path, [{**SERVER, "auth_env": token}])
    assert len(problems) == 1 and token not in problems[0]
    assert problems[0].startswith("entry 'api', key 'auth_env': expected the NAME of an "
                                  "environment variable")


def test_endpoint_keys_need_an_endpoint(tmp_path: Path) -> None:
    (tmp_path / "m.skops").write_bytes(b"x")
    problems = _problems(tmp_path, [{"name": "file", "model": "m.skops", "batch_rows": 10,
                                     "auth_env": "T", "label": "dose_class",
                                     "sensitive": ["vkorc1"]}])
    assert "entry 'file', key 'batch_rows': applies to entries with an endpoint only" in problems
    assert "entry 'file', key 'auth_env': applies to entries with an endpoint only" in problems


def test_defaults_may_hold_the_endpoint(tmp_path: Path) -> None:
    inventory = _read(tmp_path, [{"name": "a", "label": "dose_class", "sensitive": ["vkorc1"]},
                                 {"name": "b", "label": "dose_class", "sensitive": ["cyp2c9"]}],
                      {"endpoint": "http://127.0.0.1:8080", "protocol": "v2",
                       "model_name": "dose"})
    assert [e.endpoint for e in inventory.entries] == ["http://127.0.0.1:8080"] * 2
    assert all(isinstance(e, Entry) and e.model is None for e in inventory.entries)
