"""The N x K candidate grid, built in encoded space and scored in memory-bounded chunks.

Known features are encoded once per record. Candidate rows are formed by repeating the
encoded record G = K x U times and overwriting only the columns of the sensitive
attribute(s) (K joint candidates) and of the features the attacker does not know
(U support points, weighted by their priors). No Python loop runs over records or
candidates: only over chunks of records.

Linear and logistic models are not queried on the grid at all: their outputs on every
grid row follow from one product per record plus one per grid point
(:mod:`tabinv.attacks.fastpath`). Tree ensembles are not queried either: one compiled
walk per record and tree finds the leaves of all its grid points
(:mod:`tabinv.attacks.treegrid`). Both are chosen automatically when the oracle offers
the model's parts, and give the same answers as the queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ..exceptions import AttackError
from ..models.encoding import TabularEncoder
from ..models.oracle import Oracle
from .budget import chunk_records, posterior_bytes, record_bytes, require, require_grid
from .candidates import Candidates, normalise_log_scores, row_sums
from .fastpath import LinearGridScorer
from .likelihood import confidence_log_likelihood, label_confidence
from .pipeline import AHEAD, LazyRecords, pipelined
from .priors import shared_row
from .treegrid import TreeGridScorer, tree_parts
from .unknowns import UnknownFeatures

__all__ = ["CandidateGrid", "DEFAULT_MEMORY"]

DEFAULT_MEMORY = 1 << 30  # bytes one chunk of grid rows and model outputs may take
CACHE_FRIENDLY = 64 << 20  # bytes per chunk that measured fastest


class CandidateGrid:
    """Encoded candidate rows for a fixed encoder, candidate set and unknown features.

    Its size is checked against ``memory`` (bytes) before any of it is built.
    """

    def __init__(self, encoder: TabularEncoder, candidates: Candidates,
                 unknown: UnknownFeatures, memory: int = DEFAULT_MEMORY) -> None:
        self.encoder = encoder
        self.candidates = candidates
        self.unknown = unknown
        self.table_bytes = require_grid(encoder, candidates.size,
                                        (*candidates.names, *unknown.names), unknown.size,
                                        memory)
        k, (unknown_index, unknown_log_weight) = candidates.size, unknown.combos()
        u = len(unknown_index)
        self.log_weight = np.tile(unknown_log_weight, k)  # (G,)
        self.n_points = k * u
        self.patches: list[tuple[slice, np.ndarray]] = []
        self._byte_cache: dict[np.dtype, list[tuple[int, int, np.ndarray]]] = {}
        self._scorers: dict[int, tuple[Oracle, Any, Any]] = {}
        codes = np.repeat(candidates.codes, u, axis=0)  # grid point g = k * U + u
        for a, name in enumerate(candidates.names):
            self.patches.append((self._slice(name), encoder.block(name, codes[:, a])))
        tiled = np.tile(unknown_index, (k, 1))
        for j, name in enumerate(unknown.names):
            support = unknown.values[j]
            if encoder.is_categorical(name):
                block = encoder.block(name, tiled[:, j])
            else:
                block = encoder.scale(name, np.asarray(support, float)[tiled[:, j]])[:, None]
            self.patches.append((self._slice(name), block))

    def _slice(self, name: str) -> slice:
        start, stop = self.encoder.slices_[name]
        return slice(start, stop)

    def rows(self, encoded: np.ndarray) -> np.ndarray:
        """(n * G, d) candidate rows for encoded records (n, d), in their float type.

        Each run of adjacent patched columns is written as one opaque item of its bytes
        per row (a void view), not as a few floats each: numpy then copies one item per
        row instead of running a short inner loop per row (about twice as fast).
        """
        n, d = encoded.shape
        grid = np.repeat(encoded, self.n_points, axis=0)
        row_bytes = grid.view(np.uint8).reshape(n, self.n_points, d * grid.itemsize)
        for start, stop, items in self._byte_patches(grid.dtype):
            row_bytes[:, :, start:stop].view(items.dtype)[..., 0] = items
        return grid

    def patch_values(self, dtype: Any = float) -> tuple[np.ndarray, np.ndarray]:
        """(G, width) values of the patched columns at every grid point (zeros in the
        other columns) in ``dtype``, and the (width,) mask of patched columns."""
        width = self.encoder.n_output_
        values = np.zeros((self.n_points, width), dtype=dtype)
        patched = np.zeros(width, dtype=bool)
        for columns, block in self.patches:
            values[:, columns] = block
            patched[columns] = True
        return values, patched

    def _byte_patches(self, dtype: np.dtype) -> list[tuple[int, int, np.ndarray]]:
        """Runs of adjacent patched columns as (first byte, end byte, (G,) void items)."""
        cached = self._byte_cache.get(dtype)
        if cached is None:
            values, patched = self.patch_values(dtype)
            edges = np.flatnonzero(np.diff(np.concatenate([[0], patched.astype(int), [0]])))
            size = values.itemsize
            cached = []
            for first, end in zip(edges[::2], edges[1::2], strict=True):
                run = np.ascontiguousarray(values[:, first:end])
                items = run.view(np.dtype((np.void, (end - first) * size)))[:, 0]
                cached.append((int(first) * size, int(end) * size, items))
            self._byte_cache[dtype] = cached
        return cached

    def chunk_size(self, width: int, memory: int, reserved: int = 0,
                   query_bytes: int = 0) -> int:
        """Records per chunk so that the chunks in flight fit in ``memory`` bytes.

        ``width`` is the number of floats held per grid point (the encoded width plus
        outputs for the generic path). The pipeline holds up to three chunks at once
        (two prepared, one being queried); the one being queried also holds
        ``query_bytes`` per grid point inside the model (:meth:`query_bytes`). The
        grid's tables and ``reserved`` bytes (the result being filled) come out of the
        budget first. Chunks go down to one record; when one record's chunks do not fit,
        the attack refuses. They are also kept near ``CACHE_FRIENDLY`` bytes: larger
        temporaries were measured to be slower (page faults), not faster.
        """
        per_record = record_bytes(self.n_points, width)
        per_query = self.n_points * query_bytes
        available = memory - self.table_bytes - reserved
        if (AHEAD + 1) * per_record + per_query > available:
            require(self.table_bytes + reserved + (AHEAD + 1) * per_record + per_query,
                    memory, f"one record's chunk of the candidate grid ({self.n_points:,} "
                    "grid points) next to the result", self.candidates.size)
        return chunk_records(available, per_record, per_query, CACHE_FRIENDLY)

    def point_width(self, oracle: Oracle) -> int:
        """Floats a chunk holds per grid point on ``oracle``'s path: the encoded width
        when the model is queried, the scorer's outputs otherwise (one number for a
        linear regression's Gaussian shortcut)."""
        scorer = self.scorer(oracle)
        if scorer is None:
            return int(self.encoder.n_output_)
        if isinstance(scorer, LinearGridScorer) and scorer.gaussian_shortcut \
                and not self.unknown.names:
            return 1
        return int(scorer.outputs_per_point)

    def query_bytes(self, oracle: Oracle) -> int:
        """Bytes per grid point the model holds while it answers a chunk on ``oracle``'s
        path: its :attr:`~tabinv.models.target.TargetModel.query_row_bytes` when it is
        queried (a foreign model's own copy of the rows: a DataFrame, a pipeline's
        one-hot matrix, per-tree outputs), 0 when a scorer answers from its parts."""
        if self.scorer(oracle) is not None:
            return 0
        return max(0, int(oracle.model.query_row_bytes))

    def fixed_bytes(self, oracle: Oracle) -> int:
        """The grid's tables plus the chunks in flight when each holds one record."""
        return self.table_bytes + (AHEAD + 1) * record_bytes(
            self.n_points, self.point_width(oracle)) + self.n_points * self.query_bytes(oracle)

    def map_chunks(self, oracle: Oracle, encoded: np.ndarray | LazyRecords,
                   reduce: Callable[[np.ndarray, slice], np.ndarray],
                   memory: int = DEFAULT_MEMORY, out: np.ndarray | None = None,
                   reserved: int = 0) -> np.ndarray:
        """Query the oracle on the grid chunk by chunk and reduce each chunk.

        ``reduce(outputs, records)`` receives the oracle's outputs shaped (n_c, G, ...)
        for the records ``records`` (a slice) and returns an array (n_c, ...); the
        chunks' results are stacked. Building rows and reducing run in a worker thread
        while the model answers the previous chunk (:func:`~tabinv.attacks.pipeline.
        pipelined`); ``encoded`` may be :class:`~tabinv.attacks.pipeline.LazyRecords`
        so that encoding overlaps too. ``out`` receives the stacked result; a ``reduce``
        that already wrote its part into ``out`` is not copied again. ``reserved``: bytes
        of the budget already taken by the caller (the result and the prior).
        """
        source = encoded if isinstance(encoded, LazyRecords) else LazyRecords.of(encoded)
        scorer = self.scorer(oracle)
        if scorer is None:
            step = self.chunk_size(source.width, memory, reserved, self.query_bytes(oracle))

            def prepare(chunk: tuple[int, int]) -> np.ndarray:
                return self.rows(source.get(*chunk))

            query: Callable[[np.ndarray], np.ndarray] = oracle.query_encoded
        else:
            step = self.chunk_size(scorer.outputs_per_point, memory, reserved)

            def prepare(chunk: tuple[int, int]) -> np.ndarray:
                return source.get(*chunk)

            query = scorer.outputs
        stored: list[np.ndarray] = [] if out is None else [out]

        def finish(outputs: np.ndarray, chunk: tuple[int, int]) -> None:
            start, stop = chunk
            if scorer is None:  # the model answered (n_c G, ...) rows
                outputs = outputs.reshape(stop - start, self.n_points, *outputs.shape[1:])
            part = reduce(outputs, slice(start, stop))
            if not stored:  # written in place: no list of parts to concatenate
                stored.append(np.empty((source.n, *part.shape[1:]), dtype=part.dtype))
            target = stored[0][start:stop]
            if not np.shares_memory(part, target):
                target[...] = part

        # the linear path's "query" is cheap arithmetic: reduce right after it, in this
        # thread, and leave encoding to the worker
        pipelined(source.chunks(step), prepare, query, finish,
                  finish_here=isinstance(scorer, LinearGridScorer))
        return stored[0]

    def scorer(self, oracle: Oracle) -> LinearGridScorer | TreeGridScorer | None:
        """What answers the grid's queries without building its rows, when the model's
        parts allow it (a linear model, a tree ensemble), else None (query the model).
        Made once per oracle: a forest's walk plan takes tens of milliseconds."""
        estimator = getattr(oracle.model, "estimator_", None)  # a refit model: remade
        cached = self._scorers.get(id(oracle))
        if cached is not None and cached[0] is oracle and cached[1] is estimator:
            return cached[2]
        scorer: LinearGridScorer | TreeGridScorer | None = None
        linear = oracle.linear_parts()
        if linear is not None:
            scorer = LinearGridScorer(oracle, linear, self.patches)
        else:
            trees = tree_parts(oracle)
            if trees is not None and TreeGridScorer.fits(trees, self.n_points):
                scorer = TreeGridScorer(trees, *self.patch_values(np.float32), oracle)
        self._scorers = {id(oracle): (oracle, estimator, scorer)}  # the latest only
        return scorer

    def _log_likelihood_reduce(self, score: Callable[[np.ndarray, np.ndarray], np.ndarray],
                               y: np.ndarray) -> Callable[[np.ndarray, slice], np.ndarray]:
        k = self.candidates.size

        def reduce(outputs: np.ndarray, records: slice) -> np.ndarray:
            log_lik = score(outputs, y[records])
            if not self.unknown.names:  # one point per candidate, log weight 0
                return log_lik
            log_lik += self.log_weight[None, :]
            return logsumexp(log_lik.reshape(log_lik.shape[0], k, self.n_points // k), axis=2)

        return reduce

    def log_likelihood(self, oracle: Oracle, encoded: np.ndarray | LazyRecords,
                       score: Callable[[np.ndarray, np.ndarray], np.ndarray], y: np.ndarray,
                       memory: int = DEFAULT_MEMORY, reserved: int | None = None
                       ) -> np.ndarray:
        """log p(y | candidate, known) with unknowns summed out, shape (n, K).

        ``score(outputs, y)`` turns the oracle's outputs (n, G, ...) into (n, G) log
        likelihoods.
        """
        n = encoded.n if isinstance(encoded, LazyRecords) else len(encoded)
        if reserved is None:
            reserved = posterior_bytes(n, self.candidates.size)
        return self.map_chunks(oracle, encoded, self._log_likelihood_reduce(score, y), memory,
                               reserved=reserved)

    def posterior(self, oracle: Oracle, encoded: np.ndarray | LazyRecords,
                  score: Callable[[np.ndarray, np.ndarray], np.ndarray], y: np.ndarray,
                  log_prior: np.ndarray, method: str,
                  memory: int = DEFAULT_MEMORY, reserved: int | None = None) -> np.ndarray:
        """Posterior probabilities (n, K): the log likelihood plus ``log_prior`` (n, K),
        normalised chunk by chunk while the chunk is still in cache. ``reserved``: bytes
        of the budget the caller holds (default: the result and a per-record prior)."""
        source = encoded if isinstance(encoded, LazyRecords) else LazyRecords.of(encoded)
        k = self.candidates.size
        if reserved is None:
            reserved = posterior_bytes(source.n, k,
                                       1 if shared_row(log_prior) is not None else 2)
        result = np.empty((source.n, k))
        scorer = self.scorer(oracle)
        if (isinstance(scorer, LinearGridScorer) and scorer.gaussian_shortcut
                and not self.unknown.names):
            sigma = oracle.residual_sigma  # a linear regression: no grid output at all
            if not sigma > 0:
                raise AttackError(f"residual sigma must be positive, got {sigma!r}")

            def encode(chunk: tuple[int, int]) -> np.ndarray:
                return source.get(*chunk)  # in the worker thread

            def gaussian(encoded_chunk: np.ndarray, chunk: tuple[int, int]) -> None:
                start, stop = chunk
                scores = scorer.gaussian_log_scores(encoded_chunk, y[start:stop], sigma,
                                                    log_prior[start:stop])
                normalise_log_scores(scores, method, out=result[start:stop])

            step = self.chunk_size(1, memory, reserved)
            pipelined(source.chunks(step), encode, lambda encoded_chunk: encoded_chunk,
                      gaussian, finish_here=True)
            return result
        if score is confidence_log_likelihood and not self.unknown.names:
            reduce = self._confidence_posterior(y, log_prior, method, result)
        else:
            log_likelihood = self._log_likelihood_reduce(score, y)

            def reduce(outputs: np.ndarray, records: slice) -> np.ndarray:
                log_scores = log_likelihood(outputs, records)
                log_scores += log_prior[records]
                return normalise_log_scores(log_scores, method, out=result[records])

        self.map_chunks(oracle, source, reduce, memory, out=result, reserved=reserved)
        return result

    @staticmethod
    def _confidence_posterior(y: np.ndarray, log_prior: np.ndarray, method: str,
                              result: np.ndarray) -> Callable[[np.ndarray, slice], np.ndarray]:
        """Confidence access, nothing unknown: posterior = f_y(x) p(s) / sum, computed
        in probability space (no log and exp per grid point: the confidence is at least
        1e-12 and the prior a probability, so nothing underflows)."""
        row = shared_row(log_prior)
        prior_row = None if row is None else np.exp(row)

        def reduce(outputs: np.ndarray, records: slice) -> np.ndarray:
            target = result[records]
            label_confidence(outputs, y[records], out=target)
            target *= prior_row if prior_row is not None else np.exp(log_prior[records])
            totals = row_sums(target)
            if not (totals > 0).all():
                raise AttackError(f"{method}: a record has no candidate with a finite score")
            target /= totals[:, None]
            return target

        return reduce

    def expected_outputs(self, oracle: Oracle, encoded: np.ndarray | LazyRecords,
                         n_classes: int = 0, memory: int = DEFAULT_MEMORY,
                         reserved: int | None = None) -> np.ndarray:
        """The oracle's output per candidate, averaged over unknowns with their priors.

        Confidences give (n, K, C); labels give the (n, K, C) distribution of the
        predicted label (one-hot when no feature is unknown; ``n_classes`` = C);
        regression outputs give (n, K).
        """
        k = self.candidates.size
        weights = np.exp(self.log_weight).reshape(k, -1)
        model = oracle.model
        classes = len(model.domain(model.label)) if model.task == "classification" else 1
        n = encoded.n if isinstance(encoded, LazyRecords) else len(encoded)

        def reduce(outputs: np.ndarray, records: slice) -> np.ndarray:
            if outputs.ndim == 2 and n_classes:
                outputs = np.eye(n_classes)[outputs]
            shaped = outputs.reshape(outputs.shape[0], k, weights.shape[1], *outputs.shape[2:])
            expand = weights.reshape(1, k, -1, *([1] * (shaped.ndim - 3)))
            return (shaped * expand).sum(axis=2) / weights.sum(axis=1).reshape(
                1, k, *([1] * (shaped.ndim - 3)))

        if reserved is None:
            reserved = posterior_bytes(n, k, classes)
        return self.map_chunks(oracle, encoded, reduce, memory, reserved=reserved)

    @staticmethod
    def known_columns(features: Sequence[str], sensitive: Sequence[str],
                      unknown: Sequence[str]) -> list[str]:
        hidden = set(sensitive) | set(unknown)
        return [f for f in features if f not in hidden]
