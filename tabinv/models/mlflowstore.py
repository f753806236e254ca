"""Where an MLflow model's files are: a local model directory or a registry version.

``models:/NAME/VERSION`` and ``models:/NAME@ALIAS`` are resolved with
:class:`mlflow.MlflowClient` against a registry on this machine (a ``file:`` store or,
with SQLAlchemy installed, a ``sqlite:`` database): tabinv assesses offline, so a
registry or artifact store behind a network address is refused, and nothing is
downloaded or copied. The registry is read, never created: a store that does not exist
is an error (MLflow would otherwise make an empty one). MLflow 3 keeps its file stores in
maintenance mode behind ``MLFLOW_ALLOW_FILE_STORE``; tabinv sets it only while it reads
one. Telemetry is switched off (``MLFLOW_DISABLE_TELEMETRY``, unless the environment
says otherwise) before MLflow is first imported, so no thread sends anything.

:func:`resolved_files` lists the files of a model directory or registry version and
:func:`model_digest` hashes them (names, sizes and contents, in name order, bounded), so
an inventory's result key changes when a registry alias moves to another version.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from ..exceptions import ModelError
from ..text import shorten
from ..utils import NotARegularFile, format_bytes, open_regular
from .validation import _reason

__all__ = ["MAX_FILES", "MAX_TOTAL_BYTES", "import_mlflow", "is_registry_uri",
           "model_digest", "model_directory", "parse_registry_uri", "resolved_files"]

#: The most files and folders a model directory may hold for tabinv to list it.
MAX_FILES = 10_000
#: The most bytes a model directory may hold for tabinv to hash it.
MAX_TOTAL_BYTES = 8 << 30
_LOCAL_SCHEMES = ("", "file", "sqlite")
#: registry URIs that MLflow reads as a remote service although they have no scheme
_REMOTE_NAMES = ("databricks", "databricks-uc", "uc")


def import_mlflow(part: str = "") -> ModuleType:
    """The ``mlflow`` module (or ``mlflow.<part>``), imported with telemetry off.

    MLflow's own modules warn about their type hints when imported (not about the user's
    model): that one warning is silenced. ModelError when MLflow is not installed.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    name = f"mlflow.{part}" if part else "mlflow"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Any type hint is inferred as AnyType",
                                    category=UserWarning)
            return importlib.import_module(name)
    except ImportError as error:
        raise ModelError(f"reading MLflow registries and python_function models needs "
                         f"MLflow ({_reason(error)}): pip install tabinv[mlflow]") from None


def is_registry_uri(source: object) -> bool:
    """Whether ``source`` names a model in an MLflow registry (``models:/...``)."""
    return isinstance(source, str) and source.startswith("models:/")


def parse_registry_uri(source: str) -> tuple[str, str | None, str | None]:
    """``(name, version, alias)`` of ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``."""
    rest = source.removeprefix("models:/")
    name, at, alias = rest.rpartition("@")
    version: str | None = None
    if not at:
        name, _, version = rest.rpartition("/")
        alias = ""
        if not version.isdigit():
            name = ""
    if not name or any(c in name for c in "/\\\x00") or name in (".", "..") or \
            (at and (not alias or any(c in alias for c in "/\\\x00"))):
        raise ModelError(f"{shorten(source)} is not an MLflow registry URI tabinv reads: "
                         "expected models:/NAME/VERSION (a number) or models:/NAME@ALIAS")
    return name, version, alias or None


def _local_path(uri: str, what: str) -> Path:
    """The path of a local ``file:``/``sqlite:`` URI or plain path; ModelError otherwise."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower() if len(parsed.scheme) > 1 else ""  # C:\ is a path
    if scheme not in _LOCAL_SCHEMES or parsed.netloc not in ("", "localhost") or \
            uri.lower().split(":")[0] in _REMOTE_NAMES:
        raise ModelError(f"{what} {shorten(uri)} is not on this machine; tabinv assesses "
                         "offline and reads only local stores (file:/PATH or sqlite:///PATH)"
                         "; download the model version and give its directory instead")
    if scheme == "":
        return Path(uri).expanduser()
    if scheme == "sqlite":
        return Path(unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path))
    return Path(url2pathname(unquote(parsed.path)))


def _registry_uris(registry_uri: str | None) -> tuple[str, str]:
    """(tracking URI, registry URI): both ``registry_uri`` when given, else
    MLFLOW_REGISTRY_URI / MLFLOW_TRACKING_URI."""
    if registry_uri:
        return registry_uri, registry_uri
    tracking = os.environ.get("MLFLOW_TRACKING_URI", "")
    registry = os.environ.get("MLFLOW_REGISTRY_URI", "") or tracking
    if not registry:
        raise ModelError("an MLflow registry URI (models:/...) needs the registry: set "
                         "MLFLOW_REGISTRY_URI or MLFLOW_TRACKING_URI to a local store "
                         "(file:/PATH or sqlite:///PATH)")
    return tracking or registry, registry


def _check_store(source: str, uri: str, what: str) -> None:
    """A store must exist before MLflow opens it (MLflow would create an empty one)."""
    path = _local_path(uri, f"{source}: the {what}")
    if urlparse(uri).scheme.lower() == "sqlite":
        found, expected = path.is_file(), "a database file"
        if importlib.util.find_spec("sqlalchemy") is None:
            raise ModelError(f"{source}: the {what} {shorten(uri)} is a SQLite database, "
                             "which MLflow reads with SQLAlchemy (not part of mlflow-skinny: "
                             "pip install sqlalchemy alembic), or use a file: store")
    elif what == "MLflow registry":
        found, expected = (path / "models").is_dir(), "a folder with a models/ folder"
    else:
        found, expected = path.is_dir(), "a folder"
    if not found:
        raise ModelError(f"{source}: there is no {what} at {shorten(uri)} (expected "
                         f"{expected} at {path})")


@contextmanager
def _file_store_allowed() -> Iterator[None]:
    """MLflow 3 refuses its file stores unless MLFLOW_ALLOW_FILE_STORE is set."""
    before = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
        else:
            os.environ["MLFLOW_ALLOW_FILE_STORE"] = before


def _missing(error: Exception) -> bool:
    return getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST"


def _version_uri(client: Any, source: str, registry: str) -> str:
    """The artifact URI of the version ``source`` names (one-line ModelError if absent)."""
    name, version, alias = parse_registry_uri(source)
    where = f"the MLflow registry at {shorten(registry)}"
    try:
        aliases = client.get_registered_model(name).aliases or {}
    except Exception as error:
        if _missing(error):
            raise ModelError(f"{source}: {where} has no registered model "
                             f"{shorten(name)}") from None
        raise ModelError(f"{source}: cannot read {where} ({_reason(error)})") from None
    if alias is not None and alias not in aliases:
        raise ModelError(f"{source}: model {shorten(name)} in {where} has no alias "
                         f"{shorten(alias)} (its aliases: "
                         f"{', '.join(shorten(a) for a in sorted(aliases)) or 'none'})")
    version = str(aliases[alias]) if alias is not None else version
    try:
        client.get_model_version(name, version)
        return str(client.get_model_version_download_uri(name, version))
    except Exception as error:
        if _missing(error):
            raise ModelError(f"{source}: model {shorten(name)} in {where} has no version "
                             f"{version}") from None
        raise ModelError(f"{source}: cannot read {where} ({_reason(error)})") from None


def model_directory(source: str | os.PathLike[str], *,
                    registry_uri: str | None = None) -> Path:
    """The local directory of an MLflow model: ``source`` itself, or the directory a
    ``models:/`` URI's version resolves to in a local registry.

    Raises
    ------
    ModelError
        MLflow missing, a registry or artifact store that is not local, a store, model,
        version or alias that does not exist, or a directory that is not there.
    """
    if not is_registry_uri(source):
        directory = Path(source)
    else:
        tracking, registry = _registry_uris(registry_uri)
        _check_store(str(source), registry, "MLflow registry")
        _check_store(str(source), tracking, "MLflow tracking store")
        mlflow = import_mlflow()
        with _file_store_allowed():
            try:
                client = mlflow.MlflowClient(tracking_uri=tracking, registry_uri=registry)
            except Exception as error:
                raise ModelError(f"{source}: cannot open the MLflow registry at "
                                 f"{shorten(registry)} ({_reason(error)})") from None
            uri = _version_uri(client, str(source), registry)
        directory = _local_path(uri, f"{source}: its artifact location")
    if not directory.is_dir():
        raise ModelError(f"{source}: the model directory {directory} does not exist")
    return directory


def resolved_files(source: str | os.PathLike[str], *,
                   registry_uri: str | None = None) -> list[Path]:
    """Every file of an MLflow model directory or registry version, in name order.

    Links are followed only inside the directory (a linked folder inside it is a second
    name for files already listed, so it is skipped).

    Raises
    ------
    ModelError
        Anything :func:`model_directory` refuses, a link leaving the directory, something
        that is neither a file nor a folder, or more than :data:`MAX_FILES` entries.
    """
    directory = model_directory(source, registry_uri=registry_uri)
    root = directory.resolve()
    files: list[Path] = []
    seen = 0
    for folder, folders, names in os.walk(directory):
        seen += len(folders) + len(names)
        if seen > MAX_FILES:
            raise ModelError(f"{source}: its directory {directory} holds more than "
                             f"{MAX_FILES:,} files and folders")
        for name in folders:
            entry = Path(folder, name)
            if entry.is_symlink():
                _inside(root, entry, source)
        for name in names:
            entry = Path(folder, name)
            if entry.is_symlink():
                _inside(root, entry, source)
            mode = entry.stat().st_mode if entry.exists() else 0
            if not stat.S_ISREG(mode):
                raise ModelError(f"{source}: {entry} is not a regular file (a device, a "
                                 "pipe or a broken link)")
            files.append(entry)
    return sorted(files, key=lambda p: p.relative_to(directory).as_posix())


def _inside(root: Path, entry: Path, source: object) -> None:
    target = entry.resolve()
    if not target.is_relative_to(root):
        raise ModelError(f"{source}: {entry} links to {target}, outside the model "
                         "directory")


def model_digest(source: str | os.PathLike[str], *, registry_uri: str | None = None) -> str:
    """SHA-256 (hex) of an MLflow model's files: each file's path inside the directory,
    size and SHA-256, in name order, so the same files give the same digest wherever the
    directory is (a registry version and the directory it was made from agree).

    Raises
    ------
    ModelError
        Anything :func:`resolved_files` refuses, or more than :data:`MAX_TOTAL_BYTES`.
    """
    directory = model_directory(source, registry_uri=registry_uri)
    digest = hashlib.sha256()
    total = 0
    for path in resolved_files(directory):
        try:
            with open_regular(path) as handle:
                size = os.fstat(handle.fileno()).st_size
                total += size
                if total > MAX_TOTAL_BYTES:
                    raise ModelError(f"{source}: its files take more than "
                                     f"{format_bytes(MAX_TOTAL_BYTES)}, the most tabinv "
                                     "hashes")
                content = hashlib.file_digest(handle, "sha256").hexdigest()
        except NotARegularFile:
            raise ModelError(f"{source}: {path} is not a regular file") from None
        except OSError as error:
            raise ModelError(f"{source}: cannot read {path}: {error.strerror}") from None
        name = path.relative_to(directory).as_posix()
        digest.update(f"{name}\0{size}\0{content}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
