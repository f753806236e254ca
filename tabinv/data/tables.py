"""Reading a user's CSV or Parquet table, checked against a card."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..exceptions import DataError
from .dataset import Dataset, validate_frame
from .schema import Card

__all__ = ["read_table", "load_table"]


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file into a data frame, with clear errors.

    Raises
    ------
    DataError
        Missing file, empty file, or bytes that are not a table of that format.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"data file {str(path)!r} is empty")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        with path.open("rb") as handle:
            head = handle.read(4096)
        if b"\x00" in head:
            raise DataError(
                f"data file {str(path)!r} is not a CSV text file (it holds binary bytes); "
                "give a .csv or a .parquet file"
            )
        frame = pd.read_csv(path)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {str(path)!r} has no columns") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"data file {str(path)!r} could not be read as a table: {first}") from None
    if len(frame) == 0:
        raise DataError(f"data file {str(path)!r} has a header but no rows")
    return frame


def load_table(path: str | Path, card: Card) -> Dataset:
    """Read ``path`` and validate the card's label and feature columns.

    Columns not named in the card are kept untouched; card columns that are not the
    label or a feature are validated only if present.
    """
    frame = read_table(path)
    required = [card.label, *card.features]
    optional = [c for c in card.column_names if c not in required and c in frame.columns]
    clean = validate_frame(frame, card, required + optional, origin=str(path))
    return Dataset(name=Path(path).name, card=card, frame=clean.reset_index(drop=True),
                   raw_rows=len(frame))
