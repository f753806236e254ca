"""Issue 16: lesson 5 executes and shows what it claims (tests/lessons/shipped.py)."""

from pathlib import Path

from .shipped import check_lesson


def test_lesson_5(tmp_path: Path) -> None:
    check_lesson(5, tmp_path)
