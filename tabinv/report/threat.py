"""The threat model in plain words: what the attacker wants, knows, holds and sees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..text import code
from ..vocabulary import ACCESS_LEVELS, ANSWERS

__all__ = ["access_text", "listing", "threat_sentence"]


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
