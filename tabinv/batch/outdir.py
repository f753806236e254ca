"""The batch output folder ``DIR``: the paths tabinv uses in it, checked before use.

``DIR`` itself may be given through symbolic links (it is the user's argument), but
anything inside it may have been planted: a link at a path tabinv reads or writes could
lead that read or write out of ``DIR``. So before a run starts, every path it will use
(the lock, the log, the summary files, ``entries/`` and each inventory entry's folder and
files) must be absent or a real file or folder of the expected kind; otherwise the run
is refused with one line naming the path. Reads open with ``O_NOFOLLOW`` and accept
regular files only; writes rename a finished file into place (a rename replaces a path,
it never writes through it).

Temporary files live in ``DIR/.tabinv-scratch/``, a folder tabinv creates. The next run
removes the temporary files (``*.tmp``) a killed run left there, and nothing else: a
user's files anywhere in ``DIR``, even ones named like temporaries, are never touched.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from ..exceptions import TabinvError
from ..text import shorten
from ..utils import open_regular, write_atomic
from .checkpoint import CHECKPOINT
from .task import REPORTS

__all__ = ["CHECKPOINT", "RESULT_FILE", "SCRATCH", "OutputFolder"]

RESULT_FILE = "result.json"
SCRATCH = ".tabinv-scratch"
LOCK = ".lock"
LOG = "batch.log"
SUMMARY_FILES = ("summary.parquet", "summary.csv", "summary.json", "index.html")
ENTRY_FILES = (RESULT_FILE, *REPORTS)

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)



class OutputFolder:
    """``DIR`` of a batch run: its checked paths, its scratch folder, safe reads/writes.

    Parameters
    ----------
    root : path
        The output directory as the user gave it (links in this path are followed).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.entries = self.root / "entries"
        self.scratch = self.root / SCRATCH

    def entry(self, name: str) -> Path:
        """The folder of the entry ``name`` (a validated inventory name)."""
        return self.entries / name

    def checkpoint(self, name: str) -> Path:
        """The checkpoint folder of the endpoint entry ``name``; its entry folder is made
        here (a real folder), the checkpoint by the worker that writes it."""
        folder = self.entry(name)
        folder.mkdir(exist_ok=True)
        _check(folder, directory=True)
        return folder / CHECKPOINT

    # -- setting up ---------------------------------------------------------------------
    def create(self) -> None:
        """Create ``DIR``, ``entries/`` and the scratch folder (each a real folder)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TabinvError(f"cannot write to {self.root}: {error.strerror}") from None
        for folder in (self.entries, self.scratch):
            _check(folder, directory=True)
            try:
                folder.mkdir(exist_ok=True)
            except OSError as error:
                raise TabinvError(f"cannot write to {folder}: {error.strerror}") from None
            _check(folder, directory=True)  # not swapped for a link meanwhile

    def check(self, names: Iterable[str]) -> None:
        """Refuse links and wrong kinds at every path a run over ``names`` uses.

        Raises
        ------
        TabinvError
            One line naming the first such path.
        """
        for name in (LOCK, LOG, *SUMMARY_FILES):
            _check(self.root / name, directory=False)
        for name in names:
            folder = self.entry(name)
            _check(folder, directory=True)
            for file in ENTRY_FILES:
                _check(folder / file, directory=False)
            _check(folder / CHECKPOINT, directory=True)

    def clear_scratch(self) -> None:
        """Remove the temporary files a killed run left in the scratch folder.

        Only regular files named ``*.tmp`` directly in it, which is all tabinv puts there;
        links, folders and other names are left alone.
        """
        with os.scandir(self.scratch) as found:
            for item in found:
                if item.name.endswith(".tmp") and item.is_file(follow_symlinks=False):
                    Path(item.path).unlink(missing_ok=True)

    # -- files ----------------------------------------------------------------------------
    def open_lock(self) -> IO[str]:
        """``DIR/.lock`` opened for writing, never through a link and never truncated."""
        path = self.root / LOCK
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as error:
            raise TabinvError(f"cannot write to {path}: {error.strerror}") from None
        return os.fdopen(handle, "w")

    def read(self, path: Path) -> bytes:
        """A regular file's bytes (``OSError`` for a link, a folder, a FIFO or none)."""
        with open_regular(path, follow_links=False) as stream:
            return stream.read()

    def write(self, path: Path, data: bytes | str) -> None:
        """Write ``path`` (inside ``DIR``) atomically, its temporary in the scratch folder."""
        if path.parent != self.root:  # an entry's folder: made here, never a link
            path.parent.mkdir(exist_ok=True)
            _check(path.parent, directory=True)
        write_atomic(path, data, scratch=self.scratch)

    def remove(self, path: Path) -> None:
        """Remove a file tabinv wrote (absent is fine; a link or folder is left alone)."""
        try:
            if stat.S_ISREG(path.lstat().st_mode):
                path.unlink()
        except FileNotFoundError:
            pass

    def log(self, text: str) -> None:
        """Append ``text`` (stamped) to ``DIR/batch.log``, never through a link."""
        path = self.root / LOG
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NOFOLLOW, 0o644)
        with os.fdopen(handle, "a", encoding="utf-8") as stream:
            stream.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {text}")


def _check(path: Path, *, directory: bool) -> None:
    """Absent, or a real folder / regular file as ``directory`` says; else TabinvError."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise TabinvError(f"cannot use {shorten(str(path), 200)} in --out: "
                          f"{error.strerror}") from None
    if stat.S_ISLNK(mode):
        problem = "is a symbolic link"
    elif directory and not stat.S_ISDIR(mode):
        problem = "is not a folder"
    elif not directory and not stat.S_ISREG(mode):
        problem = "is not a regular file"
    else:
        return
    raise TabinvError(f"{shorten(str(path), 200)} {problem}: tabinv reads and writes only "
                      "inside --out and follows no link out of it; move it away or choose "
                      "another --out")
