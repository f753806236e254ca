"""Tests for tabinv.data.genomic: the simulated msprime cohort and the built-in data set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from tabinv.api import assess
from tabinv.data.genomic import N_CAUSAL, CohortInfo, simulate_cohort
from tabinv.data.registry import builtin_card, builtin_parameters, load_builtin
from tabinv.data.splits import split_dataset
from tabinv.exceptions import DataError
from tabinv.models.families import make_model

PEOPLE, SNPS = 600, 120


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, CohortInfo]:
    return simulate_cohort(PEOPLE, SNPS, seed=4)


def _dosages(frame: pd.DataFrame, info: CohortInfo) -> np.ndarray:
    return frame[list(info.snps)].to_numpy()


def test_same_seed_gives_the_same_cohort() -> None:
    first, first_info = simulate_cohort(200, 30, seed=7)
    second, second_info = simulate_cohort(200, 30, seed=7)
    pd.testing.assert_frame_equal(first, second)
    assert first_info.causal_snps == second_info.causal_snps
    np.testing.assert_array_equal(first_info.positions, second_info.positions)


def test_different_seeds_give_different_cohorts() -> None:
    first, first_info = simulate_cohort(200, 30, seed=7)
    other, other_info = simulate_cohort(200, 30, seed=8)
    assert not first.equals(other)
    assert not np.array_equal(first_info.positions, other_info.positions)


def test_columns_dtypes_and_dosage_values(cohort: tuple[pd.DataFrame, CohortInfo]) -> None:
    frame, info = cohort
    assert list(frame.columns) == ["age", "sex", "ancestry", *info.snps, "phenotype"]
    assert info.snps[0] == "snp_00001" and len(info.snps) == SNPS
    assert (frame[list(info.snps)].dtypes == np.int8).all()
    assert set(np.unique(_dosages(frame, info))) <= {0, 1, 2}
    assert frame["age"].between(18, 90).all()
    assert set(frame["sex"]) == {"F", "M"}
    assert set(frame["phenotype"]) == {"control", "case"}


def test_snps_are_common_biallelic_and_in_genomic_order(
        cohort: tuple[pd.DataFrame, CohortInfo]) -> None:
    frame, info = cohort
    assert (np.diff(info.positions) > 0).all()
    frequency = _dosages(frame, info).mean(axis=0) / 2
    np.testing.assert_allclose(frequency, info.frequencies)
    # MAF is filtered on all haplotypes, so it holds exactly in the cohort
    assert (np.minimum(frequency, 1 - frequency) >= 0.05).all()


def test_allele_frequencies_differ_by_ancestry(cohort: tuple[pd.DataFrame, CohortInfo]) -> None:
    frame, info = cohort
    assert info.populations == ("pop_0", "pop_1", "pop_2")
    counts = frame["ancestry"].value_counts()
    assert counts["pop_0"] > counts["pop_1"] > counts["pop_2"]  # sampled 3:2:1
    dosages = _dosages(frame, info)
    by_population = np.array([dosages[(frame["ancestry"] == p).to_numpy()].mean(axis=0) / 2
                              for p in info.populations])
    np.testing.assert_allclose(by_population, info.population_frequencies)
    spread = by_population.max(axis=0) - by_population.min(axis=0)
    assert (spread > 0.2).sum() >= SNPS // 10


def test_neighbouring_snps_are_in_linkage_disequilibrium(
        cohort: tuple[pd.DataFrame, CohortInfo]) -> None:
    frame, info = cohort
    # within one population, so that ancestry does not correlate distant SNPs
    dosages = _dosages(frame, info)[(frame["ancestry"] == "pop_0").to_numpy()].astype(float)
    dosages = dosages[:, dosages.std(axis=0) > 0]
    standard = (dosages - dosages.mean(axis=0)) / dosages.std(axis=0)

    def mean_r2(lag: int) -> float:
        return float(np.mean(np.mean(standard[:, :-lag] * standard[:, lag:], axis=0) ** 2))

    assert mean_r2(1) > 3 * mean_r2(60)
    assert mean_r2(1) > 0.05


def test_phenotype_follows_the_causal_snps(cohort: tuple[pd.DataFrame, CohortInfo]) -> None:
    frame, info = cohort
    assert len(info.causal_snps) == N_CAUSAL
    assert set(info.causal_snps) <= set(info.snps)
    causal = list(info.causal_snps)
    design = pd.get_dummies(frame[["age", "sex", "ancestry", *causal]], drop_first=True)
    fitted = LogisticRegression(C=1e6, max_iter=5000).fit(
        design.to_numpy(dtype=float), frame["phenotype"] == "case")
    coefficients = dict(zip(design.columns, fitted.coef_[0], strict=True))
    for snp in causal:
        # the simulated per-allele log odds ratio is 0.8-1.2 in magnitude
        assert np.sign(coefficients[snp]) == np.sign(info.effects[snp]), snp
        assert 0.4 < abs(coefficients[snp]) < 2.0, snp
        minor = min(info.frequencies[info.snps.index(snp)],
                    1 - info.frequencies[info.snps.index(snp)])
        assert minor >= 0.2
    assert coefficients["sex_M"] > 0


@pytest.mark.parametrize("bad", [{"people": 5}, {"snps": 0}, {"seed": -1},
                                 {"populations": 1}, {"people": True}, {"snps": 2.5}])
def test_bad_parameters_are_refused(bad: dict[str, object]) -> None:
    params: dict[str, object] = {"people": 100, "snps": 10, "seed": 0, **bad}
    with pytest.raises(DataError, match=f"genomic: {next(iter(bad))} must be"):
        simulate_cohort(**params)  # type: ignore[arg-type]


def test_builtin_parameters_and_base_card() -> None:
    assert builtin_parameters("genomic") == {"people": 2000, "snps": 500, "seed": 0,
                                             "populations": 3}
    card = builtin_card("genomic")
    assert card.label == "phenotype" and card.task == "classification"
    assert card.features == ("age", "sex", "ancestry")
    assert "msprime" in card.source and "island model" in card.source
    assert "msprime 1.0" in card.citation


@pytest.fixture(scope="module")
def dataset():
    return load_builtin("genomic", people=400, snps=60, seed=1)


def test_builtin_dataset_card_and_frame(dataset) -> None:
    card = dataset.card
    snps = [c for c in card.column_names if c.startswith("snp_")]
    assert len(snps) == 60 and dataset.n_rows == 400
    assert tuple(dataset.frame.columns) == card.column_names
    assert card.features == ("age", "sex", "ancestry", *snps)
    assert card.sensitive == tuple(card.extra["causal_snps"])
    assert len(card.extra["positions"]) == 60
    column = card.column(snps[0])
    assert column.domain == (0, 1, 2) and column.encoding == "ordinal"
    assert "position" in column.description and "frequency" in column.description
    assert (dataset.frame[snps].dtypes == np.int8).all()
    assert [s.dropped for s in dataset.cleaning] == [0]


def test_populations_parameter_sets_the_ancestry_domain() -> None:
    dataset = load_builtin("genomic", people=60, snps=10, seed=0, populations=2)
    assert dataset.card.column("ancestry").domain == ("pop_0", "pop_1")
    assert set(dataset.frame["ancestry"]) == {"pop_0", "pop_1"}


def test_models_train_on_dosages_and_beat_the_majority_rate(dataset) -> None:
    splits = split_dataset(dataset.frame, random_state=0)
    truth = splits.non_members["phenotype"].to_numpy()
    majority = splits.non_members["phenotype"].value_counts(normalize=True).max()
    for family in ("logistic", "xgboost"):
        model = make_model(family, dataset.card).fit(splits.members)
        # one column per SNP (the dosage), one-hot sex and ancestry, scaled age
        assert model.encoder_.n_output_ == 1 + 2 + 3 + 60
        assert (model.predict(splits.non_members) == truth).mean() > majority, family


def test_map_attack_runs_on_a_causal_snp(dataset) -> None:
    snp = dataset.card.sensitive[0]
    assessment = assess(dataset, "logistic", sensitive=[snp], n_boot=20)
    methods = {(r.population, r.method) for r in assessment.results}
    assert {("members", "map"), ("non-members", "map"), ("members", "imputation")} <= methods
    for result in assessment.results:
        assert result.sensitive == snp
        assert 0 <= result.metrics["accuracy"].value <= 1
