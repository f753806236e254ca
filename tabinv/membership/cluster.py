"""Shadow models trained on a Dask cluster: each shadow one task, results in shadow order.

The cluster is the caller's: a :class:`distributed.Client` it opened (used, never
closed here) or a scheduler address (connected to for the call, and that connection
closed when the shadows are back). Nothing here starts a cluster, so none is left
running. The attacker's pool is sent to the cluster once (``scatter``); each task gets
the pool, its own half (a row of the ``keep`` table) and a clone of the blueprint that
carries its own seed, so the shadows are those :func:`~.shadows.train_shadows` trains
in this process, bit for bit, however the scheduler places or orders the tasks. Dask is
imported only here, when a cluster is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from ..models.target import TargetModel

__all__ = ["CONNECT_TIMEOUT", "fit_half", "fit_on_dask", "half"]

#: seconds to wait for a scheduler given by address
CONNECT_TIMEOUT = 30


def half(pool: pd.DataFrame, keep_row: np.ndarray) -> pd.DataFrame:
    """The records of ``pool`` where ``keep_row`` is True: one shadow's training set
    (the same frame wherever the shadow is fitted)."""
    return pool[keep_row].reset_index(drop=True)


def fit_half(shadow: TargetModel, pool: pd.DataFrame, keep_row: np.ndarray) -> TargetModel:
    """One Dask task: ``shadow`` fitted on its :func:`half` of ``pool``."""
    return shadow.fit(half(pool, keep_row))


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise AttackError(f"training shadows on a Dask cluster needs Dask's distributed "
                          f"scheduler ({error.msg}); install it with "
                          "pip install 'dask[distributed]' (a tabinv dependency), or leave "
                          "client unset to train them on this machine") from None
    return distributed


@contextmanager
def _connected(client: Any) -> Iterator[Any]:
    """The given client, or a client of the scheduler at the address ``client``, closed
    when the block ends."""
    distributed = _distributed()
    if isinstance(client, distributed.Client):
        yield client
        return
    if not isinstance(client, str) or not client.strip():
        raise AttackError(f"client must be a distributed.Client or a Dask scheduler "
                          f"address such as 'tcp://127.0.0.1:8786', received "
                          f"{type(client).__name__}")
    try:
        opened = distributed.Client(client, timeout=f"{CONNECT_TIMEOUT}s",
                                    set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise AttackError(f"cannot reach the Dask scheduler at {client[:200]!r} within "
                          f"{CONNECT_TIMEOUT} s: {str(error).splitlines()[0][:200]}"
                          ) from None
    try:
        yield opened
    finally:
        opened.close()


def fit_on_dask(client: Any, shadows: Sequence[TargetModel], pool: pd.DataFrame,
                keep: np.ndarray) -> tuple[TargetModel, ...]:
    """Fit ``shadows[s]`` on ``pool[keep[s]]`` as one Dask task each.

    Parameters
    ----------
    client : distributed.Client or str
        The cluster: a client (left open) or a scheduler address (connected to for
        this call only).
    shadows : sequence of TargetModel
        Unfitted shadows, each already carrying its own seed.
    pool : pandas.DataFrame
        The records the halves are drawn from (sent to the cluster once).
    keep : numpy.ndarray of bool, shape (len(shadows), len(pool))

    Returns
    -------
    tuple of TargetModel
        The fitted shadows, in the order of ``shadows``.

    Raises
    ------
    AttackError
        Dask missing, a bad ``client`` or an unreachable scheduler; or the cluster lost
        the tasks (cancelled, workers dying each time, the connection closed). A task's
        own error (a half with one label class ...) is raised as the task raised it; the
        tasks still pending are cancelled.
    """
    from concurrent.futures import CancelledError

    lost = (CancelledError, OSError, _distributed().KilledWorker)
    with _connected(client) as connected:
        pool_future = connected.scatter(pool, hash=False)
        futures = [connected.submit(fit_half, shadow, pool_future, keep[s], pure=False)
                   for s, shadow in enumerate(shadows)]
        try:
            return tuple(connected.gather(futures))
        except lost as error:
            text = (str(error).strip().splitlines() or [""])[0][:200]
            raise AttackError(f"the Dask cluster did not train the shadow models "
                              f"({type(error).__name__}: {text})") from None
        finally:  # on success: frees the cluster's copies; on error: stops the rest
            connected.cancel([*futures, pool_future])
