"""``tabinv train|attack|assess|report`` and ``tabinv demo warfarin``: each parses its
options, calls :mod:`tabinv.api` (or the core it fronts), and renders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .. import api
from ..core import DEFAULT_DATASET, ModelAccess, attack_inputs, load_dataset, train_target
from ..data.dataset import Dataset
from ..data.tables import DataOptions
from ..evaluation.smallcells import DEFAULT_MIN_CELL
from ..evaluation.utility import utility_entries, utility_line
from ..exceptions import TabinvError
from ..report.document import as_document
from ..text import write_safe_csv
from ..utils import parse_bytes
from .console import err, friendly, out
from .endpoint import EndpointOptions as E
from .endpoint import endpoint_source, query_lines
from .options import (
    Access,
    AllowCode,
    AllowOutOfBounds,
    AllowPickle,
    AsJson,
    AttackOpt,
    AttackParam,
    Clip,
    FeatureMap,
    IgnoreColumn,
    Known,
    LabelOnly,
    LabelSource,
    MembershipAttack,
    MembershipFlag,
    Memory,
    MinCell,
    Positive,
    Prior,
    Report,
    Rounding,
    Seed,
    Sensitive,
    ShadowJobs,
    Shadows,
    Shortcuts,
    TopK,
    Trust,
    access_choice,
    attack_params,
    dataset_params,
    positive_values,
)
from .render import render, show_skipped, warn_cleaning, warn_facts, working

__all__ = ["assess", "attack", "demo_warfarin", "report_command", "train"]

People = Annotated[int | None, typer.Option(help="genomic: people to simulate.")]
Snps = Annotated[int | None, typer.Option(help="genomic: SNPs to keep.")]
DataParam = Annotated[list[str] | None, typer.Option(
    "--data-param", help="KEY=VALUE parameter of the built-in data set "
    "(`tabinv datasets show NAME` lists them).")]
DataFile = Annotated[Path | None, typer.Option(help="CSV or Parquet file (with --card).")]
CardFile = Annotated[Path | None, typer.Option(
    help="Card (TOML) describing --data (or --members, --non-members, --reference).")]
OtherLabel = Annotated[str | None, typer.Option(help="Use another column as label.")]
Markdown = Annotated[bool, typer.Option(help="Print Markdown tables.")]


def _data(dataset: str | None, data: Path | None, card: Path | None, seed: int,
          people: int | None, snps: int | None, data_param: list[str] | None,
          options: DataOptions) -> Dataset:
    """The data of --dataset (with its parameters) or --data/--card (warnings shown);
    :func:`tabinv.core.load_dataset` refuses the combinations that make no sense."""
    if data is not None:
        return warn_cleaning(load_dataset(dataset, data=data, card=card, options=options))
    name = dataset or DEFAULT_DATASET
    return load_dataset(name, params=dataset_params(name, people, snps, data_param),
                        card=card, options=options, seed=seed)


def _options(ignore_column: list[str] | None, clip: bool, allow: bool) -> DataOptions:
    return DataOptions.from_flags(ignore_column, clip=clip, allow_out_of_bounds=allow)


@friendly
def train(
    model: Annotated[str, typer.Option("--model", "-m", help="Model family.")],
    out_path: Annotated[Path, typer.Option("--out", "-o", help="Model file to write.")],
    dataset: Annotated[str | None, typer.Option(help="Built-in data set name.")] = None,
    data: DataFile = None,
    card: CardFile = None,
    label: OtherLabel = None,
    splits_out: Annotated[Path | None, typer.Option(
        "--splits-out", help="Write members.csv, non_members.csv, reference.csv here.")] = None,
    people: People = None,
    snps: Snps = None,
    data_param: DataParam = None,
    ignore_column: IgnoreColumn = None,
    clip: Clip = False,
    allow_out_of_bounds: AllowOutOfBounds = False,
    seed: Seed = 0,
) -> None:
    """Train a target model on the members split and save it (skops, or xgboost JSON)."""
    from ..models.persist import save_model

    if (dataset is None) == (data is None):
        raise TabinvError("give exactly one of --dataset NAME or --data FILE (with --card)")
    chosen = _data(dataset, data, card, seed, people, snps, data_param,
                   _options(ignore_column, clip, allow_out_of_bounds)).with_label(label)
    fitted, splits = train_target(chosen, model, random_state=seed)
    path = save_model(fitted, out_path)
    if splits_out is not None:
        splits_out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("members", splits.members), ("non_members", splits.non_members),
                            ("reference", splits.reference)):
            frame.to_csv(splits_out / f"{name}.csv", index=False)
    out.print(f"trained {model} on {len(splits.members)} members of {chosen.name} "
              f"(label {chosen.card.label!r}) -> {path}", highlight=False)
    line = utility_line(utility_entries(fitted, splits.non_members, random_state=seed))
    if line:
        out.print(line, highlight=False)


def _threat(attack: list[str] | None, attack_param: list[str] | None,
            prior: list[Any] | None, access: str | None, label_only: bool,
            rounding: int | None, positive: list[str] | None, memory: str,
            **options: Any) -> dict[str, Any]:
    """Keyword arguments of the attacker (:class:`tabinv.core.ThreatModel`) from the
    shared options."""
    level, decimals = access_choice(access, label_only, rounding)
    return {"attacks": attack, "attack_params": attack_params(attack_param), "priors": prior,
            "access": level, "decimals": decimals,
            "positive": positive_values(positive), "memory": parse_bytes(memory), **options}


@friendly
def attack(
    data: Annotated[Path, typer.Option(help="Records to attack (CSV or Parquet).")],
    sensitive: Sensitive,
    label: Annotated[str, typer.Option(help="Label column the attacker holds.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model file (tabinv "
                                              "train, or one tabinv did not train, with "
                                              "--card), MLflow model directory or "
                                              "models:/ URI.")] = None,
    endpoint: E.Endpoint = None,
    protocol: E.Protocol = "mlflow",
    model_name: E.ModelName = None,
    batch_rows: E.BatchRows = None,
    concurrency: E.Concurrency = 4,
    auth_env: E.AuthEnv = None,
    max_queries: E.MaxQueries = None,
    dry_run: E.DryRun = False,
    insecure: E.Insecure = False,
    card: Annotated[Path | None, typer.Option(
        help="Card (TOML) of the model's data: needed for a model tabinv did not train "
        "(a tabinv model carries its own).")] = None,
    feature_map: FeatureMap = None,
    members: Annotated[Path | None, typer.Option(
        help="A model tabinv did not train: its training records (with the label), on "
        "which the statistics an owner publishes are computed (confusion counts or "
        "residual spread, marginals). Default: the records of --data.")] = None,
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
    access: Access = None,
    label_source: LabelSource = "true",
    rounding: Rounding = None,
    label_only: LabelOnly = False,
    positive: Positive = None,
    top_k: TopK = 100,
    min_cell: MinCell = DEFAULT_MIN_CELL,
    records: Annotated[Path | None, typer.Option(
        help="Write per-record inferred values and posteriors here (CSV).")] = None,
    ignore_column: IgnoreColumn = None,
    clip: Clip = False,
    allow_out_of_bounds: AllowOutOfBounds = False,
    trust: Trust = False,
    allow_pickle: AllowPickle = False,
    allow_code: AllowCode = False,
    as_json: AsJson = False,
    report: Report = None,
    seed: Seed = 0,
    memory: Memory = "1GiB",
    shortcuts: Shortcuts = True,
) -> None:
    """Attack the records of --data with a saved model (tabinv's, or any other with --card)."""
    if priors is not None and prior:
        raise TabinvError("give --priors TABLE or --prior NAME, not both")
    opening = ModelAccess(feature_map=feature_map, trust=trust, allow_pickle=allow_pickle,
                          allow_code=allow_code)
    source = endpoint_source(model, endpoint, protocol=protocol, model_name=model_name,
                             batch_rows=batch_rows, concurrency=concurrency,
                             auth_env=auth_env, max_queries=max_queries,
                             verify=not insecure, dry_run=dry_run)
    target, attacked, reference_set = attack_inputs(
        source, data, card=card, label=label, reference=reference, members=members,
        options=_options(ignore_column, clip, allow_out_of_bounds), access=opening)
    warn_cleaning(attacked)
    reference_frame = None if reference_set is None else warn_cleaning(reference_set).frame
    threat = _threat(attack_name, attack_param, [priors] if priors is not None else prior,
                     access, label_only, rounding, positive, memory, known=known,
                     label_source=label_source, top_k=top_k, random_state=seed,
                     shortcuts=shortcuts, min_cell=min_cell)
    with working("attacking"):
        assessment, posterior = api.attack_records(
            target, attacked.frame, sensitive=sensitive, reference=reference_frame,
            population=population, origin=str(data), label=label,
            cleaning=attacked.cleaning_summary(), **threat)
    if callable(getattr(target, "close", None)):  # an endpoint: its connections
        target.close()
    if dry_run:
        show_queries(assessment.threat, as_json, dry_run=True)
        return
    if records is not None:
        write_safe_csv(posterior.to_frame(), records)
    if assessment.results or as_json:
        render([assessment], as_json, report=report)
    else:
        out.print(f"inferred {', '.join(sensitive)} for {posterior.n_records} records "
                  f"(no true values in {data} to score against)", highlight=False)
        show_skipped(as_document([assessment]), machine_output=False)
    if records is not None and not as_json:
        out.print(f"per-record inferences written to {records}", highlight=False)
    show_queries(assessment.threat, as_json)


def show_queries(threat: Any, as_json: bool, dry_run: bool = False) -> None:
    """The endpoint's query cost (nothing for a model answered in process): on stdout
    for a dry run (its JSON with --json), else on stderr under the results."""
    lines = query_lines(dict(threat))
    if dry_run and as_json:
        import json

        out.print(json.dumps(dict(threat).get("queries"), indent=2), highlight=False,
                  markup=False)
        return
    for line in (["dry run: nothing was sent"] if dry_run else []) + lines:
        (out if dry_run else err).print(line, highlight=False, markup=False)


Members = Annotated[Path | None, typer.Option(
    help="A given model's training records (CSV or Parquet, with the label).")]
NonMembers = Annotated[Path | None, typer.Option(
    "--non-members", help="Records the given model did not see in training.")]
ReferenceFile = Annotated[Path | None, typer.Option(
    "--reference", help="The attacker's own sample of the population (default with "
    "--members or --member-column: a seeded half of the non-members, which the report "
    "says).")]
MemberColumn = Annotated[str | None, typer.Option(
    "--member-column", help="Column of --data marking the given model's training members "
    "(1/0, true/false, yes/no, member/non-member).")]


@friendly
def assess(
    sensitive: Sensitive,
    dataset: Annotated[str | None, typer.Option(
        help="Built-in data set name (default: iwpc, unless --data is given).")] = None,
    data: DataFile = None,
    card: CardFile = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model family (trained on the "
                                       "members), or a model to assess: a model file, an "
                                       "MLflow model directory or a models:/NAME/VERSION "
                                       "URI (with --members/--non-members or "
                                       "--member-column).")] = "linear",
    endpoint: E.Endpoint = None,
    protocol: E.Protocol = "mlflow",
    model_name: E.ModelName = None,
    batch_rows: E.BatchRows = None,
    concurrency: E.Concurrency = 4,
    auth_env: E.AuthEnv = None,
    max_queries: E.MaxQueries = None,
    dry_run: E.DryRun = False,
    insecure: E.Insecure = False,
    members: Members = None,
    non_members: NonMembers = None,
    reference: ReferenceFile = None,
    member_column: MemberColumn = None,
    feature_map: FeatureMap = None,
    trust: Trust = False,
    allow_pickle: AllowPickle = False,
    allow_code: AllowCode = False,
    known: Known = None,
    label: OtherLabel = None,
    attack_name: AttackOpt = None,
    attack_param: AttackParam = None,
    prior: Prior = None,
    access: Access = None,
    label_source: LabelSource = "true",
    rounding: Rounding = None,
    label_only: LabelOnly = False,
    positive: Positive = None,
    top_k: TopK = 100,
    min_cell: MinCell = DEFAULT_MIN_CELL,
    people: People = None,
    snps: Snps = None,
    data_param: DataParam = None,
    as_json: AsJson = False,
    markdown: Markdown = False,
    ignore_column: IgnoreColumn = None,
    clip: Clip = False,
    allow_out_of_bounds: AllowOutOfBounds = False,
    report: Report = None,
    seed: Seed = 0,
    memory: Memory = "1GiB",
    shortcuts: Shortcuts = True,
    membership: MembershipFlag = False,
    membership_attack: MembershipAttack = None,
    shadows: Shadows = 16,
    jobs: ShadowJobs = 1,
) -> None:
    """Attack a model's members and non-members; compare with every baseline.

    The model is trained here on a split of the data (--model FAMILY), or is one you
    already have (--model FILE|DIR|models:/URI) with its members and non-members.
    With --membership, the membership attacks run on the same records.
    """
    threat = _threat(attack_name, attack_param, prior, access, label_only, rounding,
                     positive, memory, known=known, label_source=label_source,
                     top_k=top_k, random_state=seed, shortcuts=shortcuts,
                     min_cell=min_cell)
    if membership or membership_attack:
        threat["membership_attacks"] = membership_attack or ["all"]
        threat.update(shadows=shadows, jobs=jobs)
    given = {"members": members, "non_members": non_members, "reference": reference,
             "member_column": member_column}
    model = endpoint_source(model, endpoint, default="linear", protocol=protocol,
                            model_name=model_name, batch_rows=batch_rows,
                            concurrency=concurrency, auth_env=auth_env,
                            max_queries=max_queries, verify=not insecure, dry_run=dry_run)
    shown = getattr(model, "shown_url", model)
    opening = {"feature_map": feature_map, "trust": trust, "allow_pickle": allow_pickle,
               "allow_code": allow_code}
    if any(v is not None for v in given.values()):
        if dataset is not None or people is not None or snps is not None or data_param:
            raise TabinvError("with --members/--non-members or --member-column the data are "
                              "your files (with --card): --dataset and its parameters do "
                              "not apply")
        with working(f"assessing {shown}"):
            result = api.assess(data, model, card=card, sensitive=sensitive, label=label,
                                ignore_columns=ignore_column or (), clip=clip,
                                allow_out_of_bounds=allow_out_of_bounds, **given,
                                **opening, **threat)
        warn_facts(result.dataset)
    else:
        loaded = _data(dataset, data, card, seed, people, snps, data_param,
                       _options(ignore_column, clip, allow_out_of_bounds))
        with working(f"assessing {shown} on {loaded.name}"):
            result = api.assess(loaded, model, sensitive=sensitive, label=label,
                                **opening, **threat)
    if dry_run:
        show_queries(result.threat, as_json, dry_run=True)
        return
    render([result], as_json, markdown, report)
    show_queries(result.threat, as_json)


@friendly
def demo_warfarin(
    as_json: AsJson = False,
    markdown: Markdown = False,
    label_source: LabelSource = "true",
    report: Report = None,
    seed: Seed = 0,
) -> None:
    """Fredrikson et al. (2014): recover VKORC1 / CYP2C9 from an OLS warfarin model."""
    with working("inverting the IWPC warfarin model"):
        results = api.demo_warfarin(random_state=seed, label_source=label_source)
    render(results, as_json, markdown, report)


@friendly
def report_command(
    result: Annotated[Path, typer.Argument(help="Stored result (--out x.json or --json).")],
    html: Annotated[Path | None, typer.Option("--html", help="Self-contained HTML.")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Markdown.")] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Folder for the figures.")] = None,
) -> None:
    """Re-render a stored result (assessment or sweep) without running anything again."""
    from ..report.files import read_document, write_report
    from ..report.plots import write_png

    if html is None and markdown is None and png is None:
        raise TabinvError("give --html OUT, --markdown OUT and/or --png FOLDER")
    document = read_document(result)  # read and converted once for every output
    for target in (html, markdown):
        if target is not None:
            err.print(f"report written to {write_report(document, target)}",
                      highlight=False)
    if png is not None:
        written = write_png(document, png)
        err.print(f"{len(written)} figures written to {png}", highlight=False)
