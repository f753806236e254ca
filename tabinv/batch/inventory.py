"""Model inventories: a TOML file listing the models to assess, validated up front.

An inventory has an optional ``[defaults]`` table and one ``[[entry]]`` table per model::

    [defaults]
    data = "iwpc"                  # a built-in data set ...
    n_boot = 100
    attacks = ["map"]
    priors = ["marginal"]

    [[entry]]
    name = "site-a-dosing"         # letters, digits, '.', '_', '-' (a directory name)
    model = "models/site-a.skops"  # relative to the inventory file
    format = "skops"               # skops | xgboost-json | xgboost-ubj | onnx | pickle | joblib
    label = "dose"
    sensitive = ["vkorc1", "cyp2c9"]   # inferred one at a time; ["a", ["b", "c"]] = b+c jointly
    access = "confidences"         # confidences | rounded (+ decimals) | label-only | white-box

    [[entry]]
    name = "clinic-risk"
    model = "models/risk.onnx"
    format = "onnx"                # the graph takes the card-encoded float matrix (see below)
    data_file = "data/clinic.csv"  # ... or a CSV / Parquet file with its card
    card = "data/clinic.toml"
    access = "label-only"

Every other key of an entry may also sit in ``[defaults]``, except ``name``, ``model`` and
``allow_pickle``: a pickle or joblib file runs code when read, so it is accepted only with
``allow_pickle = true`` written in that entry itself. The remaining keys are ``data_params``
(parameters of a built-in data set), ``known`` (columns the attacker knows; default every
other feature), ``decimals`` (with ``access = "rounded"``), ``attacks``, ``priors``
(``marginal``, ``learned``, ``published``, ``conditional:COL[,COL]``), ``prior_table`` (a
CSV of prior probabilities, used instead of ``priors``), ``label_source``, ``seed`` (of the
member / non-member / reference split, as in ``tabinv train --seed``, and of the attacks),
``n_boot``, ``positive`` (attribute -> positive value), ``top_k``, ``description``, and for
ONNX models ``onnx_encoding`` (``onehot`` or ``ordinal``), ``onnx_classes`` (label values of
the probability columns, default the label's whole domain) and ``onnx_output``.

:func:`read_inventory` checks the whole file before any work starts and raises
:class:`InventoryError` listing every problem, each with its entry and key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import TabinvError, closest

__all__ = ["ACCESS", "FORMATS", "Entry", "Inventory", "InventoryError", "parse_inventory",
           "read_inventory"]

FORMATS = ("skops", "xgboost-json", "xgboost-ubj", "onnx", "pickle", "joblib")
PICKLE_FORMATS = ("pickle", "joblib")
ACCESS = ("confidences", "rounded", "label-only", "white-box")
SUFFIX_FORMATS = {".skops": "skops", ".json": "xgboost-json", ".ubj": "xgboost-ubj",
                  ".onnx": "onnx", ".pkl": "pickle", ".pickle": "pickle", ".joblib": "joblib"}
ENTRY_ONLY = ("name", "model", "allow_pickle")
PATH_KEYS = ("model", "data_file", "card", "prior_table")
ONNX_KEYS = ("onnx_encoding", "onnx_classes", "onnx_output")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class InventoryError(TabinvError, ValueError):
    """The inventory file has problems; ``problems`` lists each one (entry and key)."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = list(problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"inventory {origin} has {count}:\n" +
                         "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Entry:
    """One validated inventory entry, with defaults applied and paths resolved."""

    name: str
    model: Path
    format: str
    label: str
    sensitive: tuple[tuple[str, ...], ...]
    data: str | None = None
    data_params: Mapping[str, Any] = field(default_factory=dict)
    data_file: Path | None = None
    card: Path | None = None
    known: tuple[str, ...] | None = None
    access: str = "confidences"
    decimals: int | None = None
    attacks: tuple[str, ...] = ("map",)
    priors: tuple[str, ...] = ("marginal", "learned")
    prior_table: Path | None = None
    label_source: str = "true"
    seed: int = 0
    n_boot: int = 200
    positive: Mapping[str, Any] = field(default_factory=dict)
    top_k: int = 100
    allow_pickle: bool = False
    onnx_encoding: str = "onehot"
    onnx_classes: tuple[Any, ...] | None = None
    onnx_output: str | None = None
    description: str = ""

    def files(self) -> dict[str, Path]:
        """The files this entry reads, by key."""
        return {key: getattr(self, key) for key in PATH_KEYS if getattr(self, key) is not None}

    def settings(self) -> dict[str, Any]:
        """Every setting except file paths (their bytes are hashed instead), JSON-ready."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__
                  if name not in PATH_KEYS}
        values["sensitive"] = [list(group) for group in self.sensitive]
        for name in ("data_params", "positive"):
            values[name] = dict(values[name])
        for name in ("known", "attacks", "priors", "onnx_classes"):
            values[name] = None if values[name] is None else list(values[name])
        return values

    @property
    def data_name(self) -> str:
        return self.data if self.data is not None else str(self.data_file.name
                                                           if self.data_file else "")


@dataclass(frozen=True)
class Inventory:
    """The entries of an inventory file, in file order."""

    path: Path | None
    entries: tuple[Entry, ...]

    def __len__(self) -> int:
        return len(self.entries)


# -- reading ---------------------------------------------------------------------------
def read_inventory(path: str | Path) -> Inventory:
    """Read and validate an inventory file; paths in it are relative to its directory.

    Raises
    ------
    InventoryError
        Listing every problem at once ("entry 'x', key 'y': ...").
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InventoryError(str(path), ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InventoryError(str(path), [f"cannot be read ({error})"]) from None
    except tomllib.TOMLDecodeError as error:
        raise InventoryError(str(path), [f"is not valid TOML: {error}"]) from None
    inventory = parse_inventory(raw, base=path.parent, origin=str(path))
    return Inventory(path, inventory.entries)


def parse_inventory(raw: Mapping[str, Any], *, base: Path, origin: str = "inventory"
                    ) -> Inventory:
    """Validate a parsed inventory mapping (see the module docstring)."""
    problems: list[str] = []
    for key in raw:
        if key not in ("defaults", "entry"):
            problems.append(f"top level: unknown key {key!r}{closest(key, ['defaults', 'entry'])}"
                            "; an inventory has [defaults] and [[entry]] tables")
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append("[defaults] must be a table")
        defaults = {}
    for key in ENTRY_ONLY:
        if key in defaults:
            problems.append(f"[defaults], key {key!r}: must be set in each entry, not in "
                            "[defaults]")
    items = raw.get("entry", [])
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        problems.append("the inventory needs at least one [[entry]] table")
        items = []
    default_values = _convert(defaults, "[defaults]", base, problems, entry_only=False)
    entries, names = [], set()
    for number, item in enumerate(items, start=1):
        where = f"entry {item.get('name')!r}" if isinstance(item.get("name"), str) \
            else f"entry #{number}"
        values = {**default_values, **_convert(item, where, base, problems, entry_only=True)}
        problems += [f"{where}: key {key!r} is required" for key in ("name", "model")
                     if key not in item]
        if "name" in values and values["name"] in names:
            problems.append(f"{where}: the name is used by an earlier entry; names must be "
                            "unique (each entry's results go to a directory of that name)")
        names.add(values.get("name"))
        entry = _check_entry(values, where, problems)
        if entry is not None:
            entries.append(entry)
    if problems:
        raise InventoryError(origin, problems)
    return Inventory(None, tuple(entries))


# -- one key at a time -----------------------------------------------------------------
class _Bad(Exception):
    """A value of the wrong kind; the message says what was expected."""


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected a non-empty string, got {value!r}")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _Bad(f"{value!r} is not a valid entry name; use 1-100 letters, digits, '.', '_' "
                   "or '-', starting with a letter or digit")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise _Bad(f"{value!r} is not one of {', '.join(options)}"
                       f"{closest(str(value), options)}")
        return str(value)
    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {value!r}")
    return value


def _integer(low: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _Bad(f"expected an integer >= {low}, got {value!r}")
        return value
    return check


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Bad(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _sensitive(value: Any) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value:
        raise _Bad(f"expected a list of columns (a nested list is inferred jointly), got "
                   f"{value!r}")
    groups = [[v] if isinstance(v, str) else v for v in value]
    if not all(isinstance(g, list) and g and all(isinstance(c, str) for c in g)
               for g in groups):
        raise _Bad(f"expected column names or lists of column names, got {value!r}")
    return tuple(tuple(g) for g in groups)


def _table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float, bool))
                                              for v in value.values()):
        raise _Bad(f"expected a table of simple values, got {value!r}")
    return dict(value)


def _values(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list) or len(value) < 2 or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        raise _Bad(f"expected a list of at least two label values, got {value!r}")
    return tuple(value)


KEYS: dict[str, Callable[[Any], Any]] = {
    "name": _name, "model": _text, "format": _choice(FORMATS), "allow_pickle": _boolean,
    "data": _text, "data_params": _table, "data_file": _text, "card": _text,
    "label": _text, "sensitive": _sensitive, "known": _strings, "access": _choice(ACCESS),
    "decimals": _integer(0), "attacks": _strings, "priors": _strings, "prior_table": _text,
    "label_source": _choice(("true", "predicted")), "seed": _integer(0),
    "n_boot": _integer(1), "positive": _table, "top_k": _integer(1), "description": _text,
    "onnx_encoding": _choice(("onehot", "ordinal")), "onnx_classes": _values,
    "onnx_output": _text,
}


def _convert(table: Mapping[str, Any], where: str, base: Path, problems: list[str], *,
             entry_only: bool) -> dict[str, Any]:
    """Check each key's kind; resolve paths against ``base``. Bad keys are left out."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            problems.append(f"{where}: unknown key {key!r}{closest(key, KEYS)}")
            continue
        if key in ENTRY_ONLY and not entry_only:
            continue  # reported by the caller
        try:
            values[key] = KEYS[key](value)
        except _Bad as bad:
            problems.append(f"{where}, key {key!r}: {bad}")
            continue
        if key in PATH_KEYS:
            values[key] = (base / Path(values[key]).expanduser()).resolve()
    return values


def format_for(path: Path) -> str | None:
    """The format a model file's suffix suggests (None when the suffix says nothing)."""
    return SUFFIX_FORMATS.get(path.suffix.lower())


# -- an entry as a whole -----------------------------------------------------------------
def _check_entry(values: dict[str, Any], where: str, problems: list[str]) -> Entry | None:
    """Cross-key and card-aware checks; returns the Entry when this one has no problem."""
    before = len(problems)
    chosen = _check_format(values, where, problems)
    _check_files(values, where, problems)
    _check_access(values, chosen, where, problems)
    card, strict = _check_data(values, where, problems)
    label = values.get("label") or (card.label if card is not None else None)
    sensitive = values.get("sensitive") or (
        tuple((name,) for name in card.sensitive) if card is not None else None)
    if card is not None and label is not None:
        _check_columns(values, card, label, sensitive or (), strict, where, problems)
    if sensitive is None and card is not None:
        problems.append(f"{where}, key 'sensitive': required (the card lists no sensitive "
                        "columns)")
    _check_attacks(values, where, problems)
    if len(problems) > before or label is None or sensitive is None or chosen is None \
            or "name" not in values or "model" not in values:
        return None
    fields = {k: v for k, v in values.items() if k in Entry.__dataclass_fields__}
    return Entry(**{**fields, "format": chosen, "label": label, "sensitive": sensitive})


def _check_format(values: dict[str, Any], where: str, problems: list[str]) -> str | None:
    chosen = values.get("format")
    if chosen is None and "model" in values:
        chosen = format_for(values["model"])
        if chosen is None:
            problems.append(f"{where}, key 'format': {values['model'].name} has no suffix "
                            f"tabinv knows; set format to one of {', '.join(FORMATS)}")
    if chosen in PICKLE_FORMATS and values.get("allow_pickle") is not True:
        problems.append(f"{where}, key 'format': a {chosen} file runs code when it is read; "
                        "set allow_pickle = true in this entry only if you trust its source")
    if values.get("allow_pickle") and chosen not in PICKLE_FORMATS:
        problems.append(f"{where}, key 'allow_pickle': applies to format 'pickle' or 'joblib' "
                        f"only, not {chosen!r}")
    for key in ONNX_KEYS:
        if key in values and chosen != "onnx":
            problems.append(f"{where}, key {key!r}: applies to format 'onnx' only")
    return chosen


def _check_files(values: dict[str, Any], where: str, problems: list[str]) -> None:
    for key in PATH_KEYS:
        path = values.get(key)
        if path is not None and not path.is_file():
            state = "is not a file" if path.exists() else "does not exist"
            problems.append(f"{where}, key {key!r}: {path} {state}")


def _check_access(values: dict[str, Any], chosen: str | None, where: str,
                  problems: list[str]) -> None:
    access = values.get("access", "confidences")
    if (access == "rounded") != ("decimals" in values):
        problems.append(f"{where}, key 'decimals': give decimals with access = 'rounded', "
                        "and only then")
    if chosen == "onnx" and access == "white-box":
        problems.append(f"{where}, key 'access': an ONNX model is assessed as a black box "
                        "(confidences, rounded or label-only); white-box attacks need a "
                        "skops or XGBoost model file")


def _check_data(values: dict[str, Any], where: str, problems: list[str]) -> tuple[Any, bool]:
    """The entry's card (or None) and whether every column must be in it."""
    from ..data.registry import builtin_card, builtin_parameters
    from ..data.schema import read_card

    builtin, file = values.get("data"), values.get("data_file")
    if (builtin is None) == (file is None):
        problems.append(f"{where}, key 'data': give either data = a built-in data set or "
                        "data_file = a CSV/Parquet file (with card), not both or neither")
        return None, False
    if file is not None and "card" not in values:
        problems.append(f"{where}, key 'card': data_file needs a card describing its columns")
    for key in ("card",) if builtin is not None else ("data_params",):
        if key in values:
            problems.append(f"{where}, key {key!r}: applies to "
                            f"{'data_file' if key == 'card' else 'a built-in data set'} only")
    try:
        if builtin is not None:
            accepted = builtin_parameters(builtin)
            unknown = sorted(set(values.get("data_params", {})) - set(accepted))
            if unknown:
                problems.append(f"{where}, key 'data_params': {builtin!r} has no parameter(s) "
                                f"{unknown}; it takes {sorted(accepted) or 'none'}")
            # a data set with parameters may add columns to its card when loaded
            return builtin_card(builtin), not accepted
        card = values.get("card")
        if card is None or not card.is_file():
            return None, False
        return read_card(card), True
    except TabinvError as error:
        key = "data" if builtin is not None else "card"
        problems.append(f"{where}, key {key!r}: {error}")
        return None, False


def _check_columns(values: dict[str, Any], card: Any, label: str,
                   sensitive: tuple[tuple[str, ...], ...], strict: bool, where: str,
                   problems: list[str]) -> None:
    names = card.column_names
    if label not in names:
        problems.append(f"{where}, key 'label': {label!r} is not a column of the card"
                        f"{closest(label, names)}")
        return
    flat = [name for group in sensitive for name in group]
    known = values.get("known") or ()
    priors = [p.partition(":")[2] for p in values.get("priors", ()) if ":" in p]
    given = [c for text in priors for c in text.split(",") if c]
    for key, columns in (("sensitive", flat), ("known", known), ("priors", given),
                         ("positive", list(values.get("positive", {})))):
        for column in columns:
            if column not in names:
                if strict:
                    problems.append(f"{where}, key {key!r}: {column!r} is not a column of the "
                                    f"card{closest(column, names)}")
            elif key == "sensitive" and not card.column(column).is_categorical:
                problems.append(f"{where}, key 'sensitive': {column!r} is numeric; attacks "
                                "infer categorical columns")
    for key, bad in (("sensitive", [c for c in flat if c == label]),
                     ("known", [c for c in known if c in flat or c == label]),
                     ("positive", [c for c in values.get("positive", {}) if c not in flat])):
        if bad:
            problems.append(f"{where}, key {key!r}: {sorted(set(bad))} cannot be used here "
                            "(the label is neither sensitive nor known; positive values are "
                            "for sensitive columns; known columns cannot be sensitive)")
    regression = not card.column(label).is_categorical
    if regression and values.get("access") in ("rounded", "label-only"):
        problems.append(f"{where}, key 'access': {values['access']!r} applies to "
                        f"classifiers; the label {label!r} is numeric (a regression)")


def _check_attacks(values: dict[str, Any], where: str, problems: list[str]) -> None:
    from ..attacks.base import ATTACKS

    access = values.get("access", "confidences")
    for name in values.get("attacks", ()):
        if name == "all":
            continue
        if name not in ATTACKS:
            problems.append(f"{where}, key 'attacks': unknown attack {name!r}"
                            f"{closest(name, ATTACKS)}; attacks are: "
                            f"{', '.join(sorted(ATTACKS))}, all")
        elif ATTACKS[name].needs_white_box and access != "white-box":
            problems.append(f"{where}, key 'attacks': {name!r} reads the model's structure; "
                            "it needs access = 'white-box'")
    for prior in values.get("priors", ()):
        kind, _, given = prior.partition(":")
        if kind not in ("marginal", "learned", "published", "conditional") or \
                (kind == "conditional") != bool(given):
            problems.append(f"{where}, key 'priors': {prior!r} is not marginal, learned, "
                            "published or conditional:COL[,COL]")
