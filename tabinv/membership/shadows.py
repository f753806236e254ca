"""Shadow (reference) models: the attacker's own models trained on random halves of its
data, so that each record is IN for about half of them and OUT for the rest.

A shadow is a fresh clone of the target (same family and hyperparameters, a new seed)
when tabinv trained the target and so knows its family: :class:`TargetModel` and
:class:`~tabinv.models.dp.DPTargetModel` (a DP shadow spends its own budget, never the
run's). Any other model (a file or endpoint tabinv only queries) has unknown
hyperparameters: its shadows are a stated substitute family built by
:func:`~tabinv.models.families.make_model`, and :attr:`ShadowSet.source` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from ..data.schema import card_from_dict
from ..exceptions import AttackError
from ..models.dp import DPTargetModel
from ..models.families import make_model
from ..models.oracle import Oracle
from ..models.target import TargetModel
from ..processes import cap_jobs, joblib_workers
from ..utils import RandomState, check_random_state
from .cluster import fit_on_dask, half
from .queries import label_confidence

__all__ = ["ShadowSet", "balanced_halves", "record_keys", "shadow_blueprint",
           "train_shadows", "DEFAULT_SUBSTITUTE"]

#: the family of shadow models for a target whose family tabinv does not know
DEFAULT_SUBSTITUTE = "forest"
#: most shadow models one call trains
MAX_SHADOWS = 1024
#: most (shadow, record) answers held at once (8 bytes each: 400 MB)
MAX_SHADOW_CELLS = 50_000_000


def check_cells(n_shadows: int, n_records: int) -> None:
    """Refuse a (shadows x records) table above :data:`MAX_SHADOW_CELLS`, with numbers."""
    if n_shadows * n_records > MAX_SHADOW_CELLS:
        raise AttackError(f"{n_shadows} shadow models x {n_records} records need "
                          f"{n_shadows * n_records} answers, more than {MAX_SHADOW_CELLS}; "
                          "use fewer shadows or score the records in parts")


def shadow_blueprint(model: TargetModel, substitute: str = DEFAULT_SUBSTITUTE
                     ) -> tuple[TargetModel, str]:
    """An unfitted model to clone for every shadow, and a sentence saying what it is.

    Parameters
    ----------
    model : TargetModel
        The fitted target.
    substitute : str
        Family (:func:`~tabinv.models.families.family_names`) used when tabinv did not
        train the target and does not know its hyperparameters.
    """
    if type(model) in (TargetModel, DPTargetModel) and model.family != "iwpc-published":
        blueprint = clone(model)
        if isinstance(blueprint, DPTargetModel):
            blueprint.set_params(accountant=None)  # shadows do not spend the run's budget
        epsilon = (f" at epsilon {model.epsilon:g}" if isinstance(model, DPTargetModel)
                   else "")
        return blueprint, (f"clones of the target: family {model.family!r}{epsilon}, same "
                           "hyperparameters, a new seed each")
    card = card_from_dict(dict(model.card or {}), origin="the target's card")
    blueprint = make_model(substitute, card, categorical="onehot")
    return blueprint, (f"substitute family {substitute!r} with tabinv's default "
                       f"hyperparameters: tabinv did not train the {model.family} target "
                       "and does not know its hyperparameters")


def _reseeded(blueprint: TargetModel, seed: int) -> TargetModel:
    """A clone of ``blueprint`` whose every ``random_state`` parameter is ``seed``."""
    shadow = clone(blueprint)
    names = [k for k in shadow.estimator.get_params(deep=True)
             if k == "random_state" or k.endswith("__random_state")]
    shadow.estimator.set_params(**dict.fromkeys(names, seed))
    return shadow


def balanced_halves(n_shadows: int, n_records: int, random_state: RandomState
                    ) -> np.ndarray:
    """(S, N) booleans: ``keep[s, i]`` when record ``i`` trains shadow ``s``.

    Each record is IN for exactly ``S // 2`` shadows (Carlini et al. 2022's assignment),
    so every shadow trains on about half of the records.

    Examples
    --------
    >>> balanced_halves(4, 3, random_state=0).sum(axis=0).tolist()
    [2, 2, 2]
    """
    rng = check_random_state(random_state)
    order = np.argsort(rng.random((n_shadows, n_records)), axis=0)
    return order < n_shadows // 2


def record_keys(records: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """A 64-bit hash of each record's ``columns`` (to find records among the shadows'
    training pool)."""
    return pd.util.hash_pandas_object(records[list(columns)], index=False).to_numpy()


@dataclass(frozen=True)
class ShadowSet:
    """Fitted shadow models and which records trained each.

    Attributes
    ----------
    models : tuple of TargetModel
        The fitted shadows.
    pool : pandas.DataFrame
        The records the shadows were drawn from (the attacker's data).
    keep : numpy.ndarray of bool, shape (S, len(pool))
        ``keep[s, i]``: pool record ``i`` trained shadow ``s``.
    source : str
        What the shadows are (clones of the target, or the stated substitute).
    """

    models: tuple[TargetModel, ...]
    pool: pd.DataFrame
    keep: np.ndarray
    source: str

    def in_mask(self, records: pd.DataFrame) -> np.ndarray:
        """(S, n) booleans: which shadows trained on each of ``records`` (all False for
        a record outside the pool). Records are matched by content, so a record whose
        exact copy trained a shadow counts as in it (tabular data repeat rows: the
        shadow has seen that record whichever copy it drew)."""
        model = self.models[0]
        columns = (*model.features, model.label)
        codes, keys = pd.factorize(record_keys(self.pool, columns))
        # in_key[s, k]: shadow s trained on some pool copy of distinct record k
        in_key = np.zeros((len(self.models), len(keys)), dtype=bool)
        np.logical_or.at(in_key, (slice(None), codes), self.keep)
        position = pd.Index(keys).get_indexer(record_keys(records, columns))
        mask = np.zeros((len(self.models), len(records)), dtype=bool)
        found = position >= 0
        mask[:, found] = in_key[:, position[found]]
        return mask

    def confidences(self, oracle: Oracle, records: pd.DataFrame) -> np.ndarray:
        """(S, n) confidence of each record's true label under each shadow, seen through
        ``oracle``'s answers (rounding) like the target's."""
        check_cells(len(self.models), len(records))
        return np.vstack([label_confidence(oracle, records, shadow) for shadow in self.models])


def _fit_one(index: int, shadow: TargetModel, frame: pd.DataFrame) -> tuple[int, TargetModel]:
    return index, shadow.fit(frame)


def train_shadows(target: TargetModel, pool: pd.DataFrame, *, n_shadows: int,
                  n_jobs: int = 1, client: Any = None, substitute: str = DEFAULT_SUBSTITUTE,
                  random_state: RandomState = 0) -> ShadowSet:
    """Train ``n_shadows`` shadow models on balanced random halves of ``pool``.

    Parameters
    ----------
    target : TargetModel
        The fitted target (decides the shadows' family, see :func:`shadow_blueprint`).
    pool : pandas.DataFrame
        The attacker's records: its reference sample, plus the attacked records for
        LiRA's online variant.
    n_shadows : int
        Number of shadows, 2 to :data:`MAX_SHADOWS`.
    n_jobs : int
        Worker processes on this machine (capped by the available cores); -1 for every
        core. Leave it at 1 with ``client``.
    client : distributed.Client or str, optional
        A Dask cluster to train the shadows on, one task per shadow: a client (left
        open) or a scheduler address (connected to for this call, then closed); see
        :func:`~tabinv.membership.cluster.fit_on_dask`.
    substitute : str
        Shadow family when tabinv does not know the target's.
    random_state : int, Generator or None
        Seeds the halves and each shadow; the same seed gives the same shadows, bit for
        bit, whatever ``n_jobs`` or ``client``.

    Returns
    -------
    ShadowSet

    Raises
    ------
    AttackError
        Bad ``n_shadows``, ``n_jobs`` above 1 with ``client``, a Dask cluster asked for
        but not reachable (or Dask not installed), or a half with a single label class.
    """
    if isinstance(n_shadows, bool) or not isinstance(n_shadows, (int, np.integer)) \
            or not 2 <= n_shadows <= MAX_SHADOWS:
        raise AttackError(f"n_shadows must be a whole number from 2 to {MAX_SHADOWS}, "
                          f"received {n_shadows!r}")
    if len(pool) < 4:
        raise AttackError(f"shadow models need at least 4 records to split, received "
                          f"{len(pool)}")
    check_cells(int(n_shadows), len(pool))
    if client is not None and n_jobs != 1:
        raise AttackError(f"n_jobs sets worker processes on this machine; with a Dask client "
                          f"the cluster's workers train the shadows: leave n_jobs at 1 "
                          f"(received {n_jobs!r})")
    rng = check_random_state(random_state)
    keep = balanced_halves(int(n_shadows), len(pool), rng)
    seeds = rng.integers(0, 2**31 - 1, size=int(n_shadows))
    blueprint, source = shadow_blueprint(target, substitute)
    shadows = [_reseeded(blueprint, int(seed)) for seed in seeds]
    if client is not None:
        models = fit_on_dask(client, shadows, pool, keep)
    else:
        models = _fit_here(shadows, pool, keep, n_jobs)
    return ShadowSet(models=models, pool=pool.reset_index(drop=True), keep=keep, source=source)


def _fit_here(shadows: list[TargetModel], pool: pd.DataFrame, keep: np.ndarray,
              n_jobs: int) -> tuple[TargetModel, ...]:
    """The shadows fitted in this process (``n_jobs`` 1) or joblib worker processes, in
    the order given whatever order they finish in."""
    jobs = cap_jobs(n_jobs, tasks=len(shadows), option="n_jobs").jobs
    with joblib_workers(jobs) as parallel:
        from joblib import delayed
        fitted = dict(parallel(delayed(_fit_one)(s, shadow, half(pool, keep[s]))
                               for s, shadow in enumerate(shadows)))
    return tuple(fitted[s] for s in range(len(shadows)))
