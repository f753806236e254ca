"""The ``tabinv`` command line: a package of thin commands, each of which parses its
options, calls :mod:`tabinv.api` (or the core and services it fronts), and renders.

- :mod:`.assess`: ``train``, ``attack``, ``assess``, ``report``, ``demo warfarin``;
- :mod:`.datasets`: ``datasets list|show``;
- :mod:`.card`: ``card draft``;
- :mod:`.sweep`: ``sweep``, ``demo warfarin-dp``;
- :mod:`.batch`: ``batch``, ``inventory example|check``;
- :mod:`.schema`: ``schema KIND`` (the JSON Schema of a result document);
- :mod:`.options` (shared options), :mod:`.render` (tables, JSON, reports),
  :mod:`.console` (escaped output, one-line errors, exit codes).
"""

from __future__ import annotations

import typer

from .assess import assess, attack, demo_warfarin, report_command, train
from .batch import batch, inventory_app
from .card import card_app
from .datasets import datasets_app
from .lesson import lesson_app
from .schema import schema_command
from .sweep import demo_warfarin_dp, sweep_command

__all__ = ["app"]

app = typer.Typer(help="Measure how much a trained model leaks about the people in its "
                  "training data: attribute inversion against honest baselines.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False,
                  add_completion=False)
demo_app = typer.Typer(help="Reproductions of published results.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(demo_app, name="demo")
app.command()(train)
app.command()(attack)
app.command()(assess)
app.command("report")(report_command)
app.command("sweep")(sweep_command)
app.command("batch")(batch)
app.command("schema")(schema_command)
app.add_typer(inventory_app, name="inventory")
app.add_typer(card_app, name="card")
app.add_typer(lesson_app, name="lesson")
demo_app.command("warfarin")(demo_warfarin)
demo_app.command("warfarin-dp")(demo_warfarin_dp)


if __name__ == "__main__":  # pragma: no cover
    app()
