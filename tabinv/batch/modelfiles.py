"""The model an inventory entry names, seen as files: what kind of source it is, checks
that read no model, and the digest of its bytes that goes into the entry's result key.

An entry's ``model`` is a model file, an MLflow model directory (a folder with an
``MLmodel`` file) or a ``models:/NAME/VERSION`` / ``models:/NAME@ALIAS`` URI of an MLflow
registry (not a path: never resolved relative to the inventory). The digest of a file is
the SHA-256 of its bytes; of a directory, the SHA-256 over its files' relative paths and
bytes in sorted order (bounded: :data:`MAX_FILES` files, :data:`MAX_BYTES` bytes,
:data:`MAX_DEPTH` levels; links, devices and pipes refused); of a registry URI, the digest
of the directory holding the version it resolves to (:func:`registry_version_directory`,
the only function here that imports MLflow, on first use).
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from pathlib import Path
from urllib.parse import unquote, urlparse

from ..exceptions import ModelError, TabinvError
from ..text import shorten
from ..utils import NotARegularFile, open_regular

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_FILES", "MLMODEL", "check_model_directory",
           "check_registry_uri", "directory_digest", "directory_files", "file_digest",
           "is_uri", "model_digest", "registry_version_directory"]

MLMODEL = "MLmodel"
MAX_FILES = 10_000
MAX_BYTES = 8 * 2**30
MAX_DEPTH = 32

#: ``scheme:/`` at the start of a value: a URI, not a path (a one-letter scheme is a
#: Windows drive)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:/")
_REGISTRY = re.compile(r"models:/(?P<name>[^/@\s][^/@]{0,255}?)"
                       r"(?:/(?P<version>[1-9][0-9]{0,9})|@(?P<alias>[A-Za-z0-9_-]{1,255}))")


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
    if not value.startswith("models:/"):
        scheme = value.partition(":")[0]
        raise ModelError(f"{shorten(value)}: tabinv reads model files, MLflow model "
                         f"directories and models:/ registry URIs, not {scheme}: URIs")
    if not _REGISTRY.fullmatch(value):
        raise ModelError(f"{shorten(value)} is not models:/NAME/VERSION (a version number "
                         "from 1) or models:/NAME@ALIAS (letters, digits, '_' or '-')")
    return value


def _parse_registry(value: str) -> tuple[str, str | None, str | None]:
    match = _REGISTRY.fullmatch(check_registry_uri(value))
    assert match is not None  # checked above
    return match["name"], match["version"], match["alias"]


# -- directories -----------------------------------------------------------------------
def directory_files(root: Path) -> list[tuple[str, Path]]:
    """The regular files under ``root`` as (relative POSIX path, path), sorted.

    Nothing is read: only listed and ``lstat``-ed.

    Raises
    ------
    ModelError
        A link, device or pipe inside, more than :data:`MAX_FILES` files, more than
        :data:`MAX_BYTES` bytes, folders deeper than :data:`MAX_DEPTH`, or an unreadable
        folder.
    """
    found: list[tuple[str, Path]] = []
    total = 0
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ModelError(f"{root} has folders more than {MAX_DEPTH} levels deep")
        try:
            items = list(os.scandir(folder))
        except OSError as error:
            raise ModelError(f"cannot list {folder}: {error.strerror}") from None
        for item in items:
            path = Path(item.path)
            if item.is_symlink():
                raise ModelError(f"{path} is a link; a model directory in an inventory "
                                 "holds regular files and folders only")
            if item.is_dir(follow_symlinks=False):
                stack.append((path, depth + 1))
                continue
            if not item.is_file(follow_symlinks=False):
                raise ModelError(f"{path} is not a regular file (a device or a pipe)")
            total += item.stat(follow_symlinks=False).st_size
            found.append((path.relative_to(root).as_posix(), path))
            if len(found) > MAX_FILES or total > MAX_BYTES:
                raise ModelError(f"{root} holds more than {MAX_FILES:,} files or "
                                 f"{MAX_BYTES / 2**30:.0f} GiB; not a model directory")
    return sorted(found)


def check_model_directory(path: Path) -> None:
    """An MLflow model directory: an ``MLmodel`` regular file at its top, and nothing but
    regular files and folders inside, within the bounds (nothing is read or parsed).

    Raises
    ------
    ModelError
    """
    mlmodel = path / MLMODEL
    if mlmodel.is_symlink() or not mlmodel.is_file():
        raise ModelError(f"{path} is a folder without an {MLMODEL} file: a model folder must "
                         "be an MLflow model directory (or name a model file instead)")
    directory_files(path)


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


def directory_digest(root: Path) -> str:
    """SHA-256 over the sorted relative paths and bytes of every file under ``root``
    (see :func:`directory_files` for the bounds)."""
    digest = hashlib.sha256()
    for relative, path in directory_files(root):
        try:
            with open_regular(path, follow_links=False) as handle:
                inner = hashlib.file_digest(handle, "sha256").hexdigest()
        except (NotARegularFile, OSError):
            raise ModelError(f"{path} changed while it was hashed, or cannot be read"
                             ) from None
        name = relative.encode("utf-8", "surrogateescape")
        digest.update(len(name).to_bytes(8, "big") + name + bytes.fromhex(inner))
    return digest.hexdigest()


# -- registries ------------------------------------------------------------------------
def registry_version_directory(uri: str) -> Path:
    """The local directory holding the files of the version ``uri`` resolves to, from the
    MLflow registry configured as MLflow itself reads it (``MLFLOW_TRACKING_URI``,
    ``MLFLOW_REGISTRY_URI``). Reads the registry's records; loads no model.

    Raises
    ------
    ModelError
        MLflow is not installed, the name, version or alias is not in the registry, or
        the version's files are not on this machine.
    """
    name, version, alias = _parse_registry(uri)
    try:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise ModelError(f"{shorten(uri)}: reading an MLflow registry needs MLflow "
                         "(pip install 'tabinv[mlflow]')") from None
    try:
        with warnings.catch_warnings():  # MLflow's notices about its own stores
            warnings.simplefilter("ignore")
            client = MlflowClient()
            if alias is not None:
                version = str(client.get_model_version_by_alias(name, alias).version)
            location = client.get_model_version_download_uri(name, version)
    except MlflowException as error:
        reason = shorten((str(error.message).strip().splitlines() or ["unknown error"])[0],
                         200)
        code = getattr(error, "error_code", "")
        if code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE"
                                                 and "not found" in reason):
            raise ModelError(f"{shorten(uri)}: the registry has no such model ({reason})"
                             ) from None
        raise ModelError(f"{shorten(uri)}: the registry cannot be read ({reason})") from None
    except Exception as error:  # a registry that cannot be reached or read
        raise ModelError(f"{shorten(uri)}: the registry cannot be read ({type(error).__name__}:"
                         f" {shorten(str(error), 200)})") from None
    parsed = urlparse(str(location))
    if parsed.scheme not in ("", "file"):
        raise ModelError(f"{shorten(uri)} (version {version}) is stored at "
                         f"{shorten(str(location))}, not on this machine; tabinv reads "
                         "local registries only")
    directory = Path(unquote(parsed.path))
    if not directory.is_dir():
        raise ModelError(f"{shorten(uri)} (version {version}): its files "
                         f"{shorten(str(directory))} are not a directory")
    return directory


def model_digest(source: str | Path) -> str:
    """SHA-256 of the model an entry names: a file's bytes, an MLflow model directory's
    files, or the files of the version a ``models:/`` URI resolves to now.

    Raises
    ------
    TabinvError
    """
    if isinstance(source, str):
        return directory_digest(registry_version_directory(source))
    if source.is_dir():
        return directory_digest(source)
    return file_digest(source)
