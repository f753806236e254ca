"""Brute-force references of CSMIA and LOMIA (Mehnaz et al., USENIX Security 2022).

Plain Python loops over records, joint candidates and combinations of the unknown
features. The model is only asked through its frame API (``predict_proba`` /
``predict_fitted`` on data frames, via ``FrameOracle``); unknown features are summed
out with the prior weights of ``reference.unknown_support`` (the same support as the
MAP reference), and every rule is written out case by case:

CSMIA: M = the candidates for which y is a most likely class of the averaged
confidences (a tie within ``TIE_TOLERANCE`` counts); |M| = 1: that candidate;
|M| >= 2: the member of M with the highest confidence for y; |M| = 0: the candidate
with the lowest confidence for y. Candidates within ``TIE_TOLERANCE`` of the best are
tied, and the tied candidate with the highest priority wins, the priorities being
``np.random.default_rng(seed).random((n records, K candidates))``.

LOMIA: the same M from the distribution of the predicted label (the label oracle's
answer, or the first most confident class of the reported confidences); records with
exactly one member train the imputation classifier on (known columns, label) ->
candidate, fitted on a frame built here row by row; fewer than two distinct candidates
in that set: the smoothed marginal of the reference sample, counted by loops.

They are deliberately slow and obviously correct; the vectorised attacks must agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tabinv.attacks.candidates import Candidates
from tabinv.attacks.imputation import LABEL_COLUMN, Imputer

from .reference import FrameOracle, unknown_support

TIE_TOLERANCE = 1e-12
TIE_BONUS = 1e-9


def candidate_answers(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                      known: Sequence[str], reference: pd.DataFrame, answer: str,
                      rounding: int | None = None, numeric_points: int = 10,
                      smoothing: float = 1.0,
                      training: pd.DataFrame | None = None) -> list[list[list[float]]]:
    """answers[i][k][c]: what the attacker reads for record i and candidate k, class c.

    ``answer``: ``confidence`` (reported confidences), ``label`` (the label oracle's
    answer as an indicator) or ``argmax`` (the first most confident class of the
    reported confidences, as an indicator); averaged over the unknown features with
    their prior weights.
    """
    columns = model.card["columns"]
    candidates = list(itertools.product(*(list(columns[s]["domain"]) for s in sensitive)))
    unknown = [f for f in model.features if f not in sensitive and f not in known]
    support = unknown_support(model, unknown, reference, numeric_points, smoothing, training)
    combos = list(itertools.product(*support))
    n_classes = len(columns[model.label]["domain"])
    oracle = FrameOracle(model, "label" if answer == "label" else "confidence", rounding,
                         batch=True)

    def query_row(record: dict[str, Any], candidate: tuple[Any, ...],
                  combo: tuple[tuple[Any, float], ...]) -> dict[str, Any]:
        row = {f: record[f] for f in known}
        for name, value in zip(sensitive, candidate, strict=True):
            row[name] = value
        for name, (value, _) in zip(unknown, combo, strict=True):
            row[name] = value
        return {f: row[f] for f in model.features}

    rows = records.to_dict("records")
    for record in rows:
        for candidate in candidates:
            for combo in combos:
                oracle.plan(query_row(record, candidate, combo))
    oracle.run_planned()

    answers = []
    for record in rows:
        per_candidate = []
        for candidate in candidates:
            totals = [0.0] * n_classes
            weight_sum = 0.0
            for combo in combos:
                weight = 1.0
                for _, w in combo:
                    weight *= w
                reply = oracle.ask(query_row(record, candidate, combo))
                if answer == "confidence":
                    vector = list(reply)
                else:
                    label = reply if answer == "label" else reply.index(max(reply))
                    vector = [1.0 if c == label else 0.0 for c in range(n_classes)]
                for c in range(n_classes):
                    totals[c] += weight * vector[c]
                weight_sum += weight
            per_candidate.append([total / weight_sum for total in totals])
        answers.append(per_candidate)
    return answers


def label_indices(model: Any, records: pd.DataFrame,
                  labels: Sequence[Any] | None) -> list[int]:
    domain = list(model.card["columns"][model.label]["domain"])
    values = list(records[model.label]) if labels is None else list(labels)
    return [domain.index(v) for v in values]


def predicts(vector: Sequence[float], y: int) -> bool:
    """Is class y a most likely class (ties count)?"""
    return vector[y] >= max(vector) - TIE_TOLERANCE


def csmia_record(confidences: list[list[float]], y: int,
                 priority: Sequence[float]) -> tuple[int, list[float], int, bool]:
    """CSMIA on one record: (decision, scores, |M|, whether the decision was a tie)."""
    k_all = list(range(len(confidences)))
    c = [confidences[k][y] for k in k_all]
    members = [k for k in k_all if predicts(confidences[k], y)]
    if len(members) == 1:
        tied = members
    elif len(members) >= 2:
        best = max(c[k] for k in members)
        tied = [k for k in members if c[k] >= best - TIE_TOLERANCE]
    else:
        lowest = min(c)
        tied = [k for k in k_all if c[k] <= lowest + TIE_TOLERANCE]
    decision = tied[0]
    for k in tied:
        if priority[k] > priority[decision]:
            decision = k
    weights = []
    for k in k_all:
        if members:
            weights.append((1.0 if k in members else 0.0) + c[k])
        else:
            weights.append(1.0 - c[k])
    weights[decision] += TIE_BONUS
    total = sum(weights)
    return decision, [w / total for w in weights], len(members), len(tied) > 1


def brute_force_csmia(model: Any, records: pd.DataFrame, *, random_state: int,
                      labels: Sequence[Any] | None = None,
                      **grid: Any) -> tuple[np.ndarray, np.ndarray, list[int], list[bool]]:
    """(decisions (n,), scores (n, K), |M| per record, tie per record) of CSMIA."""
    answers = candidate_answers(model, records, answer="confidence", **grid)
    y = label_indices(model, records, labels)
    priority = np.random.default_rng(random_state).random((len(records), len(answers[0])))
    decisions, scores, sizes, ties = [], [], [], []
    for i in range(len(records)):
        decision, score, size, tie = csmia_record(answers[i], y[i], list(priority[i]))
        decisions.append(decision)
        scores.append(score)
        sizes.append(size)
        ties.append(tie)
    return np.array(decisions), np.array(scores), sizes, ties


def lomia_matches(model: Any, records: pd.DataFrame, *, access: str,
                  labels: Sequence[Any] | None = None, **grid: Any) -> list[list[bool]]:
    """matches[i][k]: does the model predict record i's label for candidate k?"""
    answers = candidate_answers(model, records, answer="label" if access == "label"
                                else "argmax", **grid)
    y = label_indices(model, records, labels)
    return [[predicts(vector, y[i]) for vector in answers[i]] for i in range(len(records))]


def brute_force_lomia(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                      known: Sequence[str], reference: pd.DataFrame, access: str,
                      random_state: int = 0, smoothing: float = 1.0,
                      labels: Sequence[Any] | None = None,
                      **grid: Any) -> tuple[np.ndarray, list[int], list[int]]:
    """(posterior (n, K), training record positions, their candidates) of LOMIA."""
    matches = lomia_matches(model, records, access=access, labels=labels,
                            sensitive=sensitive, known=known, reference=reference,
                            smoothing=smoothing, **grid)
    rows, targets = [], []
    for i, flags in enumerate(matches):
        members = [k for k, flag in enumerate(flags) if flag]
        if len(members) == 1:
            rows.append(i)
            targets.append(members[0])
    columns = model.card["columns"]
    domains = [list(columns[s]["domain"]) for s in sensitive]
    candidates = list(itertools.product(*domains))
    if len(set(targets)) < 2:
        counts = [0.0] * len(candidates)
        for row in reference.to_dict("records"):
            counts[candidates.index(tuple(row[s] for s in sensitive))] += 1
        total = sum(counts) + len(candidates) * smoothing
        prior = [(count + smoothing) / total for count in counts]
        return np.array([prior for _ in range(len(records))]), rows, targets
    label_values = list(records[model.label]) if labels is None else list(labels)
    inputs = []
    for i, record in enumerate(records.to_dict("records")):
        row = {f: record[f] for f in known}
        row[LABEL_COLUMN] = label_values[i]
        inputs.append(row)
    frame = pd.DataFrame(inputs, columns=[*known, LABEL_COLUMN])
    input_domains = {f: list(columns[f]["domain"]) for f in known if "domain" in columns[f]}
    input_domains[LABEL_COLUMN] = list(columns[model.label]["domain"])
    classifier = Imputer((*known, LABEL_COLUMN), input_domains,
                         Candidates.from_domains(dict(zip(sensitive, domains, strict=True))),
                         random_state, ordinal=model.encoder_.ordinal)
    classifier.fit(frame.iloc[rows], np.array(targets))
    return classifier.predict_proba(frame), rows, targets
