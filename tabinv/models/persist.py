"""Saving and loading fitted tabinv models without running code from the file.

``.skops`` files (any family) are read with :mod:`skops.io`, which builds objects only from
types it has been told to trust. tabinv trusts the types in :data:`REVIEWED_TYPES` on top
of skops' own list; any other type makes :func:`load_model` refuse the file unless the
caller passes ``trust=True``. The xgboost family can also be stored in XGBoost's native
``.json`` / ``.ubj`` formats (:mod:`.xgbnative`). Pickle and joblib files run code when
read, so they are refused unless ``allow_pickle=True``. Which format a file is, and which
loader reads it, comes from the one table of formats (:mod:`.formats`).

A type being trusted does not make its content safe: scikit-learn and XGBoost index tree
node arrays without bounds checks, so a crafted file can crash the process (or worse) at
the first prediction. Before any parser runs, the file's size is bounded, a skops archive's
members, sizes and construction are checked (:mod:`.skopsfile`) and an XGBoost document's
nesting and declared sizes are checked (:mod:`.xgbfile`); every tree and number inside a
loaded model is checked before it is returned (:mod:`.validation`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import skops.io as sio

from ..exceptions import ModelError, UnsafeModelError
from ..utils import NotARegularFile, open_regular, write_atomic
from .formats import (
    ModelFormat,
    check_declared,
    describe_format,
    format_of_kind,
    model_format,
    model_formats,
    save_format,
)
from .skopsfile import REVIEWED_LOADERS, check_skops_archive
from .sniff import sniff
from .target import TargetModel
from .validation import _kind, _reason, check_loaded_model, check_loaded_parts

__all__ = ["MAX_MODEL_BYTES", "REVIEWED_TYPES", "check_loaded_model", "describe_file",
           "load_model", "load_object", "save_model", "sniff_file"]

#: Types skops does not trust by default that tabinv accepts without ``trust=True`` (each
#: only built the way ``save_model`` writes it: see ``skopsfile.REVIEWED_LOADERS``).
REVIEWED_TYPES: tuple[str, ...] = tuple(REVIEWED_LOADERS)
#: The largest model file tabinv reads.
MAX_MODEL_BYTES = 1 << 30


# -- saving ----------------------------------------------------------------------------
def save_model(model: TargetModel, path: str | os.PathLike[str], *,
               format: str = "auto") -> Path:
    """Write a fitted model to ``path`` atomically and return the path.

    Parameters
    ----------
    model : TargetModel
        A fitted tabinv model.
    path : str or path
        Destination. With ``format="auto"`` a ``.json`` / ``.ubj`` suffix selects XGBoost's
        native format and anything else is written as skops.
    format : {"auto", "skops", "json", "ubj"}
        ``json`` and ``ubj`` are only for the xgboost family.

    Raises
    ------
    ModelError
        Unfitted model, unknown format, a native format for a non-xgboost model, or the
        file cannot be written.
    """
    path = Path(path)
    if not isinstance(model, TargetModel) or not hasattr(model, "estimator_"):
        raise ModelError(f"save_model needs a fitted TargetModel, not {_kind(model)}; "
                         "call fit before saving")
    _write_atomic(path, save_format(format, path).save(model))
    return path


def skops_bytes(model: TargetModel, chosen: ModelFormat) -> bytes:
    """The skops file of ``model`` (the saver of format ``skops``)."""
    return sio.dumps(model)  # type: ignore[no-any-return]


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as error:
        raise ModelError(f"cannot write model file {path}: {error.strerror}") from None


# -- recognising a file ----------------------------------------------------------------
def _read(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_MODEL_BYTES`, read bounded (a
    device, a pipe or a growing file can neither block nor exhaust memory)."""
    try:
        with open_regular(path) as handle:
            data = handle.read(MAX_MODEL_BYTES + 1)
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except NotARegularFile:
        raise ModelError(f"cannot read model file {path}: it is not a regular file (a "
                         "directory, device or pipe)") from None
    except OSError as error:
        raise ModelError(f"cannot read model file {path}: {error.strerror}") from None
    if len(data) > MAX_MODEL_BYTES:
        raise ModelError(f"model file {path} is larger than {MAX_MODEL_BYTES >> 20} MiB, the "
                         "largest model file tabinv reads")
    return data


def sniff_file(path: str | os.PathLike[str]) -> str:
    """The format of the model file at ``path`` (see :func:`sniff.sniff`), read the same
    bounded way :func:`load_model` reads it (never a device, a pipe or an endless file).

    Raises ModelError if the file is missing, not a regular file, or too large.
    """
    return sniff(_read(Path(path)))


def _unreadable(path: Path, found: str) -> ModelError:
    return ModelError(f"{path} is not a model file tabinv can read: it "
                      f"{describe_format(found)}; expected a .skops file (or an XGBoost "
                      ".json/.ubj file) written by save_model")


# -- loading ---------------------------------------------------------------------------
def load_model(path: str | os.PathLike[str], *, trust: bool = False,
               allow_pickle: bool = False) -> TargetModel:
    """Load a model written by :func:`save_model`, refusing anything that could run code.

    Parameters
    ----------
    path : str or path
        A ``.skops`` file, an XGBoost ``.json`` / ``.ubj`` file with tabinv metadata, or
        (with ``allow_pickle``) a pickle/joblib file. The format is read from the content.
    trust : bool
        Load skops files even if they contain types outside :data:`REVIEWED_TYPES` and
        skops' own trusted list. Only for files from a trusted source.
    allow_pickle : bool
        Unpickle pickle/joblib files (this runs code from the file).

    Raises
    ------
    UnsafeModelError
        Unreviewed types, a pickle file, or a tree whose node arrays fail a safety check.
    ModelError
        Anything else that is not a readable, fitted tabinv model.
    """
    path = Path(path)
    data = _read(path)
    return _load_bytes(path, data, sniff(data), trust=trust, allow_pickle=allow_pickle)


def _load_bytes(path: Path, data: bytes, found: str, *, trust: bool,
                allow_pickle: bool) -> TargetModel:
    return _checked(path, _object_from_bytes(path, data, found, trust=trust,
                                             allow_pickle=allow_pickle), found)


def _checked(path: Path, loaded: Any, found: str) -> TargetModel:
    if found.startswith("xgboost-") and not isinstance(loaded, TargetModel):
        raise ModelError(f"{path} is an XGBoost model without tabinv's metadata (card, "
                         "family, statistics): open it with the card of its data "
                         "(open_model, --card) or save it with tabinv's save_model")
    return check_loaded_model(loaded, path)


def _object_from_bytes(path: Path, data: bytes, found: str, *, trust: bool,
                       allow_pickle: bool) -> Any:
    chosen = format_of_kind(found)
    if chosen is None or chosen.needs_card:
        raise _unreadable(path, found)
    if chosen.runs_code and not allow_pickle:
        raise UnsafeModelError(
            f"{path} {describe_format(found, data)}: refused without allow_pickle (CLI "
            "--allow-pickle), because unpickling runs arbitrary code from the file; pass it "
            "only if you trust its source, or re-save the model as .skops")
    return chosen.load(path, data, found, trust=trust)


def load_object(path: str | os.PathLike[str], *, trust: bool = False,
                allow_pickle: bool = False, format: str | None = None, card: Any = None,
                options: Mapping[str, Any] | None = None) -> Any:
    """The model in a file of any format tabinv reads, tabinv's own or not, checked.

    A tabinv model is checked whole (:func:`check_loaded_model`); any other object has
    every tree and fitted number inside it checked (:func:`check_loaded_parts`). A
    graph-only file (ONNX, by its ``.onnx`` suffix or a declared ``format``) is opened
    with ``card`` and ``options`` and returned unfitted. ``format`` (an inventory's
    declaration) refuses a file whose content is another known format.

    Raises
    ------
    UnsafeModelError, ModelError
    """
    path = Path(path)
    chosen = model_format(format) if format is not None else next(
        (f for f in model_formats() if f.needs_card and path.suffix.lower() in f.suffixes),
        None)
    if chosen is not None and chosen.needs_card:
        if card is None:
            raise ModelError(f"{path} is {chosen.description}, which holds no card: give the "
                             "card of its data (--card CARD.toml)")
        given = dict(options or {})
        keywords = {keyword: given[key] for key, keyword in chosen.options if key in given}
        return chosen.load(path, card, **keywords)
    data = _read(path)
    found = sniff(data)
    if chosen is not None:
        check_declared(path, chosen, found)
        allow_pickle = allow_pickle and chosen.runs_code
    loaded = _object_from_bytes(path, data, found, trust=trust, allow_pickle=allow_pickle)
    if isinstance(loaded, TargetModel):
        return check_loaded_model(loaded, path)
    return check_loaded_parts(loaded, path)


def _unreviewed(untrusted: list[str]) -> list[str]:
    return [name for name in untrusted if name not in REVIEWED_TYPES]


def load_skops(path: Path, data: bytes, found: str, *, trust: bool) -> Any:
    """The object in a skops file, built only from reviewed (or, with ``trust``, any)
    types after the archive's checks (the loader of format ``skops``)."""
    check_skops_archive(data, path)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as error:  # any failure inside skops means "corrupt"
        raise ModelError(f"{path} is a zip archive but not a readable skops file "
                         f"(truncated or corrupt? {_reason(error)})") from None
    unreviewed = _unreviewed(untrusted)
    if unreviewed and not trust:
        raise UnsafeModelError(
            f"{path} contains types tabinv has not reviewed: {', '.join(unreviewed)}; loading "
            "them can run code, so pass trust=True (CLI --trust) only if the file comes from "
            "a trusted source")
    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as error:
        raise ModelError(f"{path} is a skops file that cannot be rebuilt "
                         f"({_reason(error)})") from None


def load_pickle(path: Path, data: bytes, found: str, *, trust: bool) -> Any:
    """Unpickle a pickle or joblib file: this runs code from it, so only called when the
    caller allowed it (the loader of formats ``pickle`` and ``joblib``)."""
    import joblib

    try:
        return joblib.load(io.BytesIO(data))
    except Exception as error:
        raise ModelError(f"{path} could not be unpickled ({_reason(error)})") from None


# -- describing a file for the CLI -----------------------------------------------------
def describe_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Format, size and (for skops) the untrusted types of a model file, without loading it.

    The same size, nesting and construction checks as :func:`load_model` run first; a
    file that fails them is described with an ``error``. Raises ModelError only if the
    file cannot be read at all.
    """
    path = Path(path)
    data = _read(path)
    found = sniff(data)
    facts: dict[str, Any] = {"path": str(path), "format": found, "size": len(data)}
    chosen = format_of_kind(found)
    try:
        if chosen is not None:
            facts.update(chosen.describe(path, data))
    except ModelError as error:
        facts["error"] = str(error)
    except Exception as error:  # any failure inside skops means "corrupt"
        facts["error"] = f"not a readable {found} file ({_reason(error)})"
    return facts


def describe_skops(path: Path, data: bytes, chosen: ModelFormat) -> dict[str, Any]:
    """The untrusted and unreviewed types of a skops file, after the archive's checks."""
    check_skops_archive(data, path)
    untrusted = sio.get_untrusted_types(data=data)
    return {"untrusted_types": untrusted, "unreviewed_types": _unreviewed(untrusted)}


