"""The Python API: what notebooks, scripts and the CLI call.

A facade over the assessment core (:mod:`tabinv.core`) and the front-end services built
on it (batch runs, DP sweeps, reports); it holds no logic of its own. ``assess`` runs the
whole pipeline on a data set (splits, target model, attacks, baselines, metrics);
``attack_records`` attacks given records with a given model; ``demo_warfarin`` is the
2014 warfarin case study. Each describes the attacker with a
:class:`~tabinv.core.ThreatModel`, whose parameters they take by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import pandas as pd

from . import core
from .attacks.candidates import Posterior
from .attacks.specs import DEFAULT_ATTACKS, DEFAULT_PRIORS, AttackSpec, expand_specs
from .core import LABEL_SOURCES, ThreatModel, demo_warfarin, run_attacks
from .core.threat import AttackChoice, PriorChoice
from .data.dataset import Dataset
from .data.splits import DEFAULT_FRACTIONS, Splits
from .evaluation.results import Assessment
from .exceptions import DataError
from .models.target import TargetModel
from .params import InstanceOf, SequenceOf, validate_params
from .report.document import combine
from .vocabulary import ACCESS_LEVELS

__all__ = ["ACCESS_LEVELS", "DEFAULT_ATTACKS", "DEFAULT_PRIORS", "LABEL_SOURCES",
           "Assessment", "AttackSpec", "ThreatModel", "assess", "attack_records", "combine",
           "demo_warfarin", "expand_specs", "run_attacks", "run_inventory", "sweep_defences"]


_MAPPING = [InstanceOf(Mapping, "a mapping"), None]
_TEXT = [InstanceOf(str, "a str"), None]


@validate_params({"dataset": [InstanceOf((str, Dataset), "a data set name or a Dataset")],
                  "model": [InstanceOf((str, TargetModel), "a family name or a TargetModel")],
                  "label": _TEXT, "dataset_params": _MAPPING, "model_params": _MAPPING,
                  "fractions": [SequenceOf(float)],
                  "splits": [InstanceOf(Splits, "a Splits"), None]}, error=DataError)
def assess(dataset: str | Dataset, model: str | TargetModel = "linear", *,
           sensitive: Sequence[str], known: Sequence[str] | None = None,
           attacks: Sequence[AttackChoice] | None = None,
           priors: Sequence[PriorChoice] | None = None,
           attack_params: Mapping[str, Mapping[str, Any]] | None = None,
           access: str | None = None, decimals: int | None = None,
           label_source: str = "true", positive: Mapping[str, Any] | None = None,
           top_k: int = 100, n_boot: int = 200, random_state: int = 0,
           memory: int | None = None, shortcuts: bool = True,
           label: str | None = None, dataset_params: Mapping[str, Any] | None = None,
           fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
           model_params: Mapping[str, Any] | None = None,
           splits: Splits | None = None) -> Assessment:
    """Split, train the target, attack members and non-members, compare with baselines.

    Parameters
    ----------
    dataset : str or Dataset
        A built-in name (``tabinv datasets list``) or a loaded :class:`Dataset`.
    model : str or TargetModel
        A family name (trained on the members) or an already fitted model.
    sensitive, known, attacks, priors, attack_params, access, decimals, label_source,
    positive, top_k, n_boot, random_state, memory, shortcuts
        The attacker (:class:`~tabinv.core.ThreatModel`, where each is documented).
        Defaults: the attacks of :data:`DEFAULT_ATTACKS` with the priors of
        :data:`DEFAULT_PRIORS`, as on the command line.
    label : str, optional
        Another card column to use as the label.
    dataset_params : mapping, optional
        Parameters of a built-in data set (``people``, ``snps``, ``seed`` for genomic).
    fractions : (float, float, float)
        Members, non-members and reference shares of the rows.
    model_params : mapping, optional
        Parameters of the model family.
    splits : Splits, optional
        Given splits instead of splitting with ``random_state``.

    Returns
    -------
    Assessment

    Examples
    --------
    >>> result = assess("iwpc", "linear", sensitive=["cyp2c9"], n_boot=20)
    >>> result.result("prior-mode", "cyp2c9", "members").n
    2081
    """
    threat = ThreatModel(sensitive=tuple(sensitive), known=known, attacks=attacks,
                         priors=priors, attack_params=attack_params,
                         access=access, decimals=decimals,
                         label_source=label_source, positive=positive,
                         top_k=top_k, n_boot=n_boot, random_state=random_state,
                         memory=memory, shortcuts=shortcuts)
    return core.assess(threat, dataset, model, label=label, dataset_params=dataset_params,
                       fractions=fractions, model_params=model_params, splits=splits)


@validate_params({"model": [InstanceOf(TargetModel, "a fitted TargetModel")],
                  "records": [InstanceOf(pd.DataFrame, "a DataFrame")],
                  "reference": [InstanceOf(pd.DataFrame, "a DataFrame"), None],
                  "population": [InstanceOf(str, "a str")], "origin": [InstanceOf(str, "a str")],
                  "label": _TEXT}, error=DataError)
def attack_records(model: TargetModel, records: pd.DataFrame, *, sensitive: Sequence[str],
                   known: Sequence[str] | None = None,
                   attacks: Sequence[AttackChoice] | None = None,
                   priors: Sequence[PriorChoice] | None = None,
                   attack_params: Mapping[str, Mapping[str, Any]] | None = None,
                   access: str | None = None, decimals: int | None = None,
                   label_source: str = "true", positive: Mapping[str, Any] | None = None,
                   top_k: int = 100, n_boot: int = 200, random_state: int = 0,
                   memory: int | None = None, shortcuts: bool = True,
                   reference: pd.DataFrame | None = None, population: str = "given",
                   origin: str = "data", cleaning: Sequence[Mapping[str, Any]] = (),
                   label: str | None = None) -> tuple[Assessment, Posterior]:
    """Attack ``records`` with a fitted model; scored when they hold the true values.

    Model features absent from ``records`` (and not sensitive) are unknown to the
    attacker and summed out (unless ``known`` names them: then they must be present).
    Without a ``reference`` sample and without ``priors``, the attacks use the
    ``published`` prior (the model's own training marginals) and no baseline runs.
    ``cleaning`` (as :meth:`Dataset.cleaning_summary`) says what reading the records
    changed, for the results; ``label``, when given, must be the model's label. The
    attacker's parameters are those of :func:`assess`. Returns the assessment and the
    first attack's posterior.
    """
    threat = ThreatModel(sensitive=tuple(sensitive), known=known, attacks=attacks,
                         priors=priors, attack_params=attack_params,
                         access=access, decimals=decimals,
                         label_source=label_source, positive=positive,
                         top_k=top_k, n_boot=n_boot, random_state=random_state,
                         memory=memory, shortcuts=shortcuts)
    return core.attack_records(threat, model, records, reference=reference,
                               population=population, origin=origin, cleaning=cleaning,
                               label=label)


def sweep_defences(dataset: str | Dataset, family: str, **options: Any) -> Any:
    """Plain and DP models over an epsilon grid and seeds.

    See :func:`tabinv.defences.sweep.sweep` for the options.
    """
    from .defences.sweep import sweep

    return sweep(dataset, family, **options)


def run_inventory(inventory: Any, out: str | PathLike[str], *, executor: str = "local",
                  jobs: int = 1, scheduler: str | None = None, progress: Any = None,
                  allow_paths: Sequence[str | PathLike[str]] = ()) -> Any:
    """Assess every entry of a model inventory (TOML file or parsed), resumably.

    See :mod:`tabinv.batch`; returns the :class:`~tabinv.batch.runner.BatchResult`.
    ``allow_paths`` are folders outside the inventory's own whose files it may name.
    """
    from .batch import Inventory, make_executor, read_inventory, run_batch

    parsed = inventory if isinstance(inventory, Inventory) else read_inventory(
        inventory, allow_paths=allow_paths)
    return run_batch(parsed, out, executor=make_executor(executor, jobs=jobs,
                                                         scheduler=scheduler),
                     progress=progress)
