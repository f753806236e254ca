"""Commands of batch runs: ``tabinv batch`` and ``tabinv inventory example|check``.

Each parses, calls :mod:`tabinv.batch`, renders. ``tabinv batch`` exits 0 when every entry
succeeded, 1 when some failed (their results are still written), 2 when it could not run
(an invalid inventory, an unusable output directory or scheduler).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..batch.executors import Limits, make_executor
from ..batch.inventory import read_inventory
from ..batch.isolation import DEFAULT_MEMORY, DEFAULT_TIMEOUT
from ..batch.runner import BatchProgress, BatchResult, run_batch
from ..processes import cap_jobs
from ..text import terminal_text
from ..utils import format_bytes, parse_bytes
from .console import err, exit_on_error

__all__ = ["batch", "inventory_app", "inventory_check", "inventory_example", "main"]

DASK_SCRATCH = ".tabinv-dask"  # under --out: Dask's scratch space (removed at the end)

inventory_app = typer.Typer(help="Model inventories for `tabinv batch`.", no_args_is_help=True)


def _errors() -> AbstractContextManager[None]:
    """Errors -> one line each, exit 2; SIGTERM / SIGINT -> workers stopped, exit 128 + n."""
    return exit_on_error("worker processes ended; finished entries are kept (rerun to resume)")


@contextmanager
def _progress_bar(total: int) -> Iterator[Callable[[BatchProgress], None]]:
    columns = (TextColumn("[bold]batch"), BarColumn(), TextColumn(
        "{task.fields[done]} done, [red]{task.fields[failed]} failed[/], "
        "{task.fields[remaining]} remaining"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("batch", total=total, done=0, failed=0, remaining=total)

        def show(state: BatchProgress) -> None:
            bar.update(task, completed=state.done, done=state.done, failed=state.failed,
                       remaining=state.remaining)
        yield show


def _shown(value: object) -> str:
    """An entry's name, error or path as one terminal line (no control characters)."""
    return terminal_text(value, one_line=True)


def _render(result: BatchResult, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    reused = f" ({result.reused} reused from earlier runs)" if result.reused else ""
    typer.echo(f"{result.total} entries: {result.succeeded} succeeded{reused}, "
               f"{result.failed} failed in {result.seconds:.1f} s ({result.executor})")
    for name, error in result.failures:
        typer.echo(f"  failed {_shown(name)}: {_shown(error)}")
    typer.echo(f"summary: {_shown(result.out / 'summary.parquet')} (and .csv, .json); "
               f"index: {_shown(result.out / 'index.html')}")
    if result.failed:
        typer.echo(f"tracebacks: {_shown(result.out / 'batch.log')}")


AllowPath = Annotated[list[Path] | None, typer.Option(
    "--allow-path", help="A folder outside the inventory's own whose files the inventory "
    "may name (repeatable); by default every model, data, card and prior file must be "
    "inside the inventory's folder, symlinks resolved.")]


def batch(
    inventory: Annotated[Path, typer.Argument(help="Inventory file (TOML).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory (reused: "
                                      "finished entries are not redone).")],
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (local) or "
                                      "LocalCluster workers (dask); at most the cores this "
                                      "process may use (-1: all of them) and the entries."
                                      )] = 1,
    force_jobs: Annotated[bool, typer.Option("--force-jobs", help="Start --jobs workers "
                                             "even beyond the cores.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds one entry may run before it is "
                                           "stopped and reported (an entry's `timeout` "
                                           "key overrides it).")] = DEFAULT_TIMEOUT,
    entry_memory: Annotated[str, typer.Option(
        "--entry-memory", help="Address space of one entry's worker process, e.g. 6GiB; "
        "beyond it the entry fails (an entry's `memory` key overrides it).")]
    = format_bytes(DEFAULT_MEMORY).replace(" ", ""),
    executor: Annotated[str, typer.Option(help="local (worker processes on this machine), "
                                          "dask, or serial (one worker process, one entry "
                                          "at a time).")] = "local",
    scheduler: Annotated[str | None, typer.Option(help=(
        "Dask scheduler address; default: a LocalCluster on 127.0.0.1. Entries' shadow "
        "models train on the cluster when its workers were started with "
        "`dask worker ADDRESS --nthreads 2 --resources tabinv-entry=1`."))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
    allow_path: AllowPath = None,
) -> None:
    """Assess every model of an inventory; rerun to resume. Exit 0 only if all succeeded."""
    with _errors():
        limits = Limits(timeout, parse_bytes(entry_memory))
        parsed = read_inventory(inventory, allow_paths=allow_path or ())
        if executor != "serial" and scheduler is None:  # processes on this machine
            cap = cap_jobs(jobs, tasks=len(parsed), force=force_jobs)
            if cap.note:
                err.print(f"note: {cap.note}", highlight=False, soft_wrap=True)
            jobs = cap.jobs
        chosen = make_executor(executor, jobs=jobs, scheduler=scheduler, limits=limits,
                               scratch=out / DASK_SCRATCH)
        with _progress_bar(len(parsed)) as show:
            result = run_batch(parsed, out, executor=chosen, progress=show)
    _render(result, as_json)
    raise typer.Exit(result.exit_code)


@inventory_app.command("example")
def inventory_example(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for models/ and "
                                      "inventory.toml.")],
    entries: Annotated[int, typer.Option(help="Number of models to train.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the first entry (then +1 each).")] = 0,
) -> None:
    """Train N small models of mixed families on IWPC and write their inventory."""
    from ..batch.example import write_example_inventory

    with _errors(), err.status(f"training {entries} models"):
        path = write_example_inventory(out, entries=entries, seed=seed)
    typer.echo(f"wrote {entries} models and {_shown(path)}")


@inventory_app.command("check")
def inventory_check(
    inventory: Annotated[Path, typer.Argument(help="Inventory file (TOML).")],
    allow_path: AllowPath = None,
) -> None:
    """Validate an inventory and list every problem (nothing is run)."""
    with _errors():
        parsed = read_inventory(inventory, allow_paths=allow_path or ())
    typer.echo(f"{_shown(inventory)}: {len(parsed)} entries, no problems")


def main() -> None:  # pragma: no cover - ``python -m tabinv.cli.batch``
    """The batch commands on their own (tests run them in a subprocess)."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                      add_completion=False)
    app.command("batch")(batch)
    app.add_typer(inventory_app, name="inventory")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
