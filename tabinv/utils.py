"""Small shared helpers (random state handling)."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeAlias

import numpy as np
import pandas as pd

from .exceptions import TabinvError

__all__ = ["RandomState", "as_text", "as_text_column", "check_random_state", "format_bytes",
           "NotARegularFile", "open_regular", "parse_bytes",
           "seed_from",
           "write_atomic"]

RandomState: TypeAlias = int | np.random.Generator | None


def check_random_state(random_state: RandomState) -> np.random.Generator:
    """Turn ``None``, an int seed or a Generator into a Generator (never the global RNG)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise TabinvError(
        f"random_state must be None, an int or a numpy Generator, not {type(random_state).__name__}"
    )


def seed_from(random_state: RandomState) -> int:
    """An int seed for libraries that take one (scikit-learn, xgboost)."""
    return int(check_random_state(random_state).integers(0, 2**31 - 1))


def as_text(value: object) -> str:
    """Text form of a category value; whole floats lose their ".0" (1.0 -> "1")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_text_column(values: pd.Series, missing: str = "<missing>") -> np.ndarray:
    """A column as text (object array), converting each distinct value once.

    Whole numbers lose their ".0", so 1, 1.0 and "1" give the same text; missing values
    become ``missing``.
    """
    codes, levels = pd.factorize(values)
    text = np.array([as_text(v) for v in levels] + [missing], dtype=object)
    return text[codes]


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *,
                 scratch: str | os.PathLike[str] | None = None) -> Path:
    """Write ``data`` under a temporary name, flush it to disk and rename it to ``path``:
    readers see the old file or the whole new one, never half of it.

    The temporary file is ``.NAME.*.tmp`` beside ``path``, or ``NAME.*.tmp`` in
    ``scratch`` (a folder on the same file system, so the rename stays atomic); it is
    removed on failure. The rename replaces a symbolic link at ``path`` itself: nothing is
    written through it. The result is readable by everyone (mode 0644), as reports and
    results are meant to be.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder, prefix = (path.parent, f".{path.name}.") if scratch is None else \
        (Path(scratch), f"{path.name}.")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12,
          "tib": 2**40}


def parse_bytes(text: str) -> int:
    """A size such as ``"1GiB"``, ``"512MiB"``, ``"2GB"``, ``"1.5g"`` or ``"1073741824"``.

    Raises
    ------
    TabinvError
        The text is not a positive number with an optional unit (the message says which
        units are understood).
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise TabinvError(f"size {text!r} is not a number of bytes with an optional unit "
                          "(B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 1GiB or 512MiB")
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < 1:
        raise TabinvError(f"size {text!r} must be at least one byte")
    return size


_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(size: float) -> str:
    """A byte count for a message, in the largest binary unit below it, with up to four
    significant digits: ``4 GiB``, ``3.26 GiB``, ``300 MiB``, ``512 B`` (the counterpart of
    :func:`parse_bytes`; declared sizes in hostile files can be astronomical).

    Examples
    --------
    >>> format_bytes(4 * 1024**3), format_bytes(3.5 * 2**20), format_bytes(2**70)
    ('4 GiB', '3.5 MiB', '1024 EiB')
    """
    value, unit = float(size), _BINARY_UNITS[0]
    for unit in _BINARY_UNITS:
        if value < 1024 or unit == _BINARY_UNITS[-1]:
            break
        value /= 1024
    return f"{int(size)} B" if unit == "B" else f"{value:.4g} {unit}"


class NotARegularFile(OSError):
    """A path names a folder, a device or a pipe where a regular file was expected."""


@contextmanager
def open_regular(path: str | os.PathLike[str], *, follow_links: bool = True
                 ) -> Iterator[BinaryIO]:
    """Open an input file for reading, refusing anything but a regular file.

    The file is opened without blocking and checked with ``fstat`` before a byte is read,
    so a named pipe cannot hang tabinv and a device (``/dev/zero``) is never read. With
    ``follow_links=False`` a symbolic link is refused too (``O_NOFOLLOW``).

    Raises
    ------
    NotARegularFile
        The path is a folder, a device or a pipe.
    OSError
        The file cannot be opened (missing, a link with ``follow_links=False``, ...).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise NotARegularFile(f"{os.fspath(path)} is not a regular file (a folder, "
                                  "device or pipe)")
        yield handle

