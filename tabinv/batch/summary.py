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
from ..text import html_text, link_target, safe_csv_text
from ..utils import write_atomic
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
    write_atomic(out / "index.html", index_html(frame, descriptions).encode("utf-8"),
                 scratch=scratch)
    return frame


def summary_json(frame: pd.DataFrame, entries: int) -> bytes:
    """The summary rows as a ``batch-summary`` JSON document (missing values as null)."""
    values = frame.astype(object).where(frame.notna(), None)
    document = stamp({"tabinv": __version__, "entries": entries,
                      "rows": [_strict(row) for row in values.to_dict("records")]},
                     "batch-summary")
    return json.dumps(document, indent=1, allow_nan=False).encode("utf-8")


_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;"
          "padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}"
          ".leaks{color:#a40000;font-weight:bold}.failed{color:#a40000}"
          "td.num{text-align:right;font-variant-numeric:tabular-nums}")


def _interval(value: float, low: float, high: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:+.3f} [{low:+.3f}, {high:+.3f}]"


def index_html(frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None) -> str:
    """A self-contained page (inline CSS, no scripts): entries, worst leakage first.

    Every text is escaped by :func:`tabinv.text.html_text`; an entry's link is its
    percent-encoded folder, so no name can leave ``entries/`` or name a scheme."""
    descriptions = descriptions or {}
    ok = frame[frame["status"] == "ok"]
    failed = frame[frame["status"] != "ok"].drop_duplicates("entry")
    worst = ok.sort_values("leakage", ascending=False, na_position="last", kind="stable")
    worst = worst.drop_duplicates("entry")
    esc = html_text
    lines = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>tabinv batch: {frame['entry'].nunique()} entries</title>",
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>tabinv batch: {frame['entry'].nunique()} entries</h1>",
             f"<p>{len(worst)} assessed, {len(failed)} failed. Leakage is the attack's "
             "accuracy minus the imputation baseline's on the same records, with its 95% "
             "interval; entries are ordered by their worst leakage.</p>"]
    if len(failed):
        lines += ["<h2>Failed entries</h2>", "<table><tr><th>entry</th><th>error</th></tr>"]
        lines += [f"<tr><td class='failed'>{esc(str(r.entry))}</td><td>{esc(str(r.error))}"
                  "</td></tr>" for r in failed.itertuples()]
        lines.append("</table>")
    lines += ["<h2>Assessed entries</h2>", "<table><tr><th>#</th><th>entry</th>"
              "<th>worst leakage over imputation</th><th>attribute</th><th>population</th>"
              "<th>attack</th><th>attack accuracy</th><th>data</th><th>label</th>"
              "<th>model</th><th>access</th></tr>"]
    for rank, row in enumerate(worst.itertuples(), start=1):
        link = f"entries/{esc(link_target(str(row.entry), safe=''))}/report.html"
        note = descriptions.get(str(row.entry)) or ""
        mark = " class='num leaks'" if row.verdict == "leaks" else " class='num'"
        lines.append(
            f"<tr><td class='num'>{rank}</td><td><a href='{link}'>{esc(str(row.entry))}</a>"
            f"{'<br><small>' + esc(note) + '</small>' if note else ''}</td>"
            f"<td{mark}>{esc(_interval(row.leakage, row.leakage_low, row.leakage_high))} "
            f"{esc(str(row.verdict))}</td><td>{esc(str(row.sensitive))}</td>"
            f"<td>{esc(str(row.population))}</td><td>{esc(str(row.attack))}</td>"
            f"<td class='num'>{row.attack_accuracy:.3f}</td><td>{esc(str(row.data))}</td>"
            f"<td>{esc(str(row.label))}</td><td>{esc(f'{row.family} ({row.format})')}</td>"
            f"<td>{esc(str(row.access))}</td></tr>")
    lines += ["</table>", f"<p><small>tabinv {esc(__version__)}</small></p>",
              "</body></html>", ""]
    return "\n".join(lines)
