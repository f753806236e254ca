"""Issue 16, items 1-2: ``tabinv lesson list|export|check`` on the shipped lessons (running
one is in test_lesson_NN.py): six lessons with their facts, a Jupyter export, checking
a correct and a wrong answer, and bad input as one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from typer.testing import CliRunner

from tabinv.cli import app
from tabinv.lessons.catalog import lesson, lessons

from .shipped import INSTRUCTOR

runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(app, ["lesson", *args])


def test_six_lessons_are_listed_with_their_facts() -> None:
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [x["number"] for x in listed] == [1, 2, 3, 4, 5, 6]
    assert all(x["minutes"] > 0 and x["title"] and 2 <= x["exercises"] <= 4 for x in listed)
    assert sum(len(x["reproduces"]) for x in listed) >= 6
    table = invoke("list")
    assert table.exit_code == 0 and "warfarin" in table.output.lower()


def test_every_lesson_exports_to_a_valid_jupyter_notebook(tmp_path: Path) -> None:
    for item in lessons():
        result = invoke("export", str(item.number), "--to", "ipynb", "--out", str(tmp_path))
        assert result.exit_code == 0, result.output
        book = nbformat.read(tmp_path / f"{item.stem}.ipynb", as_version=4)
        nbformat.validate(book)
        assert any(c.cell_type == "code" for c in book.cells)
        assert all(not c.get("outputs") for c in book.cells if c.cell_type == "code")
    markdown = invoke("export", "1", "--to", "md", "--out", str(tmp_path))
    assert markdown.exit_code == 0
    assert (tmp_path / f"{lesson(1).stem}.md").read_text() == lesson(1).text()


def test_checking_a_correct_and_a_wrong_answer(tmp_path: Path) -> None:
    right = invoke("check", "1", str(INSTRUCTOR / "answers" / "01.py"), "--allow-code")
    assert right.exit_code == 0, right.output
    assert "exercises correct" in right.output
    wrong = invoke("check", "1", str(INSTRUCTOR / "answers" / "01-wrong.toml"), "--json")
    assert wrong.exit_code == 1
    report = json.loads(wrong.output)
    assert not report["passed"] and any(e["status"] == "wrong" for e in report["exercises"])


def test_bad_input_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    code = invoke("check", "1", str(INSTRUCTOR / "answers" / "01.py"))
    assert code.exit_code == 2 and "--allow-code" in code.output
    assert len(code.output.strip().splitlines()) == 1
    missing = invoke("check", "9", str(INSTRUCTOR / "answers" / "01.py"))
    assert missing.exit_code == 2 and "there is no lesson 9" in missing.output
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    linked = invoke("export", "1", "--out", str(tmp_path / "link"))
    assert linked.exit_code == 2 and "symbolic link" in linked.output
    assert not list((tmp_path / "elsewhere").iterdir())
    (tmp_path / "file").write_text("x")
    onto_file = invoke("run", "1", "--out", str(tmp_path / "file"))
    assert onto_file.exit_code == 2 and "is a file" in onto_file.output
    assert "Traceback" not in code.output + missing.output + linked.output + onto_file.output
