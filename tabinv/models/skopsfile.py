"""A skops archive checked before skops reads it: sizes, nesting and how each type is built.

skops decides trust by type name only; the file chooses how a trusted type is built. A
``ConstructorFromReduceNode`` calls the type with arguments from the file, so
``xgboost.core.Booster(None, None, PATH)`` would make tabinv open any path. Each reviewed
type is therefore accepted only with the loader tabinv's own ``save_model`` writes for it
(:data:`REVIEWED_LOADERS`), and a Booster's serialised bytes are checked like an XGBoost
file before XGBoost parses them. The archive's declared sizes, member count, compression
ratio and the schema's nesting are bounded first, without inflating anything.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from typing import Any

from ..exceptions import ModelError, UnsafeModelError
from ..text import shorten
from ..utils import format_bytes
from .xgbfile import check_learner, json_nesting, read_booster_document

__all__ = ["REVIEWED_LOADERS", "SKOPS_LIMITS", "check_skops_archive"]

#: Types skops does not trust by default that tabinv accepts without ``trust=True``, each
#: with the only skops loader that may build it (the one ``save_model`` writes): an object
#: created empty and given its saved attributes, never a constructor called with
#: arguments from the file. ``Tree`` and ``Booster`` hold raw node indices; they are
#: accepted only because every tree is validated before a model is returned.
REVIEWED_LOADERS: dict[str, str] = {
    "tabinv.models.target.TargetModel": "ObjectNode",
    "tabinv.models.encoding.TabularEncoder": "ObjectNode",
    "tabinv.models.published.FixedLinearModel": "ObjectNode",
    "sklearn.tree._tree.Tree": "TreeNode",
    "xgboost.core.Booster": "ObjectNode",
    "xgboost.sklearn.XGBClassifier": "ObjectNode",
    "xgboost.sklearn.XGBRegressor": "ObjectNode",
    # differentially private models (tabinv.models.dp) and diffprivlib's estimators
    "tabinv.models.dp.DPTargetModel": "ObjectNode",
    "tabinv.models.dp.ReferenceCoded": "ObjectNode",
    "diffprivlib.accountant.BudgetAccountant": "ObjectNode",
    "diffprivlib.models.linear_regression.LinearRegression": "ObjectNode",
    "diffprivlib.models.logistic_regression.LogisticRegression": "ObjectNode",
    "diffprivlib.models.naive_bayes.GaussianNB": "ObjectNode",
    "diffprivlib.models.forest.DecisionTreeClassifier": "ObjectNode",
    "diffprivlib.models.forest.RandomForestClassifier": "ObjectNode",
}

#: Bounds on a skops archive, checked from its central directory before anything is read.
SKOPS_LIMITS: dict[str, int] = {
    "members": 100_000,          # a 500-tree forest has about 5,000
    "member_bytes": 1 << 30,     # one inflated member
    "total_bytes": 2 << 30,      # all members inflated
    "schema_bytes": 64 << 20,    # schema.json (arrays live in their own members)
    "ratio": 200,                # inflated / compressed, for members over 1 MiB
    "schema_nesting": 200,       # JSON levels of schema.json (tabinv's forests use 16)
}
_RATIO_FLOOR = 1 << 20
_IDS = re.compile(r'"__id__": -?\d+,? ?')
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


def _declared_members(data: bytes) -> int:
    """Member count from the end-of-central-directory record (zip64 aware)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return 0
    count = struct.unpack("<H", data[end + 10:end + 12])[0]
    locator = end - 20
    if count == 0xFFFF and locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        offset = struct.unpack("<Q", data[locator + 8:locator + 16])[0]
        if data[offset:offset + 4] == b"PK\x06\x06":
            count = struct.unpack("<Q", data[offset + 32:offset + 40])[0]
    return int(count)


def _check_members(infos: list[zipfile.ZipInfo], path: Any) -> None:
    limits = SKOPS_LIMITS
    total = 0
    for info in infos:
        name = shorten(info.filename)
        if info.flag_bits & 0x1:
            raise UnsafeModelError(f"refusing {path}: member {name} is encrypted")
        if info.compress_type not in _METHODS:
            raise UnsafeModelError(f"refusing {path}: member {name} uses compression method "
                                   f"{info.compress_type}; skops files use stored or deflate")
        if info.file_size > limits["member_bytes"]:
            raise UnsafeModelError(f"refusing {path}: member {name} inflates to "
                                   f"{format_bytes(info.file_size)}, above the limit of "
                                   f"{format_bytes(limits['member_bytes'])}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FLOOR and ratio > limits["ratio"]:
            raise UnsafeModelError(f"refusing {path}: member {name} inflates "
                                   f"{info.compress_size} bytes to {format_bytes(info.file_size)} "
                                   f"(ratio {ratio:.0f}, limit {limits['ratio']}): a zip bomb?")
        total += info.file_size
    if total > limits["total_bytes"]:
        raise UnsafeModelError(f"refusing {path}: its {len(infos)} members inflate to "
                               f"{format_bytes(total)}, above the limit of "
                               f"{format_bytes(limits['total_bytes'])}")


def _read_member(archive: zipfile.ZipFile, name: str, limit: int, path: Any) -> bytes:
    """A member's bytes, reading at most ``limit`` (declared sizes can lie)."""
    try:
        with archive.open(name) as member:
            data = member.read(limit + 1)
    except KeyError:
        raise ModelError(f"{path} is a zip archive without the skops member "
                         f"{shorten(name)}") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, RuntimeError,
            NotImplementedError) as error:
        raise ModelError(f"{path} is a zip archive but its member {shorten(name)} cannot be "
                         f"read ({error})") from None
    if len(data) > limit:
        raise UnsafeModelError(f"refusing {path}: member {shorten(name)} holds more than "
                               f"{format_bytes(limit)}")
    return data


def check_skops_archive(data: bytes, path: Any) -> None:
    """Refuse a skops file whose sizes, nesting or construction tabinv does not accept.

    Raises
    ------
    UnsafeModelError
        Too many members, declared sizes or a compression ratio over
        :data:`SKOPS_LIMITS` (schema nesting included), an encrypted member, a reviewed
        type built by another loader than its own, two different nodes sharing an id, or a
        Booster whose bytes fail a check.
    ModelError
        Not a readable zip archive with a ``schema.json``.
    """
    declared = _declared_members(data)
    if declared > SKOPS_LIMITS["members"]:
        raise UnsafeModelError(f"refusing {path}: its zip directory declares {declared} "
                               f"members, above the limit of {SKOPS_LIMITS['members']}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error,
            NotImplementedError) as error:
        raise ModelError(f"{path} is a zip archive but not a readable skops file "
                         f"(truncated or corrupt? {error})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > SKOPS_LIMITS["members"]:
            raise UnsafeModelError(f"refusing {path}: it has {len(infos)} members, above the "
                                   f"limit of {SKOPS_LIMITS['members']}")
        _check_members(infos, path)
        schema = _read_member(archive, "schema.json", SKOPS_LIMITS["schema_bytes"], path)
        depth = json_nesting(schema)
        if depth > SKOPS_LIMITS["schema_nesting"]:
            raise UnsafeModelError(f"refusing {path}: its schema.json nests {depth} levels "
                                   f"deep; tabinv reads at most "
                                   f"{SKOPS_LIMITS['schema_nesting']}")
        try:
            tree = json.loads(schema)
        except (ValueError, RecursionError) as error:
            raise ModelError(f"{path} is a zip archive but its schema.json is not valid JSON "
                             f"({error})") from None
        _audit(tree, archive, path)


def _audit(tree: Any, archive: zipfile.ZipFile, path: Any) -> None:
    """Every reviewed type must be built by its own loader; Boosters' bytes are checked.

    skops reuses the first node it meets for a repeated ``__id__``, so every node with an
    id already seen must have the same content (ids aside): what is checked is what is
    built, whichever copy skops meets first.
    """
    stack: list[Any] = [tree]
    ids: dict[str, Any] = {}
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        loader = node.get("__loader__")
        if loader is not None and loader != "CachedNode" and "__id__" in node:
            first = ids.setdefault(str(node["__id__"]), node)
            if first is not node and _canonical(first) != _canonical(node):
                raise UnsafeModelError(f"refusing {path}: its schema gives two different "
                                       f"nodes the id {shorten(node['__id__'])}")
        name = f"{node.get('__module__')}.{node.get('__class__')}"
        if loader is None or name not in REVIEWED_LOADERS:
            continue
        if loader != REVIEWED_LOADERS[name]:
            raise UnsafeModelError(
                f"refusing {path}: it builds {shorten(name)} with skops' {shorten(loader)} "
                f"(a call with arguments from the file, which could open a path); tabinv "
                f"accepts it only as {REVIEWED_LOADERS[name]}, the way save_model writes it")
        if name == "xgboost.core.Booster":
            _check_booster_bytes(node, archive, path)


def _canonical(node: Any) -> str:
    """A node's content without its nodes' ids (skops writes an object saved twice as two
    copies whose inner state dicts get fresh ids); NaN equals NaN here, unlike in ``==``."""
    return _IDS.sub("", json.dumps(node, sort_keys=True))


def _check_booster_bytes(node: dict[str, Any], archive: zipfile.ZipFile, path: Any) -> None:
    """A Booster's state must be a dict whose ``handle`` is a bytearray member of the
    archive holding a sound XGBoost document (XGBoost parses it natively)."""
    content = node.get("content")
    state = content.get("content") if isinstance(content, dict) else None
    handle = state.get("handle") if isinstance(state, dict) else None
    if not isinstance(handle, dict) or content.get("__loader__") != "DictNode" or \
            handle.get("__loader__") != "BytearrayNode":
        raise UnsafeModelError(f"refusing {path}: an xgboost.core.Booster's state must be a "
                               "dict whose 'handle' is the booster's bytes")
    member = str(handle.get("file", ""))
    raw = _read_member(archive, member, SKOPS_LIMITS["member_bytes"], path)
    what = f"xgboost.core.Booster bytes in {shorten(member)}"
    document = read_booster_document(raw, path, what)
    try:
        learner = document["Model"]["learner"] if "Model" in document else document["learner"]
    except (KeyError, TypeError):
        raise UnsafeModelError(f"refusing {path}: the {what} hold no XGBoost learner") from None
    check_learner(learner, what, path)
