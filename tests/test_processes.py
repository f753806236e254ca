"""Stopping a command: SIGINT and SIGTERM raise in the main thread within
:func:`tabinv.processes.signals_raise`, and a command exits 128 + signal with one line
(:func:`tabinv.cli.console.exit_on_error`), however the process started.

A shell starts the background jobs of a script with SIGINT ignored, and Python then keeps
it ignored (no KeyboardInterrupt handler): ``tabinv batch`` started so (as a test suite
run in the background starts it) let a Ctrl-C pass and ran its entries to the end.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import typer

from tabinv.cli.console import exit_on_error
from tabinv.processes import Terminated, signals_raise

#: seconds: only against a signal that never arrives; it is handled at once
HANG_GUARD = 30


def _signal_self(signum: int) -> None:
    """Send ``signum`` to this process and wait (bounded) for its handler to raise."""
    os.kill(os.getpid(), signum)
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture(params=[signal.SIG_IGN, signal.default_int_handler],
                ids=["sigint-ignored", "sigint-default"])
def started_with(request: pytest.FixtureRequest) -> Iterator[object]:
    """SIGINT's disposition as the process started: ignored (a script's background job)
    or Python's default; put back after the test."""
    previous = signal.signal(signal.SIGINT, request.param)
    try:
        yield request.param
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigint_raises_within_signals_raise_however_it_started(started_with: object) -> None:
    with pytest.raises(KeyboardInterrupt) as stop, signals_raise():
        _signal_self(signal.SIGINT)
    assert not isinstance(stop.value, Terminated)
    assert signal.getsignal(signal.SIGINT) is started_with  # restored after the block


def test_sigterm_raises_terminated_within_signals_raise() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as stop, signals_raise():
        _signal_self(signal.SIGTERM)
    assert stop.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_command_stopped_by_sigint_exits_130_with_one_line(
        started_with: object, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited, exit_on_error("finished entries are kept"):
        _signal_self(signal.SIGINT)
    assert exited.value.exit_code == 128 + signal.SIGINT
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["stopped by SIGINT: finished entries are kept"]
