"""``tabinv datasets list|show``: the built-in data sets and their cards."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from ..data.registry import builtin_card, builtin_names, builtin_parameters, load_builtin
from ..report.json import to_json
from .console import friendly, out, plain
from .options import AsJson

__all__ = ["datasets_app"]

datasets_app = typer.Typer(help="Built-in data sets and their cards.", no_args_is_help=True)


@datasets_app.command("list")
@friendly
def datasets_list() -> None:
    """List the built-in data sets."""
    table = Table("name", "title", "label", "sensitive")
    for name in builtin_names():
        card = builtin_card(name)
        table.add_row(name, card.title, card.label, ", ".join(card.sensitive))
    out.print(table)


@datasets_app.command("show")
@friendly
def datasets_show(name: str, as_json: AsJson = False) -> None:
    """Show a built-in data set's card and its cleaning report."""
    data = load_builtin(name)
    parameters = builtin_parameters(name)
    if as_json:
        typer.echo(to_json({**data.card.to_dict(), "rows": data.n_rows,
                            "raw_rows": data.raw_rows, "cleaning": data.cleaning_summary(),
                            "parameters": parameters}))
        return
    card = data.card
    out.print(Text.assemble(plain(card.title, "bold"), plain(f" ({card.name})\n"
                                                             f"{card.description.strip()}\n")))
    out.print(f"source: {card.source}\nlabel: {card.label} ({card.task}, "
              f"transform {card.target_transform})\nsensitive: {', '.join(card.sensitive)}",
              highlight=False)
    if parameters:
        out.print("parameters (assess --data-param KEY=VALUE): " + ", ".join(
            f"{k}={v}" for k, v in parameters.items()), highlight=False)
    table = Table("column", "kind", "domain / public bounds", "description")
    for column in card.columns:
        spec = column.domain if column.domain is not None else column.bounds
        table.add_row(column.name, column.kind, str(list(spec)) if spec else "-",
                      column.description)
    out.print(table)
    out.print(f"{data.raw_rows} raw rows -> {data.n_rows} after cleaning:")
    for step in data.cleaning:
        count = f"{step.dropped} dropped" + (f", {step.changed} changed" if step.changed else "")
        out.print(f"  - {step.description}: {count}", highlight=False)
