"""Assessment results as rows of text, rendered to the terminal (rich) or Markdown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..evaluation.estimate import Estimate
from ..evaluation.results import Assessment

__all__ = ["SUMMARY_HEADER", "assessment_markdown", "fmt", "headlines", "markdown_table",
           "summary_rows"]

SUMMARY_HEADER = ("hidden", "inferred", "method", "members acc [95% CI]", "AUC",
                  "non-members acc [95% CI]", "AUC", "members: acc - imputation")


def fmt(estimate: Estimate | None, interval: bool = True) -> str:
    """``.572 [.551, .593]``, or ``-`` when undefined."""
    if estimate is None or math.isnan(estimate.value):
        return "-"
    value = f"{estimate.value:.3f}"
    if not interval:
        return value
    return f"{value} [{estimate.low:.3f}, {estimate.high:.3f}]"


def _signed(estimate: Estimate) -> str:
    return f"{estimate.value:+.3f} [{estimate.low:+.3f}, {estimate.high:+.3f}]"


def _leak_cell(leak: Any) -> str:
    if leak is None:
        return ""
    if leak.estimate.low > 0:
        mark = "leaks"
    elif leak.estimate.high < 0:
        mark = "below"
    else:
        mark = "no gain"
    return f"{_signed(leak.estimate)} {mark}"


def summary_rows(assessment: Assessment) -> list[tuple[str, ...]]:
    """One row per (sensitive attribute, method): members next to non-members."""
    hidden = " + ".join(assessment.threat["sensitive"])
    leaks = {(item.method, item.variant, item.sensitive, item.population): item
             for item in assessment.leakage}
    rows = []
    seen = set()
    for result in assessment.results:
        key = (result.sensitive, result.method, result.variant)
        if key in seen:
            continue
        seen.add(key)
        cells = {}
        for population in ("members", "non-members", "given"):
            match = [r for r in assessment.results if (r.sensitive, r.method, r.variant,
                                                        r.population) == (*key, population)]
            cells[population] = match[0] if match else None
        leak = leaks.get((result.method, result.variant, result.sensitive, "members")) or \
            leaks.get((result.method, result.variant, result.sensitive, "given"))
        first = cells["members"] or cells["given"]
        rows.append((
            hidden if not rows else "", result.sensitive, result.key,
            fmt(first.metrics["accuracy"]) if first else "-",
            fmt(first.metrics["auc"], interval=False) if first else "-",
            fmt(cells["non-members"].metrics["accuracy"]) if cells["non-members"] else "-",
            fmt(cells["non-members"].metrics["auc"], interval=False)
            if cells["non-members"] else "-",
            _leak_cell(leak),
        ))
    return rows


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def assessment_markdown(assessments: Sequence[Assessment]) -> str:
    """A Markdown summary: one table for all scenarios, then the verdicts."""
    rows = [row for a in assessments for row in summary_rows(a)]
    text = [markdown_table(SUMMARY_HEADER, rows), ""]
    for assessment in assessments:
        text += [f"- {line}" for line in headlines(assessment)]
    return "\n".join(text) + "\n"


def headlines(assessment: Assessment) -> list[str]:
    """Per inferred attribute: the strongest attack on members, against imputation and
    against non-members, in one sentence each."""
    lines = []
    membership = {(m["method"], m["variant"], m["sensitive"]): m["difference"]
                  for m in assessment.membership}
    for item in _strongest(assessment):
        gap = membership.get((item.method, item.variant, item.sensitive))
        text = item.verdict
        if gap is not None:
            gap_estimate = Estimate(gap["value"], gap["low"], gap["high"])
            effect = ("members are easier to attack" if gap_estimate.low > 0 else
                      "no measurable membership effect")
            text += f" Members vs non-members: {_signed(gap_estimate)} ({effect})."
        lines.append(f"[{' + '.join(assessment.threat['sensitive'])} hidden] {text}")
    return lines


def _strongest(assessment: Assessment) -> list[Any]:
    best: dict[str, Any] = {}
    accuracy = {(r.method, r.variant, r.sensitive, r.population): r.metrics["accuracy"].value
                for r in assessment.results}
    for item in assessment.leakage:
        if item.population not in ("members", "given"):
            continue
        score = accuracy[(item.method, item.variant, item.sensitive, item.population)]
        current = best.get(item.sensitive)
        if current is None or score > current[0]:
            best[item.sensitive] = (score, item)
    return [pair[1] for pair in best.values()]


def threat_sentence(assessment: Assessment) -> str:
    """The threat model in plain words."""
    threat = assessment.threat
    access = {"output": "the model's prediction and its residual spread",
              "confidence": "the model's confidence scores",
              "label": "only the model's predicted label"}[threat["access"]]
    if threat.get("rounding") is not None:
        access += f" rounded to {threat['rounding']} decimals"
    if threat.get("white_box"):
        access += ", and the model file itself (white box)"
    unknown = threat.get("unknown") or []
    return (f"The attacker wants {' and '.join(threat['sensitive'])}; knows "
            f"{', '.join(threat['known']) or 'nothing else'}"
            f"{'; does not know ' + ', '.join(unknown) if unknown else ''}; holds the "
            f"{'true' if threat['label_source'] == 'true' else 'model-predicted'} "
            f"`{threat['label']}`; and sees {access}.")
