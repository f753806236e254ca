"""The lessons the package ships: their facts, the figures they reproduce, their exercises.

Each lesson is two files in ``content/``: ``NN-slug.md`` (the student's notebook, jupytext
Markdown) and ``NN-slug.toml`` (its facts and the exercise key). The TOML is read and
checked here once (:func:`lessons`): a malformed file is a :class:`LessonError` naming
the file and the key, never a half-read lesson.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..exceptions import TabinvError
from ..text import cap, shorten

__all__ = ["Exercise", "Lesson", "LessonError", "Mistake", "Reproduced", "lesson",
           "lessons", "read_lessons"]

_NAME = re.compile(r"^(\d\d)-([a-z0-9-]+)\.toml$")
EXERCISE_KINDS = ("number", "function")


class LessonError(TabinvError):
    """A lesson that cannot be found, read, run or checked (one line)."""


@dataclass(frozen=True)
class Reproduced:
    """A published figure a lesson reproduces: its ``key`` among the lesson's results."""

    key: str
    what: str
    published: float
    tolerance: float
    source: str

    def agrees(self, value: float) -> bool:
        return abs(value - self.published) <= self.tolerance + 1e-12


@dataclass(frozen=True)
class Mistake:
    """A recognised wrong answer and what to tell the student about it."""

    value: float
    tolerance: float
    say: str


@dataclass(frozen=True)
class Case:
    """A hidden test case of a function exercise."""

    args: tuple[Any, ...]
    expected: Any
    say: str = ""


@dataclass(frozen=True)
class Exercise:
    """One exercise: a number within ``tolerance`` of ``answer``, or a function
    ``exercise_ID`` that must give ``expected`` on every hidden case."""

    id: int
    kind: str
    question: str
    hint: str
    answer: float = math.nan
    tolerance: float = 0.0
    mistakes: tuple[Mistake, ...] = ()
    signature: str = ""
    cases: tuple[Case, ...] = ()
    rtol: float = 1e-9
    atol: float = 1e-12

    @property
    def name(self) -> str:
        """The name the answer goes under in an answers file."""
        return f"exercise_{self.id}"


@dataclass(frozen=True)
class Lesson:
    """A lesson of the course kit (``tabinv lesson list``)."""

    number: int
    slug: str
    title: str
    minutes: int
    prerequisites: tuple[str, ...]
    summary: str
    reproduces: tuple[Reproduced, ...]
    exercises: tuple[Exercise, ...]
    folder: Any = field(default=None, repr=False, compare=False)

    @property
    def stem(self) -> str:
        return f"{self.number:02d}-{self.slug}"

    def text(self) -> str:
        """The student's notebook (jupytext Markdown)."""
        folder = _content() if self.folder is None else self.folder
        return folder.joinpath(f"{self.stem}.md").read_text("utf-8")

    def exercise(self, number: int) -> Exercise:
        return next(e for e in self.exercises if e.id == number)


def _content() -> Any:
    return resources.files(__package__).joinpath("content")


@functools.cache
def lessons() -> tuple[Lesson, ...]:
    """Every lesson the package ships, in order."""
    return read_lessons(_content())


def read_lessons(folder: Any) -> tuple[Lesson, ...]:
    """The lessons in ``folder`` (a path or package resource): its ``NN-slug.toml`` files,
    each beside its ``NN-slug.md``."""
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        if not folder.joinpath(f"{match[1]}-{match[2]}.md").is_file():
            raise LessonError(f"lesson file {entry.name} has no notebook "
                              f"{match[1]}-{match[2]}.md beside it")
        try:
            data = tomllib.loads(entry.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise LessonError(f"lesson file {entry.name} is not valid TOML: "
                              f"{shorten(str(error), 120)}") from None
        found.append(dataclasses.replace(_read(entry.name, int(match[1]), match[2], data),
                                         folder=folder))
    numbers = [item.number for item in found]
    if len(set(numbers)) != len(numbers):
        raise LessonError(f"two lessons share a number: {sorted(numbers)}")
    return tuple(sorted(found, key=lambda item: item.number))


def lesson(number: int) -> Lesson:
    """Lesson ``number``; LessonError naming the lessons there are when it is not one."""
    for item in lessons():
        if item.number == number:
            return item
    there = ", ".join(str(item.number) for item in lessons()) or "none"
    raise LessonError(f"there is no lesson {cap(str(number), 20)}; the lessons are {there} "
                      "(tabinv lesson list)")


# -- reading a lesson's TOML ----------------------------------------------------------------

def _read(name: str, number: int, slug: str, data: Mapping[str, Any]) -> Lesson:
    facts = _table(data, "lesson", name)
    where = f"{name} [lesson]"
    if _int(facts, "number", where) != number:
        raise LessonError(f"{where}: number {facts['number']!r} is not the file's {number}")
    if _text(facts, "slug", where) != slug:
        raise LessonError(f"{where}: slug {facts['slug']!r} is not the file's {slug!r}")
    reproduces = tuple(_reproduced(item, f"{name} [[reproduces]] {i + 1}")
                       for i, item in enumerate(_tables(data, "reproduces", name,
                                                       required=False)))
    exercises = tuple(_exercise(item, f"{name} [[exercise]] {i + 1}")
                      for i, item in enumerate(_tables(data, "exercise", name)))
    ids = [e.id for e in exercises]
    if len(set(ids)) != len(ids) or not exercises:
        raise LessonError(f"{name}: exercises need distinct ids, got {ids}")
    return Lesson(number, slug, _text(facts, "title", where), _int(facts, "minutes", where),
                  tuple(_texts(facts, "prerequisites", where)), _text(facts, "summary", where),
                  reproduces, exercises)


def _reproduced(item: Mapping[str, Any], where: str) -> Reproduced:
    return Reproduced(_text(item, "key", where), _text(item, "what", where),
                      _number(item, "published", where), _number(item, "tolerance", where),
                      _text(item, "source", where))


def _exercise(item: Mapping[str, Any], where: str) -> Exercise:
    kind = _text(item, "kind", where)
    if kind not in EXERCISE_KINDS:
        raise LessonError(f"{where}: kind {kind!r} is not one of {EXERCISE_KINDS}")
    common = {"id": _int(item, "id", where), "kind": kind,
              "question": _text(item, "question", where), "hint": _text(item, "hint", where)}
    if kind == "number":
        mistakes = tuple(Mistake(_number(m, "value", f"{where} mistake"),
                                 _number(m, "tolerance", f"{where} mistake"),
                                 _text(m, "say", f"{where} mistake"))
                         for m in _tables(item, "mistakes", where, required=False))
        return Exercise(**common, answer=_number(item, "answer", where),
                        tolerance=_number(item, "tolerance", where), mistakes=mistakes)
    cases = []
    for i, case in enumerate(_tables(item, "cases", where)):
        args = case.get("args")
        if not isinstance(args, list) or "expected" not in case:
            raise LessonError(f"{where} case {i + 1}: needs args (a list) and expected")
        cases.append(Case(tuple(args), case["expected"], str(case.get("say", ""))))
    return Exercise(**common, signature=_text(item, "signature", where), cases=tuple(cases),
                    rtol=float(item.get("rtol", 1e-9)), atol=float(item.get("atol", 1e-12)))


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise LessonError(f"{where}: needs a [{key}] table")
    return value


def _tables(data: Mapping[str, Any], key: str, where: str, required: bool = True
            ) -> Sequence[Mapping[str, Any]]:
    value = data.get(key, None if required else [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise LessonError(f"{where}: needs [[{key}]] tables")
    return value


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LessonError(f"{where}: {key} must be a non-empty text")
    return value.strip()


def _texts(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LessonError(f"{where}: {key} must be a list of texts")
    return value


def _int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise LessonError(f"{where}: {key} must be a whole number >= 0")
    return value


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or \
            not math.isfinite(value):
        raise LessonError(f"{where}: {key} must be a finite number")
    return float(value)
