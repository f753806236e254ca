"""Text that came from an input (a file, a column, an argument), made safe where it lands.

Every writer takes its escaping from here, one function per destination:

- :func:`shorten` quotes a value in an error message, length-capped;
- :func:`terminal_text` and :func:`cap` for the terminal: control characters (an ANSI
  escape, a carriage return, a bidi override) are written as visible escapes, and an
  error line is capped in length (rich markup is switched off in :mod:`tabinv.cli.console`);
- :func:`markdown_text` for Markdown (every character with meaning in CommonMark/GFM is
  escaped, ``< > &`` as entities, one line), :func:`link_target` for a link's target;
- :func:`html_text` for HTML text and quoted attribute values;
- :func:`csv_cell`, :func:`csv_safe_frame` and :func:`write_safe_csv` for CSV files
  opened in a spreadsheet.

Reports mark code spans (a column name, the command line) with :func:`code` rather than
backticks, so a backtick from an input is never mistaken for one; :func:`spans` splits a
text at the marks and :func:`without_marks` removes marks that came from an input.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CODE_END", "CODE_START", "LINE_LIMIT", "QUOTE_LIMIT", "cap", "code",
           "csv_cell", "csv_safe_frame", "html_text", "link_target", "listed", "markdown_text",
           "printable", "safe_csv_text", "shorten", "spans", "terminal_text", "without_marks",
           "write_safe_csv"]

QUOTE_LIMIT = 60
#: longest error line the command line prints
LINE_LIMIT = 1000

#: Unicode noncharacters (reserved for a program's internal use) marking a code span
CODE_START, CODE_END = "\ufdd0", "\ufdd1"
_MARKS = str.maketrans("", "", CODE_START + CODE_END)

# C0 and C1 controls, DEL, line and paragraph separators, zero-width and bidi controls
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                      "\u2066-\u2069\ufeff]")


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


def listed(values: Sequence[object], limit: int = 8) -> str:
    """``[a, b, ...]`` with each value shortened and at most ``limit`` values.

    >>> listed(["A/A", "A/G", 3], limit=2)
    "['A/A', 'A/G', ... (3 values)]"
    """
    shown = ", ".join(shorten(v, 30) for v in list(values)[:limit])
    more = f", ... ({len(values)} values)" if len(values) > limit else ""
    return f"[{shown}{more}]"


def cap(text: str, limit: int = LINE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, ending in ``... (N chars)`` when cut.

    Examples
    --------
    >>> cap("abcdef", 3)
    'abc... (6 chars)'
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def printable(value: object, keep: str = "") -> str:
    """``value`` as text with each control character written as its escape (``\\x1b``).

    Controls are C0/C1 characters, DEL, Unicode line separators, zero-width and bidi
    controls (which reorder what a reader sees); those in ``keep`` are left as they are.
    Code-span marks (:func:`code`), which no input carries, are dropped.

    Examples
    --------
    >>> printable("a\\x1b[2Jb\\tc", keep="\\t")
    'a\\\\x1b[2Jb\\tc'
    """
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _visible(m),
                        str(value).translate(_MARKS))


def terminal_text(value: object, one_line: bool = False) -> str:
    """Text for a terminal: no control character reaches it raw (no ANSI escape, no
    carriage return overwriting a line); with ``one_line`` newlines and tabs are shown as
    ``\\n`` and ``\\t`` too.

    Examples
    --------
    >>> terminal_text("red\\x1b[31m\\nnext", one_line=True)
    'red\\\\x1b[31m\\\\nnext'
    """
    return printable(value, keep="" if one_line else "\n\t")


# -- code spans ----------------------------------------------------------------------------

def code(value: object) -> str:
    """``value`` marked as a code span (``<code>`` in HTML, backticks in Markdown)."""
    return CODE_START + without_marks(str(value)) + CODE_END


def without_marks(text: str) -> str:
    """``text`` without code-span marks (an input's text never carries them)."""
    return text.translate(_MARKS)


def spans(text: str) -> list[tuple[str, bool]]:
    """``text`` as ``(piece, is_code)`` pairs, split at the marks :func:`code` adds.

    Examples
    --------
    >>> spans("label " + code("dose") + ".")
    [('label ', False), ('dose', True), ('.', False)]
    """
    first, *rest = str(text).split(CODE_START)
    pieces = [(without_marks(first), False)]
    for part in rest:
        inside, closed, after = part.partition(CODE_END)
        pieces += [(inside, bool(closed)), (without_marks(after), False)]
    return [(piece, is_code) for piece, is_code in pieces if piece]


# -- Markdown ------------------------------------------------------------------------------

# Characters with inline meaning in CommonMark/GFM. '(' ')' and '!' have meaning only
# next to '[' or ']' (links, images), which are always escaped, so they stay readable.
_MD_ESCAPE = str.maketrans({c: "\\" + c for c in "\\`*_[]#~|"} |
                           {"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# What turns the start of a line into a block: a list item, a heading, a setext line
_MD_START = re.compile(r"^(?:[-+=]|\d{1,9}(?=[.)](?:\s|$)))")
_MD_SAFE_CODE = re.compile(r"[^`|\\<>&\s]|[^`|\\<>&\s][^`|\\<>&]*[^`|\\<>&\s]")


def _markdown_plain(text: str, start: bool) -> str:
    text = printable(re.sub(r"[\n\r\t\u2028\u2029]", " ", text))
    if start:
        text = text.lstrip()
    escaped = text.translate(_MD_ESCAPE)
    if start:
        found = _MD_START.match(escaped)
        if found:
            end = found.end()
            escaped = (f"\\{escaped}" if not escaped[0].isdigit()
                       else f"{escaped[:end]}\\{escaped[end:]}")
    return escaped


def markdown_text(value: object, start: bool = False) -> str:
    """``value`` as Markdown text that renders as exactly these characters, on one line.

    Backslash-escapes every character with inline meaning in CommonMark/GFM (backticks,
    ``* _ [ ] # ~ |``, backslash), writes ``< > &`` as entities (no raw HTML can form),
    turns newlines into spaces and control characters into visible escapes. With ``start``
    (a paragraph or list item: the text begins a line) a leading ``- + =`` or ``1.`` is
    escaped so it cannot open a list or heading. A code span marked by :func:`code`
    becomes backticks when its text is plain, and escaped text otherwise.

    Examples
    --------
    >>> markdown_text("x`<img src=x onerror=alert(7)>`")
    'x\\\\`&lt;img src=x onerror=alert(7)&gt;\\\\`'
    >>> markdown_text("- [x] done", start=True)
    '\\\\- \\\\[x\\\\] done'
    """
    parts = []
    for index, (piece, is_code) in enumerate(spans(str(value))):
        if is_code and _MD_SAFE_CODE.fullmatch(piece) and not _CONTROL.search(piece):
            parts.append(f"`{piece}`")
        else:
            parts.append(_markdown_plain(piece, start and index == 0))
    return "".join(parts)


def link_target(path: str, safe: str = "/") -> str:
    """A relative path as a Markdown or HTML link target: percent-encoded, so no space,
    parenthesis, quote, ``<`` or scheme (``javascript:``) can end or redirect the link.
    With ``safe=""`` a ``/`` is encoded too (one path segment, e.g. a name).

    Examples
    --------
    >>> link_target("javascript:alert(1)_figures/a b.png")
    'javascript%3Aalert%281%29_figures/a%20b.png'
    >>> link_target("../x", safe="")
    '..%2Fx'
    """
    return quote(path, safe=safe)


# -- HTML ----------------------------------------------------------------------------------

def html_text(value: object) -> str:
    """``value`` as HTML text or a quoted attribute value: ``< > & " '`` as references,
    control characters as visible escapes, and ``://`` written with a character reference
    so no URL in a text is ever turned into a link."""
    return html.escape(printable(value, keep="\n\t"), quote=True).replace("://", "&#58;//")


# -- CSV -------------------------------------------------------------------------------------

# OWASP (CSV injection): a cell a spreadsheet may read as a formula or command starts
# with = + - @, a tab or a carriage return; fullwidth forms are folded to these by some
# spreadsheets, so they count too.
_FORMULA_START = tuple("=+-@\t\r\n") + ("\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet cannot run: text that could start a formula gets a
    leading ``'`` (OWASP's advice); anything else is returned unchanged.

    Text counts as a formula when it starts with ``= + - @``, a tab, a carriage return or
    a newline (after leading spaces too), or with the fullwidth form of ``= + - @``.
    Only text is changed: a number (``-0.5`` as a ``float``) is written as it is, so a
    numeric column stays numeric, while the text ``"-2+3"`` (or ``"-0.5"`` in a text
    column, where it is a category's name) becomes ``'-2+3``.

    Examples
    --------
    >>> [csv_cell(v) for v in ("=2+5", "@SUM(1+1)", "-2+3", -0.5, " =1", "A/G")]
    ["'=2+5", "'@SUM(1+1)", "'-2+3", -0.5, "' =1", 'A/G']
    """
    if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` to write as CSV: every text cell and column name through
    :func:`csv_cell`; numeric columns are not touched."""
    import pandas as pd

    safe = frame.rename(columns=csv_cell)
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.astype(object)
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            safe.isetitem(position, column.map(csv_cell))
    return safe


def write_safe_csv(frame: pd.DataFrame, target: str | Path) -> None:
    """Write ``frame`` as CSV for a spreadsheet: cells through :func:`csv_safe_frame`, and
    every text cell quoted (OWASP's advice; it also keeps a lone carriage return inside its
    cell, which the csv module leaves unquoted otherwise). Numbers stay unquoted."""
    Path(target).write_text(safe_csv_text(frame), encoding="utf-8")


def safe_csv_text(frame: pd.DataFrame) -> str:
    """The text :func:`write_safe_csv` writes, for writers that place files themselves."""
    return csv_safe_frame(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
