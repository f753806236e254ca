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

    [[entry]]
    name = "hospital-pipeline"     # a model tabinv did not train, with the owner's split
    model = "models/dose_pipe.skops"   # a scikit-learn Pipeline saved with skops
    trust = true                   # its types outside skops' trusted set (this entry only)
    card = "data/iwpc.toml"
    members = "data/train.csv"     # the records that trained it ...
    non_members = "data/holdout.csv"   # ... and records that did not
    reference = "data/public.csv"  # the attacker's own sample (default: half the non-members)
    feature_map = { vkorc1 = "VKORC1_genotype" }   # card column = "model input"

    [[entry]]
    name = "registry-champion"
    model = "models:/dose@champion"    # an MLflow registry URI (or an MLflow model folder)
    data_file = "data/all.csv"
    card = "data/iwpc.toml"
    member_column = "in_training"  # marks the members inside data_file

``model`` is a model file of any format tabinv reads (its own, or a scikit-learn estimator
or pipeline in skops / joblib / pickle, an XGBoost or LightGBM booster, an ONNX graph), an
MLflow model directory (a folder with an ``MLmodel`` file; ``format = "mlflow"``, implied)
or a ``models:/NAME/VERSION`` / ``models:/NAME@ALIAS`` URI of the MLflow registry that
``MLFLOW_TRACKING_URI`` (or ``MLFLOW_REGISTRY_URI``) names; a URI is not a path and is
never resolved relative to the inventory; or ``endpoint`` names a model server instead
(:mod:`.endpointkeys`). A model tabinv did not train needs the card of its data.

Every key of an entry may also sit in ``[defaults]`` (the model too), except ``name``
and the opt-ins that let a model run code, which must be written in the entry itself:
``allow_pickle = true`` (a pickle or joblib file, or an MLflow model's pickled flavour,
runs code when read), ``trust = true`` (skops types outside the reviewed set) and
``allow_code = true`` (code an MLflow model directory brings). The remaining keys are
``data_params`` (parameters of a built-in data set), ``known`` (columns the attacker
knows; default every other feature), ``decimals`` (with ``access = "rounded"``),
``attacks``, ``priors`` (``marginal``, ``learned``, ``published``,
``conditional:COL[,COL]``), ``attack_params`` (parameters of the attacks run, a table per
attack: ``{ csmia = { smoothing = 0.5 } }``; one in an entry replaces the one in
``[defaults]``), ``prior_table`` (a CSV of prior probabilities, used instead of
``priors``), ``label_source``, ``seed`` (of the member / non-member / reference split, as
in ``tabinv train --seed``, and of the attacks), ``n_boot``, ``positive`` (attribute ->
positive value), ``top_k``, ``min_cell`` (per-value and confusion counts of fewer records
are withheld; default 10, 0 withholds none), ``description``, ``feature_map`` (a table
``card column = "model input"`` for a model whose inputs have other names), ``classes``
(the label values of the model's probability columns in order, for a model that does not
say: raw boosters, ONNX graphs; checked against the model's own otherwise), for ONNX
models ``onnx_encoding`` (``onehot`` or ``ordinal``), ``onnx_classes`` (as ``classes``,
for ONNX only) and ``onnx_output``, and with a data file: ``ignore_columns`` (columns of
the file that are not in the card), ``clip`` or ``allow_out_of_bounds`` (numbers outside
the card's bounds clipped or kept instead of refused).

Which records trained the model: by default tabinv splits the data at random, as for a
model it trained (right for models it trained with the same seed only). The owner says
instead with ``members`` and ``non_members`` (files, with ``card``; not with ``data`` or
``data_file``) or with ``data_file`` and ``member_column`` (1/0, true/false, yes/no,
member/non-member), each optionally with ``reference`` (see
:func:`tabinv.core.inputs.given_splits`).
Two keys bound how an entry runs (not what it computes, so changing them never redoes a
finished entry): ``timeout`` (seconds of wall-clock time before the entry is stopped) and
``memory`` (its worker process's address space, e.g. ``"6GiB"``); they override the
command's ``--timeout`` and ``--entry-memory`` (600 s and 4 GiB by default).

An inventory may come from anyone: the files it names (model, data_file, card,
prior_table, members, non_members, reference) are resolved relative to its folder and
must stay inside that folder once symlinks are resolved, unless the user allows another
folder (``allow_paths``, on the command line ``tabinv batch --allow-path DIR``); an MLflow
model directory holds regular files and folders only (no link).

:func:`read_inventory` checks the whole file before any work starts and raises
:class:`InventoryError` listing every problem, each with its entry and key. It loads no
model and runs nothing: a registry URI is checked for its form only (it is resolved when
the entry's key is computed).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import TabinvError, closest
from ..text import QUOTE_LIMIT, shorten
from .checks import check_entry
from .endpointkeys import EndpointKeyError, endpoint_validators
from .entry import ACCESS, ENTRY_ONLY, FORMATS, PATH_KEYS, Entry
from .modelfiles import check_registry_uri, is_uri

__all__ = ["ACCESS", "FORMATS", "Entry", "Inventory", "InventoryError", "parse_inventory",
           "read_inventory"]

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
class Inventory:
    """The entries of an inventory file, in file order."""

    path: Path | None
    entries: tuple[Entry, ...]

    def __len__(self) -> int:
        return len(self.entries)


# -- reading ---------------------------------------------------------------------------
def read_inventory(path: str | Path, *, allow_paths: Sequence[str | Path] = ()) -> Inventory:
    """Read and validate an inventory file; paths in it are relative to its directory.

    Files it names must be inside that directory, or inside one of ``allow_paths``,
    after resolving symlinks.

    Raises
    ------
    InventoryError
        Listing every problem at once ("entry 'x', key 'y': ...").
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InventoryError(str(path), ["is not a regular file (a folder, a device or a pipe)"])
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InventoryError(str(path), ["the file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InventoryError(str(path), [f"cannot be read ({error})"]) from None
    except tomllib.TOMLDecodeError as error:
        raise InventoryError(str(path), [f"is not valid TOML: {error}"]) from None
    inventory = parse_inventory(raw, base=path.parent, origin=str(path),
                                allow_paths=allow_paths)
    return Inventory(path, inventory.entries)


def parse_inventory(raw: Mapping[str, Any], *, base: Path, origin: str = "inventory",
                    allow_paths: Sequence[str | Path] = ()) -> Inventory:
    """Validate a parsed inventory mapping (see the module docstring).

    ``base`` is the folder paths are relative to and must stay inside (symlinks resolved),
    with the folders of ``allow_paths``.
    """
    problems: list[str] = []
    folders = _Folders(base, allow_paths)
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
            why = "" if key == "name" else " (it lets that entry's model run code)"
            problems.append(f"[defaults], key {key!r}: must be set in each entry, not in "
                            f"[defaults]{why}")
    items = raw.get("entry", [])
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        problems.append("the inventory needs at least one [[entry]] table")
        items = []
    default_values = _convert(defaults, "[defaults]", folders, problems, entry_only=False)
    entries, names = [], set()
    for number, item in enumerate(items, start=1):
        where = f"entry {shorten(item['name'])}" if isinstance(item.get("name"), str) \
            else f"entry #{number}"
        values = {**default_values, **_convert(item, where, folders, problems,
                                               entry_only=True)}
        if "name" not in values and "name" not in item:
            problems.append(f"{where}: key 'name' is required")
        if "name" in values and values["name"] in names:
            problems.append(f"{where}: the name is used by an earlier entry; names must be "
                            "unique (each entry's results go to a directory of that name)")
        names.add(values.get("name"))
        entry = check_entry(values, where, problems, written=(set(item), set(defaults)))
        if entry is not None:
            entries.append(entry)
    if problems:
        raise InventoryError(origin, problems)
    return Inventory(None, tuple(entries))


# -- one key at a time -----------------------------------------------------------------
class _Bad(Exception):
    """A value of the wrong kind; the message says what was expected."""


def _quoted(value: Any) -> str:
    """``repr`` of a value from the file, shortened when long."""
    text = repr(value)
    return text if len(text) <= QUOTE_LIMIT else shorten(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected a non-empty string, got {_quoted(value)}")
    return value


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _Bad(f"{_quoted(value)} is not a valid entry name; use 1-100 letters, digits, "
                   "'.', '_' or '-', starting with a letter or digit")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise _Bad(f"{_quoted(value)} is not one of {', '.join(options)}"
                       f"{closest(str(value), options)}")
        return str(value)
    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_quoted(value)}")
    return value


def _integer(low: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _Bad(f"expected an integer >= {low}, got {_quoted(value)}")
        return value
    return check


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Bad(f"expected a list of strings, got {_quoted(value)}")
    return tuple(value)


def _sensitive(value: Any) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value:
        raise _Bad(f"expected a list of columns (a nested list is inferred jointly), got "
                   f"{_quoted(value)}")
    groups = [[v] if isinstance(v, str) else v for v in value]
    if not all(isinstance(g, list) and g and all(isinstance(c, str) for c in g)
               for g in groups):
        raise _Bad(f"expected column names or lists of column names, got {_quoted(value)}")
    return tuple(tuple(g) for g in groups)


def _table(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float, bool))
                                              for v in value.values()):
        raise _Bad(f"expected a table of simple values, got {_quoted(value)}")
    return dict(value)


def _attack_params(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise _Bad("expected a table per attack, e.g. { csmia = { smoothing = 0.5 } }, got "
                   f"{_quoted(value)}")
    return {name: _table(params) for name, params in value.items()}


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            0 < value < 10**9):
        raise _Bad(f"expected a number of seconds above 0, got {shorten(value)}")
    return float(value)


def _size(value: Any) -> int:
    from ..utils import parse_bytes

    try:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TabinvError("not a size")
        return parse_bytes(str(value))
    except TabinvError:
        raise _Bad(f"expected a size such as \"4GiB\" or \"512MiB\" (units B, KB, MB, GB, "
                   f"KiB, MiB, GiB, TiB) or a number of bytes, got {shorten(value)}") from None


def _values(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list) or len(value) < 2 or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        raise _Bad(f"expected a list of at least two label values, got {_quoted(value)}")
    if len(set(value)) != len(value):
        raise _Bad(f"a label value appears twice in {_quoted(value)}")
    return tuple(value)


def _feature_map(value: Any) -> dict[str, str]:
    from ..models.modelinputs import parse_feature_map

    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Bad("expected a table of card column = \"model input\", e.g. "
                   f"{{ vkorc1 = \"VKORC1\" }}, got {_quoted(value)}")
    try:
        return parse_feature_map(value)
    except TabinvError as error:
        raise _Bad(str(error)) from None


KEYS: dict[str, Callable[[Any], Any]] = {
    "name": _name, "model": _text, "format": _choice(FORMATS), "allow_pickle": _boolean,
    "trust": _boolean, "allow_code": _boolean, "members": _text, "non_members": _text,
    "reference": _text, "member_column": _text, "feature_map": _feature_map, "classes": _values,
    "data": _text, "data_params": _table, "data_file": _text, "card": _text,
    "label": _text, "sensitive": _sensitive, "known": _strings, "access": _choice(ACCESS),
    "decimals": _integer(0), "attacks": _strings, "attack_params": _attack_params,
    "priors": _strings, "prior_table": _text, "min_cell": _integer(0),
    "label_source": _choice(("true", "predicted")), "seed": _integer(0),
    "n_boot": _integer(1), "positive": _table, "top_k": _integer(1), "description": _text,
    "onnx_encoding": _choice(("onehot", "ordinal")), "onnx_classes": _values,
    "onnx_output": _text, "timeout": _seconds, "memory": _size,
    "ignore_columns": _strings, "clip": _boolean, "allow_out_of_bounds": _boolean,
    "membership_attacks": _strings, "shadows": _integer(2),
    **endpoint_validators(),
}


class _Folders:
    """The inventory's folder and the folders the user allowed, symlinks resolved."""

    def __init__(self, base: Path, allowed: Sequence[str | Path]) -> None:
        self.base = base
        self.roots = [Path(base).resolve(), *(Path(p).expanduser().resolve() for p in allowed)]

    def resolve(self, value: str) -> Path:
        """``value`` relative to the inventory, symlinks resolved; _Bad outside the roots."""
        try:
            resolved = (self.base / Path(value).expanduser()).resolve()
        except (OSError, RuntimeError, ValueError) as error:  # a loop, a NUL byte ...
            raise _Bad(f"{shorten(value)} cannot be resolved ({error})") from None
        if not any(resolved.is_relative_to(root) for root in self.roots):
            raise _Bad(f"{shorten(str(resolved), 200)} is outside the inventory's folder "
                       f"{shorten(str(self.roots[0]), 200)} (symlinks resolved); files "
                       "elsewhere need `--allow-path DIR` on the command line")
        return resolved


def _model_source(value: str) -> str:
    """A registry URI, checked for its form only (no registry is read)."""
    try:
        return check_registry_uri(value)
    except TabinvError as error:
        raise _Bad(str(error)) from None


def _convert(table: Mapping[str, Any], where: str, folders: _Folders, problems: list[str], *,
             entry_only: bool) -> dict[str, Any]:
    """Check each key's kind; resolve paths inside ``folders``. Bad keys are left out."""
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            problems.append(f"{where}: unknown key {key!r}{closest(key, KEYS)}")
            continue
        if key in ENTRY_ONLY and not entry_only:
            continue  # reported by the caller
        try:
            checked = KEYS[key](value)
            values[key] = _model_source(checked) if key == "model" and is_uri(checked) else \
                folders.resolve(checked) if key in PATH_KEYS else checked
        except (_Bad, EndpointKeyError) as bad:
            problems.append(f"{where}, key {key!r}: {bad}")
    return values


