"""What every command-line module shares: the consoles and the error printer.

Text printed here often comes from an input (a column name, a value, a path), so the
consoles never read rich markup (``[/bold]`` in a value is printed as it is, never a
``MarkupError``) or emoji codes, and every string they render goes through
:func:`tabinv.text.terminal_text` first: no ANSI escape or carriage return from an input
reaches the terminal. Styled text is built as :class:`rich.text.Text` instead of markup.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from ..exceptions import TabinvError
from ..processes import signals_raise, stop_signal
from ..text import LINE_LIMIT, cap, terminal_text

__all__ = ["SafeConsole", "err", "error_lines", "exit_on_error", "friendly", "out", "plain"]


class SafeConsole(Console):
    """A rich console for text from inputs: no markup, no emoji codes, and every string
    shown with its control characters escaped (:func:`tabinv.text.terminal_text`).

    Strings given to ``print``, table cells, titles and headers all pass through
    :meth:`render_str`; a :class:`~rich.text.Text` is printed as built (make it with
    :func:`plain`).
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(markup=False, emoji=False, **options)

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(terminal_text(text), **options)


def plain(text: object, style: str = "") -> Text:
    """``text`` as a rich Text: no markup read, control characters escaped (for progress
    bars, status lines and styled pieces, which rich does not pass through
    :meth:`SafeConsole.render_str`)."""
    return Text(terminal_text(text), style=style)


# Wide enough for the results tables when output goes to a file or a pipe.
out = SafeConsole(width=None if sys.stdout.isatty() else 170)
err = SafeConsole(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def error_lines(error: BaseException, limit: int = LINE_LIMIT) -> list[str]:
    """The lines printed for ``error``: one, or one per problem of an error that lists
    them (``problems``, e.g. an invalid inventory); each with its control characters and
    newlines escaped and cut to ``limit`` characters, so a 1 MB value in a message never
    makes a 1 MB line."""
    problems = getattr(error, "problems", None)
    if isinstance(problems, list) and problems:
        head = str(error).split("\n", 1)[0]
        texts = [head, *(f"  - {problem}" for problem in problems)]
    else:
        texts = [str(error)]
    return [cap(terminal_text(text, one_line=True), limit) for text in texts]


@contextmanager
def exit_on_error(stopped: str = "") -> Iterator[None]:
    """tabinv's errors (and unreadable files) -> one line on stderr, exit code 2;
    SIGTERM / SIGINT -> one line (``stopped by SIGTERM: <stopped>``), exit 128 + signal.

    Both are raised in the main thread (:func:`tabinv.processes.signals_raise`), SIGINT
    even when the command started with it ignored (a script's background job), so every
    ``finally`` between the signal and the command runs: executors kill their worker
    processes, joblib's pool and Dask's cluster are closed.
    """
    try:
        with signals_raise():
            yield
    except (TabinvError, OSError) as error:
        first, *rest = error_lines(error)
        err.print(Text.assemble(("error:", "bold red"), " ", first), highlight=False,
                  soft_wrap=True)
        for line in rest:
            err.print(line, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt as stop:
        signum = stop_signal(stop)
        err.print(Text.assemble(("stopped", "bold red"), f" by {signum.name}",
                                f": {stopped}" if stopped else ""),
                  highlight=False, soft_wrap=True)
        raise typer.Exit(128 + signum) from None


def friendly(command: F) -> F:
    """Turn tabinv's errors (and unreadable files) into one line on stderr and exit 2."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with exit_on_error():
            return command(*args, **kwargs)
    return wrapper  # type: ignore[return-value]
