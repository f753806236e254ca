"""``tabinv card draft``: a card drafted from a data file, for a person to check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..data.draft import MAX_CATEGORIES, draft_card, write_card
from ..data.tables import read_table
from .console import err, friendly, out

__all__ = ["card_app"]

card_app = typer.Typer(help="Dataset cards: the public description of a table.",
                       no_args_is_help=True)


@card_app.command("draft")
@friendly
def card_draft(
    data: Annotated[Path, typer.Argument(help="CSV or Parquet file to describe.")],
    label: Annotated[str, typer.Option(help="The label column (what the model predicts).")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Card file to write (TOML; "
                                           "an existing file is never replaced).")],
    sensitive: Annotated[list[str] | None, typer.Option(
        "--sensitive", "-s", help="Sensitive column, repeatable (must be categorical).")]
    = None,
    name: Annotated[str | None, typer.Option(help="The card's name (default: the file's "
                                             "name without its suffix).")] = None,
    max_categories: Annotated[int, typer.Option(
        "--max-categories", min=2, help="Whole-number columns with at most this many "
        "distinct values are categorical.")] = MAX_CATEGORIES,
) -> None:
    """Draft a card from the data: kinds, domains, and bounds marked as taken from the data."""
    frame = read_table(data)
    card = draft_card(frame, name=name or data.stem, label=label, sensitive=sensitive or (),
                      max_categories=max_categories, origin=data.name)
    path = write_card(card, out_path)
    drafted = [c for c, spec in card["columns"].items() if spec.get("bounds_from_data")]
    out.print(f"card with {len(card['columns'])} columns written to {path}", highlight=False,
              markup=False)
    if drafted:
        err.print(f"note: the bounds of {len(drafted)} numeric column(s) were taken from the "
                  "data (bounds_from_data = true): replace them with public bounds before "
                  "DP training, which refuses them", highlight=False, markup=False,
                  soft_wrap=True)
