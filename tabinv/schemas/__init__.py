"""JSON Schemas of tabinv's result documents, and the stamp every document carries.

Every JSON document tabinv writes has a top-level ``kind`` (one of :data:`KINDS`) and
``schema_version`` (:data:`SCHEMA_VERSION`):

- ``assessment``: ``tabinv assess`` / ``attack`` ``--json`` and ``--out x.json``, and a
  batch entry's ``report.json``;
- ``sweep``: ``tabinv sweep`` / ``demo warfarin-dp``;
- ``batch-entry``: a batch entry's record, ``DIR/entries/NAME/result.json``;
- ``batch-summary``: ``DIR/summary.json`` (the rows of ``summary.csv``).

The schema of each kind ships inside the package (JSON Schema draft 2020-12, a
``description`` on every property); ``tabinv schema KIND`` prints it. On disk the kinds
share ``common.json``; :func:`schema` returns one self-contained schema.

Documents without ``schema_version`` were written before version 1 (their leakage is
under ``difference``, a sweep's under ``advantage``): ``tabinv report`` still renders
them, unchecked. A stored document that carries a version is checked against its schema
when read (:func:`tabinv.report.files.read_document`), and one from a newer tabinv is
refused.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from ..exceptions import DocumentError
from ..text import cap, shorten

__all__ = ["KINDS", "SCHEMA_VERSION", "schema", "stamp", "validate"]

#: version of the document layouts below; raised when a key changes meaning or goes away
SCHEMA_VERSION = 1

#: the kinds of JSON document tabinv writes, each with its schema file ``KIND.json``
KINDS = ("assessment", "sweep", "batch-entry", "batch-summary", "batch-run")

_COMMON = "common.json"
_ERRORS = 100  # errors looked at to name the most relevant one
_COMMON_REF = _COMMON + "#/$defs/"


@functools.cache
def _load(name: str) -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath(name).read_text("utf-8"))


def _check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise DocumentError(f"unknown document kind {shorten(kind)}; the kinds are "
                            f"{', '.join(KINDS)}")
    return str(kind)


def _local(value: Any) -> Any:
    """``value`` with references into common.json turned into references to ``$defs``."""
    if isinstance(value, dict):
        return {k: ("#/$defs/" + v.removeprefix(_COMMON_REF)
                    if k == "$ref" and isinstance(v, str) and v.startswith(_COMMON_REF)
                    else _local(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_local(v) for v in value]
    return value


@functools.cache
def _bundled(kind: str) -> dict[str, Any]:
    own = _load(f"{kind}.json")
    shared = _load(_COMMON)["$defs"]
    return _local({**own, "$defs": {**shared, **own.get("$defs", {})}})


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of documents of ``kind``, self-contained (a fresh copy).

    Raises
    ------
    DocumentError
        ``kind`` is not one of :data:`KINDS`.

    Examples
    --------
    >>> schema("sweep")["properties"]["kind"]["const"]
    'sweep'
    """
    return copy.deepcopy(_bundled(_check_kind(kind)))


def stamp(document: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``document`` with ``kind`` and ``schema_version`` first (replacing any there).

    Examples
    --------
    >>> stamp({"rows": []}, "batch-summary")
    {'kind': 'batch-summary', 'schema_version': 1, 'rows': []}
    """
    rest = {k: v for k, v in document.items() if k not in ("kind", "schema_version")}
    return {"kind": _check_kind(kind), "schema_version": SCHEMA_VERSION, **rest}


@functools.cache
def _validator(kind: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_bundled(kind))


def _where(path: Any) -> str:
    """A key path as ``assessments[0].results[3].accuracy`` (``the document`` for none)."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "the document"


def validate(document: Any) -> None:
    """Check a document (plain JSON values) against the schema of its ``kind``.

    Raises
    ------
    DocumentError
        One line naming the key path and what is wrong: not an object, an unknown
        ``kind``, no or another ``schema_version``, or a value its schema refuses.
    """
    if not isinstance(document, Mapping):
        raise DocumentError(f"a tabinv document is a JSON object, not a "
                            f"{type(document).__name__}")
    kind = _check_kind(document.get("kind"))
    version = document.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        newer = isinstance(version, int) and not isinstance(version, bool) \
            and version > SCHEMA_VERSION
        raise DocumentError(
            f"{kind} document with schema_version {shorten(version)}: "
            + ("written by a newer tabinv; " if newer else "")
            + f"this tabinv reads schema_version {SCHEMA_VERSION}")
    from jsonschema.exceptions import best_match

    # the most relevant of the first errors: a hostile file may hold millions
    error = best_match(itertools.islice(_validator(kind).iter_errors(document), _ERRORS))
    if error is not None:
        message = " ".join(error.message.split())
        raise DocumentError(f"{kind} document, at {_where(error.absolute_path)}: "
                            f"{cap(message, 200)}")
