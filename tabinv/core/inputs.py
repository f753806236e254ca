"""The data an assessment reads: a built-in data set or a file with its card, and the
records (and reference sample) attacked with a saved model, checked against its card.

The one place the Python API, the CLI and inventories turn "which data" into a checked
:class:`~tabinv.data.dataset.Dataset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from ..data.dataset import Dataset
from ..data.registry import builtin_parameters, load_builtin
from ..data.schema import card_from_dict, read_card
from ..data.tables import DataOptions, load_records, load_table
from ..exceptions import DataError
from ..models.target import TargetModel

__all__ = ["DEFAULT_DATASET", "load_dataset", "model_records"]

#: the data set of ``tabinv assess`` when none is named
DEFAULT_DATASET = "iwpc"


def load_dataset(dataset: str | Dataset | None = None, *,
                 data: str | PathLike[str] | None = None,
                 card: str | PathLike[str] | None = None,
                 params: Mapping[str, Any] | None = None,
                 options: DataOptions | None = None, seed: int | None = None) -> Dataset:
    """A built-in data set by name (with its ``params``), a loaded one, or ``data`` (a CSV
    or Parquet file) checked against ``card`` (a TOML file) with ``options``.

    A generated built-in data set (one with a ``seed`` parameter, e.g. ``genomic``) is
    generated with ``seed`` unless ``params`` name one: the assessment's
    ``random_state`` makes the whole run reproducible. Neither data set nor file given:
    :data:`DEFAULT_DATASET`. Both given, a file without its card, or file options with a
    built-in data set: :class:`DataError`.
    """
    if dataset is not None and data is not None:
        raise DataError("give exactly one of a data set name or a data file (with its card)")
    if data is None:
        if options is not None and options != DataOptions():
            raise DataError("ignore-column, clip and allow-out-of-bounds apply to a data "
                            "file; a built-in data set is already checked")
        if card is not None:
            raise DataError("a card describes a data file; give the data file too")
        if isinstance(dataset, Dataset):
            if params:
                raise DataError("data set parameters apply to a built-in data set name")
            return dataset
        name = dataset or DEFAULT_DATASET
        chosen = dict(params or {})
        if seed is not None and "seed" in builtin_parameters(name):
            chosen.setdefault("seed", seed)
        return load_builtin(name, **chosen)
    if params:
        raise DataError("data set parameters apply to a built-in data set, not a data file")
    if card is None:
        raise DataError(f"the data file {Path(data).name} needs a card (TOML) describing its "
                        "columns")
    return load_table(data, read_card(card), options)


def model_records(model: TargetModel, path: str | PathLike[str],
                  options: DataOptions | None = None, *, origin: str = "the model") -> Dataset:
    """Records to attack with ``model`` (or the attacker's reference sample), read from
    ``path`` and checked against the card the model file carries: absent features are
    unknown to the attacker; every column present must be in the card."""
    card = card_from_dict(dict(model.card or {}), origin=f"the card in {origin}")
    return load_records(path, card, options)
