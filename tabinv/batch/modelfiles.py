"""The model an inventory entry names, seen as files: what kind of source it is, checks
that read no model, and the digest of its bytes that goes into the entry's result key.

An entry's ``model`` is a model file, an MLflow model directory (a folder with an
``MLmodel`` file) or a ``models:/NAME/VERSION`` / ``models:/NAME@ALIAS`` URI of an MLflow
registry (not a path: never resolved relative to the inventory). The digest of a file is
the SHA-256 of its bytes; of a directory or a registry version, the digest of its files
that :mod:`tabinv.models.mlflowstore` (their one home) computes: names, sizes and
contents in name order, bounded, links leaving the directory refused.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ..exceptions import ModelError, TabinvError
from ..models import mlflowstore
from ..text import shorten
from ..utils import NotARegularFile, open_regular

__all__ = ["MLMODEL", "check_model_directory", "check_registry_uri", "file_digest",
           "is_uri", "model_digest"]

MLMODEL = "MLmodel"

#: ``scheme:/`` at the start of a value: a URI, not a path (a one-letter scheme is a
#: Windows drive)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:/")


def is_uri(value: str) -> bool:
    """Whether an inventory's ``model`` value is a URI (``scheme:/...``), not a path."""
    return bool(_URI.match(value))


def check_registry_uri(value: str) -> str:
    """``value`` if it is a ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` URI.

    Raises
    ------
    ModelError
        Another scheme, or a ``models:/`` URI of another shape.
    """
    if not mlflowstore.is_registry_uri(value):
        scheme = value.partition(":")[0]
        raise ModelError(f"{shorten(value)}: tabinv reads model files, MLflow model "
                         f"directories and models:/ registry URIs, not {scheme}: URIs")
    mlflowstore.parse_registry_uri(value)
    return value


def check_model_directory(path: Path) -> None:
    """An MLflow model directory: an ``MLmodel`` regular file at its top, and nothing but
    files inside it, within the bounds (listed, nothing read or parsed).

    Raises
    ------
    ModelError
    """
    mlmodel = path / MLMODEL
    if mlmodel.is_symlink() or not mlmodel.is_file():
        raise ModelError(f"{path} is a folder without an {MLMODEL} file: a model folder must "
                         "be an MLflow model directory (or name a model file instead)")
    mlflowstore.resolved_files(path)


def file_digest(path: Path) -> str:
    """SHA-256 of a regular file, streamed (a device or a pipe is refused, never read)."""
    try:
        with open_regular(path) as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except NotARegularFile:
        raise TabinvError(f"{path} is not a regular file (a directory, device or pipe); an "
                          "inventory names files only") from None
    except OSError as error:
        raise TabinvError(f"cannot read {path}: {error.strerror}") from None


def model_digest(source: str | Path) -> str:
    """SHA-256 of the model an entry names: a file's bytes, an MLflow model directory's
    files, or the files of the version a ``models:/`` URI resolves to now.

    Raises
    ------
    TabinvError
    """
    if isinstance(source, str) or source.is_dir():
        return mlflowstore.model_digest(source)
    return file_digest(source)
