"""Brute-force reference of the meta-classifier attack (:mod:`tabinv.attacks.meta`).

The features are built with plain loops over records, joint candidates and combinations
of the unknown features; the model is asked through its frame API only (``FrameOracle``),
one planned row per (record, candidate, combination), and the answers are averaged with
the prior weights of ``reference.unknown_support``:

    [known columns, encoded one record at a time] + [label: one-hot or value]
    + [answer on candidate k: confidences / one-hot predicted label / output, k = 1..K]
    + [agreement on candidate k: answer's value at the label / y - output, k = 1..K]

The learning step is the attack's own :func:`~tabinv.attacks.learners.search_classifier`
(scikit-learn's estimators, the same seeded folds): what is checked here is that the
vectorised, chunked grid feeds it exactly these features, and that the posterior is its
``predict_proba`` placed on the candidates it saw (0 elsewhere).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tabinv.attacks.meta import full_proba, search_classifier
from tabinv.utils import seed_from

from .reference import FrameOracle, label_on_fitted_scale, unknown_support


def brute_force_features(model: Any, records: pd.DataFrame, labels: Sequence[Any], *,
                         sensitive: Sequence[str], known: Sequence[str],
                         reference: pd.DataFrame, access: str, numeric_points: int = 10,
                         smoothing: float = 1.0) -> np.ndarray:
    """(n, F) features of the meta attack, by loops; ``labels`` on the label's own scale."""
    columns = model.card["columns"]
    candidates = list(itertools.product(*(list(columns[s]["domain"]) for s in sensitive)))
    unknown = [f for f in model.features if f not in sensitive and f not in known]
    combos = list(itertools.product(*unknown_support(model, unknown, reference,
                                                     numeric_points, smoothing)))
    n_classes = 1 if access == "output" else len(columns[model.label]["domain"])
    oracle = FrameOracle(model, access, batch=True)

    def query_row(record: dict[str, Any], candidate: tuple[Any, ...],
                  combo: tuple[tuple[Any, float], ...]) -> dict[str, Any]:
        row = {f: record[f] for f in known}
        row.update(zip(sensitive, candidate, strict=True))
        row.update((name, value) for name, (value, _) in zip(unknown, combo, strict=True))
        return {f: row[f] for f in model.features}

    rows = records.to_dict("records")
    for record in rows:
        for candidate in candidates:
            for combo in combos:
                oracle.plan(query_row(record, candidate, combo))
    oracle.run_planned()
    known_columns = [c for f in known for c in range(*model.encoder_.slices_[f])]
    features = []
    for record, label in zip(rows, labels, strict=True):
        y = label_on_fitted_scale(model, label)
        encoded = model.encoder_.transform(pd.DataFrame([query_row(record, candidates[0],
                                                                   combos[0])]))
        vector = [float(encoded[0, c]) for c in known_columns]
        vector += [float(y)] if access == "output" else \
            [1.0 if c == y else 0.0 for c in range(n_classes)]
        answers, agreement = [], []
        for candidate in candidates:
            totals, weight_sum = [0.0] * n_classes, 0.0
            for combo in combos:
                weight = 1.0
                for _, w in combo:
                    weight *= w
                reply = oracle.ask(query_row(record, candidate, combo))
                if access == "confidence":
                    values = [float(v) for v in reply]
                elif access == "label":
                    values = [1.0 if c == reply else 0.0 for c in range(n_classes)]
                else:
                    values = [float(reply)]
                for c in range(n_classes):
                    totals[c] += weight * values[c]
                weight_sum += weight
            mean = [t / weight_sum for t in totals]
            answers += mean
            agreement.append(y - mean[0] if access == "output" else mean[y])
        features.append(vector + answers + agreement)
    return np.array(features)


def brute_force_meta(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                     known: Sequence[str], reference: pd.DataFrame, access: str,
                     random_state: int, classifier: str = "gradient-boosting",
                     cv: int = 3) -> np.ndarray:
    """(n, K) posterior of the meta attack trained on ``reference`` with true labels."""
    grid = {"sensitive": sensitive, "known": known, "reference": reference, "access": access}
    columns = model.card["columns"]
    candidates = list(itertools.product(*(list(columns[s]["domain"]) for s in sensitive)))
    target = np.array([candidates.index(tuple(row[s] for s in sensitive))
                       for row in reference.to_dict("records")])
    training = brute_force_features(model, reference, list(reference[model.label]), **grid)
    fitted, _ = search_classifier(classifier, training, target, len(candidates), cv,
                                  seed_from(random_state))
    attacked = brute_force_features(model, records, list(records[model.label]), **grid)
    return full_proba(fitted, attacked, len(candidates))
