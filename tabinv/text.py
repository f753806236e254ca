"""Text that came from an input (a file, a column, an argument), made safe for messages.

Error messages quote what they received so the user can find it, but an input can be a
megabyte long or hold markup; :func:`shorten` keeps a quoted value short and printable.
Escaping for the formats reports are written in lives with those writers.
"""

from __future__ import annotations

__all__ = ["shorten"]

QUOTE_LIMIT = 60


def shorten(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr``-quoted text of ``value``, cut to ``limit`` characters with its full length.

    Control characters are escaped by ``repr``; a longer text ends in ``'... (N chars)``,
    so a 10^6-character cell never becomes a 1 MB error line.

    Examples
    --------
    >>> shorten("warfarin")
    "'warfarin'"
    >>> shorten("x" * 100, limit=10)
    "'xxxxxxxxxx'... (100 chars)"
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} chars)"
