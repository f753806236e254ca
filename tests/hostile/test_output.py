"""Hostile output folders of ``tabinv batch --out DIR`` (issue 11, items 1, 7 and 9).

A tiny inventory (one linear model, one broken model file) is run once per module; each
test copies that output folder, plants something in it and runs again (a rerun reuses
finished entries, so most tests assess nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from batch import save, train, write_inventory
from typer.testing import CliRunner

from tabinv.batch.executors import SerialExecutor
from tabinv.batch.inventory import read_inventory
from tabinv.batch.outdir import SCRATCH
from tabinv.batch.runner import BatchResult, read_record, run_batch
from tabinv.batch.task import EntryOutcome
from tabinv.cli.batch import batch
from tabinv.exceptions import TabinvError
from tabinv.utils import write_atomic


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inventory")
    save(train("linear"), folder / "linear.skops")
    (folder / "broken.skops").write_bytes(b"PK\x03\x04 not really a zip")
    return write_inventory(folder / "inventory.toml", [
        {"name": "linear", "model": str(folder / "linear.skops"), "sensitive": ["vkorc1"]},
        {"name": "broken", "model": str(folder / "broken.skops"), "sensitive": ["vkorc1"]}])


@pytest.fixture(scope="module")
def first(inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> BatchResult:
    out = tmp_path_factory.mktemp("first") / "out"
    return run_batch(read_inventory(inventory), out, executor=SerialExecutor())


@pytest.fixture()
def out(first: BatchResult, tmp_path: Path) -> Path:
    """A copy of the first run's output folder."""
    copy = tmp_path / "out"
    shutil.copytree(first.out, copy, symlinks=True)
    return copy


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A folder outside DIR with a file that must survive, unread and unchanged."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.txt").write_text("do not touch\n")
    return folder


def rerun(inventory: Path, out: Path) -> BatchResult:
    return run_batch(read_inventory(inventory), out, executor=SerialExecutor())


def unchanged(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}


# -- item 1: only tabinv's own temporaries are removed ---------------------------------
def test_item1_user_files_named_like_temporaries_survive(inventory: Path, out: Path) -> None:
    """item 1: a user's .thesis-draft.tmp (in DIR, in an entry folder, even one named like
    tabinv's old temporaries) survives a run; tabinv's leftovers in its scratch go."""
    mine = {out / ".thesis-draft.tmp": "chapter 1", out / ".summary.csv.k2j4.tmp": "notes",
            out / "entries/linear/.notes.tmp": "n", out / "entries/linear/.result.json.x.tmp":
            "{", out / SCRATCH / "keep.txt": "not a temporary"}
    for path, text in mine.items():
        path.write_text(text)
    (out / SCRATCH / "folder.tmp").mkdir()
    leftovers = [out / SCRATCH / "summary.csv.abc.tmp", out / SCRATCH / "result.json.q.tmp"]
    for path in leftovers:
        path.write_text("half")
    result = rerun(inventory, out)
    assert result.reused == 1
    assert {p: p.read_text() for p in mine} == mine
    assert (out / SCRATCH / "folder.tmp").is_dir()
    assert not any(p.exists() for p in leftovers)


def test_item1_scratch_folder_that_is_a_link_is_refused(inventory: Path, out: Path,
                                                        outside: Path) -> None:
    """item 1 / 9: DIR/.tabinv-scratch planted as a link to another folder: refused, and
    nothing in that folder is deleted."""
    (outside / "draft.tmp").write_text("keep")
    shutil.rmtree(out / SCRATCH)
    (out / SCRATCH).symlink_to(outside, target_is_directory=True)
    before = unchanged(outside)
    with pytest.raises(TabinvError, match=r"\.tabinv-scratch' is a symbolic link"):
        rerun(inventory, out)
    assert unchanged(outside) == before


def test_item1_links_inside_scratch_are_left_alone(inventory: Path, out: Path,
                                                   outside: Path) -> None:
    """item 1: a link named like a temporary inside the scratch folder is not tabinv's:
    neither it nor its target is removed."""
    link = out / SCRATCH / "x.tmp"
    link.symlink_to(outside / "secret.txt")
    rerun(inventory, out)
    assert link.is_symlink() and (outside / "secret.txt").read_text() == "do not touch\n"


def test_item1_item9_temporaries_only_in_scratch(inventory: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """item 1 / 9: a fresh run renames every file into place from DIR/.tabinv-scratch,
    leaves the scratch folder empty, and writes nothing in the system temporary folder
    (no tabinv-entry-* folders for a kill -9 to leave behind)."""
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(source: Any, target: Any, **kwargs: Any) -> None:
        renames.append((str(source), str(target)))
        real_replace(source, target, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    out = tmp_path / "out"
    result = rerun(inventory, out)
    assert (result.succeeded, result.failed) == (1, 1)
    scratch = str(out / SCRATCH) + os.sep
    assert len(renames) >= 8 and all(s.startswith(scratch) for s, _ in renames), renames
    assert {Path(t).name for _, t in renames} >= {"result.json", "report.html",
                                                  "summary.csv", "index.html"}
    assert list((out / SCRATCH).iterdir()) == []
    assert list(system_temp.iterdir()) == []


# -- item 7: a reused result is byte-identical to what the run wrote ------------------
def _edit_record(out: Path, change: Callable[[dict[str, Any]], None], indent: int = 1
                 ) -> None:
    path = out / "entries/linear/result.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record, indent=indent))


def _recompute_digest(record: dict[str, Any]) -> None:
    import hashlib

    content = {k: v for k, v in record.items() if k != "digest"}
    record["digest"] = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(
        ",", ":")).encode()).hexdigest()


def _raise_accuracy(record: dict[str, Any]) -> None:
    for row in record["rows"]:
        row["attack_accuracy"], row["verdict"] = 0.999, "leaks"


def _drop_rows(record: dict[str, Any]) -> None:
    record["rows"] = []
    _recompute_digest(record)


@pytest.mark.parametrize("change, indent", [
    (_raise_accuracy, 1),                    # the rows, edited (0.762 -> 0.999, "leaks")
    (lambda r: None, 2),                     # same content, other bytes
    (_drop_rows, 1),                         # no rows left, digest recomputed to match
    (lambda r: r.update(files={}), 1),       # the reports no longer vouched for
], ids=["rows-edited", "reformatted", "rows-dropped", "files-dropped"])
def test_item7_edited_record_is_redone(inventory: Path, out: Path, first: BatchResult,
                                       change: Callable[[dict[str, Any]], None],
                                       indent: int) -> None:
    """item 7: an edited result.json (its rows, its bytes, its list of reports) is not
    reused: the entry is assessed again, its record is rewritten as the run first wrote
    it and the summary is the first run's."""
    original = _content(out)
    _edit_record(out, change, indent)
    result = rerun(inventory, out)
    assert result.reused == 0
    pd.testing.assert_frame_equal(result.summary, first.summary)
    assert _content(out) == original


def _content(out: Path) -> dict[str, Any]:
    """The linear entry's record but its timing and report hashes (reports are stamped
    with the time they were made) and the digest that covers them."""
    record = json.loads((out / "entries/linear/result.json").read_text())
    return {k: v for k, v in record.items() if k not in ("seconds", "digest", "files")}


def test_item7_record_bytes_reused_unchanged(inventory: Path, out: Path) -> None:
    """item 7: an untouched record is reused and left byte for byte as it was."""
    before = unchanged(out / "entries/linear")
    assert rerun(inventory, out).reused == 1
    assert unchanged(out / "entries/linear") == before


class _NoRows:
    """An executor whose every task 'succeeds' without a single result row."""

    def describe(self) -> str:
        return "no rows"

    def run(self, task: Callable[[Any], Any], items: Sequence[Any]
            ) -> Iterator[tuple[int, Any]]:
        for index, entry in enumerate(items):
            yield index, EntryOutcome(entry.name, "k", "ok", files={"report.html": b"x"})


def test_item7_every_entry_is_in_summary_and_index(inventory: Path, tmp_path: Path,
                                                   first: BatchResult) -> None:
    """item 7: an entry that failed, or 'succeeded' with no rows, still appears in
    summary.csv, summary.parquet and index.html with its status and error."""
    names = {"linear", "broken"}
    assert set(first.summary["entry"]) == names
    assert "not a readable skops file" in first.summary.set_index("entry").loc[
        "broken", "error"].iloc[0]
    result = run_batch(read_inventory(inventory), tmp_path / "out", executor=_NoRows())
    assert result.failed == 2 and result.exit_code == 1
    for frame in (result.summary, pd.read_csv(result.out / "summary.csv"),
                  pd.read_parquet(result.out / "summary.parquet")):
        assert set(frame["entry"]) == names and set(frame["status"]) == {"failed"}
        assert set(frame["error"]) == {"the assessment produced no result rows"}
    page = (result.out / "index.html").read_text()
    assert all(f">{name}<" in page for name in names)
    assert not (result.out / "entries/linear/report.html").exists()


# -- item 9: no link inside DIR is followed, nothing is written outside it -----------
PLANTED_FILES = ["entries/linear/report.html", "entries/linear/result.json",
                 "entries/broken/result.json", "batch.log", ".lock", "summary.csv",
                 "index.html"]


@pytest.mark.parametrize("planted", PLANTED_FILES)
def test_item9_link_to_a_file_outside_is_refused(inventory: Path, out: Path, outside: Path,
                                                 planted: str) -> None:
    """item 9: DIR/<planted> as a link to a file outside DIR: the run is refused with a
    line naming it, before anything is written; the file outside is unchanged and the
    link is not removed."""
    target = outside / "secret.txt"
    if planted.endswith("result.json"):  # a valid record from elsewhere, not to be trusted
        shutil.copy(out / planted, target)
    before = unchanged(outside)
    (out / planted).unlink(missing_ok=True)
    (out / planted).symlink_to(target)
    with pytest.raises(TabinvError) as caught:
        rerun(inventory, out)
    message = str(caught.value)
    assert f"{planted}' is a symbolic link" in message and "\n" not in message
    assert unchanged(outside) == before
    assert (out / planted).is_symlink()


@pytest.mark.parametrize("planted", ["entries/linear", "entries"])
def test_item9_link_to_a_folder_outside_is_refused(inventory: Path, out: Path,
                                                   outside: Path, planted: str) -> None:
    """item 9: DIR/entries or DIR/entries/NAME as a link to another folder: refused;
    nothing is read from, written to or deleted in that folder."""
    shutil.copytree(out / planted, outside / "copy")
    shutil.rmtree(out / planted)
    (out / planted).symlink_to(outside / "copy", target_is_directory=True)
    before = unchanged(outside)
    with pytest.raises(TabinvError, match=f"{planted}' is a symbolic link"):
        rerun(inventory, out)
    assert unchanged(outside) == before


def test_item9_cli_refuses_in_one_line(inventory: Path, out: Path, outside: Path) -> None:
    """item 9: through the command line the refusal is one line on stderr, exit code 2."""
    (out / "entries/linear/report.html").unlink()
    (out / "entries/linear/report.html").symlink_to(outside / "secret.txt")
    cli = typer.Typer()
    cli.command("batch")(batch)
    cli.command("unused")(lambda: None)  # two commands: "batch" is named on the line
    result = CliRunner().invoke(cli, ["batch", str(inventory), "--out", str(out),
                                        "--executor", "serial"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "report.html' is a symbolic link" in result.output
    assert (outside / "secret.txt").read_text() == "do not touch\n"


def test_item9_fifo_or_folder_instead_of_a_file_is_refused(inventory: Path,
                                                           out: Path) -> None:
    """item 9: a FIFO planted as result.json (a read would hang) or a folder as
    summary.csv is refused by name instead of hanging or crashing."""
    (out / "entries/linear/result.json").unlink()
    os.mkfifo(out / "entries/linear/result.json")
    signal.alarm(120)  # a guard: reading the FIFO would block this test for ever
    try:
        with pytest.raises(TabinvError, match="result.json' is not a regular file"):
            rerun(inventory, out)
    finally:
        signal.alarm(0)
    (out / "entries/linear/result.json").unlink()
    (out / "summary.csv").unlink()
    (out / "summary.csv").mkdir()
    with pytest.raises(TabinvError, match="summary.csv' is not a regular file"):
        rerun(inventory, out)


def test_item9_records_are_never_read_through_a_link(first: BatchResult, tmp_path: Path,
                                                     outside: Path) -> None:
    """item 9: reading an old record does not follow a link, even when called directly."""
    out = tmp_path / "out"
    shutil.copytree(first.out, out)
    key = json.loads((out / "entries/linear/result.json").read_text())["key"]
    assert read_record(out, "linear", key) is not None
    shutil.move(out / "entries/linear/result.json", outside / "result.json")
    (out / "entries/linear/result.json").symlink_to(outside / "result.json")
    assert read_record(out, "linear", key) is None


def test_item9_user_may_give_dir_through_a_link(inventory: Path, out: Path,
                                                tmp_path: Path) -> None:
    """item 9: DIR itself named through a link is the user's choice and works."""
    alias = tmp_path / "alias"
    alias.symlink_to(out, target_is_directory=True)
    assert rerun(inventory, alias).reused == 1


def test_item9_atomic_write_replaces_a_link_never_writes_through(tmp_path: Path,
                                                                 outside: Path) -> None:
    """item 9: write_atomic renames over a link at its path (the link's target is
    untouched), and with a scratch folder makes its temporary there."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    link = tmp_path / "report.html"
    link.symlink_to(outside / "secret.txt")
    write_atomic(link, "new", scratch=scratch)
    assert not link.is_symlink() and link.read_text() == "new"
    assert (outside / "secret.txt").read_text() == "do not touch\n"
    assert list(scratch.iterdir()) == []
