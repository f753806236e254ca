"""Reading a user's CSV or Parquet table, checked against a card.

A data file may come from anywhere (an inventory collects files from many teams, a path
may be a symlink to a file that is not a table at all), so errors name the file, the
column and the count, and quote at most a shortened column name or value: never a line
of the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ColumnError, DataError, closest
from ..text import shorten
from ..utils import as_text_column
from .dataset import OUT_OF_BOUNDS, CleaningStep, Dataset, check_frame, require_columns
from .schema import Card

__all__ = ["DataOptions", "load_records", "load_table", "read_table"]

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class DataOptions:
    """What the user allows a data file to hold beyond its card.

    Parameters
    ----------
    ignore_columns : tuple of str
        Columns that are not in the card and are dropped (an identifier, a note); any
        other column the card does not name is an error.
    out_of_bounds : {"refuse", "clip", "allow"}
        Numbers outside a column's public bounds are refused (default), clipped to the
        bounds, or kept; clipped and kept values are counted in the cleaning steps.
    """

    ignore_columns: tuple[str, ...] = ()
    out_of_bounds: str = "refuse"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignore_columns", tuple(self.ignore_columns))
        if self.out_of_bounds not in OUT_OF_BOUNDS:
            raise DataError(f"out_of_bounds {shorten(self.out_of_bounds)} is not one of "
                            f"{', '.join(OUT_OF_BOUNDS)}")

    @classmethod
    def from_flags(cls, ignore_columns: Sequence[str] | None = None, *, clip: bool = False,
                   allow_out_of_bounds: bool = False) -> DataOptions:
        """From the command line's ``--ignore-column``, ``--clip`` and
        ``--allow-out-of-bounds`` (the last two exclude each other)."""
        if clip and allow_out_of_bounds:
            raise DataError("give --clip or --allow-out-of-bounds, not both")
        chosen = "clip" if clip else "allow" if allow_out_of_bounds else "refuse"
        return cls(tuple(ignore_columns or ()), chosen)


def read_table(path: str | Path, expected: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file into a data frame, with clear errors.

    Parameters
    ----------
    path : str or Path
    expected : sequence of str, optional
        Column names (a card's) of which the header must hold at least one: a file with
        none of them is refused without quoting it.

    Raises
    ------
    DataError
        Missing file, not a regular file, empty file, bytes that are not a table of
        that format, a header without any ``expected`` column; :class:`ColumnError` for
        a column name that appears twice in the header.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {str(path)!r} does not exist")
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} is not a regular file (a folder, a "
                        "device or a pipe); give a .csv or a .parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"data file {str(path)!r} is empty")
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    try:
        header = _parquet_header(path) if parquet else _csv_header(path)
        _refuse_duplicates(header, path)
        frame = pd.read_parquet(path) if parquet else pd.read_csv(path)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} has no columns") from None
    except UnicodeDecodeError as error:
        raise DataError(f"data file {str(path)!r} is not UTF-8 text (byte "
                        f"{error.object[error.start]:#04x} at offset {error.start})") from None
    except (pd.errors.ParserError, ValueError, OSError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise DataError(f"data file {str(path)!r} could not be read as a table: "
                        f"{first[:150]}") from None
    if len(frame) == 0:
        raise DataError(f"data file {str(path)!r} has a header but no rows")
    if expected and not set(expected) & set(header):
        raise _not_a_table(path, "Parquet" if parquet else "CSV", expected, len(header))
    if not parquet and (not isinstance(frame.index, pd.RangeIndex)
                        or frame.shape[1] != len(header)):
        # pandas makes the first fields of rows longer than the header the index
        raise DataError(f"data file {str(path)!r}: its rows have more fields than its header "
                        f"has names ({len(header)}); every column needs a name")
    return frame


def _parquet_header(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return [str(name) for name in pq.read_schema(path).names]


def _csv_header(path: Path) -> list[str]:
    """The header as written (pandas would rename a second ``x`` to ``x.1``)."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if b"\x00" in head:
        raise DataError(
            f"data file {str(path)!r} is not a CSV text file (it holds binary bytes); "
            "give a .csv or a .parquet file"
        )
    first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    return [str(name) for name in first.iloc[0]]


def _not_a_table(path: Path, kind: str, expected: Sequence[str], found: int) -> ColumnError:
    shown = ", ".join(shorten(n, 30) for n in expected[:8])
    more = f", ... ({len(expected)} columns)" if len(expected) > 8 else ""
    return ColumnError(f"{path} is not a {kind} table with the card's columns (expected "
                       f"{shown}{more}; found {found} column(s))")


def _refuse_duplicates(header: Sequence[str], path: Path) -> None:
    twice = [name for name, count in Counter(header).items() if count > 1]
    if twice:
        places = [str(i + 1) for i, name in enumerate(header) if name == twice[0]]
        raise ColumnError(
            f"data file {str(path)!r} names column {shorten(twice[0])} {len(places)} times "
            f"(columns {', '.join(places[:5])})"
            + (f" and {len(twice) - 1} other name(s) more than once" if len(twice) > 1
               else "") + "; each column needs its own name"
        )


def _conform(frame: pd.DataFrame, card: Card, origin: str, options: DataOptions, *,
             required: Sequence[str] = ()) -> tuple[pd.DataFrame, tuple[CleaningStep, ...]]:
    """Drop ignored columns; refuse columns the card does not name and missing
    ``required`` ones; check the card's columns that are present."""
    frame = frame.drop(columns=[c for c in options.ignore_columns if c in frame.columns])
    names = set(card.column_names)
    unknown = [str(c) for c in frame.columns if c not in names]
    if unknown:
        hint = next((h for c in unknown if (h := closest(c, card.column_names))), "")
        raise ColumnError(
            f"{origin}: {len(unknown)} column(s) not in the card {shorten(card.name)}: "
            f"{', '.join(shorten(c, 30) for c in unknown[:5])}"
            + (" ..." if len(unknown) > 5 else "") + hint
            + "; leave a column out with --ignore-column NAME (inventory: ignore_columns)"
        )
    frame = _derive(frame, card, origin)
    require_columns(frame, required, origin)
    present = [c for c in card.column_names if c in frame.columns]
    return check_frame(frame, card, present, origin, out_of_bounds=options.out_of_bounds)


def _derive(frame: pd.DataFrame, card: Card, origin: str) -> pd.DataFrame:
    """Add the card's derived columns (:class:`~tabinv.data.schema.Derivation`) computed
    from their source columns, when the source is in the table. A derived column the
    table also holds, a source value that is not a number (``above``) or that the map does
    not list, is an error naming the column and the count."""
    derived = [c for c in card.columns if c.derive is not None
               and c.derive.source in frame.columns]
    if not derived:
        return frame
    frame = frame.copy()
    for column in derived:
        rule, source = column.derive, frame[column.derive.source]  # type: ignore[union-attr]
        if column.name in frame.columns:
            raise ColumnError(f"{origin}: column {shorten(column.name)} is derived from "
                              f"{shorten(rule.source)} by the card, but the table holds it "
                              "too; leave one of them out")
        if rule.above is not None:
            numbers = pd.to_numeric(source, errors="coerce")
            bad = int((numbers.isna() & source.notna()).sum())
            values = np.where(numbers > rule.above, column.domain[1], column.domain[0])
        else:
            lookup = dict(rule.mapping or ())
            text = pd.Series(as_text_column(source), index=source.index)
            values = text.map(lookup)
            bad = int((values.isna() & source.notna()).sum())
        if bad:
            expected = "numbers" if rule.above is not None else "values the card's map lists"
            raise DataError(f"{origin}: column {shorten(rule.source)} has {bad} value(s) "
                            f"that are not {expected}, so {shorten(column.name)} cannot be "
                            "derived from them")
        result = pd.Series(values, index=frame.index, dtype=object)
        frame[column.name] = result.where(source.notna(), None)
    return frame


def load_table(path: str | Path, card: Card, options: DataOptions | None = None) -> Dataset:
    """Read ``path`` and check it against ``card``: the label and features must be there.

    Every column must be in the card (unless ``options`` ignores it); the card's other
    columns are checked only if present. Out-of-bounds values clipped or kept by
    ``options`` are the dataset's cleaning steps.

    Raises
    ------
    DataError
        See :func:`read_table` and :func:`~tabinv.data.dataset.check_frame`;
        :class:`ColumnError` for a missing, unknown or duplicated column.
    """
    required = [card.label, *card.features]
    frame = read_table(path, expected=required)
    clean, steps = _conform(frame, card, str(path), options or DataOptions(),
                            required=required)
    return Dataset(name=Path(path).name, card=card, frame=clean.reset_index(drop=True),
                   cleaning=steps, raw_rows=len(frame))


def load_marked_table(path: str | Path, card: Card, member_column: str,
                      options: DataOptions | None = None) -> tuple[Dataset, Dataset]:
    """Read ``path``, whose ``member_column`` marks training members, as (members,
    non-members), each checked against ``card`` like :func:`load_table`."""
    from .splits import split_by_column

    required = [card.label, *card.features]
    frame = read_table(path, expected=required)
    parts = split_by_column(frame, member_column, str(path))
    loaded = []
    for part, name in zip(parts, ("members", "non-members"), strict=True):
        clean, steps = _conform(part, card, f"{path} ({name})", options or DataOptions(),
                                required=required)
        loaded.append(Dataset(name=f"{Path(path).name} ({name})", card=card,
                              frame=clean.reset_index(drop=True), cleaning=steps,
                              raw_rows=len(part)))
    return loaded[0], loaded[1]


def load_records(path: str | Path, card: Card, options: DataOptions | None = None
                 ) -> Dataset:
    """Read records to attack (or a reference sample) and check them against the model's
    card: any of the card's columns may be absent (the attack treats a missing feature
    as unknown), but every column present must be in the card and valid."""
    frame = read_table(path, expected=card.column_names)
    clean, steps = _conform(frame, card, str(path), options or DataOptions())
    return Dataset(name=Path(path).name, card=card, frame=clean.reset_index(drop=True),
                   cleaning=steps, raw_rows=len(frame))
