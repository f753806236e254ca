"""How the assessment commands show their results: a status line while they run, the
summary table and headlines, JSON or Markdown, and the report file."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ..data.dataset import Dataset
from ..evaluation.results import Assessment
from ..evaluation.utility import utility_line
from ..exceptions import TabinvError
from ..report.document import as_document, scenarios, strongest
from ..report.files import write_report
from ..report.json import to_json
from ..report.membership import terminal_lines
from ..report.tables import SUMMARY_HEADER, assessment_markdown, headlines, summary_rows
from ..text import terminal_text
from .console import err, out, plain

__all__ = ["FOLDER_REPORTS", "render", "report_paths", "show_skipped", "skipped_lines",
           "summary_lines", "warn_cleaning", "warn_facts", "working"]


@contextmanager
def working(message: str) -> Iterator[None]:
    """A status line on stderr while the work runs."""
    with err.status(plain(message)):
        yield


def warn_cleaning(loaded: Dataset) -> Dataset:
    """Say on stderr what checking a data file changed or let through (out-of-bounds
    values clipped or kept)."""
    for step in loaded.cleaning:
        err.print(f"warning: {loaded.name}: {step.description}", markup=False,
                  highlight=False, soft_wrap=True)
    return loaded


def warn_facts(facts: Mapping[str, Any]) -> None:
    """:func:`warn_cleaning` for data read inside an assessment, from its dataset facts."""
    for step in facts.get("cleaning") or ():
        err.print(f"warning: {facts.get('name')}: {step['step']}", markup=False,
                  highlight=False, soft_wrap=True)


#: what ``--out FOLDER`` writes
FOLDER_REPORTS = ("result.json", "report.md", "report.html")
_SUFFIXES = (".json", ".md", ".markdown", ".html", ".htm")


def report_paths(report: Path) -> list[Path]:
    """``--out``: one report file (by its suffix), or a folder that gets
    :data:`FOLDER_REPORTS`."""
    if report.suffix.lower() in _SUFFIXES and not report.is_dir():
        return [report]
    if report.exists() and not report.is_dir():
        raise TabinvError(f"--out {str(report)!r} is a file; give a .json, .md or .html "
                          "file name, or a folder for all three")
    return [report / name for name in FOLDER_REPORTS]


def skipped_lines(document: Mapping[str, Any]) -> list[str]:
    """One line per attack that ``--attack all`` skipped, with the reason (each
    assessment's ``threat.skipped``); the hidden attributes named when a document holds
    several assessments, each reason once."""
    items = scenarios(document)
    lines: list[str] = []
    for scenario in items:
        threat = scenario.get("threat") or {}
        hidden = " + ".join(str(s) for s in threat.get("sensitive") or ())
        where = f" [{hidden} hidden]" if len(items) > 1 and hidden else ""
        lines += [f"skipped{where} {item}" for item in threat.get("skipped") or ()]
    return list(dict.fromkeys(lines))


def show_skipped(document: Mapping[str, Any], machine_output: bool) -> None:
    """Print :func:`skipped_lines` on stdout below the tables, or on stderr when stdout
    carries JSON or Markdown (it stays machine-readable)."""
    console = err if machine_output else out
    for line in skipped_lines(document):
        console.print(f"- {terminal_text(line, one_line=True)}", highlight=False,
                      soft_wrap=True)


def render(assessments: list[Assessment], as_json: bool, markdown: bool = False,
           report: Path | None = None) -> None:
    """Write ``report`` if asked, then print JSON, Markdown or the summary table, all
    from one document (:func:`~tabinv.report.document.as_document`)."""
    document = as_document(assessments)  # once, for every writer below
    if report is not None:
        command = shlex.join(["tabinv", *sys.argv[1:]])
        for path in report_paths(report):
            write_report(document, path, command=command)
        err.print(f"results written to {report}", highlight=False)
    if as_json or markdown:
        typer.echo(to_json(document) if as_json else assessment_markdown(document))
        show_skipped(document, machine_output=True)
        return
    table = Table(*SUMMARY_HEADER, title=f"{document['dataset'].get('name')}: "
                  f"{document['model'].get('family')} model, label "
                  f"{document['model'].get('label')!r}")
    for scenario in scenarios(document):
        for row in summary_rows(scenario):
            table.add_row(*row)
        table.add_section()
    out.print(table)
    for scenario in scenarios(document):
        for line in summary_lines(scenario):
            out.print(f"- {line}", highlight=False, markup=False)
    show_skipped(document, machine_output=False)


def summary_lines(scenario: Mapping[str, Any]) -> list[str]:
    """The terminal's lines for one scenario: per inferred attribute, the rating of the
    strongest attack and the baseline it was measured over, then its headline; the
    strongest membership attack (when measured); and the model's utility on non-members."""
    lines = [f"[{item.get('rating', '?')}, over {item.get('over', '?')}] {line}"
             for item, line in zip(strongest(scenario), headlines(scenario), strict=True)]
    lines += [terminal_text(line, one_line=True) for line in terminal_lines(scenario)]
    utility = utility_line(scenario.get("utility") or [])
    return [*lines, f"model {utility}"] if utility else lines
