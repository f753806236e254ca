"""Tests for tabinv.data.genotypes: PLINK and VCF readers, missing-call rules, the join."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bed_reader import to_bed

from tabinv.data.dataset import validate_frame
from tabinv.data.genomic import cohort_genotypes, simulate_cohort
from tabinv.data.genotypes import (
    GenotypeTable,
    read_plink,
    read_vcf,
    select_snps,
    write_plink,
    write_vcf,
)
from tabinv.data.phenotypes import genomic_card, genotype_dataset, join_phenotypes
from tabinv.exceptions import ColumnError, DataError
from tabinv.models.families import make_model


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, GenotypeTable]:
    frame, info = simulate_cohort(60, 15, seed=5)
    return frame, cohort_genotypes(frame, info)


@pytest.fixture(scope="module")
def genotypes(cohort: tuple[pd.DataFrame, GenotypeTable]) -> GenotypeTable:
    return cohort[1]


@pytest.fixture(scope="module")
def phenotypes(cohort: tuple[pd.DataFrame, GenotypeTable]) -> pd.DataFrame:
    frame, genotypes = cohort
    table = frame[["age", "sex", "ancestry", "phenotype"]].copy()
    table.insert(0, "sample_id", list(genotypes.samples))
    return table


def assert_same(read: GenotypeTable, written: GenotypeTable) -> None:
    assert read.samples == written.samples
    assert read.snps == written.snps
    assert read.chromosomes == written.chromosomes
    np.testing.assert_array_equal(read.positions, written.positions)
    assert read.counted == written.counted and read.other == written.other
    assert read.dosages.dtype == np.int8
    np.testing.assert_array_equal(read.dosages, written.dosages)
    assert read.dropped == ()


@pytest.mark.parametrize("suffix", ["", ".bed"])
def test_plink_round_trip(tmp_path: Path, genotypes: GenotypeTable, suffix: str) -> None:
    write_plink(genotypes, tmp_path / "cohort")
    assert_same(read_plink(str(tmp_path / "cohort") + suffix), genotypes)


def test_vcf_round_trip(tmp_path: Path, genotypes: GenotypeTable) -> None:
    path = write_vcf(genotypes, tmp_path / "cohort.vcf")
    assert_same(read_vcf(path), genotypes)


def _vcf(tmp_path: Path, rows: list[str], samples: tuple[str, ...] = ("s1", "s2", "s3")) -> Path:
    header = ["##fileformat=VCFv4.2", "##contig=<ID=1>",
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                         "FORMAT", *samples])]
    lines = ["\t".join(["1", *row.split()[:4], ".", "PASS", ".", "GT", *row.split()[4:]])
             for row in rows]
    path = tmp_path / "small.vcf"
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    return path


def test_vcf_dosages_count_the_alt_allele(tmp_path: Path) -> None:
    path = _vcf(tmp_path, ["100 rs1 A G 0/0 0|1 1/1", "200 . C T 1|0 1/1 0/0"])
    table = read_vcf(path)
    assert table.snps == ("rs1", "1:200") and table.samples == ("s1", "s2", "s3")
    assert table.counted == ("G", "T") and table.other == ("A", "C")
    np.testing.assert_array_equal(table.dosages, [[0, 1], [1, 2], [2, 0]])


def test_multiallelic_site_is_refused_by_name(tmp_path: Path) -> None:
    path = _vcf(tmp_path, ["100 rs1 A G 0/0 0/1 1/1", "200 rs2 A G,T 0/2 0/1 1/1"])
    with pytest.raises(DataError, match=r"small\.vcf' has 1 multi-allelic site\(s\) "
                                        r"\(rs2 at 1:200\).*multiallelic='drop'"):
        read_vcf(path)


def test_multiallelic_sites_can_be_dropped_and_are_counted(tmp_path: Path) -> None:
    path = _vcf(tmp_path, ["100 rs1 A G 0/0 0/1 1/1", "200 rs2 A G,T 0/2 0/1 1/1",
                           "300 rs3 A C,T 0/0 0/1 1/2"])
    table = read_vcf(path, multiallelic="drop")
    assert table.snps == ("rs1",)
    assert [s.dropped for s in table.dropped] == [2]
    assert "2 multi-allelic site(s)" in table.dropped[0].description


MISSING_ROWS = ["100 rs1 A G 0/0 0/1 1/1", "200 rs2 A G ./. 0/1 0/.",
                "300 rs3 A G 0/1 0/1 1/1"]


def test_missing_calls_are_refused_by_default(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"2 genotype call\(s\) are missing in 1 SNP\(s\) "
                                        r"\[rs2 \(2\)\].*missing='drop-snp'.*'drop-sample'"):
        read_vcf(_vcf(tmp_path, MISSING_ROWS))


def test_missing_calls_drop_snp_rule(tmp_path: Path) -> None:
    table = read_vcf(_vcf(tmp_path, MISSING_ROWS), missing="drop-snp")
    assert table.snps == ("rs1", "rs3") and table.n_samples == 3
    assert [s.dropped for s in table.dropped] == [1]
    assert "1 SNP(s) with 2 missing call(s)" in table.dropped[0].description


def test_missing_calls_drop_sample_rule(tmp_path: Path) -> None:
    table = read_vcf(_vcf(tmp_path, MISSING_ROWS), missing="drop-sample")
    assert table.samples == ("s2",) and table.n_snps == 3
    np.testing.assert_array_equal(table.dosages, [[1, 1, 1]])
    assert "2 sample(s)" in table.dropped[0].description


def test_missing_rule_leaving_nothing_is_refused(tmp_path: Path) -> None:
    path = _vcf(tmp_path, ["100 rs1 A G ./. 0/1 1/1", "200 rs2 A G 0/0 ./. ./."])
    with pytest.raises(DataError, match="every sample has a missing call"):
        read_vcf(path, missing="drop-sample")
    with pytest.raises(DataError, match="every SNP has a missing call"):
        read_vcf(path, missing="drop-snp")
    with pytest.raises(DataError, match=r"missing='skip' is not one of"):
        read_vcf(path, missing="skip")


def test_plink_missing_calls_follow_the_same_rules(tmp_path: Path,
                                                   genotypes: GenotypeTable) -> None:
    dosages = genotypes.dosages.copy()
    dosages[[0, 3], 2] = -127  # bed-reader's int8 missing value
    to_bed(tmp_path / "gaps.bed", dosages, properties={
        "iid": list(genotypes.samples), "sid": list(genotypes.snps)}, num_threads=1)
    with pytest.raises(DataError, match=rf"gaps\.bed: 2 genotype call\(s\) are missing in "
                                        rf"1 SNP\(s\) \[{genotypes.snps[2]} \(2\)\]"):
        read_plink(tmp_path / "gaps")
    assert read_plink(tmp_path / "gaps", missing="drop-snp").n_snps == genotypes.n_snps - 1
    assert read_plink(tmp_path / "gaps", missing="drop-sample").n_samples == \
        genotypes.n_samples - 2


def test_missing_files_are_named(tmp_path: Path, genotypes: GenotypeTable) -> None:
    with pytest.raises(DataError, match=r"VCF file '.*nothing\.vcf' does not exist"):
        read_vcf(tmp_path / "nothing.vcf")
    write_plink(genotypes, tmp_path / "cohort")
    (tmp_path / "cohort.bim").unlink()
    with pytest.raises(DataError, match=r"PLINK file '.*cohort\.bim' does not exist"):
        read_plink(tmp_path / "cohort.bed")


def test_join_keeps_the_genotype_order(genotypes: GenotypeTable,
                                       phenotypes: pd.DataFrame) -> None:
    shuffled = phenotypes.sample(frac=1.0, random_state=0)
    frame, report = join_phenotypes(genotypes, shuffled)
    assert list(frame["sample_id"]) == list(genotypes.samples)
    assert list(frame.columns) == [*phenotypes.columns, *genotypes.snps]
    assert (frame[list(genotypes.snps)].dtypes == np.int8).all()
    np.testing.assert_array_equal(frame[list(genotypes.snps)].to_numpy(), genotypes.dosages)
    assert (report.joined, report.genotypes_only, report.phenotypes_only) == (60, 0, 0)
    assert report.steps() == ()


def test_genotyped_sample_without_phenotype_is_named(genotypes: GenotypeTable,
                                                     phenotypes: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=rf"2 sample\(s\) of simulated cohort have no row in "
                                        rf"the phenotype table \({genotypes.samples[0]}, "
                                        rf"{genotypes.samples[1]}\).*how='inner'"):
        join_phenotypes(genotypes, phenotypes.iloc[2:])


def test_phenotype_row_without_genotypes_is_named(genotypes: GenotypeTable,
                                                  phenotypes: pd.DataFrame) -> None:
    extra = pd.concat([phenotypes, phenotypes.iloc[:1].assign(sample_id="stranger")])
    with pytest.raises(DataError, match=r"1 row\(s\) of the phenotype table have no "
                                        r"genotypes in simulated cohort \(stranger\)"):
        join_phenotypes(genotypes, extra)


def test_inner_join_reports_the_counts_dropped(genotypes: GenotypeTable,
                                               phenotypes: pd.DataFrame) -> None:
    table = pd.concat([phenotypes.iloc[5:], phenotypes.iloc[:1].assign(sample_id="stranger")])
    frame, report = join_phenotypes(genotypes, table, how="inner")
    assert len(frame) == report.joined == 55
    assert (report.genotypes_only, report.phenotypes_only) == (5, 1)
    assert [s.dropped for s in report.steps()] == [5, 1]


def test_join_refuses_repeated_and_absent_id_columns(genotypes: GenotypeTable,
                                                     phenotypes: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"1 sample id\(s\) appear in more than one row"):
        join_phenotypes(genotypes, pd.concat([phenotypes, phenotypes.iloc[:1]]))
    with pytest.raises(ColumnError, match="did you mean 'sample_id'"):
        join_phenotypes(genotypes, phenotypes, id_column="sample_ids")


def test_numeric_ids_match_text_sample_ids(tmp_path: Path) -> None:
    table = read_vcf(_vcf(tmp_path, ["100 rs1 A G 0/0 0/1 1/1"], samples=("1", "2", "3")))
    frame, _ = join_phenotypes(table, pd.DataFrame({"sample_id": [3, 1, 2], "y": [0, 1, 0]}))
    assert list(frame["y"]) == [1, 0, 0]


def test_snp_not_in_the_file_is_named(genotypes: GenotypeTable) -> None:
    missing = genotypes.snps[3] + "a"
    with pytest.raises(ColumnError, match=rf"SNP '{missing}' is not in simulated cohort "
                                          rf"\(did you mean '{genotypes.snps[3]}'\?\)"):
        select_snps(genotypes, [missing])
    picked = select_snps(genotypes, [genotypes.snps[4], genotypes.snps[1]])
    np.testing.assert_array_equal(picked.dosages, genotypes.dosages[:, [4, 1]])


COVARIATES = {"age": {"kind": "numeric", "bounds": [18, 90]},
              "sex": {"kind": "categorical", "domain": ["F", "M"]},
              "phenotype": {"kind": "categorical", "domain": ["control", "case"]}}


def test_genomic_card_for_a_users_file(genotypes: GenotypeTable) -> None:
    card = genomic_card(genotypes, COVARIATES, "phenotype", sensitive=[genotypes.snps[0]])
    assert card.features == ("age", "sex", *genotypes.snps)
    column = card.column(genotypes.snps[0])
    assert column.domain == (0, 1, 2) and column.encoding == "ordinal"
    with pytest.raises(ColumnError, match="SNP 'rs_nowhere' is not in simulated cohort"):
        genomic_card(genotypes, COVARIATES, "phenotype", sensitive=["rs_nowhere"])


def test_genotype_dataset_trains_a_model(tmp_path: Path, genotypes: GenotypeTable,
                                         phenotypes: pd.DataFrame) -> None:
    read = read_vcf(write_vcf(genotypes, tmp_path / "cohort.vcf"))
    dataset = genotype_dataset(read, phenotypes.drop(columns="ancestry"), COVARIATES,
                               "phenotype", sensitive=[read.snps[0]])
    validate_frame(dataset.frame, dataset.card, dataset.card.column_names, "genotypes")
    model = make_model("logistic", dataset.card).fit(dataset.frame)
    assert model.predict_proba(dataset.frame).shape == (60, 2)


def test_genotype_table_refuses_bad_matrices(genotypes: GenotypeTable) -> None:
    from dataclasses import replace

    with pytest.raises(DataError, match="int8 matrix"):
        replace(genotypes, dosages=genotypes.dosages.astype(np.int64))
    with pytest.raises(DataError, match="must be 0, 1 or 2"):
        replace(genotypes, dosages=np.full_like(genotypes.dosages, 3))
    with pytest.raises(DataError, match=r"1 sample id\(s\) appear more than once"):
        replace(genotypes, samples=(genotypes.samples[1],) + genotypes.samples[1:])


def test_sites_only_vcf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sites.vcf"
    path.write_text("##fileformat=VCFv4.2\n##contig=<ID=1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\t"
                    "FILTER\tINFO\n1\t5\trs1\tA\tG\t.\t.\t.\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"sites\.vcf' has no sample columns"):
        read_vcf(path)
