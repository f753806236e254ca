"""``tabinv sweep`` and ``tabinv demo warfarin-dp``: privacy-utility sweeps of the
diffprivlib defences (:mod:`tabinv.defences`)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..defences.sweep import SweepResult, sweep
from ..defences.warfarin import warfarin_dp
from ..exceptions import TabinvError
from ..membership.verdict import MembershipOptions
from ..processes import cap_jobs
from ..report.json import to_json
from ..text import terminal_text
from .console import err, exit_on_error, friendly, out
from .options import (
    Access,
    AttackOpt,
    AttackParam,
    Known,
    LabelSource,
    MembershipAttack,
    MembershipFlag,
    Prior,
    Sensitive,
    Shadows,
    access_choice,
    attack_params,
)

__all__ = ["demo_warfarin_dp", "sweep_command"]

DEFAULT_WARFARIN_OUT = Path("reports/warfarin-dp/result.json")
#: what a SIGTERM / SIGINT line adds
STOPPED = "worker processes ended, nothing written"




def _jobs(requested: int, force: bool) -> int:
    """``--jobs`` capped at the cores (unless forced), with a note on stderr."""
    cap = cap_jobs(requested, force=force)
    if cap.note:
        err.print(f"note: {cap.note}", highlight=False, markup=False, soft_wrap=True)
    return cap.jobs


@contextmanager
def progress_bar(title: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields the ``progress(done, total)`` callback.

    ``title`` (it names the data set and model given) is shown as it is: no markup, no
    format fields, control characters escaped."""
    columns = (TextColumn("{task.description}", markup=False), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(terminal_text(title, one_line=True), total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def parse_epsilons(text: str) -> list[float]:
    """``"0.25,1,5"`` -> ``[0.25, 1.0, 5.0]``."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TabinvError(f"--epsilons {text!r} must be numbers separated by commas, "
                          "e.g. 0.25,1,5,20,100") from None
    if not values:
        raise TabinvError("--epsilons needs at least one value, e.g. 0.25,1,5,20,100")
    return values


def _number(value: float, sign: str) -> str:
    return f"{value:{sign}.3f}" if abs(value) < 1000 else f"{value:{sign}.3g}"


def render(result: SweepResult, document: Mapping[str, Any] | None = None) -> None:
    """Utility and attack tables (the report's own rows), then the verdict.

    ``document`` is the result's :func:`~tabinv.report.document.as_document`, when the
    caller has it already.
    """
    from ..report.document import as_document
    from ..report.tables import SWEEP_ATTACK_HEADER, sweep_attack_rows, utility_rows

    document = as_document(result.to_dict() if document is None else document)
    header, rows = utility_rows(document)
    table = Table(*header, title=f"{result.dataset['name']}: {result.model['family']} model, "
                  f"utility on non-members (mean [95% CI] over {len(result.seeds)} seeds)")
    for row in rows:
        table.add_row(*row)
    out.print(table)
    for sensitive in result.threat["sensitive"]:
        attacks = Table(*SWEEP_ATTACK_HEADER,
                        title=f"{sensitive}: attacks on training members and non-members")
        for row in sweep_attack_rows(document, sensitive):
            if row[0] and attacks.row_count:
                attacks.add_section()
            attacks.add_row(*row)
        out.print(attacks)
    out.print(result.verdict, highlight=False, markup=False)


def _emit(result: SweepResult, as_json: bool, path: Path | None,
          figures: bool = False) -> None:
    """Print the sweep (table or JSON) and write it: .json, .md or .html by the suffix.

    A .json path also gets the Markdown (with PNG figures) and HTML reports beside it
    when ``figures`` is set (the demo's committed example).
    """
    from ..report.document import as_document
    from ..report.files import write_report

    document = as_document(result.to_dict())  # once, for every writer below
    if path is not None:
        command = shlex.join(["tabinv", *sys.argv[1:]])
        write_report(document, path, command=command)
        written = [path]
        if figures and path.suffix == ".json":
            for suffix in (".md", ".html"):
                written.append(write_report(document, path.with_suffix(suffix),
                                            command=command, figures=True))
        err.print(f"sweep written to {', '.join(map(str, written))}", highlight=False)
    if as_json:
        typer.echo(to_json(document))
    else:
        render(result, document)


AsJson = Annotated[bool, typer.Option("--json", help="Print the sweep document on stdout.")]
Jobs = Annotated[int, typer.Option("--jobs", "-j", help="Parallel processes (-1: all cores), "
                                   "at most the cores this process may use; results do "
                                   "not depend on it.")]
ForceJobs = Annotated[bool, typer.Option("--force-jobs", help="Start --jobs processes even "
                                         "beyond the cores.")]
Seeds = Annotated[int, typer.Option("--seeds", help="Seeds (independent splits and DP "
                                    "noise) per epsilon.")]
Seed = Annotated[int, typer.Option("--seed", help="First seed; the others follow it.")]


@friendly
def sweep_command(
    sensitive: Sensitive,
    dataset: Annotated[str, typer.Option(help="Built-in data set name.")] = "iwpc",
    model: Annotated[str, typer.Option("--model", "-m", help="Model family with a DP "
                                       "counterpart.")] = "linear",
    epsilons: Annotated[str, typer.Option(help="Comma-separated epsilon grid.")]
    = "0.25,1,5,20,100",
    seeds: Seeds = 5,
    attack_name: AttackOpt = None,
    attack_param: AttackParam = None,
    prior: Prior = None,
    access: Access = None,
    rounding: Annotated[int | None, typer.Option(
        help="Defence on top of DP: confidences rounded to this many decimals (same as "
        "--access rounded with these decimals).")] = None,
    known: Known = None,
    label: Annotated[str | None, typer.Option(help="Use another column as label.")] = None,
    label_source: LabelSource = "true",
    jobs: Jobs = 1,
    force_jobs: ForceJobs = False,
    as_json: AsJson = False,
    out_path: Annotated[Path | None, typer.Option(
        "--out", help="Also write the sweep document (JSON) here.")] = None,
    seed: Seed = 0,
    membership: MembershipFlag = False,
    membership_attack: MembershipAttack = None,
    shadows: Shadows = 16,
) -> None:
    """Train the plain and DP models over seeds; compare attacks, baselines and utility
    (and, with --membership, membership AUC and TPR at low FPR per epsilon)."""
    jobs = _jobs(jobs, force_jobs)
    level, decimals = access_choice(access, rounding=rounding)
    attacking = MembershipOptions(attacks=tuple(membership_attack or ["all"]),
                                  shadows=shadows) \
        if membership or membership_attack else None
    with exit_on_error(STOPPED), progress_bar(f"sweeping {model} on {dataset}") as progress:
        result = sweep(dataset, model, epsilons=parse_epsilons(epsilons), seeds=seeds,
                       sensitive=sensitive, attacks=attack_name, priors=prior,
                       attack_params=attack_params(attack_param),
                       label=label, access=level, decimals=decimals, known=known,
                       label_source=label_source, jobs=jobs, progress=progress,
                       random_state=seed, membership_attacks=attacking)
    _emit(result, as_json, out_path)


@friendly
def demo_warfarin_dp(
    seeds: Seeds = 5,
    jobs: Jobs = 1,
    force_jobs: ForceJobs = False,
    epsilons: Annotated[str | None, typer.Option(
        help="Override the grid (default: the paper's 0.25,1,5,20,100 plus "
        "35,50,70,200,1000).")] = None,
    label_source: LabelSource = "true",
    as_json: AsJson = False,
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the sweep "
                                           "document (JSON); the Markdown (with PNGs) and "
                                           "HTML reports go beside it.")] = DEFAULT_WARFARIN_OUT,
    seed: Seed = 0,
) -> None:
    """Fredrikson et al. (2014) under DP: genotype inversion vs dosing over epsilon."""
    grid = parse_epsilons(epsilons) if epsilons is not None else None
    jobs = _jobs(jobs, force_jobs)
    with exit_on_error(STOPPED), progress_bar("warfarin under DP") as progress:
        result = warfarin_dp(seeds=seeds, epsilons=grid, jobs=jobs, progress=progress,
                             random_state=seed, label_source=label_source)
    _emit(result, as_json, out_path, figures=True)
    if not as_json:
        for note in result.notes:
            out.print(f"- {note}", highlight=False, markup=False)
