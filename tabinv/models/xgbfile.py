"""XGBoost model documents read and checked in Python before XGBoost's own parser sees them.

XGBoost parses JSON and UBJSON recursively and trusts the sizes a document declares: a
document nested about 50,000 levels deep crashes the process, and a huge ``num_class``
makes it allocate gigabytes. :func:`read_booster_document` therefore bounds the nesting
depth (a cheap bracket scan for JSON, an iterative decoder for UBJSON) and
:func:`check_learner` checks every declared size, count and numeric array of the decoded
document, so XGBoost only ever parses a document that is known to be sound. The same
:func:`check_learner` validates boosters already in memory (see ``validation``).
"""

from __future__ import annotations

import json
import re
import struct
from typing import Any

import numpy as np

from ..exceptions import ModelError, UnsafeModelError
from ..text import shorten
from ..utils import format_bytes
from .refusal import must, refuse
from .xgbcats import check_categories, check_split_categories

__all__ = ["MAX_DOCUMENT_BYTES", "MAX_NESTING", "check_learner", "check_tree_document",
           "is_json", "json_nesting", "read_booster_document"]

#: XGBoost's own documents nest about ten levels; anything deeper is refused unparsed.
MAX_NESTING = 64
#: The largest XGBoost document decoded (Python holds a JSON one in about 4x its size).
MAX_DOCUMENT_BYTES = 256 << 20
#: Upper bounds on what a booster may declare (far above any model tabinv trains).
MAX_FEATURES = 1_000_000
MAX_GROUPS = 10_000
MAX_TREES = 1_000_000
MAX_NODES = 1 << 28

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_UBJ_SCALARS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q", b"d": ">f",
                b"D": ">d", b"C": ">c"}
_UBJ_CONSTANTS = {b"Z": None, b"T": True, b"F": False}


# -- reading a document without recursion ----------------------------------------------
def json_nesting(text: bytes) -> int:
    """Deepest bracket nesting of a JSON text, brackets inside strings not counted."""
    stripped = np.frombuffer(_STRING.sub(b'""', text), dtype=np.uint8)
    brackets = stripped[np.isin(stripped, (91, 93, 123, 125))]
    if not brackets.size:
        return 0
    return int(np.cumsum(np.where((brackets == 91) | (brackets == 123), 1, -1)).max())


def is_json(data: bytes) -> bool:
    """Whether an XGBoost document is JSON (``{"`` or ``{}``) rather than UBJSON."""
    stripped = data.lstrip()
    return stripped[:1] == b"{" and stripped[1:].lstrip()[:1] in (b'"', b"}")


def read_booster_document(data: bytes, path: Any, what: str = "XGBoost model") -> Any:
    """Decode an XGBoost JSON or UBJSON document after bounding its nesting depth.

    Raises UnsafeModelError for a document larger than :data:`MAX_DOCUMENT_BYTES` or nested
    deeper than :data:`MAX_NESTING`, and ModelError for one that is not well-formed.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnsafeModelError(f"refusing {path}: the {what} takes {format_bytes(len(data))}; "
                               f"tabinv reads XGBoost documents of at most "
                               f"{format_bytes(MAX_DOCUMENT_BYTES)}")
    if is_json(data):
        depth = json_nesting(data)
        if depth > MAX_NESTING:
            raise _nested(path, what, depth)
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as error:
            raise ModelError(f"{path}: the {what} is not valid JSON ({error})") from None
    return _UbjReader(data, path, what).document()


def _nested(path: Any, what: str, depth: int | str) -> UnsafeModelError:
    return UnsafeModelError(f"refusing {path}: the {what} nests {depth} levels deep; tabinv "
                            f"reads at most {MAX_NESTING} (deeper nesting crashes XGBoost)")


class _UbjReader:
    """An iterative UBJSON decoder (XGBoost's dialect: typed and counted containers)."""

    def __init__(self, data: bytes, path: Any, what: str) -> None:
        self.data, self.pos, self.path, self.what = data, 0, path, what

    def _fail(self, detail: str) -> ModelError:
        return ModelError(f"{self.path}: the {self.what} is not valid UBJSON ({detail} at "
                          f"byte {self.pos})")

    def _take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise self._fail(f"{size} bytes declared but {len(self.data) - self.pos} left")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def _scalar(self, marker: bytes) -> Any:
        if marker in _UBJ_CONSTANTS:
            return _UBJ_CONSTANTS[marker]
        if marker in (b"S", b"H"):
            return self._take(self._count()).decode("utf-8", "replace")
        if marker not in _UBJ_SCALARS:
            raise self._fail(f"unknown marker {marker!r}")
        fmt = _UBJ_SCALARS[marker]
        value = struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]
        return value.decode("latin-1") if marker == b"C" else value

    def _count(self) -> int:
        marker = self._take(1)
        if marker not in (b"i", b"U", b"I", b"l", b"L"):
            raise self._fail(f"a length must be an integer, not marker {marker!r}")
        count = int(self._scalar(marker))
        if count < 0 or count > len(self.data):
            raise self._fail(f"declared length {count} exceeds the file")
        return count

    def _open(self, marker: bytes) -> tuple[Any, int | None, bool]:
        """A container's start: (container or finished typed array, count, finished)."""
        kind = marker
        if self.data[self.pos:self.pos + 1] == b"$":
            self.pos += 1
            element = self._take(1)
            if self._take(1) != b"#" or element not in _UBJ_SCALARS or kind != b"[":
                raise self._fail("a typed container must be a counted array of numbers")
            count, fmt = self._count(), _UBJ_SCALARS[element]
            raw = self._take(count * struct.calcsize(fmt))
            return np.frombuffer(raw, dtype=np.dtype(fmt)).astype(fmt[1:]), 0, True
        count = None
        if self.data[self.pos:self.pos + 1] == b"#":
            self.pos += 1
            count = self._count()
        return ({} if kind == b"{" else []), count, False

    def document(self) -> Any:
        stack: list[list[Any]] = []  # [container, remaining count or None, pending key]
        root: list[Any] = []
        while True:
            top = stack[-1] if stack else None
            if top is not None and (top[1] == 0 or (top[1] is None and self.data[
                    self.pos:self.pos + 1] in (b"}", b"]"))):
                if top[1] is None:
                    self.pos += 1
                stack.pop()
                self._store(stack, root, top[0])
                if not stack:
                    break
                continue
            if top is not None and isinstance(top[0], dict):
                top[2] = self._take(self._count()).decode("utf-8", "replace")
            marker = self._take(1)
            while marker == b"N":
                marker = self._take(1)
            if marker in (b"{", b"["):
                container, count, done = self._open(marker)
                if done:
                    self._store(stack, root, container)
                else:
                    stack.append([container, count, None])
                    if len(stack) > MAX_NESTING:
                        raise _nested(self.path, self.what, f"more than {MAX_NESTING}")
                    continue
            else:
                self._store(stack, root, self._scalar(marker))
            if not stack:
                break
        return root[0]

    @staticmethod
    def _store(stack: list[list[Any]], root: list[Any], value: Any) -> None:
        if not stack:
            root.append(value)
            return
        top = stack[-1]
        if isinstance(top[0], dict):
            top[0][top[2]] = value
        else:
            top[0].append(value)
        if top[1] is not None:
            top[1] -= 1


# -- what a booster declares -----------------------------------------------------------
def _integer(value: Any, low: int, high: int, path: Any, where: str, name: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    must(number is not None and low <= number <= high, path, where,
         f"{name} must be an integer in [{low}, {high}], not {shorten(value)}")
    return number  # type: ignore[return-value]


def _floats(value: Any, path: Any, where: str, name: str) -> np.ndarray:
    try:
        values = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise refuse(path, where, f"{name} must be numbers") from None
    must(np.isfinite(values).all(), path, where, f"{name} must be finite")
    return values


def check_learner(learner: Any, where: str, path: Any) -> None:
    """Check every declared size, count and number of an XGBoost ``learner`` document."""
    try:
        params, gbm = learner["learner_model_param"], learner["gradient_booster"]
        gbm = gbm["gbtree"] if gbm["name"] == "dart" else gbm
        name, model = gbm["name"], gbm.get("model", {})
        trees, info = model.get("trees"), model.get("tree_info", [])
        attributes, declared = learner.get("attributes", {}), model.get("gbtree_model_param", {})
    except (KeyError, TypeError, AttributeError) as error:
        raise refuse(path, where, f"its model JSON is incomplete ({shorten(error)})") \
            from None
    must(all(isinstance(part, dict) for part in (params, attributes, declared)), path, where,
         "learner_model_param, attributes and gbtree_model_param must be objects")
    must(name == "gbtree" and isinstance(trees, list), path, where,
         f"the booster must be a tree booster, not {shorten(name)}")
    n_features = _integer(params.get("num_feature"), 1, MAX_FEATURES, path, where,
                          "num_feature")
    groups = max(_integer(params.get("num_class", 0), 0, MAX_GROUPS, path, where, "num_class"),
                 _integer(params.get("num_target", 1), 1, MAX_GROUPS, path, where,
                          "num_target"), 1)
    base = _floats(str(params.get("base_score", "0")).strip("[]").split(","), path, where,
                   "base_score")
    objective = learner["objective"].get("name") if isinstance(learner.get("objective"),
                                                              dict) else None
    if objective in ("binary:logistic", "reg:logistic"):  # a probability, turned to a margin
        must(((base > 0) & (base < 1)).all(), path, where,
             f"base_score of a {objective} booster must be a probability in (0, 1)")
    _check_forest(model, declared, (trees, info, groups), attributes, path, where)
    counts = check_categories(model.get("cats"), n_features, path, where)
    for number, tree in enumerate(trees):
        check_tree_document(tree, f"{where} tree {number}", path, n_features, counts)


def _check_forest(model: dict[str, Any], declared: dict[str, Any],
                  forest: tuple[list[Any], Any, int], attributes: dict[str, Any], path: Any,
                  where: str) -> None:
    trees, info, groups = forest
    n_trees = _integer(declared.get("num_trees", len(trees)), 0, MAX_TREES, path, where,
                       "num_trees")
    parallel = _integer(declared.get("num_parallel_tree", 1), 1, MAX_TREES, path, where,
                        "num_parallel_tree")
    tree_info = _floats(info, path, where, "tree_info")
    must(len(trees) == n_trees == tree_info.size
         and ((tree_info >= 0) & (tree_info < groups)).all(), path, where,
         f"num_trees, trees and tree_info must agree and give each tree an output group "
         f"in [0, {groups})")
    indptr = _floats(model.get("iteration_indptr", [0, n_trees]), path, where,
                     "iteration_indptr")
    must(indptr.size >= 1 and indptr[0] == 0 and indptr[-1] == n_trees
         and (np.diff(indptr) == parallel * groups).all(), path, where,
         f"iteration_indptr must rise from 0 to num_trees {n_trees} in steps of "
         f"num_parallel_tree x output groups = {parallel * groups}")
    best = attributes.get("best_iteration")
    if best is not None:
        _integer(best, 0, max(indptr.size - 2, 0), path, where,
                 f"best_iteration (of {indptr.size - 1} iterations)")


#: XGBoost's parent of the root
_NO_PARENT = 2147483647


def check_tree_document(tree: Any, where: str, path: Any, n_features: int,
                        counts: list[int] | None = None) -> None:
    """One XGBoost tree: sizes, child and parent indices, splits (categorical ones with
    their categories; ``counts``: each feature's number of categories, when the model
    keeps them) and finite values."""
    nodes = _node_arrays(tree, where, path)
    reached = _check_links(nodes, where, path, n_features)
    inner = np.flatnonzero(reached & (nodes["left_children"] != -1))
    check_split_categories(tree, nodes["split_type"], inner, nodes["split_indices"], counts,
                           path, where)
    condition, hessian, left, right = (nodes[key] for key in (
        "split_conditions", "sum_hessian", "left_children", "right_children"))
    must(np.isfinite(condition[reached]).all(), path, where,
         "split conditions and leaf values must be finite")
    must((np.isfinite(hessian[reached]) & (hessian[reached] >= 0)).all(), path, where,
         "sum_hessian (node weights) must be finite and non-negative")
    inner = np.flatnonzero(reached & (left != -1))
    must(np.allclose(hessian[inner], hessian[left[inner]] + hessian[right[inner]],
                     rtol=1e-3, atol=1e-6), path, where,
         "each node's sum_hessian must be the sum of its children's")


def _node_arrays(tree: Any, where: str, path: Any) -> dict[str, np.ndarray]:
    """The node arrays of a tree, each of length ``num_nodes``."""
    try:
        n = _integer(tree["tree_param"]["num_nodes"], 1, MAX_NODES, path, where, "num_nodes")
        nodes = {key: np.asarray(tree[key], dtype=np.int64).ravel() for key in (
            "left_children", "right_children", "split_indices", "split_type", "parents")}
        nodes.update({key: np.asarray(tree[key], dtype=float).ravel() for key in (
            "split_conditions", "sum_hessian")})
        vector = int(tree["tree_param"].get("size_leaf_vector", 1))
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as error:
        raise refuse(path, where, f"its node arrays are malformed ({shorten(error)})") \
            from None
    must(vector <= 1 and all(a.shape == (n,) for a in nodes.values()), path, where,
         f"num_nodes {n} must match every node array (scalar leaves only)")
    return nodes


def _check_links(nodes: dict[str, np.ndarray], where: str, path: Any,
                 n_features: int) -> np.ndarray:
    """Walk from the root checking child, parent and split indices; the nodes reached."""
    left, right, split, kind, parents = (nodes[key] for key in (
        "left_children", "right_children", "split_indices", "split_type", "parents"))
    n = left.size
    must(parents[0] == _NO_PARENT and ((parents[1:] >= 0) & (parents[1:] < n)).all(), path,
         where, f"parents must be indices in [0, {n}) ({_NO_PARENT} at the root)")
    reached = np.zeros(n, dtype=bool)
    frontier = np.array([0])
    while frontier.size:  # every child lies after its parent, so this ends
        reached[frontier] = True
        leaves, inner = frontier[left[frontier] == -1], frontier[left[frontier] != -1]
        must((right[leaves] == -1).all(), path, where,
             "left_children and right_children must both be -1 at leaves")
        children = np.r_[left[inner], right[inner]]
        must(((children > np.tile(inner, 2)) & (children < n)).all()
             and not reached[children].any() and np.unique(children).size == children.size,
             path, where, f"each child index must be a later node in [0, {n}) with one parent")
        must((parents[children] == np.tile(inner, 2)).all(), path, where,
             "each node's parent must be the node that lists it as a child")
        must(((split[inner] >= 0) & (split[inner] < n_features)
              & ((kind[inner] == 0) | (kind[inner] == 1))).all(),
             path, where, f"splits must be numerical on a feature in [0, {n_features}) "
             "or categorical (split_type 1)")
        frontier = children
    return reached
