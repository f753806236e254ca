"""Dataset cards: the public description of a table (columns, domains, bounds, roles).

A card is a small TOML file. Everything an attack or a DP model needs to know about a
column without looking at the data (its categories, its public bounds) lives here, so
that nothing sensitive is ever derived from the records themselves.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..exceptions import CardError, ColumnError, closest
from ..text import shorten

__all__ = ["Column", "Card", "read_card", "card_from_dict"]

ColumnKind = Literal["categorical", "numeric"]
TARGET_TRANSFORMS = ("identity", "sqrt")
#: largest card file read (a card lists columns; 64 MiB holds millions of them)
CARD_LIMIT = 64 * 2**20


@dataclass(frozen=True)
class Derivation:
    """How a categorical column is computed from another column of the same card when a
    table is read (so a count does not need preprocessing before tabinv reads it).

    ``above``: values of ``source`` greater than it give the domain's second value, the
    others its first (``affairs > 0`` -> ``yes`` / ``no``). ``mapping``: each value of
    ``source`` (as text) -> a domain value; a value it does not list is an error.
    """

    source: str
    above: float | None = None
    mapping: tuple[tuple[str, Any], ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.above is not None:
            return {"from": self.source, "above": self.above}
        return {"from": self.source, "map": dict(self.mapping or ())}


@dataclass(frozen=True)
class Column:
    """One column of a card.

    Parameters
    ----------
    name : str
        Column name in the clean table.
    kind : {"categorical", "numeric"}
        Categorical columns have a finite ``domain``; numeric ones may have public
        ``bounds``.
    domain : tuple, optional
        Allowed values of a categorical column, in a fixed order (the encoding order).
    bounds : tuple of float, optional
        Public (never data-derived) lower and upper bound of a numeric column.
    description : str
        What the column means, for people.
    encoding : {"ordinal"}, optional
        ``ordinal``: a categorical column models always see as its category index (a SNP
        dosage 0/1/2); by default the model family decides.
    bounds_from_data : bool
        The bounds were read from the data (``tabinv card draft``), not from public
        knowledge: differentially private training refuses them until a person checks
        them and sets it to false.
    derive : Derivation, optional
        The column is computed from another column when a table is read (``derive =
        { from = "affairs", above = 0 }`` or ``{ from = "code", map = { 1 = "no", ... } }``).
    """

    name: str
    kind: ColumnKind
    domain: tuple[Any, ...] | None = None
    bounds: tuple[float, float] | None = None
    description: str = ""
    encoding: str | None = None
    bounds_from_data: bool = False
    derive: Derivation | None = None

    @property
    def is_categorical(self) -> bool:
        return self.kind == "categorical"


@dataclass(frozen=True)
class Card:
    """A dataset card: source, cleaning, column schema and the roles of the columns."""

    name: str
    title: str
    columns: tuple[Column, ...]
    label: str
    task: Literal["regression", "classification"]
    features: tuple[str, ...]
    sensitive: tuple[str, ...] = ()
    target_transform: str = "identity"
    source: str = ""
    citation: str = ""
    licence: str = ""
    description: str = ""
    cleaning: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def column(self, name: str) -> Column:
        """Return the column called ``name``; raise :class:`ColumnError` naming close matches."""
        for column in self.columns:
            if column.name == name:
                return column
        raise ColumnError(
            f"column {shorten(name)} is not in the {shorten(self.name)} card"
            f"{closest(name, self.column_names)}; columns are: "
            f"{', '.join(shorten(c, 30) for c in self.column_names[:30])}"
            + (f" ... ({len(self.column_names)} columns)" if len(self.column_names) > 30
               else "")
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def with_label(self, label: str) -> Card:
        """The same card with another column as the label (features exclude it)."""
        column = self.column(label)
        task = "classification" if column.is_categorical else "regression"
        transform = self.target_transform if label == self.label else "identity"
        features = tuple(f for f in self.features if f != label)
        return _replace(self, label=label, task=task, target_transform=transform,
                        features=features)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view of the card (used in reports and model metadata)."""
        return {
            "name": self.name, "title": self.title, "label": self.label, "task": self.task,
            "features": list(self.features), "sensitive": list(self.sensitive),
            "target_transform": self.target_transform, "source": self.source,
            "citation": self.citation, "licence": self.licence,
            "description": self.description, "cleaning": list(self.cleaning),
            "columns": {
                c.name: {k: v for k, v in (
                    ("kind", c.kind),
                    ("domain", list(c.domain) if c.domain is not None else None),
                    ("bounds", list(c.bounds) if c.bounds is not None else None),
                    ("description", c.description or None),
                    ("encoding", c.encoding),
                    ("bounds_from_data", True if c.bounds_from_data else None),
                    ("derive", c.derive.to_dict() if c.derive is not None else None),
                ) if v is not None}
                for c in self.columns
            },
            **({"extra": self.extra} if self.extra else {}),
        }


def _replace(card: Card, **changes: Any) -> Card:
    from dataclasses import replace
    return replace(card, **changes)


def read_card(path: str | Path) -> Card:
    """Read a dataset card from a TOML file.

    Raises
    ------
    CardError
        If the file is missing, is not TOML, or describes an inconsistent schema.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise CardError(f"card file {str(path)!r} is not a regular file (a folder, a device "
                        "or a pipe)")
    if path.is_file() and path.stat().st_size > CARD_LIMIT:
        raise CardError(f"card file {str(path)!r} is {path.stat().st_size} bytes; a card is "
                        f"at most {CARD_LIMIT} bytes")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CardError(f"card file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CardError(f"card file {str(path)!r} is not valid TOML: {error}") from None
    return card_from_dict(raw, origin=str(path))


def _parse_column(name: str, spec: Any, origin: str) -> Column:
    if not isinstance(spec, dict):
        raise CardError(f"{origin}: [columns.{shorten(name)}] must be a table")
    kind = spec.get("kind")
    if kind not in ("categorical", "numeric"):
        raise CardError(
            f"{origin}: column {shorten(name)} has kind {shorten(kind)}; expected "
            "'categorical' or 'numeric'"
        )
    domain = spec.get("domain")
    bounds = spec.get("bounds")
    if kind == "categorical":
        if not isinstance(domain, list) or len(domain) < 2:
            raise CardError(
                f"{origin}: categorical column {shorten(name)} needs a 'domain' list of at least "
                "two values"
            )
        if not all(isinstance(v, (str, int, float)) for v in domain):
            raise CardError(f"{origin}: column {shorten(name)} has a domain value that is "
                            "not a string or a number")
        if len(set(domain)) != len(domain):
            raise CardError(f"{origin}: column {shorten(name)} lists a value twice in its "
                            "domain")
        domain = tuple(domain)
    if bounds is not None:
        if (not isinstance(bounds, list) or len(bounds) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool)
                           and math.isfinite(b) for b in bounds)
                or bounds[0] >= bounds[1]):
            raise CardError(
                f"{origin}: column {shorten(name)} has bounds {shorten(bounds)}; expected "
                "[low, high] with finite low < high"
            )
        bounds = (float(bounds[0]), float(bounds[1]))
    encoding = spec.get("encoding")
    if encoding not in (None, "ordinal"):
        raise CardError(f"{origin}: column {shorten(name)} has encoding "
                        f"{shorten(encoding)}; the only encoding a card can force is "
                        "'ordinal'")
    if encoding is not None and kind != "categorical":
        raise CardError(f"{origin}: column {shorten(name)} is numeric; only categorical columns "
                        "take an encoding")
    from_data = spec.get("bounds_from_data", False)
    if not isinstance(from_data, bool) or (from_data and bounds is None):
        raise CardError(f"{origin}: column {shorten(name)} has bounds_from_data "
                        f"{shorten(from_data)}; expected true or false, and true only with "
                        "bounds")
    return Column(name=name, kind=kind, domain=domain, bounds=bounds,
                  description=str(spec.get("description", "")), encoding=encoding,
                  bounds_from_data=from_data,
                  derive=_derivation(name, spec.get("derive"), domain, origin))


def _derivation(name: str, spec: Any, domain: tuple[Any, ...] | None, origin: str
                ) -> Derivation | None:
    """The ``derive`` table of a column, checked against its domain."""
    if spec is None:
        return None
    where = f"{origin}: column {shorten(name)}, derive"
    if not isinstance(spec, dict) or not isinstance(spec.get("from"), str) \
            or set(spec) - {"from", "above", "map"} or ("above" in spec) == ("map" in spec):
        raise CardError(f"{where}: expected {{ from = COLUMN, above = NUMBER }} or "
                        f"{{ from = COLUMN, map = {{ VALUE = DOMAIN_VALUE, ... }} }}")
    if domain is None:
        raise CardError(f"{where}: only a categorical column (with a domain) is derived")
    if "above" in spec:
        above = spec["above"]
        if isinstance(above, bool) or not isinstance(above, (int, float)) \
                or not math.isfinite(above) or len(domain) != 2:
            raise CardError(f"{where}: 'above' needs a finite number and a domain of two "
                            "values (at or below it, above it)")
        return Derivation(spec["from"], above=float(above))
    mapping = spec["map"]
    if not isinstance(mapping, dict) or not mapping:
        raise CardError(f"{where}: 'map' must list source values and their domain values")
    outside = [v for v in mapping.values() if v not in domain]
    if outside:
        raise CardError(f"{where}: maps to {shorten(outside[0])}, which is not in the "
                        "column's domain")
    return Derivation(spec["from"], mapping=tuple((str(k), v) for k, v in mapping.items()))


def _names(value: Any, role: str, origin: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise CardError(f"{origin}: {role} must be a list of column names, not "
                        f"{shorten(value)}")
    return tuple(value)


def card_from_dict(raw: dict[str, Any], origin: str = "card") -> Card:
    """Build a :class:`Card` from the parsed TOML mapping, validating it."""
    for key in ("name", "label", "columns"):
        if key not in raw:
            raise CardError(f"{origin}: the card has no {key!r} key")
    specs = raw["columns"]
    if not isinstance(specs, dict) or not specs:
        raise CardError(f"{origin}: [columns] must list at least one column")
    columns = tuple(_parse_column(n, s, origin) for n, s in specs.items())
    names = [c.name for c in columns]
    label = raw["label"]
    if not isinstance(label, str):
        raise CardError(f"{origin}: label must be a column name, not {shorten(label)}")
    sources = {c.derive.source: c.name for c in columns if c.derive is not None}
    for source, derived in sources.items():
        if source not in names or columns[names.index(source)].derive is not None:
            raise CardError(f"{origin}: column {shorten(derived)} is derived from "
                            f"{shorten(source)}, which must be another, not derived, column "
                            f"under [columns]{closest(source, names)}")
    label_spec = next((c for c in columns if c.name == label), None)
    answer = label_spec.derive.source if label_spec and label_spec.derive else None
    features = _names(raw.get("features", [n for n in names if n not in (label, answer)]),
                      "features", origin)
    if answer is not None and answer in features:
        raise CardError(f"{origin}: {shorten(answer)} is a feature, but the label "
                        f"{shorten(label)} is derived from it (a model would read the answer)")
    sensitive = _names(raw.get("sensitive", []), "sensitive", origin)
    for role, values in (("label", [label]), ("features", features), ("sensitive", sensitive)):
        for value in values:
            if value not in names:
                raise CardError(
                    f"{origin}: {role} names column {shorten(value)}, which is not under "
                    f"[columns]{closest(value, names)}"
                )
    if label in features:
        raise CardError(f"{origin}: the label {shorten(label)} is also listed as a feature")
    label_column = columns[names.index(label)]
    task = "classification" if label_column.is_categorical else "regression"
    transform = raw.get("target_transform", "identity")
    if transform not in TARGET_TRANSFORMS:
        raise CardError(
            f"{origin}: target_transform {shorten(transform)} is not one of "
            f"{TARGET_TRANSFORMS}"
        )
    if transform != "identity" and task != "regression":
        raise CardError(f"{origin}: target_transform needs a numeric label")
    for name in sensitive:
        if not columns[names.index(name)].is_categorical:
            raise CardError(
                f"{origin}: sensitive column {shorten(name)} must be categorical (give it a "
                "domain)"
            )
    known_keys = {"name", "title", "label", "columns", "features", "sensitive",
                  "target_transform", "source", "citation", "licence", "description",
                  "cleaning"}
    return Card(
        name=str(raw["name"]), title=str(raw.get("title", raw["name"])), columns=columns,
        label=label, task=task, features=features, sensitive=sensitive,
        target_transform=transform, source=str(raw.get("source", "")),
        citation=str(raw.get("citation", "")), licence=str(raw.get("licence", "")),
        description=str(raw.get("description", "")),
        cleaning=tuple(str(s) for s in raw.get("cleaning", ())),
        extra={k: v for k, v in raw.items() if k not in known_keys},
    )
