"""Every model file format tabinv knows, in one table.

A :class:`ModelFormat` says what its files are called (the name an inventory's ``format``
key takes, the suffixes that suggest it), which :func:`~tabinv.models.sniff.sniff` results
its content gives, whether reading it runs code (pickle: refused unless the caller opts
in), and where its loader (and saver, if tabinv writes the format) lives. The inventory's
``format`` choices and suffixes (:mod:`tabinv.batch.entry`), :func:`~.persist.save_model`,
:func:`~.persist.load_model`, :func:`~.persist.load_object` and
:func:`~.persist.describe_file` all read this table, so a new format is one
:func:`register` call here plus its own reader module (and, when its content has a magic
of its own, a line of :func:`~tabinv.models.sniff.sniff`).

Loaders and savers are named as ``"module:function"`` and imported on first use, so this
module (imported by the inventory parser) imports no model library. A loader of a
self-describing file is called as ``load(path, data, found, trust=...)`` with the bytes
already read and bounded; a loader of a graph-only file (``needs_card``: ONNX) as
``load(path, card, **options)``, and the model it returns (a TargetModel, or a
:class:`~tabinv.models.foreign.RecordModel` put behind a ForeignModel) is fitted on the
members.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ModelError, UnsafeModelError
from .sniff import PICKLE_KINDS, pickle_protocol

__all__ = ["ModelFormat", "check_declared", "describe_format", "format_of_kind",
           "model_format", "model_formats", "register", "save_format"]


@dataclass(frozen=True)
class ModelFormat:
    """One model file format.

    Attributes
    ----------
    name : str
        The name an inventory's ``format`` key takes.
    description : str
        What a file of this format is, for messages ("a skops file").
    suffixes : tuple of str
        Lower-case suffixes that suggest the format (an inventory entry without ``format``).
    sniffed : tuple of str
        What :func:`~tabinv.models.sniff.sniff` says about a file of this format; empty
        when the content is not recognised (the format's loader checks it).
    loader : str
        ``"module:function"`` that loads a file of this format.
    runs_code : bool
        Reading a file runs code from it (pickle): refused unless the caller opts in.
    save_as : str or None
        The name :func:`~.persist.save_model` takes for it, when tabinv writes the format.
    saver : str or None
        ``"module:function"`` turning a fitted model and this format into the file's bytes.
    describer : str or None
        ``"module:function"`` adding facts about a file to :func:`~.persist.describe_file`.
    needs_card : bool
        The file holds only a graph: the card comes from the entry's data and the model is
        fitted on the members for its published statistics.
    options : tuple of (str, str)
        Inventory keys for this format only, each with the loader's keyword it sets.
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniffed: tuple[str, ...]
    loader: str
    runs_code: bool = False
    save_as: str | None = None
    saver: str | None = None
    describer: str | None = None
    needs_card: bool = False
    options: tuple[tuple[str, str], ...] = ()

    def load(self, *args: Any, **kwargs: Any) -> Any:
        """Call the format's loader (see the module docstring for its arguments)."""
        return _resolve(self.loader)(*args, **kwargs)

    def save(self, model: Any) -> bytes:
        """The bytes of ``model`` in this format (ModelError if tabinv does not write it)."""
        if self.saver is None:
            raise ModelError(f"tabinv does not write {self.description}s")
        return bytes(_resolve(self.saver)(model, self))

    def describe(self, path: Path, data: bytes) -> dict[str, Any]:
        """Facts about a file of this format for :func:`~.persist.describe_file`."""
        facts: dict[str, Any] = {"runs_code_on_load": True} if self.runs_code else {}
        if self.describer is not None:
            facts.update(_resolve(self.describer)(path, data, self))
        return facts

    @property
    def option_keys(self) -> tuple[str, ...]:
        """The inventory keys that apply to this format only."""
        return tuple(key for key, _ in self.options)


_FORMATS: dict[str, ModelFormat] = {}


def register(model_format: ModelFormat) -> ModelFormat:
    """Add a format to the table (its name, suffixes and sniffed kinds checked first).

    Raises
    ------
    ModelError
        The name, or a suffix or ``save_as`` name, is already another format's.
    """
    taken = {model_format.name} & set(_FORMATS)
    taken |= set(model_format.suffixes) & {s for f in _FORMATS.values() for s in f.suffixes}
    if model_format.save_as is not None:
        taken |= {model_format.save_as} & {f.save_as for f in _FORMATS.values()}
    if taken:
        raise ModelError(f"model format {model_format.name!r}: {sorted(taken)} already "
                         "belong to another format")
    _FORMATS[model_format.name] = model_format
    return model_format


def _resolve(target: str) -> Callable[..., Any]:
    module, _, function = target.partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def model_formats() -> tuple[ModelFormat, ...]:
    """Every registered format, in registration order."""
    return tuple(_FORMATS.values())


def model_format(name: str) -> ModelFormat:
    """The format called ``name`` (ModelError naming the known ones otherwise)."""
    try:
        return _FORMATS[name]
    except KeyError:
        raise ModelError(f"unknown model file format {name!r}; formats are: "
                         f"{', '.join(_FORMATS)}") from None


def format_of_kind(found: str) -> ModelFormat | None:
    """The (first registered) format whose files sniff as ``found``, or None."""
    return next((f for f in _FORMATS.values() if found in f.sniffed), None)


def save_format(format: str, path: Path) -> ModelFormat:
    """The format :func:`~.persist.save_model` writes: ``format`` by its ``save_as`` name,
    or with ``"auto"`` the one whose suffix ``path`` has (the first saveable one
    otherwise)."""
    saveable = [f for f in _FORMATS.values() if f.save_as is not None]
    if format == "auto":
        suffix = path.suffix.lower()
        return next((f for f in saveable if suffix in f.suffixes), saveable[0])
    chosen = next((f for f in saveable if f.save_as == format), None)
    if chosen is None:
        names = ["auto", *(str(f.save_as) for f in saveable)]
        raise ModelError(f"unknown model file format {format!r}; use "
                         f"{', '.join(map(repr, names[:-1]))} or {names[-1]!r}")
    return chosen


def describe_format(found: str, data: bytes = b"") -> str:
    """``found`` (from :func:`~tabinv.models.sniff.sniff`) as the end of "PATH ...", e.g.
    "is a pickle (protocol 0)"."""
    if found == "pickle":
        protocol = pickle_protocol(data)
        return "is a pickle" + (f" (protocol {protocol})" if protocol is not None else "")
    if found.startswith("joblib-"):
        return f"is a joblib file compressed with {found[7:]} (a pickle inside)"
    if found in ("empty", "text"):
        return {"empty": "is empty", "text": "holds plain text (a CSV or similar?)"}[found]
    known = format_of_kind(found)
    return f"is {known.description}" if known else "holds unrecognised binary data"


def check_declared(path: Path, declared: ModelFormat, found: str) -> None:
    """Refuse a file whose content (``found``) is another known format than ``declared``.

    Raises
    ------
    UnsafeModelError
        The content runs code when read (a pickle) and ``declared`` is not such a format.
    ModelError
        The content is another format tabinv knows.
    """
    actual = format_of_kind(found)
    if actual is None or found in declared.sniffed:
        return
    if actual.runs_code:
        raise UnsafeModelError(f"{path} is {actual.description} (reading it runs code), not "
                               f"the {declared.name} file the inventory declares; refused")
    raise ModelError(f"{path} is {actual.description}, not the {declared.name} file the "
                     "inventory declares")


_PERSIST = "tabinv.models.persist"
register(ModelFormat(
    "skops", "a skops file", (".skops",), ("skops",), f"{_PERSIST}:load_skops",
    save_as="skops", saver=f"{_PERSIST}:skops_bytes", describer=f"{_PERSIST}:describe_skops"))
for _native in ("json", "ubj"):
    register(ModelFormat(
        f"xgboost-{_native}", f"an XGBoost {_native.upper()} file", (f".{_native}",),
        (f"xgboost-{_native}",), "tabinv.models.xgbnative:load_xgboost", save_as=_native,
        saver="tabinv.models.xgbnative:xgboost_bytes",
        describer="tabinv.models.xgbnative:describe_xgboost"))
register(ModelFormat(
    "lightgbm", "a LightGBM model text", (".txt",), ("lightgbm",),
    "tabinv.models.lgbfile:load_lightgbm", describer="tabinv.models.lgbfile:describe_lightgbm"))
register(ModelFormat(
    "onnx", "an ONNX file", (".onnx",), (), "tabinv.models.onnx:load_onnx_model",
    needs_card=True, options=(("onnx_encoding", "categorical"), ("onnx_classes", "classes"),
                              ("onnx_output", "output"))))
register(ModelFormat("pickle", "a pickle file", (".pkl", ".pickle"), PICKLE_KINDS,
                     f"{_PERSIST}:load_pickle", runs_code=True))
register(ModelFormat("joblib", "a joblib file", (".joblib",), PICKLE_KINDS,
                     f"{_PERSIST}:load_pickle", runs_code=True))
