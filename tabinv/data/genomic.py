"""Simulated genotype cohorts: msprime coalescent genotypes plus a case/control phenotype.

The demographic model is msprime's island model: ``populations`` demes of 10,000 diploid
individuals each, exchanging migrants at rate 2.5e-5 per generation with every other deme
(Hudson Fst about 0.12 between demes, like that between continents, so allele frequencies
differ by ancestry). People are sampled unevenly (weights k, k-1, ..., 1: half from
``pop_0`` when k = 3). One chromosome of ``snps`` x 5 kb (about the SNP density of a
genotyping array) is simulated with recombination rate 1e-8 per bp per generation, so
neighbouring SNPs are in linkage disequilibrium and distant ones are not. Mutations follow
msprime's binary model (alleles 0/1) at 2e-9 per bp per generation (doubled until there
are enough common sites); sites hit by exactly one mutation are biallelic, and ``snps`` of
those with minor allele frequency >= 0.05 are kept, evenly spread, in genomic order.
Dosage = copies of the derived allele (0/1/2), stored as int8.

The phenotype is a logistic model: ``N_CAUSAL`` causal SNPs (chosen with the seed among
SNPs with minor allele frequency >= 0.2) with per-allele log odds ratios of 0.8-1.2 in
magnitude, plus age, sex and ancestry. Every random draw comes from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError
from .dataset import CleaningStep, Dataset
from .genotypes import GenotypeTable
from .registry import builtin
from .schema import Card, card_from_dict

__all__ = ["CohortInfo", "simulate_cohort", "load_genomic", "cohort_card", "cohort_genotypes",
           "N_CAUSAL"]

POPULATION_SIZE = 10_000
MIGRATION_RATE = 2.5e-5
RECOMBINATION_RATE = 1e-8
MUTATION_RATE = 2e-9        # doubled until there are enough common sites
SNP_SPACING = 5_000         # bp of simulated sequence per SNP kept (genotyping-array density)
MIN_MAF = 0.05
CAUSAL_MIN_MAF = 0.2
N_CAUSAL = 4
AGE_EFFECT = 0.03            # log odds per year of age
MALE_EFFECT = 0.4            # log odds for sex M
CASE_SHARE = 0.4             # the intercept centres the log odds on this share of cases
MAX_POPULATIONS = 10
_MUTATION_ATTEMPTS = 5
_ALLELE_PAIRS = ("AG", "GA", "CT", "TC", "AC", "CA", "GT", "TG", "AT", "TA", "CG", "GC")


@dataclass(frozen=True, eq=False)
class CohortInfo:
    """What the simulation did: SNPs kept, their frequencies, the phenotype model.

    ``population_frequencies`` has one row per population (derived allele frequency in
    the cohort's people of that ancestry); ``effects`` holds the log odds of being a case
    per allele (causal SNPs), per year of age, for ``sex=M`` and per ancestry.
    """

    snps: tuple[str, ...]
    positions: np.ndarray
    frequencies: np.ndarray
    population_frequencies: np.ndarray
    populations: tuple[str, ...]
    sample_ids: tuple[str, ...]
    causal_snps: tuple[str, ...]
    effects: dict[str, float]
    intercept: float
    simulation: dict[str, Any]

    def to_extra(self) -> dict[str, Any]:
        """JSON-friendly facts recorded in the card's ``extra``."""
        return {"causal_snps": list(self.causal_snps),
                "effects": {k: round(v, 4) for k, v in self.effects.items()},
                "intercept": round(self.intercept, 4), "chromosome": "1",
                "positions": self.positions.tolist(), "simulation": dict(self.simulation)}


def _seed(seed: int, stream: int) -> int:
    """A msprime seed (1 .. 2**31 - 1) for one random stream of ``seed``."""
    state = np.random.SeedSequence([seed, stream]).generate_state(1, dtype=np.uint32)[0]
    return int(state) % (2**31 - 2) + 1


def _check(people: Any, snps: Any, seed: Any, populations: Any) -> None:
    for name, value, low in (("people", people, 20), ("snps", snps, 1), ("seed", seed, 0),
                             ("populations", populations, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise DataError(f"genomic: {name} must be an integer >= {low}, not {value!r}")
    if populations > MAX_POPULATIONS:
        raise DataError(f"genomic: populations must be at most {MAX_POPULATIONS}, "
                        f"not {populations}")


def _sample_counts(people: int, populations: int) -> np.ndarray:
    weights = np.arange(populations, 0, -1, dtype=float)
    counts = np.floor(people * weights / weights.sum()).astype(int)
    counts[0] += people - counts.sum()
    return counts


def _derived_counts(ts: Any) -> np.ndarray:
    """Derived allele count at each site hit by exactly one mutation; -1 elsewhere."""
    per_site = np.bincount(ts.tables.mutations.site, minlength=ts.num_sites)
    counts = np.full(ts.num_sites, -1, dtype=np.int64)
    for tree in ts.trees():
        for site in tree.sites():
            if per_site[site.id] == 1:
                counts[site.id] = tree.num_samples(site.mutations[0].node)
    return counts


def _simulate_sites(people: int, snps: int, seed: int,
                    populations: int) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """Ancestry then mutations (rate doubled until enough common biallelic sites)."""
    import msprime

    demography = msprime.Demography.island_model([POPULATION_SIZE] * populations,
                                                 migration_rate=MIGRATION_RATE)
    samples = {f"pop_{i}": int(n) for i, n in enumerate(_sample_counts(people, populations))
               if n > 0}
    length = max(snps * SNP_SPACING, 50_000)
    ancestry = msprime.sim_ancestry(samples=samples, demography=demography, ploidy=2,
                                    sequence_length=length,
                                    recombination_rate=RECOMBINATION_RATE,
                                    random_seed=_seed(seed, 0))
    rate = MUTATION_RATE
    for attempt in range(_MUTATION_ATTEMPTS):
        ts = msprime.sim_mutations(ancestry, rate=rate, random_seed=_seed(seed, 1 + attempt),
                                   model=msprime.BinaryMutationModel())
        counts = _derived_counts(ts)
        frequency = counts / ts.num_samples
        common = (counts >= 0) & (np.minimum(frequency, 1 - frequency) >= MIN_MAF)
        if common.sum() >= snps:
            facts = {"demography": "island model", "populations": populations,
                     "population_size": POPULATION_SIZE, "migration_rate": MIGRATION_RATE,
                     "sequence_length": length, "recombination_rate": RECOMBINATION_RATE,
                     "mutation_rate": rate, "sites": int(ts.num_sites),
                     "common_biallelic_sites": int(common.sum()), "min_maf": MIN_MAF}
            return ts, np.flatnonzero(common), facts
        rate *= 2
    raise DataError(f"genomic: the simulation gave only {int(common.sum())} common biallelic "
                    f"sites for {snps} SNPs requested; ask for fewer SNPs")


def _dosages(ts: Any, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dosages int8 people x SNPs, population index per person, 1-based positions)."""
    kept = ts.delete_sites(np.setdiff1d(np.arange(ts.num_sites), sites))
    nodes = np.searchsorted(kept.samples(), kept.individuals_nodes)
    dosages = np.empty((kept.num_individuals, kept.num_sites), dtype=np.int8, order="F")
    for j, variant in enumerate(kept.variants(copy=False)):
        genotypes = variant.genotypes
        dosages[:, j] = genotypes[nodes[:, 0]] + genotypes[nodes[:, 1]]
    positions = kept.tables.sites.position.astype(np.int64) + 1
    return dosages, np.asarray(kept.individuals_population), positions


def _phenotype(rng: np.random.Generator, dosages: np.ndarray, frequencies: np.ndarray,
               covariates: pd.DataFrame, populations: tuple[str, ...],
               snps: tuple[str, ...]) -> tuple[np.ndarray, dict[str, float], float]:
    """Case/control labels from causal SNPs, age, sex and ancestry (logistic model)."""
    minor = np.minimum(frequencies, 1 - frequencies)
    candidates = np.flatnonzero(minor >= CAUSAL_MIN_MAF)
    if len(candidates) < min(N_CAUSAL, len(snps)):
        candidates = np.argsort(-minor, kind="stable")[:N_CAUSAL]
    causal = np.sort(rng.choice(candidates, size=min(N_CAUSAL, len(candidates)),
                                replace=False))
    betas = rng.uniform(0.8, 1.2, size=len(causal)) * rng.choice([-1.0, 1.0], len(causal))
    ancestry = np.concatenate([[0.0], rng.normal(0.0, 0.4, len(populations) - 1)])
    effects = {snps[j]: float(b) for j, b in zip(causal, betas, strict=True)}
    effects |= {"age": AGE_EFFECT, "sex=M": MALE_EFFECT}
    effects |= {f"ancestry={p}": float(a) for p, a in zip(populations, ancestry, strict=True)}
    population = pd.Index(populations).get_indexer(covariates["ancestry"])
    logit = (dosages[:, causal] - 2 * frequencies[causal]) @ betas
    logit += AGE_EFFECT * (covariates["age"].to_numpy() - 50)
    logit += MALE_EFFECT * (covariates["sex"] == "M").to_numpy()
    logit += ancestry[population]
    intercept = float(np.log(CASE_SHARE / (1 - CASE_SHARE)) - np.mean(logit))
    cases = rng.random(len(logit)) < 1 / (1 + np.exp(-(intercept + logit)))
    return cases, effects, intercept


def simulate_cohort(people: int = 2000, snps: int = 500, seed: int = 0,
                    populations: int = 3) -> tuple[pd.DataFrame, CohortInfo]:
    """Simulate ``people`` diploid people genotyped at ``snps`` SNPs, with a phenotype.

    Parameters
    ----------
    people : int
        Number of people (>= 20).
    snps : int
        Number of common biallelic SNPs kept (minor allele frequency >= 0.05).
    seed : int
        Seeds msprime (ancestry and mutations) and every other draw.
    populations : int
        Number of island-model populations (2-10), named ``pop_0`` ...

    Returns
    -------
    frame : pandas.DataFrame
        ``age`` (float), ``sex`` (F/M), ``ancestry``, one int8 column per SNP
        (``snp_00001`` ..., genomic order) and ``phenotype`` (control/case).
    info : CohortInfo

    Examples
    --------
    >>> frame, info = simulate_cohort(people=100, snps=20, seed=1)
    >>> frame.shape, str(frame["snp_00001"].dtype), len(info.causal_snps)
    ((100, 24), 'int8', 4)
    """
    _check(people, snps, seed, populations)
    ts, common, facts = _simulate_sites(people, snps, seed, populations)
    sites = common[np.round(np.linspace(0, len(common) - 1, snps)).astype(np.int64)]
    dosages, population, positions = _dosages(ts, sites)
    names = tuple(ts.population(i).metadata["name"] for i in range(ts.num_populations))
    rng = np.random.default_rng(_seed(seed, 100))
    order = rng.permutation(people)
    dosages, population = dosages[order], population[order]
    width = max(5, len(str(snps)))
    snp_names = tuple(f"snp_{j + 1:0{width}d}" for j in range(snps))
    covariates = pd.DataFrame({
        "age": np.clip(np.round(rng.normal(50, 15, people)), 18, 90).astype(float),
        "sex": np.where(rng.random(people) < 0.5, "F", "M").astype(object),
        "ancestry": np.asarray(names, dtype=object)[population],
    })
    frequencies = dosages.mean(axis=0, dtype=float) / 2
    by_population = np.array([dosages[population == i].mean(axis=0, dtype=float) / 2
                              if (population == i).any() else np.full(snps, np.nan)
                              for i in range(len(names))])
    cases, effects, intercept = _phenotype(rng, dosages, frequencies, covariates, names,
                                           snp_names)
    snp_frame = pd.DataFrame(dosages, columns=list(snp_names), copy=False)
    label = pd.Series(np.where(cases, "case", "control"), name="phenotype")
    frame = pd.concat([covariates, snp_frame, label.astype(object)], axis=1)
    for name in ("sex", "ancestry", "phenotype"):  # pandas 3 would infer its str dtype
        frame[name] = frame[name].astype(object)
    info = CohortInfo(
        snps=snp_names, positions=positions, frequencies=frequencies,
        population_frequencies=by_population, populations=names,
        sample_ids=tuple(f"ind_{i + 1:0{max(5, len(str(people)))}d}" for i in range(people)),
        causal_snps=tuple(s for s in snp_names if s in effects), effects=effects,
        intercept=intercept, simulation={**facts, "seed": seed, "people": people,
                                         "snps": snps},
    )
    return frame, info


def _snp_description(info: CohortInfo, j: int) -> str:
    by_population = ", ".join(f"{p} {f:.2f}" for p, f in
                              zip(info.populations, info.population_frequencies[:, j],
                                  strict=True))
    return (f"copies of the derived allele (0/1/2) at position {info.positions[j]} of the "
            f"simulated chromosome 1; derived allele frequency {info.frequencies[j]:.3f} "
            f"({by_population})")


def cohort_card(card: Card, info: CohortInfo) -> Card:
    """The base card plus one ordinal SNP column per simulated SNP (sensitive: causal)."""
    raw = card.to_dict()
    raw.pop("task", None)
    raw |= raw.pop("extra", {})
    columns = {k: v for k, v in raw["columns"].items() if k != raw["label"]}
    columns["ancestry"] = {**columns["ancestry"], "domain": list(info.populations)}
    columns |= {snp: {"kind": "categorical", "domain": [0, 1, 2], "encoding": "ordinal",
                      "description": _snp_description(info, j)}
                for j, snp in enumerate(info.snps)}
    columns[raw["label"]] = raw["columns"][raw["label"]]
    raw |= {"columns": columns, "features": [*card.features, *info.snps],
            "sensitive": [*card.sensitive, *info.causal_snps], **info.to_extra()}
    return card_from_dict(raw, origin="genomic")


@builtin("genomic")
def load_genomic(card: Card, people: int = 2000, snps: int = 500, seed: int = 0,
                 populations: int = 3) -> Dataset:
    """The built-in ``genomic`` data set: a simulated cohort (see :func:`simulate_cohort`).

    The card is the base card plus one categorical column per SNP (domain ``[0, 1, 2]``,
    ``encoding = "ordinal"``); features are age, sex, ancestry and every SNP; the causal
    SNPs are the sensitive columns and are listed in ``card.extra["causal_snps"]``.
    """
    frame, info = simulate_cohort(people=people, snps=snps, seed=seed,
                                  populations=populations)
    full = cohort_card(card, info)
    steps = tuple(CleaningStep(text, 0) for text in card.cleaning)
    return Dataset(name="genomic", card=full, frame=frame[list(full.column_names)],
                   cleaning=steps, raw_rows=people)


def cohort_genotypes(frame: pd.DataFrame, info: CohortInfo) -> GenotypeTable:
    """The SNP columns of a simulated cohort as a :class:`GenotypeTable` (for file writers).

    REF/ALT letters are assigned from the position (the simulation has no sequence).
    """
    alleles = [_ALLELE_PAIRS[p % len(_ALLELE_PAIRS)] for p in info.positions.tolist()]
    return GenotypeTable(
        samples=info.sample_ids, snps=info.snps, chromosomes=("1",) * len(info.snps),
        positions=info.positions.copy(), counted=tuple(a[1] for a in alleles),
        other=tuple(a[0] for a in alleles),
        dosages=np.ascontiguousarray(frame[list(info.snps)].to_numpy(dtype=np.int8)),
        source="simulated cohort",
    )
