"""The top of every report: the summary box and "what to do".

The summary box says, in five lines, how the report rates the model, where it leaks
most and by how much in plain words, what the attacker is assumed to know and see, and
how useful the model is. "What to do" is built only from what the document measured
(a defence that was tried, the epsilons of a sweep); for a defence it did not measure it
gives the exact tabinv command that would, derived from the command that made it.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from ..text import code
from ..vocabulary import BASELINES, RATING_MEANINGS, RATINGS, UTILITY_NAMES
from .document import (
    SWEEP,
    epsilon_text,
    fmt,
    leakage_of,
    method_key,
    rating_of,
    reading,
    scenarios,
    signed,
    size_of,
    strongest,
    sweep_points,
    triple,
    utility_text,
)
from .membership import membership_rating, membership_results, strongest_attack, summary_text
from .threat import access_text, listing

__all__ = ["summary", "threat_line", "what_to_do"]


# -- the summary box -------------------------------------------------------------------

def threat_line(threat: Mapping[str, Any]) -> str:
    """The threat model in one sentence: what the attacker knows, sees and wants."""
    known = listing(threat.get("known") or [])
    label = threat.get("label")
    holds = ("its true " if threat.get("label_source", "true") == "true"
             else "the model's prediction of its ") + (code(label) if label else "label")
    knows = f"{known} and {holds}" if known else holds
    wanted = " and ".join(code(s) for s in threat.get("sensitive", [])) or "?"
    return (f"The attacker knows each targeted person's {knows}, can query "
            f"{access_text(threat)}, never sees the training records, and tries to "
            f"infer {wanted}.")


def _rank(item: Mapping[str, Any]) -> tuple[int, float]:
    numbers = triple(leakage_of(item))
    return RATINGS.index(rating_of(item)) if rating_of(item) in RATINGS else 1, \
        -(numbers[0] if numbers else -math.inf)


def _utility_text(utility: Sequence[Mapping[str, Any]]) -> str:
    parts = [f"{item.get('name') or UTILITY_NAMES.get(item.get('metric', ''), '?')} "
             f"{utility_text(str(item.get('metric')), item)}" for item in utility]
    if not parts:
        return ""
    population = utility[0].get("population") or "non-members"
    n = f"{utility[0]['n']} " if utility[0].get("n") else ""
    return f"{' and '.join(parts)} on {n}{population} (records it never saw)"


def _worst_line(item: Mapping[str, Any], where: str = "") -> str:
    population = "the given records" if item["population"] == "given" else \
        f"the {item['population']}"
    over = f", over {item['over']}" if item.get("over") else ""
    return f"{code(item['sensitive'])} of {population}{where} ({method_key(item)}{over})"


def _assessment_summary(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = [(scenario, item) for scenario in scenarios(document)
             for item in strongest(scenario)]
    membership = strongest_attack([item for scenario in scenarios(document)
                                   for item in membership_results(scenario)])
    extra = [("Membership", summary_text(membership))] if membership is not None else []
    if not found:
        return [("Rating", "none: no attack was scored against a baseline"), *extra]
    scenario, worst = min(found, key=lambda pair: _rank(pair[1]))
    rating = rating_of(worst)
    lines = [("Rating", f"{rating}: {RATING_MEANINGS.get(rating, '')}"),
             ("Worst case", _worst_line(worst)),
             ("Size", f"{size_of(worst)} (leakage {signed(leakage_of(worst))})"),
             *extra, ("Threat model", threat_line(scenario.get("threat", {})))]
    utility = _utility_text(scenario.get("utility") or [])
    if utility:
        lines.append(("Model utility", utility))
    weak = sorted({str(item["sensitive"]) for _, item in found if item.get("imputation_weak")})
    if weak:
        lines.append(("Note", f"for {', '.join(weak)} the reference sample is too small for "
                              "imputation to beat prior-mode, so leakage is measured over "
                              "the most accurate of the other model-free baselines."))
    return lines


def _strongest_entries(point: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Per attribute, the attack entry on members with the largest leakage."""
    best: dict[str, Mapping[str, Any]] = {}
    for entry in point.get("attacks", []):
        if entry.get("population") != "members" or triple(leakage_of(entry)) is None:
            continue
        name = str(entry.get("sensitive"))
        if name not in best or _rank(entry) < _rank(best[name]):
            best[name] = entry
    return best


def _headline(document: Mapping[str, Any]) -> str:
    metrics = list(document.get("utility_metrics") or [])
    return next((m for m in ("within_20", "accuracy", "auc") if m in metrics),
                metrics[0] if metrics else "")


def _sweep_summary(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    points = sweep_points(document)
    found = [(point, entry) for point in points
             for entry in _strongest_entries(point).values()]
    if not found:
        return [("Rating", "none: no attack was scored against a baseline")]
    point, worst = min(found, key=lambda pair: _rank(pair[1]))
    rating = rating_of(worst)
    where = " at every epsilon" if rating == "no measurable leakage" else ""
    leaking = [epsilon_text(p.get("epsilon")) for p in points
               if any(rating_of(e) == "leaks" for e in _strongest_entries(p).values())]
    text = f"{rating}{where}: {RATING_MEANINGS.get(rating, '')}"
    if leaking:
        text += f" (the model leaks at epsilon {', '.join(leaking)})"
    at = f" at epsilon {epsilon_text(point.get('epsilon'))}" \
        if point.get("epsilon") is not None else " without differential privacy"
    lines = [("Rating", text), ("Worst case", _worst_line(worst, at)),
             ("Size", f"{size_of(worst)} (leakage {signed(leakage_of(worst))})"),
             ("Threat model", threat_line(document.get("threat") or {}))]
    metric = _headline(document)
    if metric:
        name = UTILITY_NAMES.get(metric, metric)
        values = [f"{utility_text(metric, p.get('utility', {}).get(metric))} at epsilon "
                  f"{epsilon_text(p.get('epsilon'))}" if p.get("epsilon") is not None else
                  f"{utility_text(metric, p.get('utility', {}).get(metric))} without DP"
                  for p in (points[0], points[-1])]
        lines.append(("Model utility", f"{name}: {'; '.join(dict.fromkeys(values))}"))
    return lines


def summary(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The summary box: (label, text) lines."""
    if document.get("kind") == SWEEP:
        return _sweep_summary(document)
    return _assessment_summary(document)


# -- commands for what was not measured --------------------------------------------------

_VALUED = ("--out", "--access", "--rounding", "--seeds")
_FLAGS = ("--json", "--markdown", "--no-markdown", "--label-only")


def _command(document: Mapping[str, Any], extra: Sequence[str], out: str) -> str:
    """The document's command with ``extra`` options (and a new ``--out``); without a
    recorded command, the options to add."""
    recorded = str(document.get("command") or "")
    if not recorded:
        return (f"the command that made this report, with {code(shlex.join(extra))} "
                "(the command line was not recorded)")
    tokens = shlex.split(recorded)
    kept: list[str] = []
    skip = False
    if tokens[1:2] == ["demo"]:  # a demo's --out is its JSON document (reports beside)
        out = out.rsplit(".", 1)[0] + ".json"
    for token in tokens:
        if skip:
            skip = False
            continue
        name = token.split("=", 1)[0]
        if name in _VALUED:
            skip = "=" not in token
            continue
        if name not in _FLAGS:
            kept.append(token)
    return code(shlex.join([*kept, *extra, "--out", out]))


def _seeds(document: Mapping[str, Any]) -> int:
    return len(document.get("seeds") or []) or 1


# -- what to do: assessments ---------------------------------------------------------------

def _key(item: Mapping[str, Any]) -> tuple[str, str]:
    return str(item["sensitive"]), str(item["population"])


def _level(scenario: Mapping[str, Any]) -> str:
    """The scenario's access level: ``confidences``, ``rounded 1``, ``label-only`` ..."""
    threat = scenario.get("threat", {})
    level = str(threat.get("access") or "confidences")
    if threat.get("rounding") is not None:
        level = f"rounded {threat['rounding']}"
    return level


def _defence(level: str) -> str:
    return (f"Rounding the confidences to {level.split()[1]} decimals"
            if level.startswith("rounded") else
            "Answering with the label only" if level == "label-only" else
            f"Access {level}")


def _by_access(document: Mapping[str, Any]) -> dict[str, dict[tuple[str, str], Any]]:
    """Per access level tried (``confidences``, ``rounded 1``, ``label-only`` ...), the
    strongest leakage entry per (attribute, population)."""
    found: dict[str, dict[tuple[str, str], Any]] = {}
    for scenario in scenarios(document):
        for item in strongest(scenario):
            found.setdefault(_level(scenario), {})[_key(item)] = item
    return found


def _membership_advice(document: Mapping[str, Any]) -> list[str]:
    """Per defence measured, the strongest membership attack without and with it."""
    levels: dict[str, list[Mapping[str, Any]]] = {}
    for scenario in scenarios(document):
        levels.setdefault(_level(scenario), []).extend(membership_results(scenario))
    plain = strongest_attack(levels.pop("confidences", []))
    items = []
    for level, results in levels.items():
        defended = strongest_attack(results)
        if plain is None or defended is None:
            continue
        items.append(f"{_defence(level)}: the strongest membership attack's AUC is "
                     f"{fmt(plain['metrics'].get('auc'))} without it "
                     f"({membership_rating(plain)}), {fmt(defended['metrics'].get('auc'))} "
                     f"with it ({membership_rating(defended)}).")
    return items


def _compare(defence: str, plain: Mapping[str, Any], defended: Mapping[str, Any]) -> str:
    before, after = leakage_of(plain), leakage_of(defended)
    b, a = triple(before), triple(after)
    if b is None or a is None:
        return ""
    if rating_of(plain) == "leaks" and rating_of(defended) != "leaks":
        effect = f"removed the measurable leakage of {code(plain['sensitive'])}"
    elif not math.isnan(a[2]) and not math.isnan(b[1]) and a[2] < b[1]:
        effect = f"reduced the leakage of {code(plain['sensitive'])}"
    else:
        effect = f"did not reduce the leakage of {code(plain['sensitive'])}"
    return (f"{defence} {effect} on {plain['population']}: {signed(before)} without it, "
            f"{signed(after)} with it ({rating_of(defended)}).")


def _assessment_advice(document: Mapping[str, Any]) -> list[str]:
    levels = _by_access(document)
    plain = levels.get("confidences", {})
    items: list[str] = []
    for level, found in levels.items():
        if level == "confidences":
            continue
        items += [_compare(_defence(level), plain[key], item) for key, item in found.items()
                  if key in plain]
    items += _memorised(document) + _membership_advice(document)
    worrying = [item for found in levels.values() for item in found.values()
                if rating_of(item) != "no measurable leakage"]
    if not worrying:
        return [item for item in items if item]
    answers = {str(s.get("threat", {}).get("answers") or "") for s in scenarios(document)}
    classifier = "confidence" in answers or "label" in answers
    if classifier and not any(level.startswith("rounded") for level in levels):
        items.append("Not measured: whether rounding the confidences helps. "
                     + _command(document, ["--access", "rounded", "--rounding", "1"],
                                "rounded.html") + " measures it.")
    if classifier and "label-only" not in levels:
        items.append("Not measured: whether answering with the label only helps. "
                     + _command(document, ["--access", "label-only"], "label-only.html")
                     + " measures it.")
    sweep = _sweep_command(document)
    if sweep:
        items.append(f"Not measured: how differential privacy trades this leakage against "
                     f"utility. {sweep} measures it.")
    return [item for item in items if item]


def _memorised(document: Mapping[str, Any]) -> list[str]:
    """Per attribute, the attacks that do measurably better on members than on
    non-members, in one sentence with the largest gap."""
    gaps: dict[str, list[Mapping[str, Any]]] = {}
    for scenario in scenarios(document):
        for gap in scenario.get("membership", []):
            if gap.get("method") not in BASELINES and \
                    reading(gap.get("difference"), "members", "", "") == "members":
                gaps.setdefault(str(gap["sensitive"]), []).append(gap)
    items = []
    for sensitive, found in gaps.items():
        top = max(found, key=lambda g: (triple(g["difference"]) or (0.0,))[0])
        which = f"{len(found)} attacks do" if len(found) > 1 else f"{method_key(top)} does"
        items.append(f"On {code(sensitive)}, {which} measurably better on members than on "
                     f"non-members (largest gap {signed(top['difference'])}, "
                     f"{method_key(top)}): the model memorised part of its training "
                     "records.")
    return items


def _sweep_command(document: Mapping[str, Any]) -> str:
    """``tabinv sweep`` on the same built-in data, model and attributes, when the
    assessment's command names them (``--dataset``, ``--model``) and the model family
    has a differentially private counterpart."""
    from ..models.dp import dp_family_names

    tokens = shlex.split(str(document.get("command") or ""))
    if len(tokens) < 2 or tokens[1] not in ("assess", "attack") or \
            "--dataset" not in tokens or not ({"--model", "-m"} & set(tokens)) or \
            document.get("model", {}).get("family") not in dp_family_names():
        return ""
    kept: list[str] = []
    take = {"--dataset", "--model", "-m", "--sensitive", "-s", "--known", "-k", "--label",
            "--attack", "-a", "--prior", "--label-source"}
    for name, value in zip(tokens[2:], [*tokens[3:], ""], strict=True):
        if name in take and value:
            kept += [name, value]
    return code(shlex.join(["tabinv", "sweep", *kept, "--epsilons", "1,10,100",
                            "--seeds", "3", "--out", "sweep.html"]))


# -- what to do: sweeps -------------------------------------------------------------------

def _utility_at(document: Mapping[str, Any], point: Mapping[str, Any]) -> str:
    metric = _headline(document)
    if not metric:
        return ""
    name = UTILITY_NAMES.get(metric, metric)
    value = utility_text(metric, point.get("utility", {}).get(metric))
    plain = next((p for p in sweep_points(document) if p.get("epsilon") is None), None)
    without = f" ({utility_text(metric, plain.get('utility', {}).get(metric))} without DP)" \
        if plain is not None and plain is not point else ""
    return f"the model's {name} is {value}{without}"


def _sweep_advice(document: Mapping[str, Any]) -> list[str]:
    points = sweep_points(document)
    private = [p for p in points if p.get("epsilon") is not None]
    strongest_at = [(p, _strongest_entries(p)) for p in points]
    leaks_at = [p for p, found in strongest_at
                if any(rating_of(e) == "leaks" for e in found.values())]
    items: list[str] = []
    if not leaks_at:
        cost = _utility_at(document, private[0]) if private else ""
        items.append("No attack beats the best model-free baseline at any epsilon tried"
                     + (", nor without differential privacy" if len(private) < len(points)
                        else "") + ": for these attacks the noise buys no measurable "
                     "protection, only its cost in utility"
                     + (f": at epsilon {epsilon_text(private[0]['epsilon'])} {cost}"
                        if cost else "") + ".")
    else:
        safe = [p for p in private if all(
            p2 not in leaks_at for p2 in private if p2["epsilon"] <= p["epsilon"])]
        first = min((p for p in leaks_at), key=lambda p: (p.get("epsilon") is None,
                                                          p.get("epsilon") or 0.0))
        leaking = [e for e in _strongest_entries(first).values() if rating_of(e) == "leaks"]
        where = "without differential privacy" if first.get("epsilon") is None else \
            f"from epsilon {epsilon_text(first['epsilon'])}"
        items.append(f"{where[0].upper()}{where[1:]}, the model leaks: " + "; ".join(
            f"{method_key(e)} {size_of(e)} ({signed(leakage_of(e))})" for e in leaking) + ".")
        if safe:
            top = safe[-1]
            utility = _utility_at(document, top)
            items.append(f"At epsilon {epsilon_text(top['epsilon'])} and below, no attack "
                         "beats the best model-free baseline"
                         + (f"; at epsilon {epsilon_text(top['epsilon'])} {utility}"
                            if utility else "") + ".")
        else:
            items.append("Even the smallest epsilon tried does not stop the leakage.")
    inconclusive = sorted({f"{e['sensitive']} at epsilon {epsilon_text(p.get('epsilon'))}"
                           for p, found in strongest_at for e in found.values()
                           if rating_of(e) == "inconclusive"})
    if inconclusive:
        more = _command(document, ["--seeds", str(max(5, 2 * _seeds(document)))],
                        "sweep-more-seeds.html")
        items.append(f"Inconclusive ({len(inconclusive)} of the epsilon and attribute "
                     f"pairs, e.g. {inconclusive[0]}): {_seeds(document)} seed(s) leave "
                     f"intervals too wide. {more} narrows them.")
    threat = document.get("threat") or {}
    tokens = shlex.split(str(document.get("command") or ""))
    if leaks_at and threat.get("answers") == "confidence" and threat.get("rounding") is None \
            and tokens[1:2] == ["sweep"]:
        items.append("Not measured: whether rounding the confidences on top of the noise "
                     "helps. " + _command(document, ["--rounding", "1"], "sweep-rounded.html")
                     + " measures it.")
    return items


def what_to_do(document: Mapping[str, Any]) -> list[str]:
    """What the measurements say to do, and commands for what they did not measure."""
    if document.get("kind") == SWEEP:
        return _sweep_advice(document)
    return _assessment_advice(document)
