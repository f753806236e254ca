"""The batch run's summary files: summary.parquet / .csv / .json and the self-contained
index.html."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..schemas import stamp
from ..text import safe_csv_text
from ..utils import write_atomic
from .index import index_html
from .inventory import Inventory
from .task import NUMBER_COLUMNS, ROW_COLUMNS

__all__ = ["index_html", "summary_json", "write_summary"]


_NUMBERS = list(NUMBER_COLUMNS)


def _strict(row: Mapping[str, Any]) -> dict[str, Any]:
    """Plain JSON values: numpy scalars unwrapped, NaN as null."""
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in plain.items()}


def write_summary(out: Path, inventory: Inventory, records: Mapping[str, Mapping[str, Any]],
                  scratch: Path | None = None) -> pd.DataFrame:
    """DIR/summary.parquet, DIR/summary.csv, DIR/summary.json (a ``batch-summary``
    document, :mod:`tabinv.schemas`) and DIR/index.html, each written atomically (their
    temporary files in ``scratch`` when given)."""
    rows = [row for entry in inventory.entries for row in records[entry.name]["rows"]]
    frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    for column in _NUMBERS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["n"] = pd.to_numeric(frame["n"], errors="coerce").astype("Int64")
    write_atomic(out / "summary.parquet", frame.to_parquet(index=False), scratch=scratch)
    write_atomic(out / "summary.csv", safe_csv_text(frame), scratch=scratch)
    write_atomic(out / "summary.json", summary_json(frame, len(inventory.entries)),
                 scratch=scratch)
    descriptions = {e.name: e.description for e in inventory.entries}
    page = index_html(frame, descriptions, entries=inventory.entries, inventory=inventory.path,
                      out=out)
    write_atomic(out / "index.html", page.encode("utf-8"), scratch=scratch)
    return frame


def summary_json(frame: pd.DataFrame, entries: int) -> bytes:
    """The summary rows as a ``batch-summary`` JSON document (missing values as null)."""
    values = frame.astype(object).where(frame.notna(), None)
    document = stamp({"tabinv": __version__, "entries": entries,
                      "rows": [_strict(row) for row in values.to_dict("records")]},
                     "batch-summary")
    return json.dumps(document, indent=1, allow_nan=False).encode("utf-8")
