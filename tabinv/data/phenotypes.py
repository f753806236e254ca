"""Genotypes joined with a phenotype / covariate table by sample id, and the card that
describes the joined table (SNP columns categorical 0/1/2, encoded as dosages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ColumnError, DataError
from .dataset import CleaningStep, Dataset, require_columns, validate_frame
from .genotypes import SHOWN, GenotypeTable, check_rule, select_snps, shown_ids
from .schema import Card, card_from_dict

__all__ = ["JoinReport", "genomic_card", "genotype_dataset", "join_phenotypes"]


@dataclass(frozen=True)
class JoinReport:
    """How the genotype samples matched the phenotype table's rows."""

    genotyped: int
    phenotyped: int
    joined: int
    genotypes_only: int
    phenotypes_only: int
    how: str

    def steps(self) -> tuple[CleaningStep, ...]:
        """The drops as cleaning steps (empty when every id matched)."""
        steps = []
        if self.genotypes_only:
            steps.append(CleaningStep("dropped genotyped samples without a phenotype row "
                                      "(how='inner')", self.genotypes_only))
        if self.phenotypes_only:
            steps.append(CleaningStep("dropped phenotype rows without genotypes "
                                      "(how='inner')", self.phenotypes_only))
        return tuple(steps)


def _sample_ids(table: pd.DataFrame, id_column: str, origin: str) -> pd.Index:
    require_columns(table, [id_column], origin)
    raw = table[id_column]
    if raw.isna().any():
        raise DataError(f"{origin}: id column {id_column!r} has {int(raw.isna().sum())} "
                        "missing value(s)")
    ids = pd.Index([_id_text(v) for v in raw], dtype=object)
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        raise DataError(f"{origin}: {len(repeated)} sample id(s) appear in more than one row "
                        f"({shown_ids(repeated)})")
    return ids


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def join_phenotypes(genotypes: GenotypeTable, table: pd.DataFrame, *,
                    id_column: str = "sample_id", how: str = "exact",
                    origin: str = "phenotype table") -> tuple[pd.DataFrame, JoinReport]:
    """Join a phenotype/covariate table to the genotypes by sample id.

    Parameters
    ----------
    genotypes : GenotypeTable
    table : pandas.DataFrame
        One row per sample, with the id in ``id_column`` (compared as text).
    how : {"exact", "inner"}
        ``exact`` (default): every genotyped sample must have a row and every row must
        have genotypes. ``inner``: keep the samples present in both; the counts dropped
        are in the report.

    Returns
    -------
    frame : pandas.DataFrame
        ``id_column``, the table's other columns, then one int8 column per SNP, in the
        genotype file's sample order.
    report : JoinReport

    Raises
    ------
    DataError
        Ids missing on either side under ``how="exact"`` (count and first ids named),
        repeated or missing ids, or no sample in common.
    ColumnError
        ``id_column`` is absent, or a table column has the name of a SNP.
    """
    check_rule(how, ("exact", "inner"), "how")
    ids = _sample_ids(table, id_column, origin)
    clashes = [c for c in table.columns if c in set(genotypes.snps)]
    if clashes:
        raise ColumnError(f"{origin}: column(s) {clashes[:SHOWN]} have the name of a SNP of "
                          f"{genotypes.source}; rename them")
    samples = pd.Index(genotypes.samples, dtype=object)
    geno_only = samples[~samples.isin(ids)]
    pheno_only = ids[~ids.isin(samples)]
    if how == "exact" and (len(geno_only) or len(pheno_only)):
        problems = []
        if len(geno_only):
            problems.append(f"{len(geno_only)} sample(s) of {genotypes.source} have no row in "
                            f"the {origin} ({shown_ids(geno_only)})")
        if len(pheno_only):
            problems.append(f"{len(pheno_only)} row(s) of the {origin} have no genotypes in "
                            f"{genotypes.source} ({shown_ids(pheno_only)})")
        raise DataError("; ".join(problems) + "; fix the ids or pass how='inner' to keep only "
                        "the samples present in both (the counts dropped are reported)")
    rows = np.flatnonzero(samples.isin(ids))
    if len(rows) == 0:
        raise DataError(f"no sample id of {genotypes.source} appears in the {origin}'s "
                        f"{id_column!r} column")
    covariates = table.set_axis(ids, axis=0).loc[samples[rows]].reset_index(drop=True)
    covariates[id_column] = list(samples[rows])
    snp_frame = pd.DataFrame(genotypes.dosages[rows], columns=list(genotypes.snps))
    frame = pd.concat([covariates, snp_frame], axis=1)
    report = JoinReport(genotyped=genotypes.n_samples, phenotyped=len(ids), joined=len(rows),
                        genotypes_only=len(geno_only), phenotypes_only=len(pheno_only), how=how)
    return frame, report


def _snp_spec(genotypes: GenotypeTable, j: int) -> dict[str, Any]:
    return {"kind": "categorical", "domain": [0, 1, 2], "encoding": "ordinal",
            "description": f"copies of allele {genotypes.counted[j]} (other allele "
                           f"{genotypes.other[j]}) at {genotypes.chromosomes[j]}:"
                           f"{genotypes.positions[j]}"}


def genomic_card(genotypes: GenotypeTable, columns: Mapping[str, Mapping[str, Any]],
                 label: str, *, sensitive: Sequence[str] = (), name: str = "genotypes",
                 title: str = "", description: str = "", source: str = "",
                 citation: str = "") -> Card:
    """A card for a user's genotype file plus phenotype/covariate columns.

    Parameters
    ----------
    columns : mapping
        Covariate and label columns as in a card's ``[columns]`` table, e.g.
        ``{"age": {"kind": "numeric", "bounds": [18, 90]}, "case": {"kind":
        "categorical", "domain": ["no", "yes"]}}``.
    label : str
        The column the model predicts (one of ``columns``).
    sensitive : sequence of str
        SNP ids (or categorical covariates) the attacker targets.

    Returns
    -------
    Card
        Features are the covariates then every SNP; each SNP is categorical ``[0, 1, 2]``
        with ``encoding = "ordinal"`` (one column holding the dosage).

    Raises
    ------
    ColumnError
        A sensitive name is neither a SNP of the file nor a column (closest name suggested),
        or a covariate has the name of a SNP.
    """
    clashes = [c for c in columns if c in set(genotypes.snps)]
    if clashes:
        raise ColumnError(f"covariate column(s) {clashes[:SHOWN]} have the name of a SNP of "
                          f"{genotypes.source}; rename them")
    for target in sensitive:
        if target not in columns:
            select_snps(genotypes, [target])
    specs: dict[str, Any] = {k: dict(v) for k, v in columns.items()}
    specs.update((snp, _snp_spec(genotypes, j)) for j, snp in enumerate(genotypes.snps))
    raw = {
        "name": name, "title": title or f"genotypes of {genotypes.source}", "label": label,
        "columns": specs, "features": [c for c in specs if c != label],
        "sensitive": list(sensitive), "description": description,
        "source": source or genotypes.source, "citation": citation,
        "cleaning": [step.description for step in genotypes.dropped],
        "genotypes": {"file": genotypes.source, "samples": genotypes.n_samples,
                      "snps": genotypes.n_snps},
    }
    return card_from_dict(raw, origin=name)


def genotype_dataset(genotypes: GenotypeTable, table: pd.DataFrame,
                     columns: Mapping[str, Mapping[str, Any]], label: str, *,
                     sensitive: Sequence[str] = (), id_column: str = "sample_id",
                     how: str = "exact", name: str = "genotypes") -> Dataset:
    """Join, describe and validate in one step: a :class:`Dataset` tabinv can train on.

    The cleaning record lists what the reader dropped and what the join dropped.
    """
    frame, report = join_phenotypes(genotypes, table, id_column=id_column, how=how)
    card = genomic_card(genotypes, {k: v for k, v in columns.items() if k != id_column},
                        label, sensitive=sensitive, name=name)
    frame = frame[[id_column, *card.column_names]]
    covariates = [c for c in card.column_names if c not in set(genotypes.snps)]
    frame[covariates] = validate_frame(frame, card, covariates, origin=name)[covariates]
    return Dataset(name=name, card=card, frame=frame,
                   cleaning=genotypes.dropped + report.steps(),
                   raw_rows=max(report.genotyped, report.phenotyped))
