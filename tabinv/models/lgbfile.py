"""LightGBM text model files read and checked in Python before LightGBM's parser sees them.

LightGBM's C++ parser trusts a model text: ``tree_sizes`` are byte offsets it jumps to
without a bounds check, a tree line without ``=`` makes it scan past the end of the
text, array lengths come from ``num_leaves`` / ``cat_boundaries``, and at prediction
``split_feature``, ``left_child`` / ``right_child`` and categorical thresholds index
arrays unchecked (a cycle of children never ends). :func:`check_lightgbm_text` therefore
reads the whole text with a strict grammar (known keys only, numbers only where numbers
belong, one ``\\n`` per line, no control characters) and checks every declared count,
index and number, so LightGBM only ever parses a text known to be sound.
:func:`load_lightgbm` is the loader of format ``lightgbm`` (:mod:`.formats`); the same
check runs on boosters already in memory (:mod:`.boosters`, :mod:`.validation`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import ModelError, UnsafeModelError
from ..text import shorten
from ..utils import format_bytes
from .refusal import must, refuse
from .xgbfile import json_nesting

__all__ = ["LightGBMText", "check_lightgbm_text", "describe_lightgbm", "import_lightgbm",
           "load_lightgbm", "read_lightgbm_text"]

#: The largest LightGBM model text read, and bounds on what it may declare (far above
#: any real model: LightGBM's own limit on num_leaves is 131072).
MAX_TEXT_BYTES = 256 << 20
MAX_LEAVES = 131_072
MAX_FEATURES = 1_000_000
MAX_CLASSES = 10_000
MAX_TREES = 1_000_000
MAX_CATEGORY_WORDS = 1 << 20
#: objectives whose predictions tabinv reads: name -> what the prediction is
OBJECTIVES = {"binary": "probability", "cross_entropy": "probability",
              "multiclass": "probabilities",
              **{name: "regression" for name in (
                  "regression", "regression_l1", "huber", "fair", "poisson", "quantile",
                  "mape", "gamma", "tweedie")}}
_HEADER = ("version", "num_class", "num_tree_per_iteration", "label_index",
           "max_feature_idx", "objective", "average_output", "feature_names",
           "feature_infos", "monotone_constraints", "tree_sizes")
#: tree keys: name -> (token kind, length: "leaves", "nodes", "cats+1", "words" or "1")
_TREE = {"num_leaves": ("int", "1"), "num_cat": ("int", "1"), "is_linear": ("int", "1"),
         "shrinkage": ("float", "1"), "leaf_value": ("float", "leaves"),
         "leaf_weight": ("float", "leaves"), "leaf_count": ("int", "leaves"),
         "split_feature": ("int", "nodes"), "split_gain": ("float", "nodes"),
         "threshold": ("float", "nodes"), "decision_type": ("int", "nodes"),
         "left_child": ("int", "nodes"), "right_child": ("int", "nodes"),
         "internal_value": ("float", "nodes"), "internal_weight": ("float", "nodes"),
         "internal_count": ("int", "nodes"), "cat_boundaries": ("int", "cats+1"),
         "cat_threshold": ("int", "words")}
_NEEDED = ("num_leaves", "num_cat", "leaf_value")
_SPLITS = ("split_feature", "threshold", "left_child", "right_child")
_INT = r"-?\d{1,10}"
_FLOAT = r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|nan)"
_ARRAYS = {"int": re.compile(rf"{_INT}(?: {_INT})*"),
           "float": re.compile(rf"{_FLOAT}(?: {_FLOAT})*")}
_PARAMETER = re.compile(r"\[[a-z0-9_]{1,64}: [^\[\]]{0,4096}\]")
_BAD_CHARACTERS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_PANDAS_KEY = "pandas_categorical:"


@dataclass(frozen=True)
class LightGBMText:
    """What a checked LightGBM model text declares."""

    objective: str
    num_class: int
    n_trees: int
    feature_names: tuple[str, ...]
    #: index of each categorical feature -> the integer categories it was trained on
    categorical: dict[int, tuple[int, ...]]
    #: the pandas categories of the DataFrame's category columns, in their order
    pandas_categorical: tuple[tuple[Any, ...], ...] | None

    @property
    def output(self) -> str:
        """``probability`` (binary), ``probabilities`` (multiclass) or ``regression``."""
        return OBJECTIVES[self.objective]


def import_lightgbm(origin: Any) -> Any:
    """The lightgbm package (an optional extra), or a ModelError saying how to get it."""
    try:
        import lightgbm
    except ImportError:
        raise ModelError(f"{origin} is a LightGBM model, but the lightgbm package is not "
                         "installed: pip install tabinv[lightgbm]") from None
    return lightgbm


def read_lightgbm_text(data: bytes, path: Any) -> str:
    """The model text of a file, bounded and decoded (UTF-8, ``\\n`` line ends, no control
    characters), or one clear error."""
    if len(data) > MAX_TEXT_BYTES:
        raise UnsafeModelError(f"refusing {path}: the LightGBM model takes "
                               f"{format_bytes(len(data))}; tabinv reads LightGBM models of "
                               f"at most {format_bytes(MAX_TEXT_BYTES)}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ModelError(f"{path}: the LightGBM model is not UTF-8 text (byte "
                         f"{error.start})") from None
    bad = _BAD_CHARACTERS.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise UnsafeModelError(f"refusing {path}: the LightGBM model has control character "
                               f"{bad.group()!r} on line {line} (LightGBM reads NUL-ended, "
                               "newline-separated text)")
    return text


def check_lightgbm_text(text: str, path: Any) -> LightGBMText:
    """Check a whole LightGBM model text (see the module docstring) and return what it
    declares. Raises UnsafeModelError naming the line or tree that fails a check."""
    lines = text.split("\n")
    must(lines[0] == "tree", path, "the LightGBM model", "its first line must be 'tree'")
    header, position = _header(lines, path)
    n_features = _integer(header.get("max_feature_idx"), 0, MAX_FEATURES - 1, path,
                          "the header", "max_feature_idx") + 1
    names = _names(header, n_features, path)
    categorical = _feature_infos(header.get("feature_infos"), n_features, path)
    objective, num_class, per_iteration = _objective(header, path)
    if "monotone_constraints" in header:
        _array(header["monotone_constraints"], "int", n_features, path, "the header",
               "monotone_constraints")
    blocks, position = _trees(lines, position, path)
    for number, (fields, _) in enumerate(blocks):
        _check_tree(fields, f"tree {number}", path, n_features)
    must(blocks and len(blocks) % per_iteration == 0, path, "the LightGBM model",
         f"it must hold trees, a multiple of num_tree_per_iteration {per_iteration}")
    if "tree_sizes" in header:
        sizes = _array(header["tree_sizes"], "int", len(blocks), path, "the header",
                       "tree_sizes (one per tree)")
        must(np.array_equal(sizes, [size for _, size in blocks]), path, "the header",
             "tree_sizes must be the byte length of each tree block")
    _trailer(lines, position, path)
    return LightGBMText(objective, num_class, len(blocks), names, categorical,
                        _pandas_categorical(text, len(categorical), path))


# -- the header ---------------------------------------------------------------------------
def _header(lines: list[str], path: Any) -> tuple[dict[str, str], int]:
    header: dict[str, str] = {}
    position = 1
    while position < len(lines) and lines[position] != "":
        key, equals, value = lines[position].partition("=")
        where = f"header line {position + 1}"
        must(key in _HEADER and (equals or key == "average_output"), path, where,
             f"{shorten(key)} is not a LightGBM header key ({', '.join(_HEADER)})")
        must(key not in header, path, where, f"{key} is given twice")
        header[key] = value
        position += 1
    for key in ("num_class", "label_index", "max_feature_idx", "objective",
                "feature_names", "feature_infos"):
        must(key in header, path, "the header", f"it must give {key}")
    _integer(header["label_index"], 0, MAX_FEATURES, path, "the header", "label_index")
    return header, position


def _names(header: dict[str, str], n_features: int, path: Any) -> tuple[str, ...]:
    names = tuple(header["feature_names"].split(" "))
    must(len(names) == n_features and all(names), path, "the header",
         f"feature_names must be {n_features} non-empty names (max_feature_idx + 1)")
    must(len(set(names)) == len(names), path, "the header", "feature_names repeat a name")
    return names


def _feature_infos(value: str | None, n_features: int, path: Any
                   ) -> dict[int, tuple[int, ...]]:
    infos = (value or "").split(" ")
    must(len(infos) == n_features, path, "the header",
         f"feature_infos must describe the {n_features} features")
    categorical: dict[int, tuple[int, ...]] = {}
    for index, info in enumerate(infos):
        if info == "none" or re.fullmatch(rf"\[{_FLOAT}:{_FLOAT}\]", info):
            continue
        must(re.fullmatch(rf"{_INT}(?::{_INT})*", info), path, "the header",
             f"feature_infos of feature {index} must be none, [min:max] or categories "
             f"a:b:c, not {shorten(info)}")
        categorical[index] = tuple(int(v) for v in info.split(":"))
    return categorical


def _objective(header: dict[str, str], path: Any) -> tuple[str, int, int]:
    name, *parameters = header["objective"].split(" ")
    must(name in OBJECTIVES, path, "the header",
         f"objective {shorten(name)} is not one tabinv reads ({', '.join(OBJECTIVES)})")
    values: dict[str, float] = {}
    for parameter in parameters:
        key, colon, number = parameter.partition(":")
        must(colon and re.fullmatch(r"[a-z_]{1,40}", key) and re.fullmatch(_FLOAT, number)
             and np.isfinite(float(number)), path, "the header",
             f"objective parameter {shorten(parameter)} must be name:number")
        values[key] = float(number)
    must(values.get("sigmoid", 1.0) > 0, path, "the header", "sigmoid must be > 0")
    num_class = _integer(header["num_class"], 1, MAX_CLASSES, path, "the header",
                         "num_class")
    per_iteration = _integer(header.get("num_tree_per_iteration", header["num_class"]), 1,
                             MAX_CLASSES, path, "the header", "num_tree_per_iteration")
    if name == "multiclass":
        must(num_class >= 2 and per_iteration == num_class
             and values.get("num_class", num_class) == num_class, path, "the header",
             "a multiclass model needs num_class >= 2 trees per iteration")
    else:
        must(num_class == 1 and per_iteration == 1, path, "the header",
             f"a {name} model has num_class 1 and one tree per iteration")
    return name, num_class, per_iteration


# -- the trees ----------------------------------------------------------------------------
def _trees(lines: list[str], position: int, path: Any
           ) -> tuple[list[tuple[dict[str, str], int]], int]:
    """Each tree block's fields and byte length (its ``Tree=`` line to the next one)."""
    blocks: list[tuple[dict[str, str], int]] = []
    position = _skip_blank(lines, position)
    while position < len(lines) and lines[position].startswith("Tree="):
        where = f"tree block at line {position + 1}"
        must(lines[position] == f"Tree={len(blocks)}", path, where,
             f"expected 'Tree={len(blocks)}'")
        must(len(blocks) < MAX_TREES, path, where, f"more than {MAX_TREES} trees")
        start, position = position, position + 1
        fields: dict[str, str] = {}
        while position < len(lines) and lines[position] != "":
            key, equals, value = lines[position].partition("=")
            must(equals and key in _TREE and key not in fields, path, where,
                 f"line {position + 1}: {shorten(key)} is not a tree key given once "
                 f"({', '.join(_TREE)})")
            fields[key] = value
            position += 1
        position = _skip_blank(lines, position)
        blocks.append((fields, sum(len(line) + 1 for line in lines[start:position])))
    must(position < len(lines) and lines[position] == "end of trees", path,
         "the LightGBM model", f"line {position + 1} must be a tree block or 'end of trees'"
         " (truncated?)")
    return blocks, position + 1


def _skip_blank(lines: list[str], position: int) -> int:
    while position < len(lines) and lines[position] == "":
        position += 1
    return position


def _check_tree(fields: dict[str, str], where: str, path: Any, n_features: int) -> None:
    """One tree's counts, arrays, indices and numbers (see the module docstring)."""
    for key in _NEEDED:
        must(key in fields, path, where, f"it must give {key}")
    leaves = _integer(fields["num_leaves"], 1, MAX_LEAVES, path, where, "num_leaves")
    nodes = leaves - 1
    n_cat = _integer(fields["num_cat"], 0, nodes, path, where, "num_cat (<= num_leaves - 1)")
    must(fields.get("is_linear", "0") == "0", path, where,
         "linear trees (is_linear=1) are not supported")
    lengths = {"1": 1, "leaves": leaves, "nodes": nodes, "cats+1": n_cat + 1}
    arrays: dict[str, np.ndarray] = {}
    for key, value in fields.items():
        kind, length = _TREE[key]
        if key == "cat_threshold" or (nodes == 0 and length in ("nodes", "cats+1")):
            continue
        arrays[key] = _array(value, kind, lengths[length], path, where, key)
    for key in ("leaf_value", "shrinkage"):
        must(np.isfinite(arrays.get(key, np.zeros(1))).all(), path, where,
             f"{key} must be finite")
    if nodes == 0:
        return
    for key in _SPLITS:
        must(key in arrays, path, where, f"a tree with {leaves} leaves must give {key}")
    feature = arrays["split_feature"]
    must(((feature >= 0) & (feature < n_features)).all(), path, where,
         f"split_feature must be a feature index in [0, {n_features})")
    must(np.isfinite(arrays["threshold"]).all(), path, where, "threshold must be finite")
    for key in ("split_gain", "internal_value", "internal_weight", "leaf_weight",
                "internal_count", "leaf_count"):
        must(key not in arrays or not np.isinf(arrays[key]).any(), path, where,
             f"{key} must not be infinite")
    _check_children(arrays["left_child"], arrays["right_child"], leaves, path, where)
    decision = arrays.get("decision_type", np.zeros(nodes, dtype=np.int64))
    must(((decision >= 0) & (decision <= 11)).all(), path, where,
         "decision_type must be in [0, 11] (categorical, default-left and missing-type "
         "bits)")
    _check_categorical(fields, decision, arrays, n_cat, path, where)


def _check_children(left: np.ndarray, right: np.ndarray, leaves: int, path: Any,
                    where: str) -> None:
    """From the root every internal node and every leaf is reached exactly once (a
    tree: no index out of range, no shared child, no cycle)."""
    nodes = leaves - 1
    for name, children in (("left_child", left), ("right_child", right)):
        must(((children < nodes) & (children >= -leaves)).all(), path, where,
             f"{name} must be an internal node in [0, {nodes}) or ~leaf with leaf in "
             f"[0, {leaves})")
    seen = np.zeros(nodes, dtype=bool)
    leaf_seen = np.zeros(leaves, dtype=bool)
    frontier = np.array([0])
    while frontier.size:
        must(not seen[frontier].any() and np.unique(frontier).size == frontier.size, path,
             where, "left_child / right_child must form a tree (a node is reached twice)")
        seen[frontier] = True
        children = np.r_[left[frontier], right[frontier]]
        reached = ~children[children < 0]
        must(not leaf_seen[reached].any() and np.unique(reached).size == reached.size,
             path, where, "left_child / right_child must reach each leaf once")
        leaf_seen[reached] = True
        frontier = children[children >= 0]
    must(seen.all() and leaf_seen.all(), path, where,
         "left_child / right_child must reach every node and leaf from the root")


def _check_categorical(fields: dict[str, str], decision: np.ndarray,
                       arrays: dict[str, np.ndarray], n_cat: int, path: Any,
                       where: str) -> None:
    categorical = (decision & 1) == 1
    if n_cat == 0:
        must(not categorical.any() and "cat_threshold" not in fields, path, where,
             "categorical splits need num_cat > 0")
        return
    must("cat_boundaries" in arrays and "cat_threshold" in fields, path, where,
         "a tree with num_cat > 0 must give cat_boundaries and cat_threshold")
    bounds = arrays["cat_boundaries"]
    words = int(bounds[-1])
    must(bounds[0] == 0 and (np.diff(bounds) >= 0).all() and words <= MAX_CATEGORY_WORDS,
         path, where, f"cat_boundaries must rise from 0 to at most {MAX_CATEGORY_WORDS}")
    bits = _array(fields["cat_threshold"], "int", words, path, where,
                  "cat_threshold (cat_boundaries[-1] words)")
    must(((bits >= 0) & (bits < 1 << 32)).all(), path, where,
         "cat_threshold must be 32-bit words")
    index = arrays["threshold"][categorical]
    must(int(categorical.sum()) == n_cat and (index == np.round(index)).all()
         and np.array_equal(np.sort(index), np.arange(n_cat)), path, where,
         f"the {n_cat} categorical splits must each name one of the num_cat bitsets "
         "as their threshold")


# -- after the trees ----------------------------------------------------------------------
def _trailer(lines: list[str], position: int, path: Any) -> None:
    """Feature importances (free text), the parameters section (``[key: value]``
    lines, which LightGBM turns into JSON) and the pandas categories line."""
    inside = False
    for number in range(position, len(lines)):
        line = lines[number]
        if line == "parameters:":
            inside = True
        elif line == "end of parameters":
            inside = False
        elif inside and line:
            must(_PARAMETER.fullmatch(line), path, f"line {number + 1}",
                 "a parameter line must be [name: value]")


def _pandas_categorical(text: str, n_categorical: int, path: Any
                        ) -> tuple[tuple[Any, ...], ...] | None:
    """The last line as lightgbm's Python package reads it (same slicing)."""
    last = text[text.rfind("\n", 0, -len(_PANDAS_KEY)):].strip()
    if not last.startswith(_PANDAS_KEY):
        return None
    raw = last[len(_PANDAS_KEY):]
    must(json_nesting(raw.encode()) <= 2, path, "pandas_categorical",
         "it must be null or a list of lists of categories")
    try:
        value = json.loads(raw)
    except ValueError:
        raise refuse(path, "pandas_categorical", "it is not valid JSON") from None
    if value is None:
        return None
    scalar = (str, int, float)
    must(isinstance(value, list) and len(value) <= n_categorical
         and all(isinstance(c, list) and all(isinstance(v, scalar) and not isinstance(v, bool)
                                             for v in c) for c in value)
         and all(np.isfinite(v) for c in value for v in c if isinstance(v, float)), path,
         "pandas_categorical", f"it must be at most {n_categorical} lists (one per "
         "categorical feature) of text or finite numbers")
    return tuple(tuple(c) for c in value)


# -- small readers ------------------------------------------------------------------------
def _integer(value: Any, low: int, high: int, path: Any, where: str, name: str) -> int:
    text = str(value)
    must(re.fullmatch(_INT, text) and low <= int(text) <= high, path, where,
         f"{name} must be an integer in [{low}, {high}], not {shorten(value)}")
    return int(text)


def _array(value: str, kind: str, length: int, path: Any, where: str,
           name: str) -> np.ndarray:
    """``length`` space-separated numbers of ``kind``, counted before they are parsed."""
    must(value.count(" ") + 1 == length, path, where,
         f"{name} must hold {length} numbers, not {value.count(' ') + 1}")
    must(_ARRAYS[kind].fullmatch(value), path, where,
         f"{name} must be {'integers' if kind == 'int' else 'numbers'} separated by "
         "single spaces")
    return np.array(value.split(" "), dtype=np.int64 if kind == "int" else float)


# -- the format's loader and describer ----------------------------------------------------
def load_lightgbm(path: Path, data: bytes, found: str, *, trust: bool) -> Any:
    """A ``lightgbm.Booster`` from a checked model text (the loader of format
    ``lightgbm``)."""
    text = read_lightgbm_text(data, path)
    check_lightgbm_text(text, path)
    lightgbm = import_lightgbm(path)
    try:
        return lightgbm.Booster(model_str=text)
    except Exception as error:  # whatever LightGBM raises on a text it cannot use
        reason = (str(error).strip().splitlines() or [""])[0][:160]
        raise ModelError(f"{path} is a LightGBM model text that LightGBM cannot read "
                         f"({type(error).__name__}: {reason})") from None


def describe_lightgbm(path: Path, data: bytes, chosen: Any) -> dict[str, Any]:
    """Objective, classes, trees and features of a LightGBM model file, after its checks."""
    facts = check_lightgbm_text(read_lightgbm_text(data, path), path)
    return {"objective": facts.objective, "num_class": facts.num_class,
            "trees": facts.n_trees, "features": list(facts.feature_names),
            "categorical_features": [facts.feature_names[i] for i in facts.categorical]}
