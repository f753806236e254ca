"""What every command-line module shares: the consoles and the error decorator."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from .exceptions import TabinvError

__all__ = ["err", "friendly", "out"]

# Wide enough for the results tables when output goes to a file or a pipe.
out = Console(width=None if sys.stdout.isatty() else 170)
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly(command: F) -> F:
    """Turn tabinv's errors (and unreadable files) into one line on stderr and exit 2."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (TabinvError, OSError) as error:
            err.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    return wrapper  # type: ignore[return-value]
