"""Issue 16, items 2-3: the course kit's machinery on fixture lessons (tests/lessons/fixture):
the catalog, running a lesson in a kernel (figures identical run to run, a failing cell
named, no kernel left behind, the page escaped) and checking answers (numbers, recognised
mistakes, functions on hidden cases; a .py file only with --allow-code, in a child with
limits)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from tabinv.lessons.catalog import LessonError, read_lessons
from tabinv.lessons.check import check_answers
from tabinv.lessons.page import lesson_page
from tabinv.lessons.runner import run_lesson

FIXTURE = Path(__file__).parent / "fixture"


@pytest.fixture(scope="module")
def selftest():  # noqa: ANN201
    return next(item for item in read_lessons(FIXTURE) if item.number == 99)


@pytest.fixture(scope="module")
def broken():  # noqa: ANN201
    return next(item for item in read_lessons(FIXTURE) if item.number == 98)


@pytest.fixture(scope="module")
def run(selftest):  # noqa: ANN001, ANN201
    return run_lesson(selftest, timeout=120)


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_a_lesson_runs_and_its_figures_are_the_same_every_run(run, selftest) -> None:
    assert set(run.results) == {"a", "mean"} and run.results["a"] == 0.5
    assert len(run.images) == 1 and run.images[0].startswith(b"\x89PNG")
    before = _children()
    again = run_lesson(selftest, timeout=120)
    assert _children() - before == set()  # its kernel is gone
    assert again.images == run.images and again.results == run.results
    assert run.reproduced() == [{"key": "a", "what": "a figure", "published": 0.5,
                                 "tolerance": 0.01, "source": "nowhere", "value": 0.5,
                                 "agrees": True}]


def test_a_failing_cell_is_one_line_naming_it(broken) -> None:
    before = _children()
    with pytest.raises(LessonError, match=r"lesson 98 failed in cell 3: ValueError: a "
                                          r"deliberate failure"):
        run_lesson(broken, timeout=120)
    assert _children() - before == set()


def test_the_page_escapes_what_cells_print_and_raw_html(run) -> None:
    page = lesson_page(run)
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;out&#x27;)" in page
    assert "<b>not bold</b>" not in page
    assert "data:image/png;base64," in page and "Published figures, reproduced" in page
    assert "default-src 'none'" in page


# -- checking answers ----------------------------------------------------------------------

def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


RIGHT = """import numpy as np
exercise_1 = 0.535
def exercise_2(prior, likelihood):
    return np.argmax(likelihood * prior, axis=1)
"""


def test_right_answers_pass(tmp_path: Path, selftest) -> None:
    report = check_answers(_write(tmp_path, "a.py", RIGHT), selftest, allow_code=True)
    assert report.passed and [c.status for c in report.checks] == ["correct", "correct"]


def test_wrong_answers_say_what_is_wrong_and_not_the_answer(tmp_path: Path, selftest) -> None:
    wrong = _write(tmp_path, "w.py", "exercise_1 = 0.6\n"
                   "def exercise_2(prior, likelihood):\n    return [1, 1]\n")
    report = check_answers(wrong, selftest, allow_code=True)
    assert not report.passed
    first, second = report.checks
    assert first.status == "wrong" and "not within 0.01 of the expected value" in \
        first.message and "look again" in first.message
    assert second.status == "wrong" and "1 of 1 hidden cases fail; case 1 (two records): " \
        "a wrong result" in second.message
    for check in report.checks:
        assert "0.53" not in check.message and "[0, 1]" not in check.message
    mistake = check_answers(_write(tmp_path, "m.toml", "exercise_1 = 0.352\n"), selftest)
    assert mistake.checks[0].message == "0.352: that is the prior"
    assert mistake.checks[1].status == "not answered"


def test_a_toml_file_holds_numbers_only(tmp_path: Path, selftest) -> None:
    report = check_answers(_write(tmp_path, "a.toml", 'exercise_1 = "0.53"\n'
                                  "exercise_2 = 1\n"), selftest)
    assert [c.status for c in report.checks] == ["wrong", "wrong"]
    assert "not a finite number" in report.checks[0].message
    assert "def exercise_2(...) in a .py answers file" in report.checks[1].message
    with pytest.raises(LessonError, match="exercise_9 is not an exercise of lesson 99"):
        check_answers(_write(tmp_path, "b.toml", "exercise_9 = 1\n"), selftest)
    with pytest.raises(LessonError, match="not valid TOML"):
        check_answers(_write(tmp_path, "c.toml", "exercise_1 = \n"), selftest)
    with pytest.raises(LessonError, match="expected a .toml"):
        check_answers(_write(tmp_path, "d.txt", "1"), selftest)


def test_code_runs_only_when_allowed(tmp_path: Path, selftest) -> None:
    marker = tmp_path / "ran"
    path = _write(tmp_path, "a.py", f"open({str(marker)!r}, 'w').write('x')\n")
    with pytest.raises(LessonError, match="is Python code; run it only if you trust it, "
                                          "with --allow-code"):
        check_answers(path, selftest)
    assert not marker.exists()


@pytest.mark.parametrize(("code", "message"), [
    ("while True:\n    pass\n", "ran longer than 2 s and was stopped"),
    ("x = bytearray(8 << 30)\n", "fails when it runs: MemoryError"),
    ("def broken(:\n", "fails when it runs: SyntaxError"),
    ("import os\nos.kill(os.getpid(), 9)\n", "was stopped by SIGKILL before answering"),
], ids=["endless", "memory", "syntax", "killed"])
def test_a_student_file_that_misbehaves_is_one_line(tmp_path: Path, selftest, code: str,
                                                    message: str) -> None:
    before = _children()
    with pytest.raises(LessonError, match=message):
        check_answers(_write(tmp_path, "a.py", code), selftest, allow_code=True, seconds=2)
    assert _children() - before == set()


def test_a_student_file_cannot_write_files_or_read_secrets(tmp_path: Path, selftest,
                                                          monkeypatch) -> None:
    monkeypatch.setenv("HOSPITAL_TOKEN", "s3cret")
    target = tmp_path / "written"
    code = (f"import os\ntry:\n    open({str(target)!r}, 'w').write('data')\nexcept OSError:\n"
            "    pass\nexercise_1 = len(os.environ.get('HOSPITAL_TOKEN', ''))\n"
            "print('noise on stdout')\n")
    report = check_answers(_write(tmp_path, "a.py", code), selftest, allow_code=True)
    assert report.checks[0].message.startswith("0 is not within")  # no secret inherited
    assert not target.exists() or target.stat().st_size == 0


def test_function_errors_are_reported_per_case(tmp_path: Path, selftest) -> None:
    code = "def exercise_2(prior, likelihood):\n    raise RuntimeError('\\x1b[31mboom')\n"
    report = check_answers(_write(tmp_path, "a.py", code), selftest, allow_code=True)
    message = report.checks[1].message
    assert "case 1 (two records): RuntimeError:" in message and "\x1b" not in message


def test_a_folder_or_pipe_is_not_read(tmp_path: Path, selftest) -> None:
    folder = tmp_path / "x.toml"
    folder.mkdir()
    with pytest.raises(LessonError, match="cannot read answers file|not a regular file"):
        check_answers(folder, selftest)
    fifo = tmp_path / "p.toml"
    os.mkfifo(fifo)
    with pytest.raises((LessonError, OSError)):
        check_answers(fifo, selftest)


def test_a_student_file_that_closes_its_channel_and_runs_on_is_stopped(
        tmp_path: Path, selftest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tabinv.lessons.check.STARTUP", 2.0)
    code = "import os, sys, time\nfor fd in range(3, 64):\n    try:\n        os.close(fd)\n" \
           "    except OSError:\n        pass\nwhile True:\n    time.sleep(0.1)\n"
    before = _children()
    with pytest.raises(LessonError, match="ran longer than"):
        check_answers(_write(tmp_path, "a.py", code), selftest, allow_code=True, seconds=1)
    assert _children() - before == set()
