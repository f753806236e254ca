"""The course kit: six lessons that reproduce the classic results, with exercises that
check themselves (``tabinv lesson list|run|export|check``).

A lesson is a Markdown notebook (jupytext) in ``content/NN-slug.md`` with its facts in
``content/NN-slug.toml``: title, minutes, prerequisites, the published figures it
reproduces (``[[reproduces]]``) and its exercises (``[[exercise]]``). A lesson ends a
cell with ``show_results({...})``: the figures it computed, displayed as a small table
and carried under :data:`RESULTS_MIME` so that ``lesson run`` and the tests set them
beside the published ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RESULTS_MIME", "LessonResults", "show_results"]

#: the output type under which a lesson's figures travel in its notebook
RESULTS_MIME = "application/vnd.tabinv.lesson-results+json"


@dataclass(frozen=True)
class LessonResults:
    """Figures a lesson computed (aggregates only: accuracies, rates; never a person's
    value). Displayed in a notebook as a table of two columns."""

    values: Mapping[str, float]

    def __repr__(self) -> str:
        width = max((len(name) for name in self.values), default=0)
        return "\n".join(f"{name:<{width}}  {value:.4f}" for name, value in self.values.items())

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None
                          ) -> dict[str, Any]:
        return {"text/plain": repr(self), RESULTS_MIME: dict(self.values)}


def show_results(results: Mapping[str, float]) -> LessonResults:
    """The lesson's figures, as the last expression of a cell: ``show_results({"map_accuracy":
    acc})``. Raises ValueError for a value that is not a finite number."""
    clean: dict[str, float] = {}
    for name, value in results.items():
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"result {name!r} is not a finite number: {value!r}")
        clean[str(name)] = number
    json.dumps(clean)  # names are text
    return LessonResults(clean)
