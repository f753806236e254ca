"""``tabinv lesson list|run|export|check``: the course kit (:mod:`tabinv.lessons`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ..lessons.catalog import LessonError, lesson, lessons
from ..report.json import to_json
from ..text import terminal_text
from .console import err, friendly, out
from .options import AsJson

__all__ = ["lesson_app"]

lesson_app = typer.Typer(help="The course kit: lessons that reproduce the classic results, "
                         "with exercises that check themselves.", no_args_is_help=True)

Number = Annotated[int, typer.Argument(help="The lesson's number (tabinv lesson list).")]


class ExportFormat(StrEnum):
    ipynb = "ipynb"
    md = "md"


def _out_folder(path: Path) -> Path:
    """``--out``: a folder, made if missing (with its parents); a link or a file is
    refused (nothing is written through a link)."""
    if path.is_symlink():
        raise LessonError(f"--out {path} is a symbolic link; give a folder")
    if path.exists() and not path.is_dir():
        raise LessonError(f"--out {path} is a file; give a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


@lesson_app.command("list")
@friendly
def lesson_list(as_json: AsJson = False) -> None:
    """List the lessons: number, title, class time, the figures each reproduces."""
    items = lessons()
    if as_json:
        typer.echo(to_json([{"number": x.number, "slug": x.slug, "title": x.title,
                             "minutes": x.minutes, "prerequisites": list(x.prerequisites),
                             "summary": x.summary, "exercises": len(x.exercises),
                             "reproduces": [{"what": r.what, "published": r.published,
                                             "source": r.source} for r in x.reproduces]}
                            for x in items]))
        return
    table = Table("#", "lesson", "minutes", "exercises", "reproduces")
    for item in items:
        table.add_row(str(item.number), item.title, str(item.minutes),
                      str(len(item.exercises)),
                      "; ".join(f"{r.what}: {r.published:g}" for r in item.reproduces) or "-")
    out.print(table)


@lesson_app.command("run")
@friendly
def lesson_run(
    number: Number,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the executed "
                                          "notebook (.ipynb) and its HTML page.")],
    timeout: Annotated[float, typer.Option(help="Seconds the lesson may run.", min=1)] = 600,
) -> None:
    """Execute a lesson and write its page (lesson-NN.html) and notebook (lesson-NN.ipynb)."""
    import nbformat

    from ..lessons.page import lesson_page
    from ..lessons.runner import run_lesson
    from ..utils import write_atomic

    item = lesson(number)
    folder = _out_folder(out_dir)
    run = run_lesson(item, timeout=timeout)
    stem = f"lesson-{item.number:02d}"
    write_atomic(folder / f"{stem}.html", lesson_page(run))
    write_atomic(folder / f"{stem}.ipynb", nbformat.writes(run.notebook))
    out.print(f"lesson {item.number} ({terminal_text(item.title, one_line=True)}) ran in "
              f"{run.seconds:.1f} s; wrote {folder / stem}.html and .ipynb", highlight=False)
    for row in run.reproduced():
        value = "not computed" if row["value"] is None else f"{row['value']:.3f}"
        mark = "agrees" if row["agrees"] else "DOES NOT AGREE"
        out.print(f"- {terminal_text(row['what'], one_line=True)}: published "
                  f"{row['published']:g}, this run {value} (within {row['tolerance']:g}: "
                  f"{mark})", highlight=False)


@lesson_app.command("export")
@friendly
def lesson_export(
    number: Number,
    to: Annotated[ExportFormat, typer.Option("--to", help="ipynb (Jupyter) or md "
                                             "(jupytext Markdown).")] = ExportFormat.ipynb,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder to write to.")] = Path("."),
) -> None:
    """Write a lesson's student notebook (not executed) for Jupyter or as Markdown."""
    from ..lessons.runner import notebook
    from ..utils import write_atomic

    item = lesson(number)
    folder = _out_folder(out_dir)
    if to is ExportFormat.md:
        target = write_atomic(folder / f"{item.stem}.md", item.text())
    else:
        import nbformat
        target = write_atomic(folder / f"{item.stem}.ipynb", nbformat.writes(notebook(item)))
    out.print(f"wrote {target}", highlight=False)


@lesson_app.command("check")
@friendly
def lesson_check(
    number: Number,
    answers: Annotated[Path, typer.Argument(help="The answers: a .toml file of numbers "
                                            "(exercise_1 = 0.53) or a .py file (numbers "
                                            "and def exercise_K functions).")],
    allow_code: Annotated[bool, typer.Option("--allow-code", help="Run a .py answers file "
                                             "(in a child process with time and memory "
                                             "limits); only for a file you trust.")] = False,
    as_json: AsJson = False,
) -> None:
    """Check a student's answers to a lesson's exercises (exit 0: all right, 1: not).

    The messages say what is wrong, never the expected answer."""
    from ..lessons.check import check_answers

    report = check_answers(answers, lesson(number), allow_code=allow_code)
    if as_json:
        typer.echo(to_json(report.to_dict()))
    else:
        for check in report.checks:
            style = {"correct": "green", "wrong": "bold red"}.get(check.status, "yellow")
            out.print(Text.assemble((f"exercise {check.id}: {check.status}", style), ": ",
                                    terminal_text(check.message, one_line=True)),
                      highlight=False)
        right = sum(c.status == "correct" for c in report.checks)
        (out if report.passed else err).print(
            f"{right} of {len(report.checks)} exercises correct", highlight=False)
    if not report.passed:
        raise typer.Exit(1)
