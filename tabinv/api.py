"""The Python API: what notebooks, scripts and the CLI call.

A facade over the assessment core (:mod:`tabinv.core`) and the front-end services built
on it (batch runs, DP sweeps, reports); it holds no logic of its own. ``load_dataset``
reads a built-in data set or a file with its card; ``assess`` runs the whole pipeline on
a data set (splits or the owner's members, a target trained here or one tabinv did not
train, attacks, baselines, metrics);
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
from .core import LABEL_SOURCES, Membership, ModelAccess, ThreatModel, demo_warfarin, run_attacks
from .core.threat import AttackChoice, PriorChoice
from .data.dataset import Dataset
from .data.schema import Card
from .data.splits import DEFAULT_FRACTIONS, Splits, split_dataset
from .data.tables import DataOptions
from .evaluation.results import Assessment
from .evaluation.smallcells import DEFAULT_MIN_CELL
from .exceptions import DataError
from .membership.verdict import MembershipOptions
from .models.endpoint import EndpointSpec
from .models.target import TargetModel
from .params import HasMethod, InstanceOf, SequenceOf, validate_params
from .report.document import combine
from .vocabulary import ACCESS_LEVELS

__all__ = ["ACCESS_LEVELS", "DEFAULT_ATTACKS", "DEFAULT_PRIORS", "LABEL_SOURCES",
           "Assessment", "AttackSpec", "ThreatModel", "assess", "attack_records", "combine",
           "demo_warfarin", "expand_specs", "load_dataset", "run_attacks", "run_inventory",
           "split_dataset", "sweep_defences"]


_MAPPING = [InstanceOf(Mapping, "a mapping"), None]
_TEXT = [InstanceOf(str, "a str"), None]


_PATH = InstanceOf((str, PathLike), "a path")
_TABLE = [InstanceOf((str, PathLike, pd.DataFrame), "a file path or a DataFrame"), None]


@validate_params({"source": [InstanceOf((str, PathLike, Dataset),
                                        "a data set name, a data file or a Dataset"), None],
                  "card": [_PATH, InstanceOf(Card, "a Card"), None],
                  "params": _MAPPING, "ignore_columns": [SequenceOf(str)]}, error=DataError)
def load_dataset(source: str | PathLike[str] | Dataset | None = None,
                 card: str | PathLike[str] | Card | None = None, *,
                 params: Mapping[str, Any] | None = None,
                 ignore_columns: Sequence[str] = (), clip: bool = False,
                 allow_out_of_bounds: bool = False, seed: int | None = None) -> Dataset:
    """A data set: a built-in one by name, or a CSV / Parquet file with its card.

    Parameters
    ----------
    source : str, path or Dataset, optional
        A built-in name (``tabinv datasets list``; default ``iwpc``) or a data file.
    card : str, path or Card, optional
        The card (TOML) describing the file's columns; required for a file.
    params : mapping, optional
        Parameters of a built-in data set (``people``, ``snps`` for genomic).
    ignore_columns, clip, allow_out_of_bounds
        How a file is checked: columns left out, numbers outside the card's bounds
        clipped or kept (refused by default), as the CLI's options of the same names.
    seed : int, optional
        The seed of a generated built-in data set.

    Examples
    --------
    >>> load_dataset("iwpc").n_rows
    4162
    """
    options = DataOptions.from_flags(ignore_columns, clip=clip,
                                     allow_out_of_bounds=allow_out_of_bounds)
    return core.load_dataset(source, card=card, params=params, options=options, seed=seed)


@validate_params({"dataset": [InstanceOf((str, PathLike, Dataset),
                                         "a data set name, a data file or a Dataset"), None],
                  "card": [_PATH, InstanceOf(Card, "a Card"), None],
                  "model": [InstanceOf((str, PathLike), "a family name"),
                            InstanceOf(EndpointSpec, "a deployed endpoint"),
                            HasMethod("predict", "a model file, URI or object")],
                  "label": _TEXT, "dataset_params": _MAPPING, "model_params": _MAPPING,
                  "fractions": [SequenceOf(float)],
                  "splits": [InstanceOf(Splits, "a Splits"), None],
                  "members": _TABLE, "non_members": _TABLE, "reference": _TABLE,
                  "member_column": _TEXT, "ignore_columns": [SequenceOf(str)],
                  "feature_map": [_MAPPING[0], SequenceOf(str), None]}, error=DataError)
def assess(dataset: str | PathLike[str] | Dataset | None = None, model: Any = "linear", *,
           sensitive: Sequence[str], known: Sequence[str] | None = None,
           attacks: Sequence[AttackChoice] | None = None,
           priors: Sequence[PriorChoice] | None = None,
           attack_params: Mapping[str, Mapping[str, Any]] | None = None,
           access: str | None = None, decimals: int | None = None,
           label_source: str = "true", positive: Mapping[str, Any] | None = None,
           top_k: int = 100, n_boot: int = 200, random_state: int = 0,
           memory: int | None = None, shortcuts: bool = True,
           min_cell: int = DEFAULT_MIN_CELL,
           card: str | PathLike[str] | Card | None = None,
           label: str | None = None, dataset_params: Mapping[str, Any] | None = None,
           fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
           model_params: Mapping[str, Any] | None = None,
           splits: Splits | None = None,
           members: str | PathLike[str] | pd.DataFrame | None = None,
           non_members: str | PathLike[str] | pd.DataFrame | None = None,
           reference: str | PathLike[str] | pd.DataFrame | None = None,
           member_column: str | None = None,
           feature_map: Mapping[str, str] | Sequence[str] | None = None,
           trust: bool = False, allow_pickle: bool = False, allow_code: bool = False,
           ignore_columns: Sequence[str] = (), clip: bool = False,
           allow_out_of_bounds: bool = False,
           membership_attacks: Sequence[str] | None = None, shadows: int = 16,
           jobs: int = 1) -> Assessment:
    """Attack a model's training members and non-members and compare with baselines.

    The model is trained here (a family name: tabinv splits the data, or takes the given
    members) or given: a fitted model, or one tabinv did not train (a model file, an
    MLflow model directory, a ``models:/NAME/VERSION`` URI or a loaded scikit-learn /
    XGBoost / LightGBM object), whose owner says who trained it with ``members`` and
    ``non_members`` or ``member_column``.

    Parameters
    ----------
    dataset : str, path or Dataset, optional
        A built-in name (``tabinv datasets list``), a loaded :class:`Dataset`, or a data
        file (CSV / Parquet, with ``card``). With ``member_column``, the file whose column
        marks the members; with ``members``/``non_members``, leave it out.
    model : str, path, TargetModel or model object
        A family name (trained on the members), a fitted :class:`TargetModel`, or a model
        tabinv did not train: a path, an MLflow directory, a ``models:/`` URI, an object.
    sensitive, known, attacks, priors, attack_params, access, decimals, label_source,
    positive, top_k, n_boot, random_state, memory, shortcuts, min_cell
        The attacker (:class:`~tabinv.core.ThreatModel`, where each is documented).
        Defaults: the attacks of :data:`DEFAULT_ATTACKS` with the priors of
        :data:`DEFAULT_PRIORS`, as on the command line.
    card : str, path or Card, optional
        The card of the data file or of the membership tables.
    label : str, optional
        Another card column to use as the label.
    dataset_params : mapping, optional
        Parameters of a built-in data set (``people``, ``snps``, ``seed`` for genomic).
    fractions : (float, float, float)
        Members, non-members and reference shares of the rows (when tabinv splits).
    model_params : mapping, optional
        Parameters of the model family.
    splits : Splits, optional
        Given splits instead of splitting with ``random_state``.
    members, non_members, reference : path or DataFrame, optional
        The model's training records, records it did not see, and the attacker's own
        sample of the population (default: a seeded half of the non-members, which the
        results' dataset facts say as ``reference_source``).
    member_column : str, optional
        A column of the ``dataset`` file marking the members (1/0, true/false, yes/no,
        member/non-member).
    feature_map : mapping or list of "card=model" strings, optional
        Card column -> the model's own input name.
    trust, allow_pickle, allow_code : bool
        Opt-ins that run code from a model file: skops types outside the reviewed set,
        pickle / joblib files, an MLflow directory's own loader. Only for trusted files.
    ignore_columns, clip, allow_out_of_bounds
        How data files are checked against the card (see :func:`load_dataset`).
    membership_attacks : sequence of str, optional
        Also run these membership attacks (``loss``, ``lira-offline``, ``lira-online``,
        ``rmia``, ``gap``, ``label-noise``, or ``all``: every one that applies to the
        access, the last two only with label-only access) on the same members,
        non-members and reference sample, through the attribute attacks' oracle;
        their results are the assessment's ``membership_inference``
        (:class:`~tabinv.membership.verdict.MembershipOptions`).
    shadows, jobs : int
        Shadow models per set for LiRA, RMIA and label-noise, and the processes training
        them.

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
                         memory=memory, shortcuts=shortcuts, min_cell=min_cell)
    membership = Membership(members=members, non_members=non_members, reference=reference,
                            member_column=member_column)
    opening = ModelAccess(feature_map=feature_map, trust=trust, allow_pickle=allow_pickle,
                          allow_code=allow_code)
    options = DataOptions.from_flags(ignore_columns, clip=clip,
                                     allow_out_of_bounds=allow_out_of_bounds)
    attacking = None if membership_attacks is None else MembershipOptions(
        attacks=tuple(membership_attacks), shadows=shadows, jobs=jobs)
    return core.assess(threat, dataset, model, card=card, label=label,
                       dataset_params=dataset_params, options=options, fractions=fractions,
                       model_params=model_params, splits=splits, membership=membership,
                       access=opening, membership_attacks=attacking)


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
                   min_cell: int = DEFAULT_MIN_CELL,
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
                         memory=memory, shortcuts=shortcuts, min_cell=min_cell)
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
