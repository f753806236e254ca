"""The threat model in plain words: what the attacker wants, knows, holds and sees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..text import code
from ..vocabulary import ACCESS_LEVELS, ANSWERS

__all__ = ["QUERY_HEADER", "access_text", "listing", "query_rows", "query_sentence",
           "threat_sentence"]

#: columns of the query-cost table of an endpoint's assessment
QUERY_HEADER = ("attack", "population", "records", "rows sent", "requests", "retries",
                "rows per record")


def listing(names: Sequence[str], shown: int = 12) -> str:
    """Column names for a sentence; long lists (thousands of SNPs) are shortened."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more columns"


#: what one query answers, in words (the threat's ``answers``)
_ANSWERED = {"output": "the model's prediction and its residual spread",
             "confidence": "the model's confidence scores",
             "label": "only the model's predicted label"}


def _level(threat: Mapping[str, Any]) -> tuple[str, str]:
    """The threat's (access level, answer kind). Documents written before the access
    levels held the answer kind under ``access`` and no ``answers``: the level is then
    what their ``rounding`` and ``white_box`` say."""
    access, answers = str(threat.get("access") or ""), str(threat.get("answers") or "")
    if access in ANSWERS and not answers:
        answers = access
        access = "label-only" if answers == "label" else "white-box" \
            if threat.get("white_box") else "rounded" \
            if threat.get("rounding") is not None else "confidences"
    if access == "label-only":
        answers = "label"
    return access, answers


def access_text(threat: Mapping[str, Any]) -> str:
    """What the attacker can query, in words: the access level (``confidences``,
    ``rounded`` to some decimals, ``label-only`` or ``white-box``) and what one query
    answers (a regression's prediction and its residual spread, a classifier's
    confidence scores, or only its label)."""
    level, answers = _level(threat)
    text = _ANSWERED.get(answers, "the model's full output") if level in ACCESS_LEVELS \
        else str(threat.get("access", "the model"))
    if threat.get("rounding") is not None:
        text += f" rounded to {threat['rounding']} decimals"
    elif level == "rounded":
        text += " rounded"
    if level == "white-box" or threat.get("white_box"):
        text += ", and the model file itself (white box)"
    return text


def threat_sentence(threat: Mapping[str, Any]) -> str:
    """The threat model in plain words: what the attacker wants, knows and sees."""
    access = access_text(threat)
    unknown = listing(threat.get("unknown") or [])
    holds = "true" if threat.get("label_source", "true") == "true" else "model-predicted"
    label = f" {code(threat['label'])}" if threat.get("label") else " label"
    known = listing(threat.get("known") or []) or "nothing else"
    return (f"The attacker wants {' and '.join(threat.get('sensitive', [])) or '?'} of "
            f"each targeted person; knows their {known}"
            f"{'; does not know ' + unknown if unknown else ''}; holds their "
            f"{holds}{label}; and can query {access}. The attacker never sees the training "
            "records.")


def query_rows(threat: Mapping[str, Any]) -> list[list[str]]:
    """One row per attack and population of a deployed endpoint's query cost (none for
    a model answered in process); a partial one says so in its records cell."""
    rows = []
    for entry in (threat.get("queries") or {}).get("attacks") or []:
        per = entry.get("queries_per_record")
        records = f"{entry.get('records', 0):,} of {entry.get('records_total', 0):,}"
        rows.append([str(entry.get("attack", "?")), str(entry.get("population", "?")),
                     records + (" (partial)" if entry.get("partial") else ""),
                     f"{entry.get('rows', 0):,}", f"{entry.get('requests', 0):,}",
                     f"{entry.get('retries', 0):,}",
                     "" if per is None else f"{per:,.1f}"])
    return rows


def query_sentence(threat: Mapping[str, Any]) -> str:
    """What the endpoint was measured to reveal, what the setup cost, the total, and
    what the query budget left undone ('' for a model answered in process)."""
    queries = threat.get("queries") or {}
    if not queries:
        return ""
    detected = (queries.get("detected_access") or {}).get("detected", "not measured")
    setup, total = queries.get("setup") or {}, queries.get("total") or {}
    text = (f"The model was queried at its deployed endpoint, which was measured to "
            f"reveal {detected}. The probe and the statistics its owner publishes took "
            f"{setup.get('rows', 0):,} rows; the whole run sent {total.get('rows', 0):,} "
            f"rows in {total.get('requests', 0):,} requests ({total.get('retries', 0):,} "
            f"retries, {total.get('seconds', 0):.1f} s).")
    if queries.get("max_queries") is not None:
        text += f" Query budget: {queries['max_queries']:,} rows."
    not_done = queries.get("not_done") or []
    if not_done:
        text += " Not done: " + "; ".join(str(item) for item in not_done) + "."
    return text
