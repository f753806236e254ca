"""The ``--memory`` budget: what an attack will hold, computed from sizes before allocating.

Everything an attack allocates in proportion to the number of joint candidates K (their
product of domain sizes) is sized here first, with Python integers (no overflow):
the candidate grid's tables (K x U grid points x the patched columns), one record's
chunk of grid rows and model outputs, and the (n, K) float64 posterior with the arrays
made alongside it (prior, likelihood, baselines). When the total does not fit the
budget the attack refuses in one line that gives the numbers and how to narrow it,
before anything of that size exists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..exceptions import AttackError
from ..models.encoding import TabularEncoder
from ..utils import format_bytes
from .pipeline import AHEAD

__all__ = ["FLOAT_BYTES", "POSTERIOR_COPIES", "chunk_records", "joint_size",
           "posterior_bytes", "record_bytes", "require", "require_grid"]

FLOAT_BYTES = 8
#: (n, K) float64 arrays alive at once while one attack's posterior is made and scored:
#: the posterior, a per-record prior or likelihood, and a baseline's posterior (or the
#: learned prior's classifier output) next to it
POSTERIOR_COPIES = 3

NARROW = ("infer fewer or smaller sensitive columns (or let the attacker know more "
          "columns), or raise --memory")

def joint_size(domain_sizes: Iterable[int]) -> int:
    """Number of joint candidates: the exact product of the domain sizes."""
    return math.prod(int(size) for size in domain_sizes)


def posterior_bytes(n_records: int, n_candidates: int, copies: int = 1) -> int:
    """Bytes of ``copies`` (n, K) float64 arrays."""
    return int(n_records) * int(n_candidates) * FLOAT_BYTES * int(copies)


def require(need: int, memory: int, what: str, n_candidates: int,
            per_record: bool = False) -> None:
    """Refuse (:class:`AttackError`) unless ``need`` bytes fit the ``memory`` budget.

    Parameters
    ----------
    need : int
        Bytes the step would hold at its peak.
    memory : int
        The budget (``--memory``).
    what : str
        What needs them ("one record's candidate grid", "the posteriors of 750 records").
    n_candidates : int
        Joint candidates K (named in the message).
    per_record : bool
        The need grows with the records attacked: fewer records is a way to narrow it.
    """
    if need <= memory:
        return
    raise AttackError(
        f"{what} over {n_candidates:,} joint candidates needs {format_bytes(need)}, more "
        f"than the memory budget of {format_bytes(memory)}; to narrow it: "
        f"{'attack fewer records, ' if per_record else ''}{NARROW}")


def record_bytes(n_points: int, width: int) -> int:
    """Bytes one record takes in a chunk: its G grid rows of ``width`` floats plus outputs,
    and the temporaries made from them (twice that)."""
    return n_points * (width + 8) * FLOAT_BYTES * 2


def chunk_records(available: int, per_record: int, per_query: int, cap: int) -> int:
    """Records per chunk when ``AHEAD + 1`` chunks of ``per_record`` bytes a record are
    in flight and the one being queried holds ``per_query`` bytes a record more (the
    model's own copy of its rows, :attr:`~tabinv.models.target.TargetModel.
    query_row_bytes`), within ``available`` bytes; one chunk is kept under ``cap``
    bytes. At least 1 (the caller refuses when one record does not fit)."""
    fits = available // max((AHEAD + 1) * per_record + per_query, 1)
    cached = cap // max(per_record + per_query, 1)
    return max(1, int(min(fits, cached)))


def require_grid(encoder: TabularEncoder, n_candidates: int, hidden: tuple[str, ...],
                 n_support: int, memory: int) -> int:
    """Bytes of the grid's tables for K candidates x ``n_support`` unknown combinations;
    refuses (:class:`AttackError`) unless they fit ``memory`` with one record's chunks.

    Per grid point the grid keeps the hidden columns' codes and their encoded blocks,
    and builds the patch matrix (every encoded column) and its byte runs from them; a
    chunk holds its records' grid rows and outputs, up to ``AHEAD + 1`` chunks at once.
    The chunks' width depends on the path the oracle allows (the model's parts answer
    with a few numbers per point): here the narrowest, one number per point; the exact
    check is made before inference
    (:meth:`~tabinv.attacks.grid.CandidateGrid.fixed_bytes`).
    """
    patched = sum(stop - start for start, stop in (encoder.slices_[n] for n in hidden))
    width = encoder.n_output_
    n_points = n_candidates * n_support
    tables = n_points * (len(hidden) + 2 * patched + 2 * width + 1) * FLOAT_BYTES
    need = tables + (AHEAD + 1) * record_bytes(n_points, 1)
    require(need, memory, f"the candidate grid ({n_points:,} grid points of {width} "
            "encoded columns) and one record's chunks", n_candidates)
    return tables
