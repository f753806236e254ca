"""The child process that runs a student's answers file (``lesson check --allow-code``).

Started by :func:`tabinv.lessons.check.check_answers` as ``python -I -B sandbox.py FD``
(this file, not the package: it imports only the standard library and numpy) in a
session of its own, in an empty temporary folder, with a
bare environment and resource limits set before it starts (address space, CPU seconds,
no file written: ``RLIMIT_FSIZE`` 0). It reads one JSON request on stdin: the answers
file's text and name, and per exercise its name, kind and the hidden cases' arguments
(never the expected results). It executes the file, asks each ``exercise_K`` and writes
one JSON answer to the file descriptor named by its argument (the student's code may
print anything on stdout, which goes nowhere).
"""

from __future__ import annotations

import json
import math
import os
import sys
import traceback
from typing import Any

#: elements an answer may hold (a larger one is reported, not returned)
MAX_ELEMENTS = 1_000_000


def _argument(value: Any) -> Any:
    import numpy as np

    if isinstance(value, list):
        try:
            return np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            return value
    return value


def _error(error: BaseException) -> str:
    last = traceback.format_exception_only(type(error), error)[-1].strip()
    return last[:300]


def _plain(value: Any) -> Any:
    """A function's result as JSON numbers, or ``{"error": ...}``."""
    import numpy as np

    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        return {"error": f"returned a {type(value).__name__}, not numbers"}
    if array.size > MAX_ELEMENTS:
        return {"error": f"returned {array.size:,} numbers"}
    if not np.isfinite(array).all():
        return {"error": "returned a value that is not a finite number"}
    return {"shape": list(array.shape), "values": array.ravel().tolist()}


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            import numpy as np
            if isinstance(value, np.generic) and value.size == 1:
                value = value.item()
        except ImportError:  # pragma: no cover
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        return {"error": f"is a {type(value).__name__}, not a finite number"}
    return {"value": float(value)}


def answer(request: dict[str, Any]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "answers"}
    try:
        exec(compile(request["source"], request["filename"], "exec"), namespace)  # noqa: S102
    except BaseException as error:  # noqa: BLE001 - the student's file, reported
        return {"load_error": _error(error)}
    answers: dict[str, Any] = {}
    for exercise in request["exercises"]:
        name = exercise["name"]
        if name not in namespace:
            continue
        value = namespace[name]
        if exercise["kind"] == "number":
            answers[name] = _number(value)
            continue
        if not callable(value):
            answers[name] = {"error": "is not a function"}
            continue
        results = []
        for args in exercise["cases"]:
            try:
                results.append(_plain(value(*[_argument(a) for a in args])))
            except BaseException as error:  # noqa: BLE001 - reported per case
                results.append({"error": _error(error)})
        answers[name] = {"cases": results}
    return {"answers": answers}


def main() -> None:
    request = json.loads(sys.stdin.read())
    reply = json.dumps(answer(request))
    with os.fdopen(int(sys.argv[1]), "w", encoding="utf-8") as channel:
        channel.write(reply)


if __name__ == "__main__":
    main()
