"""``tabinv schema KIND``: print the JSON Schema of a kind of result document."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..schemas import KINDS, schema
from .console import friendly

__all__ = ["schema_command"]


@friendly
def schema_command(
    kind: Annotated[str, typer.Argument(help=f"The document kind: {', '.join(KINDS)}.")],
) -> None:
    """Print the JSON Schema (draft 2020-12) of a kind of JSON document tabinv writes."""
    typer.echo(json.dumps(schema(kind), indent=2))
