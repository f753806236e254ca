"""Genotype files users bring: PLINK 1 (.bed/.bim/.fam) and VCF (see phenotypes.py to join
them to a phenotype table).

Every reader returns a :class:`GenotypeTable`: sample ids, SNP ids, chromosomes, positions,
the allele each dosage counts, and one int8 matrix of dosages (samples x SNPs, values
0/1/2). Genotypes are never held as one Python object per call.

Rules (never silent):

* **Missing calls** (``./.``, ``0/.``, or a PLINK missing genotype). ``missing="error"``
  (default) refuses the file and names the SNP(s) with missing calls and how many;
  ``"drop-snp"`` drops every SNP with a missing call; ``"drop-sample"`` drops every sample
  with a missing call. The counts dropped are recorded in ``GenotypeTable.dropped``.
* **Multi-allelic VCF sites** (more than one ALT allele): ``multiallelic="error"``
  (default) refuses the file naming the sites; ``"drop"`` drops them and records the count.
* **Dosage** counts copies of the ``counted`` allele: the ALT allele of a VCF, the A1
  allele (fifth .bim column, PLINK's default) of a PLINK file.
* **Sample ids** are the VCF sample names or the PLINK individual ids (IID).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ColumnError, DataError, closest
from .dataset import CleaningStep

__all__ = ["GenotypeTable", "MISSING_RULES", "SHOWN", "check_rule", "read_plink", "read_vcf",
           "select_snps", "shown_ids", "write_plink", "write_vcf"]

MISSING_RULES = ("error", "drop-snp", "drop-sample")
MULTIALLELIC_RULES = ("error", "drop")
#: bed-reader's int8 missing value; readers mark missing calls with it before the rule runs.
_MISSING = -127
SHOWN = 5


def shown_ids(values: Sequence[Any], n: int = SHOWN) -> str:
    shown = ", ".join(str(v) for v in list(values)[:n])
    return shown + (", ..." if len(values) > n else "")


@dataclass(frozen=True, eq=False)
class GenotypeTable:
    """Diploid genotype dosages of ``n_samples`` people at ``n_snps`` biallelic SNPs.

    Attributes
    ----------
    samples, snps : tuple of str
        Sample ids and SNP ids (each unique).
    chromosomes : tuple of str
    positions : numpy.ndarray of int64
        1-based base-pair positions.
    counted, other : tuple of str
        The allele whose copies the dosage counts, and the other allele, per SNP.
    dosages : numpy.ndarray of int8, shape (n_samples, n_snps)
        0, 1 or 2 copies of the counted allele; never missing.
    source : str
        The file read (named in error messages).
    dropped : tuple of CleaningStep
        What the reader dropped and why (multi-allelic sites, missing calls).
    """

    samples: tuple[str, ...]
    snps: tuple[str, ...]
    chromosomes: tuple[str, ...]
    positions: np.ndarray
    counted: tuple[str, ...]
    other: tuple[str, ...]
    dosages: np.ndarray
    source: str = "genotypes"
    dropped: tuple[CleaningStep, ...] = ()

    def __post_init__(self) -> None:
        n, m = len(self.samples), len(self.snps)
        if self.dosages.dtype != np.int8 or self.dosages.shape != (n, m):
            raise DataError(f"{self.source}: dosages must be an int8 matrix of shape ({n}, {m}),"
                            f" not {self.dosages.dtype} {self.dosages.shape}")
        if any(len(v) != m for v in (self.chromosomes, self.positions, self.counted,
                                     self.other)):
            raise DataError(f"{self.source}: SNP annotations must have one entry per SNP ({m})")
        if self.dosages.size and (self.dosages.min() < 0 or self.dosages.max() > 2):
            raise DataError(f"{self.source}: dosages must be 0, 1 or 2")
        for kind, ids in (("sample", self.samples), ("SNP", self.snps)):
            repeated = pd.Index(ids)[pd.Index(ids).duplicated()].unique()
            if len(repeated):
                raise DataError(f"{self.source}: {len(repeated)} {kind} id(s) appear more than "
                                f"once ({shown_ids(repeated)}); ids must be unique")

    @property
    def n_samples(self) -> int:
        return len(self.samples)

    @property
    def n_snps(self) -> int:
        return len(self.snps)

    def frame(self) -> pd.DataFrame:
        """The dosages as a data frame (one int8 column per SNP, samples as the index)."""
        return pd.DataFrame(self.dosages, columns=list(self.snps),
                            index=pd.Index(self.samples, name="sample_id"))


def check_rule(value: str, rules: Sequence[str], name: str) -> None:
    if value not in rules:
        raise DataError(f"{name}={value!r} is not one of {list(rules)}")


def _apply_missing_rule(raw: np.ndarray, fields: dict[str, Any], rule: str) -> GenotypeTable:
    """Resolve calls marked ``_MISSING`` in ``raw`` with ``rule``; build the table."""
    source, snps, samples = fields["source"], fields["snps"], fields["samples"]
    missing = raw == _MISSING
    per_snp = missing.sum(axis=0)
    per_sample = missing.sum(axis=1)
    total = int(per_snp.sum())
    steps = list(fields.pop("dropped", ()))
    keep_snps = np.ones(len(snps), dtype=bool)
    keep_samples = np.ones(len(samples), dtype=bool)
    if total and rule == "error":
        worst = [f"{snps[j]} ({per_snp[j]})" for j in np.flatnonzero(per_snp)]
        raise DataError(
            f"{source}: {total} genotype call(s) are missing in {len(worst)} SNP(s) "
            f"[{shown_ids(worst)}]; tabinv does not guess genotypes: pass missing='drop-snp' "
            "to drop those SNPs or missing='drop-sample' to drop the samples with a missing "
            "call (the counts dropped are reported)"
        )
    if total and rule == "drop-snp":
        keep_snps = per_snp == 0
        steps.append(CleaningStep(f"dropped {int((~keep_snps).sum())} SNP(s) with "
                                  f"{total} missing call(s) (missing='drop-snp')",
                                  dropped=int((~keep_snps).sum())))
    elif total and rule == "drop-sample":
        keep_samples = per_sample == 0
        steps.append(CleaningStep(f"dropped {int((~keep_samples).sum())} sample(s) with "
                                  f"{total} missing call(s) (missing='drop-sample')",
                                  dropped=int((~keep_samples).sum())))
    if not keep_snps.any() or not keep_samples.any():
        what = "SNP" if not keep_snps.any() else "sample"
        raise DataError(f"{source}: every {what} has a missing call, so missing={rule!r} "
                        "leaves nothing; try the other drop rule")
    columns = np.flatnonzero(keep_snps)
    rows = np.flatnonzero(keep_samples)
    dosages = raw[np.ix_(rows, columns)] if total else raw
    return GenotypeTable(
        samples=tuple(samples[i] for i in rows), snps=tuple(snps[j] for j in columns),
        chromosomes=tuple(fields["chromosomes"][j] for j in columns),
        positions=np.asarray(fields["positions"], dtype=np.int64)[columns],
        counted=tuple(fields["counted"][j] for j in columns),
        other=tuple(fields["other"][j] for j in columns),
        dosages=np.ascontiguousarray(dosages, dtype=np.int8), source=source,
        dropped=tuple(steps),
    )


def _plink_paths(prefix_or_bed: str | Path) -> tuple[Path, Path, Path]:
    text = str(prefix_or_bed)
    prefix = text[:-4] if text.endswith(".bed") else text
    bed, bim, fam = (Path(prefix + suffix) for suffix in (".bed", ".bim", ".fam"))
    for path in (bed, bim, fam):
        if not path.is_file():
            raise DataError(f"PLINK file {str(path)!r} does not exist (a PLINK 1 data set is "
                            "three files: .bed, .bim and .fam with the same prefix)")
    return bed, bim, fam


def read_plink(prefix_or_bed: str | Path, *, missing: str = "error") -> GenotypeTable:
    """Read a PLINK 1 binary data set (.bed/.bim/.fam) with bed-reader.

    Parameters
    ----------
    prefix_or_bed : str or Path
        ``data/cohort`` or ``data/cohort.bed``; the .bim and .fam files sit beside it.
    missing : {"error", "drop-snp", "drop-sample"}
        Rule for missing genotype calls (see the module docstring).

    Returns
    -------
    GenotypeTable
        Dosages count the A1 allele (the fifth column of the .bim file).

    Raises
    ------
    DataError
        A file is missing or unreadable, ids repeat, or calls are missing under
        ``missing="error"``.
    """
    from bed_reader import open_bed

    check_rule(missing, MISSING_RULES, "missing")
    bed_path, _, _ = _plink_paths(prefix_or_bed)
    try:
        with open_bed(bed_path, count_A1=True, num_threads=1) as bed:
            raw = bed.read(dtype="int8", order="F")
            fields = {
                "samples": [str(s) for s in bed.iid], "snps": [str(s) for s in bed.sid],
                "chromosomes": [str(c) for c in bed.chromosome],
                "positions": np.asarray(bed.bp_position, dtype=np.int64),
                "counted": [str(a) for a in bed.allele_1],
                "other": [str(a) for a in bed.allele_2], "source": str(bed_path),
            }
    except (OSError, ValueError, RuntimeError) as error:
        raise DataError(f"PLINK file {str(bed_path)!r} cannot be read: {error}") from None
    return _apply_missing_rule(raw, fields, missing)


def _vcf_snp_id(variant: Any) -> str:
    return str(variant.ID) if variant.ID else f"{variant.CHROM}:{variant.POS}"


def read_vcf(path: str | Path, *, missing: str = "error",
             multiallelic: str = "error") -> GenotypeTable:
    """Read diploid biallelic genotypes from a VCF or BCF file with cyvcf2.

    Parameters
    ----------
    path : str or Path
        ``.vcf``, ``.vcf.gz`` or ``.bcf``.
    missing : {"error", "drop-snp", "drop-sample"}
        Rule for missing calls; a call with any missing allele (``./.``, ``0/.``) is
        missing.
    multiallelic : {"error", "drop"}
        Rule for sites with more than one ALT allele.

    Returns
    -------
    GenotypeTable
        Dosages count the ALT allele. A record without an ID is named ``CHROM:POS``.

    Raises
    ------
    DataError
        Unreadable file, multi-allelic sites or missing calls under the ``"error"`` rules,
        a non-diploid record, or no SNP left.
    """
    from cyvcf2 import VCF

    check_rule(missing, MISSING_RULES, "missing")
    check_rule(multiallelic, MULTIALLELIC_RULES, "multiallelic")
    source = str(path)
    if not Path(path).is_file():
        raise DataError(f"VCF file {source!r} does not exist")
    try:
        reader = VCF(source, gts012=True, strict_gt=True)
    except OSError as error:
        raise DataError(f"VCF file {source!r} cannot be read: {error}") from None
    columns: list[np.ndarray] = []
    fields: dict[str, Any] = {k: [] for k in ("snps", "chromosomes", "positions",
                                              "counted", "other")}
    multi: list[str] = []
    try:
        samples = [str(s) for s in reader.samples]
        if not samples:
            raise DataError(f"VCF file {source!r} has no sample columns (a sites-only VCF "
                            "holds no genotypes)")
        for variant in reader:
            if len(variant.ALT) > 1:
                multi.append(f"{_vcf_snp_id(variant)} at {variant.CHROM}:{variant.POS}")
                continue
            if variant.ploidy != 2:
                raise DataError(f"VCF file {source!r}: site {_vcf_snp_id(variant)} has ploidy "
                                f"{variant.ploidy}; tabinv reads diploid genotypes only")
            types = variant.gt_types  # 0 hom-ref, 1 het, 2 hom-alt, 3 unknown (gts012)
            column = types.astype(np.int8)
            column[types == 3] = _MISSING
            columns.append(column)
            fields["snps"].append(_vcf_snp_id(variant))
            fields["chromosomes"].append(str(variant.CHROM))
            fields["positions"].append(int(variant.POS))
            fields["counted"].append(variant.ALT[0] if variant.ALT else ".")
            fields["other"].append(str(variant.REF))
    finally:
        reader.close()
    if multi and multiallelic == "error":
        raise DataError(
            f"VCF file {source!r} has {len(multi)} multi-allelic site(s) ({shown_ids(multi)}); "
            "tabinv reads biallelic SNPs only: split them (bcftools norm -m-) or pass "
            "multiallelic='drop' to drop them (the count dropped is reported)"
        )
    if multi:
        fields["dropped"] = (CleaningStep(f"dropped {len(multi)} multi-allelic site(s) "
                                          "(multiallelic='drop')", dropped=len(multi)),)
    if not columns:
        raise DataError(f"VCF file {source!r} holds no biallelic SNP")
    raw = np.column_stack(columns) if samples else np.zeros((0, len(columns)), np.int8)
    return _apply_missing_rule(raw, {**fields, "samples": samples, "source": source},
                               missing)


def write_plink(genotypes: GenotypeTable, prefix: str | Path) -> Path:
    """Write ``genotypes`` as PLINK 1 files ``prefix.bed/.bim/.fam``; return the .bed path.

    A1 (the counted allele) is ``genotypes.counted``, so :func:`read_plink` reads the same
    dosages back.
    """
    from bed_reader import to_bed

    bed_path = Path(str(prefix) + ".bed")
    properties = {
        "fid": list(genotypes.samples), "iid": list(genotypes.samples),
        "sid": list(genotypes.snps), "chromosome": list(genotypes.chromosomes),
        "bp_position": genotypes.positions.tolist(), "allele_1": list(genotypes.counted),
        "allele_2": list(genotypes.other),
    }
    # bed-reader's writer borrows the matrix mutably: give it a writeable copy
    dosages = np.array(genotypes.dosages, dtype=np.int8, order="C", copy=True)
    to_bed(bed_path, dosages, properties=properties, count_A1=True, num_threads=1)
    return bed_path


def write_vcf(genotypes: GenotypeTable, path: str | Path) -> Path:
    """Write ``genotypes`` as an uncompressed VCF 4.2 (REF = other, ALT = counted allele).

    Meant for small files (tests, examples): each row is built as text.
    """
    path = Path(path)
    calls = np.array(["0/0", "0/1", "1/1"], dtype=object)
    header = ["##fileformat=VCFv4.2"]
    header += [f"##contig=<ID={c}>" for c in dict.fromkeys(genotypes.chromosomes)]
    header += ['##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
               "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                          "FORMAT", *genotypes.samples])]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("\n".join(header) + "\n")
        for j, snp in enumerate(genotypes.snps):
            fixed = [genotypes.chromosomes[j], str(genotypes.positions[j]), snp,
                     genotypes.other[j], genotypes.counted[j], ".", "PASS", ".", "GT"]
            handle.write("\t".join([*fixed, *calls[genotypes.dosages[:, j]]]) + "\n")
    return path


def select_snps(genotypes: GenotypeTable, names: Sequence[str]) -> GenotypeTable:
    """The same table restricted to the SNPs ``names`` (in that order).

    Raises
    ------
    ColumnError
        A name is not a SNP of the file (the message suggests the closest id).
    """
    index = {snp: j for j, snp in enumerate(genotypes.snps)}
    for name in names:
        if name not in index:
            raise ColumnError(
                f"SNP {name!r} is not in {genotypes.source}{closest(name, genotypes.snps)}; "
                f"the file has {genotypes.n_snps} SNPs ({shown_ids(genotypes.snps)})"
            )
    columns = np.array([index[n] for n in names], dtype=np.int64)
    return replace(
        genotypes, snps=tuple(names),
        chromosomes=tuple(genotypes.chromosomes[j] for j in columns),
        positions=genotypes.positions[columns],
        counted=tuple(genotypes.counted[j] for j in columns),
        other=tuple(genotypes.other[j] for j in columns),
        dosages=np.ascontiguousarray(genotypes.dosages[:, columns]),
    )


