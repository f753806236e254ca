"""What to do after a batch run, built only from what the run measured.

Each line states a measured fact (which models failed, which leak and by how much,
which are inconclusive and on how many records, where imputation was weaker than
always guessing the most common value, what another entry of the same data with another
access level showed) or, for what the run did not measure, the exact command that would
measure it. Commands are marked with :func:`tabinv.text.code`; the page escapes the rest.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..text import code
from ..vocabulary import RESOLUTION
from .entry import Entry

__all__ = ["batch_command", "what_to_do"]

_SHOWN = 3  # entries named per line before "and N more"
_ALL = code('attacks = ["all"]')
#: the access levels (tabinv.vocabulary.ACCESS_LEVELS), from most to least given away
_LESS = ("white-box", "confidences", "rounded", "label-only")
#: an attack's key in the rows: ``map (marginal prior)``, ``csmia``
_ATTACK = re.compile(r"^(?P<method>[\w-]+)(?: \((?P<prior>[\w-]+) prior\))?$")


def batch_command(inventory: Any, out: Any) -> str:
    """The command that reruns the batch (finished entries are reused)."""
    return shlex.join(["tabinv", "batch", str(inventory or "INVENTORY"), "--out",
                       str(out or "DIR")])


def _listing(items: Sequence[str]) -> str:
    shown = list(items[:_SHOWN])
    more = len(items) - len(shown)
    text = ("; " if any(mark in item for item in shown for mark in ",(") else ", ").join(shown)
    return f"{text} and {more} more" if more else text


def _points(value: Any) -> str:
    points = round(100 * float(value))
    return f"{points:+d} {'point' if abs(points) == 1 else 'points'}"


def _where(row: Mapping[str, Any]) -> str:
    return f"{row['sensitive']} of {row['population']}"


def _less_access(row: Mapping[str, Any]) -> list[str]:
    """The access levels below the row's that its model allows (rounded and label-only
    apply to classifiers), each as the inventory keys that set it."""
    if row.get("access") not in _LESS:
        return []
    below = list(_LESS[_LESS.index(str(row["access"])) + 1:])
    if row.get("utility_metric") not in ("accuracy", "auc"):  # a regression
        below = [level for level in below if level == "confidences"]
    keys = {"rounded": "access = \"rounded\", decimals = 1"}
    return [keys.get(level, f"access = \"{level}\"") for level in below]


def _sweep(row: Mapping[str, Any], entry: Entry) -> str:
    """The sweep that measures differential privacy against the row's attack."""
    hidden = str(row.get("hidden") or row["sensitive"]).split(" + ")
    args = ["tabinv", "sweep", "--dataset", str(entry.data), "--model", str(row["family"]),
            "--label", str(row["label"]), *[a for column in hidden for a in ("-s", column)]]
    match = _ATTACK.match(str(row.get("attack") or ""))
    if match:
        args += ["-a", match["method"]]
        if match["prior"] and entry.prior_table is None:
            args += ["--prior", match["prior"]]
    if row.get("access") not in (None, "", "confidences"):
        args += ["--access", str(row["access"])]
    if row.get("access") == "rounded" and entry.decimals is not None:
        args += ["--rounding", str(entry.decimals)]
    return shlex.join(args)


def _defences(row: Mapping[str, Any], entry: Entry | None, models: Sequence[Mapping[str, Any]],
              command: str) -> list[str]:
    """For the worst leaking model: what the batch measured for the same data, label and
    attribute under another access, and the commands for the defences it did not."""
    from ..models.dp import dp_family_names

    name, lines = str(row["entry"]), []
    same = [m for m in models if m["entry"] != name and m.get("access") != row.get("access")
            and (m.get("data"), m.get("label"), m.get("sensitive")) ==
            (row.get("data"), row.get("label"), row.get("sensitive"))]
    lines += [f"Measured: {m['entry']}, the same data, label and attribute with access "
              f"{m.get('access')}, shows {m.get('verdict') or 'no rating'}"
              f"{' (' + _points(m['leakage']) + ')' if not pd.isna(m.get('leakage')) else ''}."
              for m in same[:_SHOWN]]
    less = _less_access(row)
    if less and not same:
        options = " or ".join(code(keys) for keys in less)
        lines.append(f"Not measured: whether less access stops it. Copy the entry {name} "
                     f"under a new name with {options} and run {code(command)} (finished "
                     "entries are reused).")
    if entry is not None and entry.data is not None and not entry.data_params \
            and row.get("family") in dp_family_names():
        lines.append(f"Not measured: differential privacy. {code(_sweep(row, entry))} trains "
                     f"{row['family']} models with it at several epsilons and measures the "
                     "same attack and the model's utility at each.")
    return lines


def _weak_imputation(ok: pd.DataFrame) -> str:
    weak = ok[pd.to_numeric(ok["baseline_imputation"], errors="coerce")
              < pd.to_numeric(ok["baseline_prior_mode"], errors="coerce")]
    names = list(dict.fromkeys(weak["entry"].astype(str)))
    if not names:
        return ""
    return (f"For {_listing(names)}, imputation trained on the reference sample guesses "
            "worse than always guessing the most common value (the sample is too small or "
            "the known columns say little): their leakage is measured over prior-mode.")


def _attacks_run(models: Sequence[Mapping[str, Any]], entries: Mapping[str, Entry]
                 ) -> tuple[list[str], list[str]]:
    from ..attacks.registry import attack_names

    every = attack_names()
    run: set[str] = set()
    for model in models:
        entry = entries.get(str(model["entry"]))
        names = entry.attacks if entry is not None else (str(model.get("attack", "")),)
        run |= set(every) if "all" in names else {n.split(" (")[0] for n in names}
    return sorted(run), [name for name in every if name not in run]


def what_to_do(models: Sequence[Mapping[str, Any]], failed: Sequence[str],
               ok: pd.DataFrame, entries: Mapping[str, Entry], command: str) -> list[str]:
    """The lines of the "What to do" section, most urgent first.

    Parameters
    ----------
    models : sequence of mapping
        Each assessed entry's deciding row, worst first.
    failed : sequence of str
        The entries that could not be assessed.
    ok : DataFrame
        Every row of the assessed entries.
    entries : mapping of str to Entry
        The inventory's entries by name (empty when unknown).
    command : str
        The command that reruns the batch (:func:`batch_command`).
    """
    lines = []
    if failed:
        lines.append(f"Fix the failed {'entry' if len(failed) == 1 else 'entries'} first "
                     f"({_listing(list(failed))}): batch.log holds the tracebacks, and "
                     f"{code(command)} redoes only them.")
    leaking = [m for m in models if m.get("verdict") == "leaks"]
    if leaking:
        lines.append("Look first at " + _listing(
            [f"{m['entry']} ({_where(m)}: {_points(m['leakage'])} over {m['over']})"
             for m in leaking]) + ": each report names the attack and how often it is right.")
        worst = leaking[0]
        lines += _defences(worst, entries.get(str(worst["entry"])), models, command)
    unsure = [m for m in models if m.get("verdict") == "inconclusive"]
    if unsure:
        lines.append("Inconclusive: " + _listing(
            [f"{m['entry']} ({_where(m)}, {int(m['n'])} records: interval "
             f"[{float(m['leakage_low']):+.3f}, {float(m['leakage_high']):+.3f}])"
             for m in unsure if not pd.isna(m.get("n")) and not math.isnan(
                 float(m["leakage_low"]))])
            + f": the interval cannot rule out a gain of {round(100 * RESOLUTION)} points; "
            "only more records can decide it.")
    weak = _weak_imputation(ok) if len(ok) else ""
    if weak:
        lines.append(weak)
    if models and not leaking and not unsure:
        run, missing = _attacks_run(models, entries)
        if missing:
            lines.append(f"No model leaks measurably with the attacks run ({', '.join(run)}). "
                         f"Not run: {', '.join(missing)}; set {_ALL} in "
                         f"the inventory's [defaults] and run {code(command)} to measure them.")
        else:
            lines.append("No model leaks measurably with any of tabinv's attacks: nothing "
                         "to fix for these threat models.")
    return lines
