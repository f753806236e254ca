"""Checks of one inventory entry against its files, data set and card, collecting every
problem (with the entry name and key) instead of stopping at the first. Nothing here
loads a model, reads a registry or runs code from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..exceptions import TabinvError, closest
from ..text import shorten
from .endpointkeys import ENDPOINT, check_endpoint
from .entry import (
    FILE_FORMATS,
    FORMAT_KEYS,
    MLFLOW,
    PATH_KEYS,
    PICKLE_FORMATS,
    SUFFIX_FORMATS,
    Entry,
)

__all__ = ["check_entry", "format_for"]

#: keys that apply to data files (a built-in data set has its own card and checks)
FILE_KEYS = ("card", "ignore_columns", "clip", "allow_out_of_bounds")


def format_for(path: Path) -> str | None:
    """The format a model file's suffix suggests (None when the suffix says nothing)."""
    return SUFFIX_FORMATS.get(path.suffix.lower())


def check_entry(values: dict[str, Any], where: str, problems: list[str],
                written: tuple[set[str], set[str]] = (set(), set())) -> Entry | None:
    """Cross-key and card-aware checks; returns the Entry when this one has no problem.
    ``written``: the keys written in the entry and in [defaults], bad values included."""
    before = len(problems)
    endpoint = check_endpoint(values, where, problems, written)
    chosen = ENDPOINT if endpoint else _check_format(values, where, problems)
    _check_files(values, where, problems)
    _check_access(values, chosen, where, problems)
    card, strict = _check_data(values, where, problems)
    label = values.get("label") or (card.label if card is not None else None)
    sensitive = values.get("sensitive") or (
        tuple((name,) for name in card.sensitive) if card is not None else None)
    if card is not None and label is not None:
        _check_columns(values, card, label, sensitive or (), strict, where, problems)
        _check_model_columns(values, card, label, chosen, strict, where, problems)
    if sensitive is None and card is not None:
        problems.append(f"{where}, key 'sensitive': required (the card lists no sensitive "
                        "columns)")
    _check_attacks(values, where, problems)
    if len(problems) > before or label is None or sensitive is None or chosen is None \
            or "name" not in values or not {"model", "endpoint"} & set(values):
        return None
    fields = {k: v for k, v in values.items() if k in Entry.__dataclass_fields__}
    return Entry(**{**fields, "model": values.get("model"), "format": chosen, "label": label,
                    "sensitive": sensitive})


def _check_format(values: dict[str, Any], where: str, problems: list[str]) -> str | None:
    """The entry's format: a file format (declared or from the suffix), or ``mlflow`` for
    an MLflow model directory or a registry URI."""
    chosen = values.get("format")
    model = values.get("model")
    if isinstance(model, str) or (isinstance(model, Path) and model.is_dir()):
        if chosen not in (None, MLFLOW):
            what = "a models:/ URI" if isinstance(model, str) else "a folder"
            problems.append(f"{where}, key 'format': the model is {what}, an MLflow model "
                            f"(its MLmodel file names its flavour), not a {chosen} file; "
                            "leave format out or set it to 'mlflow'")
        chosen = MLFLOW
    elif chosen == MLFLOW and model is not None:
        problems.append(f"{where}, key 'format': 'mlflow' names an MLflow model directory or "
                        f"a models:/ URI, but {shorten(model.name)} is a file")
        chosen = None
    elif chosen is None and model is not None:
        chosen = format_for(model)
        if chosen is None:
            problems.append(f"{where}, key 'format': {shorten(model.name)} has no suffix "
                            f"tabinv knows; set format to one of {', '.join(FILE_FORMATS)}")
    _check_opt_ins(values, chosen, where, problems)
    for key, owner in FORMAT_KEYS.items():
        if key in values and chosen != owner:
            problems.append(f"{where}, key {key!r}: applies to format {owner!r} only")
    if "classes" in values and "onnx_classes" in values:
        problems.append(f"{where}, key 'classes': give classes or onnx_classes, not both")
    return chosen


def _check_opt_ins(values: dict[str, Any], chosen: str | None, where: str,
                   problems: list[str]) -> None:
    """allow_pickle, trust and allow_code: required where a file runs code when read,
    refused where they mean nothing."""
    if chosen in PICKLE_FORMATS and values.get("allow_pickle") is not True:
        problems.append(f"{where}, key 'format': a {chosen} file runs code when it is read; "
                        "set allow_pickle = true in this entry only if you trust its source")
    if chosen is None:
        return
    for key, formats in (("allow_pickle", (*PICKLE_FORMATS, MLFLOW)),
                         ("trust", ("skops", MLFLOW)), ("allow_code", (MLFLOW,))):
        if values.get(key) and chosen not in formats:
            problems.append(f"{where}, key {key!r}: applies to format "
                            f"{' or '.join(map(repr, formats))} only, not {chosen!r}")


def _check_files(values: dict[str, Any], where: str, problems: list[str]) -> None:
    from .modelfiles import check_model_directory

    for key in PATH_KEYS:
        path = values.get(key)
        if path is None or isinstance(path, str):  # a registry URI: its form was checked
            continue
        if key == "model" and path.is_dir():
            try:
                check_model_directory(path)
            except TabinvError as error:
                problems.append(f"{where}, key 'model': {error}")
        elif not path.is_file():
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
    given = "members" in values or "non_members" in values
    if not _check_membership(values, where, problems):
        return None, False
    if not given and (builtin is None) == (file is None):
        problems.append(f"{where}, key 'data': give either data = a built-in data set or "
                        "data_file = a CSV/Parquet file (with card), not both or neither; "
                        "or members and non_members files (with card)")
        return None, False
    if builtin is None and "card" not in values:
        what = "data_file" if file is not None else "members and non_members"
        problems.append(f"{where}, key 'card': {what} need(s) a card describing the columns")
    for key in FILE_KEYS if builtin is not None else ("data_params",):
        if key in values:
            problems.append(f"{where}, key {key!r}: applies to "
                            f"{'data files' if key in FILE_KEYS else 'a built-in data set'} "
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


def _check_membership(values: dict[str, Any], where: str, problems: list[str]) -> bool:
    """The owner's word on which records trained the model: members with non_members
    (instead of data or data_file), or data_file with member_column; reference with
    either. False when the data keys contradict each other (nothing more to check)."""
    before = len(problems)
    files = [key for key in ("members", "non_members") if key in values]
    column = values.get("member_column")
    if len(files) == 1:
        other = "non_members" if files == ["members"] else "members"
        problems.append(f"{where}, key {files[0]!r}: needs {other} too (the records that "
                        "did and did not train the model)")
    if files and column is not None:
        problems.append(f"{where}, key 'member_column': marks the members inside data_file; "
                        "give it instead of members / non_members")
    elif files and ("data" in values or "data_file" in values):
        used = " and ".join(k for k in ("data", "data_file") if k in values)
        problems.append(f"{where}, key {files[0]!r}: members / non_members replace data and "
                        f"data_file, but {used} is set too (perhaps in [defaults])")
    elif column is not None and "data_file" not in values:
        problems.append(f"{where}, key 'member_column': needs data_file, the file holding "
                        "that column")
    if "reference" in values and not files and column is None:
        problems.append(f"{where}, key 'reference': applies with members / non_members or "
                        "member_column (otherwise the reference comes from tabinv's split)")
    return len(problems) == before


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
    labels_only = [n for n in values.get("membership_attacks", ()) if n in ("gap",
                                                                             "label-noise")]
    if regression and labels_only:
        problems.append(f"{where}, key 'membership_attacks': {', '.join(labels_only)} read "
                        f"predicted labels; the label {shorten(label)} is numeric (a "
                        "regression answers an output, not a label)")


def _check_model_columns(values: dict[str, Any], card: Any, label: str, chosen: str | None,
                         strict: bool, where: str, problems: list[str]) -> None:
    """The feature map names card columns (not the label); classes are label values."""
    names = card.column_names
    for column in values.get("feature_map", {}):
        if column == label:
            problems.append(f"{where}, key 'feature_map': {shorten(column)} is the label; "
                            "the map renames the features the model takes")
        elif column not in names and strict:
            problems.append(f"{where}, key 'feature_map': {shorten(column)} is not a column "
                            f"of the card{closest(column, names)}")
    key = "classes" if "classes" in values or chosen != "onnx" else "onnx_classes"
    classes = values.get(key)
    if classes is None or label not in names:
        return
    domain = card.column(label).domain
    if domain is None:
        problems.append(f"{where}, key {key!r}: the label {shorten(label)} is numeric (a "
                        "regression); classes apply to classifiers")
        return
    absent = [value for value in classes if value not in list(domain)]
    if absent:
        problems.append(f"{where}, key {key!r}: {', '.join(shorten(v, 20) for v in absent)} "
                        f"not in the domain of the label {shorten(label)} ("
                        f"{', '.join(shorten(v, 20) for v in list(domain)[:10])})")


def _check_membership_access(attacks: tuple[str, ...], access: str, where: str,
                             problems: list[str]) -> None:
    """With label-only access, a named membership attack reading confidences does not
    apply (``all`` is then the label-only attacks)."""
    from ..membership.assess import MEMBERSHIP_READS

    if access != "label-only":
        return
    for name in attacks:
        if name != "all" and "label" not in MEMBERSHIP_READS[name]:
            problems.append(f"{where}, key 'membership_attacks': {name!r} reads the "
                            "confidence of the true label; access = 'label-only' answers "
                            "labels only (gap and label-noise apply)")


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
    if "membership_attacks" in values or "shadows" in values:
        from ..membership.verdict import MembershipOptions

        try:  # names and shadow count, before any work
            options = MembershipOptions(attacks=values.get("membership_attacks", ("all",)),
                                        shadows=values.get("shadows", 16))
        except TabinvError as error:
            key = "shadows" if "shadows" in str(error) else "membership_attacks"
            problems.append(f"{where}, key {key!r}: {error}")
        else:
            _check_membership_access(options.attacks, access, where, problems)
    for prior in values.get("priors", ()):
        kind, _, given = prior.partition(":")
        if kind not in ("marginal", "learned", "published", "conditional") or \
                (kind == "conditional") != bool(given):
            problems.append(f"{where}, key 'priors': {shorten(prior)} is not marginal, learned, "
                            "published or conditional:COL[,COL]")
