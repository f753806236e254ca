"""Issue 16, item 4: what every shipped lesson must show (one test file per lesson, so the
suite's workers run them side by side): it executes through ``tabinv lesson run``, every
published figure it claims comes out within its stated tolerance, it draws its figures,
its instructor answers pass ``lesson check`` and a wrong answer fails it, and the student
notebook holds no solution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.lessons.catalog import lesson
from tabinv.lessons.check import check_answers
from tabinv.lessons.runner import notebook_results

ROOT = Path(__file__).resolve().parents[2]
INSTRUCTOR = ROOT / "instructor"


def check_lesson(number: int, tmp_path: Path) -> None:
    item = lesson(number)
    result = CliRunner().invoke(app, ["lesson", "run", str(number), "--out", str(tmp_path),
                                      "--timeout", "400"])
    assert result.exit_code == 0, result.output
    book = nbformat.read(tmp_path / f"lesson-{number:02d}.ipynb", as_version=4)
    results = notebook_results(book)
    for figure in item.reproduces:  # the published figure, reproduced
        assert figure.key in results, f"lesson {number} does not compute {figure.key}"
        assert figure.agrees(results[figure.key]), (
            f"lesson {number}: {figure.what}: {results[figure.key]:.4f}, published "
            f"{figure.published} +- {figure.tolerance}")
    assert "DOES NOT AGREE" not in result.output
    images = [o for c in book.cells for o in c.get("outputs", ())
              if "image/png" in (o.get("data") or {})]
    assert images, f"lesson {number} draws no figure"
    page = (tmp_path / f"lesson-{number:02d}.html").read_text()
    assert "<script" not in page
    assert ("Published figures, reproduced" in page) == bool(item.reproduces)
    assert 2 <= len(item.exercises) <= 4

    answers = INSTRUCTOR / "answers" / f"{number:02d}.py"
    report = check_answers(answers, item, allow_code=True)
    assert report.passed, report.to_dict()
    wrong = check_answers(INSTRUCTOR / "answers" / f"{number:02d}-wrong.toml", item)
    assert not wrong.passed and any(c.status == "wrong" for c in wrong.checks)
    for check in wrong.checks:  # what is wrong, never the expected value
        exercise = item.exercise(check.id)
        if exercise.kind == "number" and check.status == "wrong":
            assert f"{exercise.answer:g}" not in check.message

    student = item.text()
    solution = answers.read_text()
    for line in solution.splitlines():  # no line of a solution's body in the lesson
        if line.startswith("    ") and len(line.strip()) > 25:
            assert line.strip() not in student, f"lesson {number} shows a solution: {line}"
    for exercise in item.exercises:
        assert re.search(rf"\b[Ee]xercise[ _]{exercise.id}\b", student), (
            f"lesson {number} never asks exercise {exercise.id}")
    json.dumps(results)
