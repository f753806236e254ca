"""Issue 12, item 8: no process outlives a command (the Python `sweep()` case: in
tests/defences/test_sweep.py, test_reproducible_and_independent_of_jobs).

Each test starts the real command in a session of its own (``start_new_session``), records
every descendant while it runs (so the pool was really used), and once it has returned
polls for a few seconds until no process of that session and none of the recorded
descendants is left. A descendant that the command orphaned is re-parented away from it,
but it keeps its session: the session is what finds it after the command has gone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from sessions import alive, session_members

from tabinv.data.registry import load_builtin
from tabinv.data.splits import split_dataset
from tabinv.models.families import make_model
from tabinv.models.persist import save_model

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from tabinv.cli import app; app()"]
HANG_GUARD = 900  # seconds: only against a hang, far above a normal run
SETTLE = 10.0  # seconds for the dying processes to go (bounded polling, not a sleep)
TINY_SWEEP = ["sweep", "-s", "vkorc1", "--epsilons", "1000", "--seeds", "1",
              "--prior", "marginal", "--jobs", "2"]


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}


def _describe(processes: list[psutil.Process], lines: dict[int, str] | None = None
              ) -> list[str]:
    described = []
    for process in processes:
        try:
            line = " ".join(process.cmdline())
        except psutil.Error:
            line = ""
        described.append(f"{process.pid}: {(line or (lines or {}).get(process.pid, ''))[:120]}")
    return described


class Run:
    """A command run in a session of its own, and every descendant seen while it ran."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        # output to files, not pipes: a left-over process holding a pipe open would keep
        # the test waiting for the end of the output
        self.out, self.err = cwd / "stdout.txt", cwd / "stderr.txt"
        with self.out.open("wb") as stdout, self.err.open("wb") as stderr:
            self.process = subprocess.Popen(command, cwd=cwd, env=_environment(),
                                            start_new_session=True, stdout=stdout,
                                            stderr=stderr)
        self.seen: dict[int, psutil.Process] = {}
        self.lines: dict[int, str] = {}  # the last command line seen of each

    @property
    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-2000:]

    def watch(self, until: float) -> None:
        """Record the descendants while the command runs, until ``until`` at most."""
        parent = psutil.Process(self.process.pid)
        while self.process.poll() is None and time.monotonic() < until:
            try:
                children = parent.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                self.seen.setdefault(child.pid, child)
                try:
                    self.lines[child.pid] = " ".join(child.cmdline())
                except psutil.Error:
                    continue
            time.sleep(0.05)

    def finish(self) -> int:
        """Wait for the command (a hang guard only); its exit code."""
        try:
            self.watch(time.monotonic() + HANG_GUARD)
            self.process.wait(timeout=HANG_GUARD)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def workers(self, marker: str) -> list[int]:
        """Recorded descendants whose command line holds ``marker``."""
        return [pid for pid, line in self.lines.items() if marker in line]

    def left_over(self) -> list[str]:
        """Poll up to SETTLE seconds until nothing the command started is alive (its
        session, its recorded descendants); what is still alive then, described, and
        killed so that a failure leaves nothing behind either."""
        deadline = time.monotonic() + SETTLE
        while True:
            left = {p.pid: p for p in [*session_members(self.process.pid),
                                       *filter(alive, self.seen.values())]}
            if not left or time.monotonic() > deadline:
                described = _describe(list(left.values()), self.lines)
                for process in left.values():
                    try:
                        process.kill()
                    except psutil.Error:
                        pass
                return described
            time.sleep(0.1)


def test_item8_sweep_with_two_jobs_leaves_no_process(tmp_path: Path) -> None:
    """item 8: `tabinv sweep --jobs 2` (one epsilon, one seed: two tasks) ran two joblib
    workers, and after it returns no process it started is alive."""
    run = Run([*CLI, *TINY_SWEEP, "--out", str(tmp_path / "sweep.json")], tmp_path)
    assert run.finish() == 0, run.stderr
    # two workers (and loky's resource tracker); a worker seen only before its exec shows
    # the parent's command line, so the count, not the command lines, proves the pool ran
    assert len(run.seen) >= 2, "the sweep never started its joblib workers"
    left = run.left_over()
    assert not left, f"still running after `tabinv sweep`: {left}"


def test_item8_batch_with_two_jobs_leaves_no_process(tmp_path: Path) -> None:
    """item 8: `tabinv batch --jobs 2` over two entries ran two workers (forked by the
    zygote), and after it returns no process it started is alive."""
    data = load_builtin("iwpc")
    members = split_dataset(data.frame, random_state=1).members
    save_model(make_model("linear", data.card).fit(members), tmp_path / "linear.skops")
    entries = "".join(f'[[entry]]\nname = "e{i}"\nmodel = "linear.skops"\nseed = {i}\n'
                      'sensitive = ["vkorc1"]\n' for i in range(2))
    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[defaults]\ndata = "iwpc"\nn_boot = 5\nattacks = ["map"]\n'
                         f'priors = ["marginal"]\n{entries}')
    run = Run([*CLI, "batch", str(inventory), "--out", str(tmp_path / "out"), "--jobs", "2"],
              tmp_path)
    assert run.finish() == 0, run.stderr
    assert "2 entries: 2 succeeded, 0 failed" in run.stdout, run.stdout
    assert len(run.seen) >= 3, "no zygote and two workers"
    left = run.left_over()
    assert not left, f"still running after `tabinv batch`: {left}"


def test_item8_killed_sweep_takes_its_workers_along(tmp_path: Path) -> None:
    """item 8: SIGKILL to `tabinv sweep --jobs 2` (no `finally` runs): its joblib workers
    end with it (they ask for SIGKILL at their parent's death) instead of idling for
    loky's five minutes, and the resource trackers then end too."""
    run = Run([*CLI, "sweep", "-s", "vkorc1", "--epsilons", "1,10", "--seeds", "20",
               "--prior", "marginal", "--jobs", "2"], tmp_path)
    try:
        deadline = time.monotonic() + HANG_GUARD
        while len(run.workers("loky")) < 2 and time.monotonic() < deadline \
                and run.process.poll() is None:
            run.watch(time.monotonic() + 0.2)
        assert len(run.workers("loky")) >= 2, run.stderr
        run.process.kill()  # a worker still starting finds its parent gone and exits
    finally:
        run.finish()
    assert run.process.returncode == -signal.SIGKILL
    left = run.left_over()
    assert not left, f"still running after SIGKILL to `tabinv sweep`: {left}"
