"""Built-in data sets by name, and their cards (shipped as package data)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib import resources
from typing import Any

from ..exceptions import CardError, DataError, closest
from .dataset import Dataset, validate_frame
from .iwpc import load_iwpc
from .schema import Card, card_from_dict

__all__ = ["builtin_names", "builtin_card", "load_builtin"]

_LOADERS: dict[str, Callable[..., Dataset] | tuple[str, str]] = {
    "iwpc": load_iwpc,
    # (module, function), imported on first use
    "gss": ("tabinv.data.gss", "load_gss"),
    "genomic": ("tabinv.data.genomic", "load_genomic"),
}


def _loader(name: str) -> Callable[..., Dataset]:
    entry = _LOADERS[name]
    if isinstance(entry, tuple):
        entry = getattr(importlib.import_module(entry[0]), entry[1])
    return entry


def builtin_parameters(name: str) -> dict[str, Any]:
    """The keyword parameters a built-in data set takes, with their defaults."""
    _check_name(name)
    signature = inspect.signature(_loader(name))
    return {p.name: p.default for p in list(signature.parameters.values())[1:]}


def builtin_names() -> list[str]:
    """Names of the built-in data sets (those whose card ships with the package)."""
    cards = resources.files("tabinv._cards")
    return sorted(name for name in _LOADERS if cards.joinpath(f"{name}.toml").is_file())


def _check_name(name: str) -> None:
    if name not in builtin_names():
        raise DataError(
            f"unknown dataset {name!r}{closest(name, _LOADERS)}; "
            f"built-in datasets are: {', '.join(builtin_names())}"
        )


def builtin_card(name: str) -> Card:
    """The card of a built-in data set, read from the installed package."""
    import tomllib

    _check_name(name)
    text = resources.files("tabinv._cards").joinpath(f"{name}.toml").read_text("utf-8")
    try:
        return card_from_dict(tomllib.loads(text), origin=f"{name}.toml")
    except tomllib.TOMLDecodeError as error:  # pragma: no cover - shipped cards are tested
        raise CardError(f"built-in card {name}.toml is broken: {error}") from None


def load_builtin(name: str, **params: Any) -> Dataset:
    """Load, clean and validate a built-in data set.

    ``params`` are the data set's own parameters (``tabinv datasets show NAME`` lists
    them; e.g. ``people``, ``snps`` and ``seed`` for ``genomic``).
    """
    card = builtin_card(name)
    accepted = builtin_parameters(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise DataError(f"dataset {name!r} has no parameter(s) {unknown}; it takes "
                        f"{sorted(accepted) or 'no parameters'}")
    dataset = _loader(name)(card, **params)
    validate_frame(dataset.frame, dataset.card, dataset.card.column_names, origin=name)
    return dataset
