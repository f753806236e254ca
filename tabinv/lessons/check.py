"""``tabinv lesson check N ANSWERS``: a student's answers against a lesson's exercise key.

An answers file is TOML (``exercise_1 = 0.53``: numbers only, nothing runs) or Python
(numbers and the ``def exercise_K(...)`` functions). A Python file is code: it runs only
with ``allow_code`` (``--allow-code``), in a child process of its own
(:mod:`tabinv.lessons.sandbox`) with a bare environment, an empty working folder, limits
on time, memory and file writing, and the hidden cases' arguments only: the expected
results stay in this process. Every exercise gets a verdict and one line saying what is
wrong, never the expected value.
"""

from __future__ import annotations

import json
import math
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..processes import die_with_parent
from ..text import cap, shorten, terminal_text
from ..utils import open_regular
from .catalog import Exercise, Lesson, LessonError

__all__ = ["CheckReport", "ExerciseCheck", "check_answers", "read_answers"]

#: bytes an answers file may hold
MAX_ANSWERS_BYTES = 1 << 20
#: seconds, bytes of address space and bytes of reply allowed to a student's code
CODE_SECONDS = 60.0
CODE_MEMORY = 2 << 30
MAX_REPLY_BYTES = 64 << 20
#: seconds of wall time allowed beyond the CPU limit: the interpreter's and numpy's
#: start-up on a busy machine
STARTUP = 30.0

STATUSES = ("correct", "wrong", "not answered")

#: the child's program, run as a file: importing the tabinv package would cost the
#: child about 2 s (it needs only the standard library, and numpy for the cases)
SANDBOX = Path(__file__).with_name("sandbox.py")


@dataclass(frozen=True)
class ExerciseCheck:
    """One exercise's verdict (``status`` one of :data:`STATUSES`) and what to say."""

    id: int
    status: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"exercise": self.id, "status": self.status, "message": self.message}


@dataclass(frozen=True)
class CheckReport:
    """Every exercise of a lesson, checked."""

    lesson: int
    answers: str
    checks: tuple[ExerciseCheck, ...]

    @property
    def passed(self) -> bool:
        return all(c.status == "correct" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"lesson": self.lesson, "answers": self.answers, "passed": self.passed,
                "correct": sum(c.status == "correct" for c in self.checks),
                "exercises": [c.to_dict() for c in self.checks]}


def read_answers(path: str | os.PathLike[str], lesson: Lesson, *, allow_code: bool = False,
                 seconds: float = CODE_SECONDS) -> dict[str, Any]:
    """The answers of ``path`` as ``{exercise_K: {"value": x} | {"cases": [...]} |
    {"error": text}}``. Raises LessonError (one line) for a file that cannot be read, a
    Python file without ``allow_code``, or code that fails as a whole."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".py"):
        raise LessonError(f"answers file {shorten(path.name)}: expected a .toml (numbers) "
                          "or .py (numbers and functions) file")
    text = _read_text(path)
    if suffix == ".toml":
        return _toml_answers(text, path, lesson)
    if not allow_code:
        raise LessonError(f"{shorten(path.name)} is Python code; run it only if you trust "
                          "it, with --allow-code (it runs in a child process with limits), "
                          "or give the numbers in a .toml file")
    return _run_answers(text, path.name, lesson, seconds)


def check_answers(path: str | os.PathLike[str], lesson: Lesson, *, allow_code: bool = False,
                  seconds: float = CODE_SECONDS) -> CheckReport:
    """Check the answers in ``path`` against ``lesson``'s key."""
    answers = read_answers(path, lesson, allow_code=allow_code, seconds=seconds)
    checks = tuple(_check(exercise, answers.get(exercise.name))
                   for exercise in lesson.exercises)
    return CheckReport(lesson.number, Path(path).name, checks)


# -- reading -------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    try:
        with open_regular(path) as handle:
            data = handle.read(MAX_ANSWERS_BYTES + 1)
    except OSError as error:
        raise LessonError(f"cannot read answers file {shorten(str(path))}: "
                          f"{error.strerror or error}") from None
    if len(data) > MAX_ANSWERS_BYTES:
        raise LessonError(f"answers file {shorten(path.name)} is larger than "
                          f"{MAX_ANSWERS_BYTES:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise LessonError(f"answers file {shorten(path.name)} is not UTF-8 text") from None


def _toml_answers(text: str, path: Path, lesson: Lesson) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LessonError(f"answers file {shorten(path.name)} is not valid TOML: "
                          f"{shorten(str(error), 120)}") from None
    known = {e.name: e for e in lesson.exercises}
    unknown = [k for k in data if k not in known]
    if unknown:
        raise LessonError(f"answers file {shorten(path.name)}: {_said(unknown[0])} is not "
                          f"an exercise of lesson {lesson.number} (expected "
                          f"{', '.join(known)})")
    answers: dict[str, Any] = {}
    for name, value in data.items():
        if known[name].kind == "function":
            answers[name] = {"error": "is a function exercise: write def "
                             f"{name}(...) in a .py answers file"}
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value):
            answers[name] = {"error": f"is {shorten(value)}, not a finite number"}
        else:
            answers[name] = {"value": float(value)}
    return answers


def _limits(seconds: float, parent: int) -> None:  # pragma: no cover - in the child
    die_with_parent(parent)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails, it does not kill
    cpu = int(seconds) + 1  # SIGXCPU then, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (CODE_MEMORY, CODE_MEMORY))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run_answers(text: str, filename: str, lesson: Lesson, seconds: float
                 ) -> dict[str, Any]:
    request = {"source": text, "filename": filename,
               "exercises": [{"name": e.name, "kind": e.kind,
                              "cases": [list(c.args) for c in e.cases]}
                             for e in lesson.exercises]}
    reader, writer = os.pipe()
    parent = os.getpid()
    with tempfile.TemporaryDirectory(prefix="tabinv-check-") as folder:
        env = {"PATH": os.defpath, "HOME": folder, "LANG": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        try:
            child = subprocess.Popen(
                [sys.executable, "-I", "-B", str(SANDBOX), str(writer)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=folder, env=env, start_new_session=True, pass_fds=(writer,),
                preexec_fn=lambda: _limits(seconds, parent))
        finally:
            os.close(writer)
        try:
            reply = _exchange(child, reader, json.dumps(request).encode(), seconds)
        finally:
            os.close(reader)
            _stop(child)
    return reply


def _exchange(child: subprocess.Popen[bytes], reader: int, request: bytes, seconds: float
              ) -> dict[str, Any]:
    assert child.stdin is not None
    try:
        child.stdin.write(request)
        child.stdin.close()
    except BrokenPipeError:
        pass
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(reader, selectors.EVENT_READ)
        deadline = time.monotonic() + seconds + STARTUP
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise LessonError(f"the answers file ran longer than {seconds:.0f} s and "
                                  "was stopped")
            chunk = os.read(reader, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_REPLY_BYTES:
                raise LessonError("the answers file's results are larger than "
                                  f"{MAX_REPLY_BYTES:,} bytes")
            chunks.append(chunk)
    if not chunks:
        status, usage = _reap(child, deadline)  # its CPU time says why it stopped
        code = child.returncode = os.waitstatus_to_exitcode(status)
        if code in (-signal.SIGXCPU, -signal.SIGKILL) and \
                usage.ru_utime + usage.ru_stime >= seconds:
            raise LessonError(f"the answers file ran longer than {seconds:.0f} s and was "
                              "stopped")
        why = (f"was stopped by {signal.Signals(-code).name}" if code < 0 else
               f"exited with code {code}")
        raise LessonError(f"the answers file {why} before answering (its time limit is "
                          f"{seconds:.0f} s of CPU, its memory {CODE_MEMORY >> 30} GiB)")
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        raise LessonError("the answers file's child process answered something that is "
                          "not JSON") from None
    if "load_error" in reply:
        raise LessonError(f"the answers file fails when it runs: {_said(reply['load_error'])}")
    return reply["answers"]


def _reap(child: subprocess.Popen[bytes], deadline: float) -> tuple[int, Any]:
    """Wait for the child until ``deadline`` (it closed its answer channel early, maybe
    to run on): its status and resource usage; killed when the deadline passes."""
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() >= deadline:
            _stop(child)
            raise LessonError("the answers file ran longer than its time limit and was "
                              "stopped")
        time.sleep(0.02)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Kill the child's session (anything it started too) and reap it."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.wait(timeout=30)


# -- checking ------------------------------------------------------------------------------

def _check(exercise: Exercise, given: Mapping[str, Any] | None) -> ExerciseCheck:
    if given is None:
        return ExerciseCheck(exercise.id, "not answered",
                             f"no {exercise.name} in the answers file")
    if "error" in given:
        return _wrong(exercise, f"{exercise.name} {_said(given['error'])}")
    if exercise.kind == "number":
        value = given["value"]
        if abs(value - exercise.answer) <= exercise.tolerance + 1e-12:
            return ExerciseCheck(exercise.id, "correct", f"{value:g} is right")
        for mistake in exercise.mistakes:
            if abs(value - mistake.value) <= mistake.tolerance + 1e-12:
                return ExerciseCheck(exercise.id, "wrong", f"{value:g}: {mistake.say}")
        return _wrong(exercise, f"{value:g} is not within {exercise.tolerance:g} of the "
                      "expected value")
    return _check_function(exercise, given.get("cases") or [])


def _check_function(exercise: Exercise, results: list[Any]) -> ExerciseCheck:
    failed: list[str] = []
    for number, (case, result) in enumerate(zip(exercise.cases, results, strict=True), 1):
        about = f" ({case.say})" if case.say else ""
        if "error" in result:
            failed.append(f"case {number}{about}: {_said(result['error'])}")
            continue
        expected = np.asarray(case.expected, dtype=float)
        got = np.asarray(result["values"], dtype=float).reshape(result["shape"])
        if got.shape != expected.shape:
            failed.append(f"case {number}{about}: returned shape {got.shape}, which is not "
                          "the expected shape")
        elif not np.allclose(got, expected, rtol=exercise.rtol, atol=exercise.atol):
            failed.append(f"case {number}{about}: a wrong result")
    if not failed:
        return ExerciseCheck(exercise.id, "correct",
                             f"all {len(exercise.cases)} hidden cases pass")
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return _wrong(exercise, f"{len(failed)} of {len(exercise.cases)} hidden cases fail; "
                  f"{failed[0]}{more}")


def _wrong(exercise: Exercise, what: str) -> ExerciseCheck:
    return ExerciseCheck(exercise.id, "wrong", f"{what}. Hint: {exercise.hint}")


def _said(text: Any) -> str:
    return cap(terminal_text(str(text), one_line=True), 200)
