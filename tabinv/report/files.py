"""Reports as files: JSON for machines, Markdown and self-contained HTML for people.

Both human formats render the same :func:`tabinv.report.outline.outline` (a list of
blocks built from the JSON document), so they say the same things; a stored JSON
re-renders without re-running.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..exceptions import TabinvError
from ..utils import write_atomic
from .document import as_document
from .json import to_json
from .markdown import render_markdown

__all__ = ["read_document", "render_file", "write_report"]


# -- files -------------------------------------------------------------------------------

def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def write_report(source: Any, path: str | Path, command: str = "",
                 figures: bool = False) -> Path:
    """Write a report, its format chosen by the suffix: ``.json`` (the ``--json``
    document, with ``command`` recorded), ``.md`` or ``.html`` (self-contained).

    ``source`` is live assessments or a document (assessment or sweep). With
    ``figures=True`` a Markdown report also gets its PNGs in ``NAME_figures/`` beside it.
    The file is written atomically; returns its path.
    """
    from .html import render_html

    path = Path(path)
    document = as_document(source)
    if command:
        document = {**document, "command": command}
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = to_json(document)
    elif suffix in (".md", ".markdown"):
        folder = f"{path.stem}_figures"
        text = render_markdown(document, f"{folder}/" if figures else None)
        if figures:
            from .plots import write_png

            write_png(document, path.parent / folder)
    elif suffix in (".html", ".htm"):
        text = render_html(document)
    else:
        raise TabinvError(f"report file {str(path)!r}: use a .json, .md or .html file name")
    _write_text(path, text)
    return path


def read_document(result_json_path: str | Path) -> dict[str, Any]:
    """A stored result document (``--out x.json`` or ``--json`` output), checked."""
    source = Path(result_json_path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TabinvError(f"{source} is not a JSON document: {error}") from None
    if not isinstance(document, dict):
        raise TabinvError(f"{source} holds a JSON {type(document).__name__}, expected a "
                          "tabinv result document (an object)")
    return as_document(document)


def render_file(result_json_path: str | Path, out_path: str | Path,
                figures: bool = False) -> Path:
    """Re-render a stored result (``--out x.json`` or ``--json`` output) to ``out_path``
    (``.html``, ``.md`` or ``.json``) without running anything again."""
    return write_report(read_document(result_json_path), out_path, figures=figures)
