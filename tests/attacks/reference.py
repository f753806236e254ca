"""Brute-force reference implementation of MAP attribute inversion.

Plain Python loops over records, joint candidates and combinations of the unknown
features. The model is only used through its public frame API (``predict_fitted`` /
``predict_proba`` on a one-row data frame), the likelihoods, the weights of the unknown
features and the priors are computed from their textbook formulas, and the scores are
multiplied and normalised in probability space (no logs, no encoding, no grid):

    score(v) = prior(v | record) * sum_{u} pi(y | f(v, x_K, u)) * prod_j w_j(u_j)

It is deliberately slow and obviously correct; the vectorised
:class:`tabinv.attacks.map.MAPInversion` must agree with it.

Speed: asking the model one row at a time costs ~1 ms a query. With ``batch=True`` the
same loops first list every one-row query, ask the model for all of them in one call
(a frame is scored row by row: row i of the answer depends on row i of the frame only;
``test_batched_queries_equal_one_row_queries`` checks it), then read the answers back
one row at a time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

FLOOR = 1e-12


def quantile(values: Sequence[float], p: float) -> float:
    """Linear-interpolation quantile (numpy's default method), written out."""
    ordered = sorted(float(v) for v in values)
    position = (len(ordered) - 1) * p
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


class FrameOracle:
    """What the attacker sees of one record, asked through the model's frame API."""

    def __init__(self, model: Any, access: str, rounding: int | None = None,
                 batch: bool = False) -> None:
        self.model = model
        self.access = access
        self.rounding = rounding
        self.batch = batch
        self.pending: list[dict[str, Any]] = []
        self.answers: dict[tuple[Any, ...], Any] = {}
        self.n_model_calls = 0

    @staticmethod
    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row.items())

    def _ask_model(self, frame: pd.DataFrame) -> list[Any]:
        self.n_model_calls += 1
        if self.access == "output":
            return [float(v) for v in self.model.predict_fitted(frame)]
        if self.access == "label":
            return [int(v) for v in self.model.predict_fitted(frame)]
        probabilities = self.model.predict_proba(frame)
        if self.rounding is not None:
            probabilities = np.round(probabilities, self.rounding)
        return [list(map(float, row)) for row in probabilities]

    def plan(self, row: dict[str, Any]) -> None:
        """Remember a query to ask later (batch mode only)."""
        self.pending.append(row)

    def run_planned(self) -> None:
        if not self.pending:
            return
        answers = self._ask_model(pd.DataFrame(self.pending))
        for row, answer in zip(self.pending, answers, strict=True):
            self.answers[self.key(row)] = answer
        self.pending = []

    def ask(self, row: dict[str, Any]) -> Any:
        if self.batch:
            return self.answers[self.key(row)]
        return self._ask_model(pd.DataFrame([row]))[0]


def label_on_fitted_scale(model: Any, value: Any) -> Any:
    """The attacker's label as the likelihood needs it: class index or fitted number."""
    card = model.card
    if model.task == "classification":
        return list(card["columns"][model.label]["domain"]).index(value)
    number = float(value)
    return math.sqrt(number) if card.get("target_transform") == "sqrt" else number


def likelihood(model: Any, access: str, answer: Any, y: Any, confusion: str,
               smoothing: float) -> float:
    """pi(y | what the oracle answered)."""
    if access == "output":
        sigma = float(model.residual_sigma_)
        z = (y - answer) / sigma
        return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2.0 * math.pi))
    if access == "confidence":
        return max(answer[y], FLOOR)
    counts = np.asarray(model.confusion_)
    n_classes = counts.shape[0]
    predicted = answer
    if confusion == "bayes":  # P(true = y | predicted)
        total = sum(counts[t][predicted] + smoothing for t in range(n_classes))
    else:  # P(predicted | true = y)
        total = sum(counts[y][p] + smoothing for p in range(n_classes))
    if total == 0:  # (smoothing 0) a class never predicted / never true: no information
        return 1.0 / n_classes
    return max((counts[y][predicted] + smoothing) / total, FLOOR)


def unknown_support(model: Any, unknown: Sequence[str], reference: pd.DataFrame,
                    numeric_points: int, smoothing: float,
                    training: pd.DataFrame | None = None) -> list[list[tuple[Any, float]]]:
    """For each unknown feature: (value, prior weight) pairs.

    A categorical feature the reference sample lacks is weighted by its frequencies in
    ``training`` (the marginals published with the model).
    """
    columns = model.card["columns"]
    support = []
    for name in unknown:
        if "domain" in columns[name]:
            domain = list(columns[name]["domain"])
            source = reference if name in reference.columns else training
            assert source is not None
            n = len(source)
            pairs = []
            for value in domain:
                count = sum(1 for v in source[name] if v == value)
                pairs.append((value, (count + smoothing) / (n + len(domain) * smoothing)))
        else:
            values = list(reference[name])
            pairs = [(quantile(values, (i + 0.5) / numeric_points), 1.0 / numeric_points)
                     for i in range(numeric_points)]
        support.append(pairs)
    return support


def joint_counts(frame: pd.DataFrame, sensitive: Sequence[str],
                 candidates: list[tuple[Any, ...]]) -> list[int]:
    counts = [0] * len(candidates)
    for row in frame.to_dict("records"):
        counts[candidates.index(tuple(row[s] for s in sensitive))] += 1
    return counts


def prior_table(reference: pd.DataFrame, records: pd.DataFrame, sensitive: Sequence[str],
                candidates: list[tuple[Any, ...]], prior: str, given: Sequence[str],
                smoothing: float) -> list[list[float]]:
    """prior(v | record) for every record and candidate."""
    k = len(candidates)

    def smoothed(counts: list[int]) -> list[float]:
        total = sum(counts)
        return [(c + smoothing) / (total + k * smoothing) for c in counts]

    marginal = smoothed(joint_counts(reference, sensitive, candidates))
    if prior == "marginal":
        return [marginal for _ in range(len(records))]
    assert prior == "conditional"
    table = []
    for record in records.to_dict("records"):
        group = tuple(record[g] for g in given)
        in_group = reference[[tuple(row[g] for g in given) == group
                              for row in reference.to_dict("records")]]
        if len(in_group) == 0:
            table.append(marginal)  # a group the reference never saw: fall back
        else:
            table.append(smoothed(joint_counts(in_group, sensitive, candidates)))
    return table


def brute_force_map(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                    known: Sequence[str], reference: pd.DataFrame, access: str,
                    rounding: int | None = None, confusion: str = "bayes",
                    prior: str = "marginal", prior_given: Sequence[str] = (),
                    numeric_points: int = 10, smoothing: float = 1.0,
                    labels: Sequence[Any] | None = None, training: pd.DataFrame | None = None,
                    batch: bool = True) -> np.ndarray:
    """Posterior (n records, K joint candidates) of MAP inversion, by brute force.

    ``prior`` is ``marginal`` or ``conditional`` (on ``prior_given``), estimated from
    ``reference``, or ``published``: the product of each sensitive attribute's smoothed
    frequencies in ``training`` (the model's training set). Unknown categorical features
    missing from ``reference`` are weighted by their frequencies in ``training``.
    """
    columns = model.card["columns"]
    domains = [list(columns[s]["domain"]) for s in sensitive]
    candidates = list(itertools.product(*domains))  # C order: first attribute slowest
    unknown = [f for f in model.features if f not in sensitive and f not in known]
    support = unknown_support(model, unknown, reference, numeric_points, smoothing, training)
    combos = list(itertools.product(*support))
    if prior == "published":
        assert training is not None
        priors = [published_prior(training, sensitive, domains, smoothing)] * len(records)
    else:
        priors = prior_table(reference, records, sensitive, candidates, prior, prior_given,
                             smoothing)
    if labels is None:
        labels = list(records[model.label])
    oracle = FrameOracle(model, access, rounding, batch)

    def query_row(record: dict[str, Any], candidate: tuple[Any, ...],
                  combo: tuple[tuple[Any, float], ...]) -> dict[str, Any]:
        row = {f: record[f] for f in known}
        row.update(zip(sensitive, candidate, strict=True))
        row.update((name, value) for name, (value, _) in zip(unknown, combo, strict=True))
        return {f: row[f] for f in model.features}

    rows = records.to_dict("records")
    if batch:
        for record in rows:
            for candidate in candidates:
                for combo in combos:
                    oracle.plan(query_row(record, candidate, combo))
        oracle.run_planned()

    posterior = np.zeros((len(records), len(candidates)))
    for i, record in enumerate(rows):
        y = label_on_fitted_scale(model, labels[i])
        scores = []
        for k, candidate in enumerate(candidates):
            total = 0.0
            for combo in combos:
                weight = 1.0
                for _, w in combo:
                    weight *= w
                answer = oracle.ask(query_row(record, candidate, combo))
                total += likelihood(model, access, answer, y, confusion, smoothing) * weight
            scores.append(total * priors[i][k])
        norm = sum(scores)
        for k, score in enumerate(scores):
            posterior[i, k] = score / norm
    return posterior


def marginal_posterior(posterior: np.ndarray, domains: Sequence[Sequence[Any]],
                       attribute: int) -> np.ndarray:
    """Sum a joint posterior (C order) onto one attribute's values, by loops."""
    candidates = list(itertools.product(*(range(len(d)) for d in domains)))
    out = np.zeros((posterior.shape[0], len(domains[attribute])))
    for i in range(posterior.shape[0]):
        for k, codes in enumerate(candidates):
            out[i, codes[attribute]] += posterior[i, k]
    return out


def published_prior(frame: pd.DataFrame, sensitive: Sequence[str],
                    domains: Sequence[Sequence[Any]], smoothing: float = 1.0) -> list[float]:
    """Product of each attribute's smoothed frequencies in ``frame`` (the training set)."""
    prior = []
    for candidate in itertools.product(*domains):
        p = 1.0
        for name, domain, value in zip(sensitive, domains, candidate, strict=True):
            count = sum(1 for v in frame[name] if v == value)
            p *= (count + smoothing) / (len(frame) + len(domain) * smoothing)
        prior.append(p)
    return prior


# -- small random worlds to test on ---------------------------------------------------

class ToyWorld:
    """A small population: 3 categorical features c0..c2 (c1 has an integer domain),
    1-2 numeric features n0 (bounds [0, 10]), n1 (bounds [-5, 5]), and a label ``y``
    (numeric for regression, 2-3 classes for classification) that depends on them all.
    """

    def __init__(self, seed: int, *, task: str = "regression", domain_sizes: Sequence[int]
                 = (3, 2, 3), n_numeric: int = 1, n_classes: int = 3,
                 transform: str = "identity") -> None:
        self.rng = np.random.default_rng(seed)
        self.task = task
        self.transform = transform
        self.domains = [[f"v{j}{i}" for i in range(size)] if j != 1 else list(range(size))
                        for j, size in enumerate(domain_sizes)]
        self.numeric = [("n0", (0.0, 10.0)), ("n1", (-5.0, 5.0))][:n_numeric]
        # the candidates (c0, c1) matter more than the rest, so that even small trees use them
        self.effects = [self.rng.normal(0.0, 2.5 if j < 2 else 1.5, len(d))
                        for j, d in enumerate(self.domains)]
        self.slopes = self.rng.normal(0.0, 0.4, n_numeric)
        self.class_names = ["lo", "mid", "hi"][:n_classes]
        if task == "classification":
            latent = self._latent(self._features(2000))
            self.thresholds = np.quantile(latent, np.arange(1, n_classes) / n_classes)

    @property
    def card_dict(self) -> dict[str, Any]:
        columns: dict[str, Any] = {f"c{j}": {"kind": "categorical", "domain": list(d)}
                                   for j, d in enumerate(self.domains)}
        for name, bounds in self.numeric:
            columns[name] = {"kind": "numeric", "bounds": list(bounds)}
        if self.task == "regression":
            columns["y"] = {"kind": "numeric", "bounds": [-100.0, 1000.0]}
        else:
            columns["y"] = {"kind": "categorical", "domain": list(self.class_names)}
        card = {"name": "toy", "label": "y", "columns": columns}
        if self.transform != "identity":
            card["target_transform"] = self.transform
        return card

    def card(self) -> Any:
        from tabinv.data.schema import card_from_dict
        return card_from_dict(self.card_dict)

    def _features(self, n: int) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for j, domain in enumerate(self.domains):
            data[f"c{j}"] = [domain[i] for i in self.rng.integers(0, len(domain), n)]
        for name, (low, high) in self.numeric:
            data[name] = self.rng.uniform(low, high, n)
        return pd.DataFrame(data)

    def _latent(self, frame: pd.DataFrame) -> np.ndarray:
        latent = np.zeros(len(frame))
        for j, domain in enumerate(self.domains):
            latent += self.effects[j][[domain.index(v) for v in frame[f"c{j}"]]]
        for slope, (name, (low, high)) in zip(self.slopes, self.numeric, strict=True):
            latent += slope * (frame[name].to_numpy() - (low + high) / 2)
        return latent

    def sample(self, n: int) -> pd.DataFrame:
        frame = self._features(n)
        latent = self._latent(frame) + self.rng.normal(0.0, 1.0, n)
        if self.task == "classification":
            frame["y"] = [self.class_names[int(np.searchsorted(self.thresholds, v))]
                          for v in latent]
        elif self.transform == "sqrt":
            frame["y"] = np.square(np.abs(latent + 6.0))
        else:
            frame["y"] = latent
        return frame


def assert_same_answers(fast: Any, slow: Any, records: pd.DataFrame,
                        tolerance: float = 1e-9) -> None:
    """Two fitted MAP attacks that differ only in how their oracles answer the grid
    (``fast`` from the model's parts, ``slow`` by queries): the grid outputs (identity
    reduce) and the posteriors agree to ``tolerance`` (labels exactly), and so do the
    guesses."""
    model, access = fast.oracle_.model, fast.oracle_.answers
    hidden = (*fast.sensitive_, *fast.unknown_names_)
    encoded = model.encoder_.transform(records[list(fast.known_)], skip=hidden)
    fast_out = fast.grid_.map_chunks(fast.oracle_, encoded, lambda out, rows: out)
    slow_out = slow.grid_.map_chunks(slow.oracle_, encoded, lambda out, rows: out)
    assert fast_out.shape == slow_out.shape
    if access == "label":
        np.testing.assert_array_equal(fast_out, slow_out)
    else:
        np.testing.assert_allclose(fast_out, slow_out, rtol=0, atol=tolerance)
    fast_post = fast.infer(records).probabilities
    slow_post = slow.infer(records).probabilities
    np.testing.assert_allclose(fast_post, slow_post, rtol=0, atol=tolerance)
    np.testing.assert_array_equal(fast_post.argmax(axis=1), slow_post.argmax(axis=1))


def fit_toy_world(case: Any, build: Any, n_members: int, n_reference: int
                  ) -> tuple[Any, pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    """(model, members, reference, known) of a grid test case: a ToyWorld of the case's
    seed, task and classes (two numeric features), the model ``build(case, world)``
    fitted on the members (estimator warnings silenced), sensitive ``c0`` (and ``c1``
    for two) and every feature but those and ``case.unknown`` known."""
    import warnings

    world = ToyWorld(case.seed, task=case.task, n_classes=max(case.n_classes, 2),
                     n_numeric=2)
    members, reference = world.sample(n_members), world.sample(n_reference)
    with warnings.catch_warnings():  # liblinear's and diffprivlib's warnings
        warnings.simplefilter("ignore")
        model = build(case, world).fit(members)
    sensitive = ("c0", "c1")[: case.n_sensitive]
    known = tuple(f for f in model.features if f not in sensitive and f not in case.unknown)
    return model, members, reference, known


def fit_map(oracle: Any, case: Any, reference: pd.DataFrame, known: Sequence[str],
            **params: Any) -> Any:
    """MAPInversion (3 numeric support points) of the case's sensitive attributes."""
    from tabinv.attacks.map import MAPInversion

    return MAPInversion(numeric_points=3, **params).fit(
        oracle, sensitive=("c0", "c1")[: case.n_sensitive], known=known, reference=reference)
