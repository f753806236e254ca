"""Issue 16: lesson 3 executes and shows what it claims (tests/lessons/shipped.py)."""

from pathlib import Path

from .shipped import check_lesson


def test_lesson_3(tmp_path: Path) -> None:
    check_lesson(3, tmp_path)
