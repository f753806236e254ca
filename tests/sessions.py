"""The processes of a session: what the tests that start servers and batches check is
gone when they stop (every child is started with ``start_new_session``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import psutil
import pytest


def alive(process: psutil.Process) -> bool:
    """Running and not a zombie (a zombie holds no resource but its table entry)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def session_members(sid: int) -> list[psutil.Process]:
    """Live processes of session ``sid`` (the session leader's pid)."""
    members = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == sid and alive(psutil.Process(pid)):
                members.append(psutil.Process(pid))
        except (OSError, psutil.Error):
            continue
    return members


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """No thread or child process started by a module's tests outlives the module (import
    it into a test module to check it there; fixtures set up after it are torn down first)."""
    threads = set(threading.enumerate())
    children = set(psutil.Process().children(recursive=True))
    yield
    assert set(threading.enumerate()) <= threads
    assert set(psutil.Process().children(recursive=True)) <= children
