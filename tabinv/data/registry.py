"""Built-in data sets by name, and their cards (shipped as package data)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

from ..exceptions import CardError, DataError, closest
from .dataset import Dataset, validate_frame
from .iwpc import load_iwpc
from .schema import Card, card_from_dict

__all__ = ["builtin_names", "builtin_card", "load_builtin"]

_LOADERS: dict[str, Callable[[Card], Dataset]] = {"iwpc": load_iwpc}


def builtin_names() -> list[str]:
    """Names of the built-in data sets."""
    return sorted(_LOADERS)


def _check_name(name: str) -> None:
    if name not in _LOADERS:
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


def load_builtin(name: str) -> Dataset:
    """Load, clean and validate a built-in data set."""
    card = builtin_card(name)
    dataset = _LOADERS[name](card)
    validate_frame(dataset.frame, card, card.column_names, origin=name)
    return dataset
