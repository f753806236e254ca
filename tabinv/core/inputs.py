"""The data an assessment reads: a built-in data set or a file with its card, and the
records (and reference sample) attacked with a saved model, checked against its card.

The one place the Python API, the CLI and inventories turn "which data" into a checked
:class:`~tabinv.data.dataset.Dataset`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.registry import builtin_names, builtin_parameters, load_builtin
from ..data.schema import Card, card_from_dict, read_card
from ..data.splits import Splits
from ..data.tables import (
    PARQUET_SUFFIXES,
    DataOptions,
    load_marked_table,
    load_records,
    load_table,
)
from ..exceptions import DataError
from ..models.target import TargetModel
from ..utils import check_random_state

__all__ = ["DEFAULT_DATASET", "GivenSplits", "Membership", "given_splits", "is_data_file",
           "load_dataset", "model_records"]

#: the data set of ``tabinv assess`` when none is named
DEFAULT_DATASET = "iwpc"


def load_dataset(dataset: str | Dataset | None = None, *,
                 data: str | PathLike[str] | None = None,
                 card: str | PathLike[str] | Card | None = None,
                 params: Mapping[str, Any] | None = None,
                 options: DataOptions | None = None, seed: int | None = None) -> Dataset:
    """A built-in data set by name (with its ``params``), a loaded one, or ``data`` (a CSV
    or Parquet file) checked against ``card`` (a TOML file) with ``options``.

    The file may also come first, as ``load_dataset("patients.csv", card="patients.toml")``:
    ``dataset`` is read as a file when it is a path object, or a string that names no
    built-in data set and comes with a card or ends in a table suffix.

    A generated built-in data set (one with a ``seed`` parameter, e.g. ``genomic``) is
    generated with ``seed`` unless ``params`` name one: the assessment's
    ``random_state`` makes the whole run reproducible. Neither data set nor file given:
    :data:`DEFAULT_DATASET`. Both given, a file without its card, or file options with a
    built-in data set: :class:`DataError`.
    """
    if dataset is not None and data is not None:
        raise DataError("give exactly one of a data set name or a data file (with its card)")
    if is_data_file(dataset, card):
        dataset, data = None, dataset  # type: ignore[assignment]
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
    return load_table(data, card if isinstance(card, Card) else read_card(card), options)


def is_data_file(dataset: Any, card: Any) -> bool:
    """Whether ``dataset`` names a data file rather than a built-in data set (see
    :func:`load_dataset`)."""
    if isinstance(dataset, PathLike):
        return True
    if not isinstance(dataset, str) or dataset in builtin_names():
        return False
    return card is not None or Path(dataset).suffix.lower() in (".csv", *PARQUET_SUFFIXES)


def model_records(model: TargetModel, path: str | PathLike[str],
                  options: DataOptions | None = None, *, origin: str = "the model") -> Dataset:
    """Records to attack with ``model`` (or the attacker's reference sample), read from
    ``path`` and checked against the card the model file carries: absent features are
    unknown to the attacker; every column present must be in the card."""
    card = card_from_dict(dict(model.card or {}), origin=f"the card in {origin}")
    return load_records(path, card, options)


@dataclass(frozen=True)
class GivenSplits:
    """Who was a training member, as the model's owner says: the splits, the data set
    they make up (for the report's facts), and how the reference sample was chosen."""

    dataset: Dataset
    splits: Splits
    reference_source: str


Table = str | PathLike[str] | pd.DataFrame


@dataclass(frozen=True)
class Membership:
    """Who trained a model, as its owner says (CLI ``--members``, ``--non-members``,
    ``--reference``, ``--member-column``): the arguments of :func:`given_splits` beside
    the card and the data file."""

    members: Table | None = None
    non_members: Table | None = None
    reference: Table | None = None
    member_column: str | None = None

    @property
    def given(self) -> bool:
        """Whether any of it was given (then the splits are the owner's, not drawn)."""
        return any(v is not None for v in (self.members, self.non_members, self.reference,
                                           self.member_column))

    def splits(self, card: Any, data: Table | None = None,
               options: DataOptions | None = None, random_state: int = 0) -> GivenSplits:
        """:func:`given_splits` of these tables."""
        return given_splits(card, data=data, members=self.members,
                            non_members=self.non_members, reference=self.reference,
                            member_column=self.member_column, options=options,
                            random_state=random_state)


def given_splits(card: Any, *, data: Table | None = None, members: Table | None = None,
                 non_members: Table | None = None, reference: Table | None = None,
                 member_column: str | None = None, options: DataOptions | None = None,
                 random_state: int = 0) -> GivenSplits:
    """The members, non-members and reference sample of a model tabinv did not train.

    Either ``members`` and ``non_members`` (files or frames), or ``data`` with a
    ``member_column`` marking the training members (1/0, true/false, yes/no,
    member/non-member). ``reference``, the attacker's own sample of the population, is a
    third table; without one, a seeded half of the non-members becomes the reference
    (``reference_source`` says so, and the report with it). Each table is checked against
    ``card`` (a :class:`~tabinv.data.schema.Card` or a TOML path).
    """
    card = read_card(card) if isinstance(card, (str, PathLike)) else card
    if member_column is not None:
        if data is None or members is not None or non_members is not None:
            raise DataError("--member-column marks the members inside --data; give it "
                            "instead of --members/--non-members")
        if isinstance(data, pd.DataFrame):
            raise DataError("a member column applies to a data file")
        marked = load_marked_table(data, card, member_column, options)
        member_set, non_member_set = marked
    else:
        if members is None or non_members is None:
            raise DataError("say which records trained the model: --members FILE and "
                            "--non-members FILE, or --data FILE with --member-column COL")
        if data is not None:
            raise DataError("give --data with --member-column, or --members and "
                            "--non-members without --data")
        member_set = _table(members, card, options, "members")
        non_member_set = _table(non_members, card, options, "non-members")
    if reference is not None:
        reference_set = _table(reference, card, options, "reference")
        source = f"given ({reference_set.name})"
        non_frame = non_member_set.frame
    else:
        frame = non_member_set.frame
        if len(frame) < 2:
            raise DataError("without --reference, half of the non-members become the "
                            f"attacker's reference sample, but there are only {len(frame)}")
        order = check_random_state(random_state).permutation(len(frame))
        half = len(frame) // 2
        non_frame = frame.iloc[np.sort(order[half:])].reset_index(drop=True)
        reference_frame = frame.iloc[np.sort(order[:half])].reset_index(drop=True)
        reference_set = Dataset(name="half of the non-members", card=card,
                                frame=reference_frame)
        source = "a seeded half of the given non-members (no reference sample given)"
    splits = Splits(members=member_set.frame, non_members=non_frame,
                    reference=reference_set.frame)
    parts = (member_set, non_member_set, *(() if reference is None else (reference_set,)))
    combined = Dataset(
        name=" + ".join(dict.fromkeys(p.name for p in parts)), card=card,
        frame=pd.concat([splits.members, splits.non_members, splits.reference],
                        ignore_index=True),
        cleaning=tuple(step for p in parts for step in p.cleaning),
        raw_rows=sum(p.raw_rows if p.raw_rows is not None else p.n_rows for p in parts))
    return GivenSplits(combined, splits, source)


def _table(table: Table, card: Any, options: DataOptions | None, role: str) -> Dataset:
    if isinstance(table, pd.DataFrame):
        from ..data.dataset import check_frame

        columns = [c for c in card.column_names if c in table.columns]
        frame, steps = check_frame(table, card, [card.label, *card.features, *columns],
                                   role, out_of_bounds=(options or DataOptions()).out_of_bounds)
        return Dataset(name=role, card=card, frame=frame, cleaning=steps,
                       raw_rows=len(table))
    return load_table(table, card, options)
