"""Reports as files: JSON for machines, Markdown and self-contained HTML for people.

Both human formats render the same :func:`tabinv.report.outline.outline` (a list of
blocks built from the JSON document), so they say the same things; a stored JSON
re-renders without re-running.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..exceptions import DocumentError, TabinvError
from ..schemas import validate
from ..utils import write_atomic
from .document import Document, as_document, with_command
from .json import to_json
from .markdown import render_markdown

__all__ = ["read_document", "render_file", "report_text", "write_report"]


# -- files -------------------------------------------------------------------------------

def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)


def write_report(source: Any, path: str | Path, command: str = "",
                 figures: bool = False) -> Path:
    """Write a report, its format chosen by the suffix: ``.json`` (the ``--json``
    document, with ``command`` recorded), ``.md`` or ``.html`` (self-contained).

    ``source`` is live assessments or a document (assessment or sweep), converted once
    by :func:`~tabinv.report.document.as_document` (pass that document to write several
    reports). With ``figures=True`` a Markdown report also gets its PNGs in
    ``NAME_figures/`` beside it. The file is written atomically; returns its path.
    """
    path = Path(path)
    folder = f"{path.stem}_figures" if figures else None
    document = with_command(source, command)
    text = _render(document, path.suffix, str(path), folder)
    if folder is not None and path.suffix.lower() in (".md", ".markdown"):
        from .plots import write_png

        write_png(document, path.parent / folder)
    _write_text(path, text)
    return path


def report_text(source: Any, suffix: str, command: str = "") -> str:
    """The text :func:`write_report` would write to a file ending in ``suffix`` (no
    figures), for callers that keep reports in memory."""
    return _render(with_command(source, command), suffix, f"*{suffix}", None)


def _render(document: dict[str, Any], suffix: str, name: str, figures: str | None) -> str:
    from .html import render_html

    suffix = suffix.lower()
    if suffix == ".json":
        return to_json(document)
    if suffix in (".md", ".markdown"):
        return render_markdown(document, f"{figures}/" if figures else None)
    if suffix in (".html", ".htm"):
        return render_html(document)
    raise TabinvError(f"report file {name!r}: use a .json, .md or .html file name")


def read_document(result_json_path: str | Path) -> Document:
    """A stored result document (``--out x.json`` or ``--json`` output), checked: one
    that carries a ``schema_version`` against its JSON Schema (:mod:`tabinv.schemas`);
    one written before version 1 (none) by its keys only."""
    source = Path(result_json_path)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TabinvError(f"{source} is not a JSON document: {error}") from None
    if not isinstance(document, dict):
        raise TabinvError(f"{source} holds a JSON {type(document).__name__}, expected a "
                          "tabinv result document (an object)")
    if "schema_version" in document:
        try:
            validate(document)
        except DocumentError as error:
            raise DocumentError(f"{source}: {error}") from None
    return as_document(document)


def render_file(result_json_path: str | Path, out_path: str | Path,
                figures: bool = False) -> Path:
    """Re-render a stored result (``--out x.json`` or ``--json`` output) to ``out_path``
    (``.html``, ``.md`` or ``.json``) without running anything again."""
    return write_report(read_document(result_json_path), out_path, figures=figures)
