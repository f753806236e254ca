"""The ``tabinv`` command line: each command parses, calls :mod:`tabinv.api`, renders."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from . import api
from .batch.commands import batch as batch_command
from .batch.commands import inventory_app
from .cli_options import (
    AllowOutOfBounds,
    AsJson,
    AttackOpt,
    AttackParam,
    Clip,
    IgnoreColumn,
    Known,
    LabelOnly,
    LabelSource,
    Memory,
    Positive,
    Prior,
    Report,
    Rounding,
    Seed,
    Sensitive,
    Shortcuts,
    TopK,
    attack_params,
    dataset_params,
    positive_values,
)
from .console import err, friendly, out, plain
from .data.dataset import Dataset
from .data.registry import builtin_card, builtin_names, builtin_parameters, load_builtin
from .data.schema import card_from_dict, read_card
from .data.splits import split_dataset
from .data.tables import DataOptions, load_records, load_table, read_table
from .defences.commands import register as register_defence_commands
from .exceptions import TabinvError
from .report.files import write_report
from .report.json import to_json
from .report.tables import SUMMARY_HEADER, assessment_markdown, headlines, summary_rows
from .text import write_safe_csv
from .utils import parse_bytes

app = typer.Typer(help="Measure how much a trained model leaks about the people in its "
                  "training data: attribute inversion against honest baselines.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False,
                  add_completion=False)
datasets_app = typer.Typer(help="Built-in data sets and their cards.", no_args_is_help=True)
demo_app = typer.Typer(help="Reproductions of published results.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(demo_app, name="demo")
register_defence_commands(app, demo_app)
app.command("batch")(batch_command)
app.add_typer(inventory_app, name="inventory")


@contextmanager
def working(message: str) -> Iterator[None]:
    with err.status(plain(message)):
        yield


def _threat(attack: list[str] | None, prior: list[str] | None, **options: Any
            ) -> dict[str, Any]:
    """Keyword arguments of api.ThreatModel from the shared CLI options."""
    options["positive"] = positive_values(options.get("positive"))
    params = attack_params(options.pop("attack_param", None))
    return {"attacks": api.expand_specs(attack, prior, params=params), **options}


def _render(assessments: list[api.Assessment], as_json: bool, markdown: bool = False,
            report: Path | None = None) -> None:
    if report is not None:
        write_report(assessments, report, command=shlex.join(["tabinv", *sys.argv[1:]]))
        err.print(f"results written to {report}", highlight=False)
    if as_json:
        typer.echo(to_json(api.combine(assessments)))
        return
    if markdown:
        typer.echo(assessment_markdown(assessments))
        return
    table = Table(*SUMMARY_HEADER, title=f"{assessments[0].dataset.get('name')}: "
                  f"{assessments[0].model.get('family')} model, label "
                  f"{assessments[0].model.get('label')!r}")
    for assessment in assessments:
        for row in summary_rows(assessment):
            table.add_row(*row)
        table.add_section()
    out.print(table)
    for assessment in assessments:
        for line in headlines(assessment):
            out.print(f"- {line}", highlight=False, markup=False)


@datasets_app.command("list")
@friendly
def datasets_list() -> None:
    """List the built-in data sets."""
    table = Table("name", "title", "label", "sensitive")
    for name in builtin_names():
        card = builtin_card(name)
        table.add_row(name, card.title, card.label, ", ".join(card.sensitive))
    out.print(table)


@datasets_app.command("show")
@friendly
def datasets_show(name: str, as_json: AsJson = False) -> None:
    """Show a built-in data set's card and its cleaning report."""
    data = load_builtin(name)
    parameters = builtin_parameters(name)
    if as_json:
        typer.echo(to_json({**data.card.to_dict(), "rows": data.n_rows,
                            "raw_rows": data.raw_rows, "cleaning": data.cleaning_summary(),
                            "parameters": parameters}))
        return
    card = data.card
    out.print(Text.assemble(plain(card.title, "bold"), plain(f" ({card.name})\n"
                                                             f"{card.description.strip()}\n")))
    out.print(f"source: {card.source}\nlabel: {card.label} ({card.task}, "
              f"transform {card.target_transform})\nsensitive: {', '.join(card.sensitive)}",
              highlight=False)
    if parameters:
        out.print("parameters (assess --data-param KEY=VALUE): " + ", ".join(
            f"{k}={v}" for k, v in parameters.items()), highlight=False)
    table = Table("column", "kind", "domain / public bounds", "description")
    for column in card.columns:
        spec = column.domain if column.domain is not None else column.bounds
        table.add_row(column.name, column.kind, str(list(spec)) if spec else "-",
                      column.description)
    out.print(table)
    out.print(f"{data.raw_rows} raw rows -> {data.n_rows} after cleaning:")
    for step in data.cleaning:
        count = f"{step.dropped} dropped" + (f", {step.changed} changed" if step.changed else "")
        out.print(f"  - {step.description}: {count}", highlight=False)


@app.command()
@friendly
def train(
    model: Annotated[str, typer.Option("--model", "-m", help="Model family.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")],
    dataset: Annotated[str | None, typer.Option(help="Built-in data set name.")] = None,
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet file (with --card).")] = None,
    card: Annotated[Path | None, typer.Option(help="Card (TOML) describing --data.")] = None,
    label: Annotated[str | None, typer.Option(help="Use another column as label.")] = None,
    splits_out: Annotated[Path | None, typer.Option(
        "--splits-out", help="Write members.csv, non_members.csv, reference.csv here.")] = None,
    people: Annotated[int | None, typer.Option(help="genomic: people to simulate.")] = None,
    snps: Annotated[int | None, typer.Option(help="genomic: SNPs to keep.")] = None,
    data_param: Annotated[list[str] | None, typer.Option(
        "--data-param", help="KEY=VALUE parameter of the built-in data set.")] = None,
    ignore_column: IgnoreColumn = None,
    clip: Clip = False,
    allow_out_of_bounds: AllowOutOfBounds = False,
    seed: Seed = 0,
) -> None:
    """Train a target model on the members split and save it (skops, or xgboost JSON)."""
    from .models.families import make_model
    from .models.persist import save_model

    params = dataset_params(dataset, seed, people, snps, data_param) if dataset else {}
    loaded = _load_data(dataset, data, card, params, DataOptions.from_flags(
        ignore_column, clip=clip, allow_out_of_bounds=allow_out_of_bounds))
    chosen = api._dataset(loaded, label)
    splits = split_dataset(chosen.frame, random_state=seed)
    fitted = make_model(model, chosen.card, random_state=seed).fit(splits.members)
    path = save_model(fitted, out_path)
    if splits_out is not None:
        splits_out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("members", splits.members), ("non_members", splits.non_members),
                            ("reference", splits.reference)):
            frame.to_csv(splits_out / f"{name}.csv", index=False)
    out.print(f"trained {model} on {len(splits.members)} members of {chosen.name} "
              f"(label {chosen.card.label!r}) -> {path}", highlight=False)


def _load_data(dataset: str | None, data: Path | None, card: Path | None,
               params: dict[str, Any], options: DataOptions) -> Dataset:
    if (dataset is None) == (data is None):
        raise TabinvError("give exactly one of --dataset NAME or --data FILE (with --card)")
    if dataset is not None:
        if options != DataOptions():
            raise TabinvError("--ignore-column, --clip and --allow-out-of-bounds apply to "
                              "--data FILE; a built-in data set is already checked")
        return load_builtin(dataset, **params)
    if card is None:
        raise TabinvError("--data needs --card CARD.toml describing its columns")
    return _warn_cleaning(load_table(data, read_card(card), options))  # type: ignore[arg-type]


def _warn_cleaning(loaded: Dataset) -> Dataset:
    """Say on stderr what checking a data file changed or let through (out-of-bounds
    values clipped or kept)."""
    for step in loaded.cleaning:
        err.print(f"warning: {loaded.name}: {step.description}", markup=False,
                  highlight=False, soft_wrap=True)
    return loaded




@app.command()
@friendly
def attack(
    model: Annotated[Path, typer.Option("--model", "-m", help="Model file (tabinv train).")],
    data: Annotated[Path, typer.Option(help="Records to attack (CSV or Parquet).")],
    sensitive: Sensitive,
    label: Annotated[str, typer.Option(help="Label column the attacker holds.")],
    known: Known = None,
    priors: Annotated[Path | None, typer.Option(
        help="Prior table (CSV: given columns, sensitive columns, probability).")] = None,
    reference: Annotated[Path | None, typer.Option(
        help="The attacker's population sample (priors, imputation baselines).")] = None,
    attack_name: AttackOpt = None,
    attack_param: AttackParam = None,
    prior: Prior = None,
    population: Annotated[str, typer.Option(help="Name of the attacked records in the "
                                            "results (members, non-members ...).")] = "given",
    label_source: LabelSource = "true",
    rounding: Rounding = None,
    label_only: LabelOnly = False,
    positive: Positive = None,
    top_k: TopK = 100,
    records: Annotated[Path | None, typer.Option(
        help="Write per-record inferred values and posteriors here (CSV).")] = None,
    ignore_column: IgnoreColumn = None,
    clip: Clip = False,
    allow_out_of_bounds: AllowOutOfBounds = False,
    trust: Annotated[bool, typer.Option(help="Load types the model file flags as "
                                        "untrusted (only for files you trust).")] = False,
    allow_pickle: Annotated[bool, typer.Option(help="Allow pickle/joblib model files "
                                               "(they can run code on load).")] = False,
    as_json: AsJson = False,
    report: Report = None,
    seed: Seed = 0,
    memory: Memory = "1GiB",
    shortcuts: Shortcuts = True,
) -> None:
    """Attack the records of --data with a saved model."""
    from .attacks.priors import TablePrior
    from .models.persist import load_model

    target = load_model(model, trust=trust, allow_pickle=allow_pickle)
    if label != target.label:
        raise TabinvError(f"--label {label!r} is not the model's label {target.label!r}")
    options = DataOptions.from_flags(ignore_column, clip=clip,
                                     allow_out_of_bounds=allow_out_of_bounds)
    card = card_from_dict(target.card, origin=f"the card in {model}")
    records_data = _warn_cleaning(load_records(data, card, options))
    frame = records_data.frame
    reference_frame = (_warn_cleaning(load_records(reference, card, options)).frame
                       if reference is not None else None)
    chosen_priors: list[Any] | None = prior
    if priors is not None:
        chosen_priors = [TablePrior(read_table(priors), origin=str(priors))]
    elif not prior and reference_frame is None:
        chosen_priors = ["published"]  # no population sample: the model's own marginals
    known = known if known is not None else [
        f for f in target.features if f not in sensitive and f in frame.columns]
    threat = _threat(attack_name, chosen_priors, known=known, label_source=label_source,
                     rounding=rounding, label_only=label_only, positive=positive,
                     top_k=top_k, random_state=seed, memory=parse_bytes(memory),
                     shortcuts=shortcuts, attack_param=attack_param)
    with working("attacking"):
        assessment, posterior = api.attack_records(
            target, frame, sensitive=sensitive, reference=reference_frame,
            population=population, origin=str(data),
            cleaning=records_data.cleaning_summary(), **threat)
    if records is not None:
        write_safe_csv(posterior.to_frame(), records)
    if assessment.results or as_json:
        _render([assessment], as_json, report=report)
    else:
        out.print(f"inferred {', '.join(sensitive)} for {posterior.n_records} records "
                  f"(no true values in {data} to score against)", highlight=False)
    if records is not None and not as_json:
        out.print(f"per-record inferences written to {records}", highlight=False)


@app.command()
@friendly
def assess(
    sensitive: Sensitive,
    dataset: Annotated[str | None, typer.Option(
        help="Built-in data set name (default: iwpc, unless --data is given).")] = None,
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet file (with --card).")] = None,
    card: Annotated[Path | None, typer.Option(help="Card (TOML) describing --data.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model family.")] = "linear",
    known: Known = None,
    label: Annotated[str | None, typer.Option(help="Use another column as label.")] = None,
    attack_name: AttackOpt = None,
    attack_param: AttackParam = None,
    prior: Prior = None,
    label_source: LabelSource = "true",
    rounding: Rounding = None,
    label_only: LabelOnly = False,
    positive: Positive = None,
    top_k: TopK = 100,
    people: Annotated[int | None, typer.Option(help="genomic: people to simulate.")] = None,
    snps: Annotated[int | None, typer.Option(help="genomic: SNPs to keep.")] = None,
    data_param: Annotated[list[str] | None, typer.Option(
        "--data-param", help="KEY=VALUE parameter of the built-in data set "
        "(`tabinv datasets show NAME` lists them).")] = None,
    as_json: AsJson = False,
    markdown: Annotated[bool, typer.Option(help="Print Markdown tables.")] = False,
    ignore_column: IgnoreColumn = None,
    clip: Clip = False,
    allow_out_of_bounds: AllowOutOfBounds = False,
    report: Report = None,
    seed: Seed = 0,
    memory: Memory = "1GiB",
    shortcuts: Shortcuts = True,
) -> None:
    """Split, train, attack members and non-members, and compare with every baseline."""
    threat = _threat(attack_name, prior, known=known, label_source=label_source,
                     rounding=rounding, label_only=label_only, positive=positive,
                     top_k=top_k, random_state=seed, memory=parse_bytes(memory),
                     shortcuts=shortcuts, attack_param=attack_param)
    if dataset is None and data is None:
        dataset = "iwpc"
    params = dataset_params(dataset, seed, people, snps, data_param) if dataset else {}
    loaded = _load_data(dataset, data, card, params, DataOptions.from_flags(
        ignore_column, clip=clip, allow_out_of_bounds=allow_out_of_bounds))
    with working(f"assessing {model} on {loaded.name}"):
        result = api.assess(loaded, model, sensitive=sensitive, label=label, **threat)
    _render([result], as_json, markdown, report)


@demo_app.command("warfarin")
@friendly
def demo_warfarin(
    as_json: AsJson = False,
    markdown: Annotated[bool, typer.Option(help="Print Markdown tables.")] = False,
    label_source: LabelSource = "true",
    report: Report = None,
    seed: Seed = 0,
) -> None:
    """Fredrikson et al. (2014): recover VKORC1 / CYP2C9 from an OLS warfarin model."""
    with working("inverting the IWPC warfarin model"):
        results = api.demo_warfarin(random_state=seed, label_source=label_source)
    _render(results, as_json, markdown, report)


@app.command("report")
@friendly
def report_command(
    result: Annotated[Path, typer.Argument(help="Stored result (--out x.json or --json).")],
    html: Annotated[Path | None, typer.Option("--html", help="Self-contained HTML.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Markdown.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Folder for the figures.")] = None,
) -> None:
    """Re-render a stored result (assessment or sweep) without running anything again."""
    from .report.files import read_document, render_file
    from .report.plots import write_png

    if html is None and markdown is None and png is None:
        raise TabinvError("give --html OUT, --markdown OUT and/or --png FOLDER")
    for target in (html, markdown):
        if target is not None:
            err.print(f"report written to {render_file(result, target)}", highlight=False)
    if png is not None:
        written = write_png(read_document(result), png)
        err.print(f"{len(written)} figures written to {png}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
