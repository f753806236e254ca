"""Checks of one inventory entry against its files, data set and card, collecting every
problem (with the entry name and key) instead of stopping at the first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..exceptions import TabinvError, closest
from ..text import shorten
from .entry import FORMAT_KEYS, FORMATS, PATH_KEYS, PICKLE_FORMATS, SUFFIX_FORMATS, Entry

__all__ = ["check_entry", "format_for"]

#: keys that apply to a data_file (a built-in data set has its own card and checks)
FILE_KEYS = ("card", "ignore_columns", "clip", "allow_out_of_bounds")


def format_for(path: Path) -> str | None:
    """The format a model file's suffix suggests (None when the suffix says nothing)."""
    return SUFFIX_FORMATS.get(path.suffix.lower())


def check_entry(values: dict[str, Any], where: str, problems: list[str]) -> Entry | None:
    """Cross-key and card-aware checks; returns the Entry when this one has no problem."""
    before = len(problems)
    chosen = _check_format(values, where, problems)
    _check_files(values, where, problems)
    _check_access(values, chosen, where, problems)
    card, strict = _check_data(values, where, problems)
    label = values.get("label") or (card.label if card is not None else None)
    sensitive = values.get("sensitive") or (
        tuple((name,) for name in card.sensitive) if card is not None else None)
    if card is not None and label is not None:
        _check_columns(values, card, label, sensitive or (), strict, where, problems)
    if sensitive is None and card is not None:
        problems.append(f"{where}, key 'sensitive': required (the card lists no sensitive "
                        "columns)")
    _check_attacks(values, where, problems)
    if len(problems) > before or label is None or sensitive is None or chosen is None \
            or "name" not in values or "model" not in values:
        return None
    fields = {k: v for k, v in values.items() if k in Entry.__dataclass_fields__}
    return Entry(**{**fields, "format": chosen, "label": label, "sensitive": sensitive})


def _check_format(values: dict[str, Any], where: str, problems: list[str]) -> str | None:
    chosen = values.get("format")
    if chosen is None and "model" in values:
        chosen = format_for(values["model"])
        if chosen is None:
            problems.append(f"{where}, key 'format': {values['model'].name} has no suffix "
                            f"tabinv knows; set format to one of {', '.join(FORMATS)}")
    if chosen in PICKLE_FORMATS and values.get("allow_pickle") is not True:
        problems.append(f"{where}, key 'format': a {chosen} file runs code when it is read; "
                        "set allow_pickle = true in this entry only if you trust its source")
    if values.get("allow_pickle") and chosen not in PICKLE_FORMATS:
        problems.append(f"{where}, key 'allow_pickle': applies to format "
                        f"{' or '.join(map(repr, PICKLE_FORMATS))} only, not {chosen!r}")
    for key, owner in FORMAT_KEYS.items():
        if key in values and chosen != owner:
            problems.append(f"{where}, key {key!r}: applies to format {owner!r} only")
    return chosen


def _check_files(values: dict[str, Any], where: str, problems: list[str]) -> None:
    for key in PATH_KEYS:
        path = values.get(key)
        if path is not None and not path.is_file():
            state = "is not a file" if path.exists() else "does not exist"
            problems.append(f"{where}, key {key!r}: {path} {state}")


def _check_access(values: dict[str, Any], chosen: str | None, where: str,
                  problems: list[str]) -> None:
    access = values.get("access", "confidences")
    if (access == "rounded") != ("decimals" in values):
        problems.append(f"{where}, key 'decimals': give decimals with access = 'rounded', "
                        "and only then")
    if chosen == "onnx" and access == "white-box":
        problems.append(f"{where}, key 'access': an ONNX model is assessed as a black box "
                        "(confidences, rounded or label-only); white-box attacks need a "
                        "skops or XGBoost model file")


def _check_data(values: dict[str, Any], where: str, problems: list[str]) -> tuple[Any, bool]:
    """The entry's card (or None) and whether every column must be in it."""
    from ..data.registry import builtin_card, builtin_parameters
    from ..data.schema import read_card

    builtin, file = values.get("data"), values.get("data_file")
    if (builtin is None) == (file is None):
        problems.append(f"{where}, key 'data': give either data = a built-in data set or "
                        "data_file = a CSV/Parquet file (with card), not both or neither")
        return None, False
    if file is not None and "card" not in values:
        problems.append(f"{where}, key 'card': data_file needs a card describing its columns")
    for key in FILE_KEYS if builtin is not None else ("data_params",):
        if key in values:
            problems.append(f"{where}, key {key!r}: applies to "
                            f"{'data_file' if key in FILE_KEYS else 'a built-in data set'} "
                            "only")
    if values.get("clip") and values.get("allow_out_of_bounds"):
        problems.append(f"{where}, key 'clip': give clip or allow_out_of_bounds, not both")
    try:
        if builtin is not None:
            accepted = builtin_parameters(builtin)
            unknown = sorted(set(values.get("data_params", {})) - set(accepted))
            if unknown:
                problems.append(f"{where}, key 'data_params': {shorten(builtin)} has no "
                                f"parameter(s) {unknown}; it takes "
                                f"{sorted(accepted) or 'none'}")
            # a data set with parameters may add columns to its card when loaded
            return builtin_card(builtin), not accepted
        card = values.get("card")
        if card is None or not card.is_file():
            return None, False
        return read_card(card), True
    except TabinvError as error:
        key = "data" if builtin is not None else "card"
        problems.append(f"{where}, key {key!r}: {error}")
        return None, False


def _check_columns(values: dict[str, Any], card: Any, label: str,
                   sensitive: tuple[tuple[str, ...], ...], strict: bool, where: str,
                   problems: list[str]) -> None:
    names = card.column_names
    if label not in names:
        problems.append(f"{where}, key 'label': {shorten(label)} is not a column of the card"
                        f"{closest(label, names)}")
        return
    flat = [name for group in sensitive for name in group]
    known = values.get("known") or ()
    priors = [p.partition(":")[2] for p in values.get("priors", ()) if ":" in p]
    given = [c for text in priors for c in text.split(",") if c]
    for key, columns in (("sensitive", flat), ("known", known), ("priors", given),
                         ("positive", list(values.get("positive", {})))):
        for column in columns:
            if column not in names:
                if strict:
                    problems.append(f"{where}, key {key!r}: {shorten(column)} is not a "
                                    f"column of the card{closest(column, names)}")
            elif key == "sensitive" and not card.column(column).is_categorical:
                problems.append(f"{where}, key 'sensitive': {shorten(column)} is numeric; attacks "
                                "infer categorical columns")
    for key, bad in (("sensitive", [c for c in flat if c == label]),
                     ("known", [c for c in known if c in flat or c == label]),
                     ("positive", [c for c in values.get("positive", {}) if c not in flat])):
        if bad:
            problems.append(f"{where}, key {key!r}: {sorted(set(bad))} cannot be used here "
                            "(the label is neither sensitive nor known; positive values are "
                            "for sensitive columns; known columns cannot be sensitive)")
    regression = not card.column(label).is_categorical
    if regression and values.get("access") in ("rounded", "label-only"):
        problems.append(f"{where}, key 'access': {values['access']!r} applies to "
                        f"classifiers; the label {shorten(label)} is numeric (a regression)")


def _check_attacks(values: dict[str, Any], where: str, problems: list[str]) -> None:
    from ..attacks.registry import ATTACKS
    from ..attacks.specs import expand_specs

    access = values.get("access", "confidences")
    for name in values.get("attacks", ()):
        if name == "all":
            continue
        if name not in ATTACKS:
            problems.append(f"{where}, key 'attacks': unknown attack {shorten(name)}"
                            f"{closest(name, ATTACKS)}; attacks are: "
                            f"{', '.join(sorted(ATTACKS))}, all")
        elif ATTACKS[name].needs_white_box and access != "white-box":
            problems.append(f"{where}, key 'attacks': {shorten(name)} reads the model's structure; "
                            "it needs access = 'white-box'")
    if values.get("attack_params") and all(n == "all" or n in ATTACKS
                                           for n in values.get("attacks", ())):
        try:  # the attacks' names, parameters and constraints, before any work
            expand_specs(values.get("attacks"), ["marginal"], params=values["attack_params"])
        except TabinvError as error:
            problems.append(f"{where}, key 'attack_params': {error}")
    for prior in values.get("priors", ()):
        kind, _, given = prior.partition(":")
        if kind not in ("marginal", "learned", "published", "conditional") or \
                (kind == "conditional") != bool(given):
            problems.append(f"{where}, key 'priors': {shorten(prior)} is not marginal, learned, "
                            "published or conditional:COL[,COL]")
