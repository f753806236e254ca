"""The options that several ``tabinv`` commands share (Typer ``Annotated`` types), and
parsing the ones that are not plain values (``--positive``, ``--data-param``,
``--attack-param``).

Kept apart from the commands so that they read as what they do: parse, call
:mod:`tabinv.api`, render.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..attacks.registry import attack_names
from ..data.registry import builtin_parameters
from ..exceptions import TabinvError
from ..text import shorten
from ..vocabulary import ACCESS_LEVELS

__all__ = ["access_choice", "attack_help", "attack_params", "dataset_params", "parse_value",
           "positive_values", "Access", "AllowCode", "AllowOutOfBounds", "AllowPickle",
           "AsJson", "AttackOpt", "AttackParam", "Clip", "FeatureMap", "IgnoreColumn",
           "Known", "LabelOnly", "LabelSource", "Memory", "MinCell", "Positive", "Prior",
           "Report",
           "Rounding", "Seed", "Sensitive", "Shortcuts", "TopK", "Trust"]

Sensitive = Annotated[list[str], typer.Option("--sensitive", "-s",
                                              help="Sensitive column (repeat for joint).")]
Known = Annotated[list[str] | None, typer.Option(
    "--known", "-k", help="Column the attacker knows (default: all other features).")]
Prior = Annotated[list[str] | None, typer.Option(
    "--prior", help="Prior of the attacks that take one, repeatable: marginal, learned, "
    "published, conditional:COL[,COL]. Default: marginal and learned.")]
LabelSource = Annotated[str, typer.Option(
    "--label-source", help="Label the attacker holds: 'true' (the record's) or 'predicted' "
    "(the model's own prediction for the full record).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def attack_help() -> str:
    """``--attack``'s help, naming every registered attack."""
    return (f"Attack to run, repeatable ({', '.join(attack_names())}) or 'all' (every one "
            "that applies). Default: map.")


AttackOpt = Annotated[list[str] | None, typer.Option("--attack", "-a", help=attack_help())]
AttackParam = Annotated[list[str] | None, typer.Option(
    "--attack-param", help="ATTACK.KEY=VALUE: a parameter of an attack that is run, "
    "repeatable (e.g. csmia.smoothing=0.5, map.confusion=row); the value is read as a "
    "whole number, a number, true/false or text.")]
Access = Annotated[str | None, typer.Option(
    "--access", help="The attacker's access to the model: " + "; ".join(
        f"{name}: {meaning}" for name, meaning in ACCESS_LEVELS.items())
    + ". Default: white-box when an attack needs the model file, else confidences.")]
Rounding = Annotated[int | None, typer.Option(
    help="Defence: the API rounds confidences to this many decimals (same as --access "
    "rounded with these decimals).")]
LabelOnly = Annotated[bool, typer.Option(
    "--label-only", help="Defence: the API returns only the predicted label (same as "
    "--access label-only).")]
Positive = Annotated[list[str] | None, typer.Option(
    help="COLUMN=VALUE: also report precision, recall, F1, G-mean, MCC, FPR and top-k "
    "precision for this value.")]
TopK = Annotated[int, typer.Option("--top-k", help="k of the top-k precision.")]
MinCell = Annotated[int, typer.Option(
    "--min-cell", min=0, help="Small-cell suppression: per-value and confusion counts of "
    "fewer records than this are withheld (shown as <N); 0 shows every count. Accuracy "
    "and the other metrics use every record.")]
Report = Annotated[Path | None, typer.Option(
    "--out", help="Also write the results to this file (.json, .md or .html), or to a "
    "folder (a path without one of these suffixes): result.json, report.md and "
    "report.html in it.")]
FeatureMap = Annotated[list[str] | None, typer.Option(
    "--feature-map", help="CARD_COLUMN=MODEL_INPUT: the model's own name of a card "
    "column, repeatable (a model tabinv did not train).")]
Trust = Annotated[bool, typer.Option(
    "--trust", help="Load skops types outside tabinv's reviewed set (they can run code "
    "on load; only for model files from a trusted source).")]
AllowPickle = Annotated[bool, typer.Option(
    "--allow-pickle", help="Allow pickle/joblib model files and pickled MLflow flavours "
    "(unpickling runs code from the file).")]
AllowCode = Annotated[bool, typer.Option(
    "--allow-code", help="Allow an MLflow model's python_function loader (it imports and "
    "runs code from the model directory).")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed (splits, models, intervals).")]
Memory = Annotated[str, typer.Option(
    "--memory", help="Memory budget of the attacks (e.g. 1GiB, 512MiB): the candidate "
    "grid, its chunks (down to one record) and the posteriors are sized before anything "
    "is allocated; what cannot fit is refused with the numbers.")]
Shortcuts = Annotated[bool, typer.Option(
    "--shortcuts/--no-shortcuts", help="Answer the candidate grid from the model's parts "
    "(linear coefficients, tree nodes), which give the model's own answers; "
    "--no-shortcuts queries the model on every grid row (same results, slower).")]
IgnoreColumn = Annotated[list[str] | None, typer.Option(
    "--ignore-column", help="A column of the data file that is not in the card and is "
    "left out (an identifier ...), repeatable; any other such column is an error.")]
Clip = Annotated[bool, typer.Option(
    "--clip", help="Clip numbers outside the card's public bounds to the bounds (counted "
    "in a warning); by default they are refused.")]
AllowOutOfBounds = Annotated[bool, typer.Option(
    "--allow-out-of-bounds", help="Keep numbers outside the card's public bounds (counted "
    "in a warning); by default they are refused.")]


def access_choice(access: str | None, label_only: bool = False,
                  rounding: int | None = None) -> tuple[str | None, int | None]:
    """``(access, decimals)`` of the threat model from ``--access`` and its shorthands
    ``--label-only`` and ``--rounding N``; contradicting flags are an error."""
    implied = "label-only" if label_only else "rounded" if rounding is not None else None
    if label_only and rounding is not None:
        raise TabinvError("--label-only and --rounding contradict each other: a label-only "
                          "API returns no confidences to round")
    if implied is not None and access not in (None, implied):
        flag = "--label-only" if label_only else "--rounding"
        raise TabinvError(f"{flag} means --access {implied}, not --access {access}")
    return access or implied, rounding


def positive_values(values: list[str] | None) -> dict[str, str]:
    """``--positive COLUMN=VALUE`` options as a dict."""
    positive = {}
    for text in values or []:
        column, sep, value = text.partition("=")
        if not sep:
            raise TabinvError(f"--positive {text!r} must be COLUMN=VALUE (e.g. partyid=strong "
                              "democrat)")
        positive[column] = value
    return positive


def attack_params(values: list[str] | None) -> dict[str, dict[str, Any]]:
    """``--attack-param ATTACK.KEY=VALUE`` options as {attack: {key: value}}, each value
    read by :func:`parse_value`; the attacks check names and values
    (:func:`~tabinv.attacks.specs.expand_specs`)."""
    params: dict[str, dict[str, Any]] = {}
    for text in values or []:
        target, sep, value = text.partition("=")
        attack, dot, key = target.partition(".")
        if not sep or not dot or not attack or not key:
            raise TabinvError(f"--attack-param {shorten(text)} must be ATTACK.KEY=VALUE "
                              "(e.g. csmia.smoothing=0.5)")
        params.setdefault(attack, {})[key] = parse_value(value)
    return params


def parse_value(text: str) -> bool | int | float | str:
    """A command-line value as the type it reads as: true/false, a whole number, a
    number, else the text itself.

    >>> [parse_value(v) for v in ("true", "3", "0.5", "1e-3", "row")]
    [True, 3, 0.5, 0.001, 'row']
    """
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def dataset_params(dataset: str, people: int | None, snps: int | None,
                   extra: list[str] | None = None) -> dict[str, Any]:
    """Parameters of a built-in data set from --people/--snps and --data-param (a
    generated data set follows --seed: :func:`tabinv.core.load_dataset`)."""
    accepted = builtin_parameters(dataset)
    params: dict[str, Any] = {k: v for k, v in (("people", people), ("snps", snps))
                              if v is not None}
    for text in extra or []:
        key, sep, value = text.partition("=")
        if not sep or key not in accepted:
            raise TabinvError(f"--data-param {text!r}: dataset {dataset!r} takes "
                              f"{sorted(accepted) or 'no parameters'} as KEY=VALUE")
        params[key] = _typed_param(value, accepted[key], key)
    for key in params:
        if key not in accepted:
            raise TabinvError(f"--{key} applies to data sets that take it (genomic); "
                              f"{dataset!r} does not")
    return params


def _typed_param(value: str, default: Any, key: str) -> Any:
    if isinstance(default, bool):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise TabinvError(f"--data-param {key}={value!r}: expected true or false")
        return value.lower() in ("true", "1", "yes")
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError:
            raise TabinvError(f"--data-param {key}={value!r}: expected a whole number") from None
    return value

MembershipFlag = Annotated[bool, typer.Option(
    "--membership", help="Also run the membership attacks that apply to the access (with "
    "confidences: loss threshold, LiRA offline and online, RMIA, and the gap and "
    "noise-robustness attacks; with --label-only: the last two) on the same members, "
    "non-members and reference sample.")]
MembershipAttack = Annotated[list[str] | None, typer.Option(
    "--membership-attack", help="A membership attack to run (repeatable; implies "
    "--membership): loss, lira-offline, lira-online, rmia (they read confidences, or a "
    "regression's output), gap, label-noise (they read predicted labels: any classifier, "
    "--label-only too) or all (every one that applies to the access).")]
Shadows = Annotated[int, typer.Option(
    "--shadows", help="Shadow models per set for LiRA, RMIA and the label-noise attack "
    "(trained on halves of the reference sample).")]
ShadowJobs = Annotated[int, typer.Option(
    "--jobs", "-j", help="Worker processes training the shadow models.")]
