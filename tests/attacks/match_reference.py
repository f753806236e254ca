"""Brute-force reference of the prediction-match attack (issue 17, item 3).

Plain loops over records and joint candidates; the model is asked through its frame API
(``candidate_answers`` of ``label_only_reference``: the label oracle's answer, or the
first most confident class of the confidences, as an indicator averaged over the
unknown features with their prior weights). Then, record by record:

    match(v) = the averaged indicator of the record's label for candidate v
    score(v) = prior(v) * match(v);  no candidate with match > 0: score(v) = prior(v)

normalised to sum to 1. Frequency priors come from ``prior_table`` (counted by loops);
the learned prior is tabinv's imputation classifier fitted on the reference sample, as
the attack fits it (its own tests check the classifier).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tabinv.attacks.candidates import Candidates
from tabinv.attacks.imputation import Imputer

from .label_only_reference import candidate_answers, label_indices
from .reference import prior_table


def reference_prior(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                    known: Sequence[str], reference: pd.DataFrame, prior: str,
                    smoothing: float = 1.0, random_state: int = 0) -> list[list[float]]:
    columns = model.card["columns"]
    domains = {s: list(columns[s]["domain"]) for s in sensitive}
    candidates = list(itertools.product(*domains.values()))
    if prior in ("marginal", "conditional"):
        return prior_table(reference, records, sensitive, candidates, prior, (), smoothing)
    assert prior == "learned"
    joint = Candidates.from_domains(domains)
    known = [f for f in model.features if f in set(known)]
    input_domains = {f: list(columns[f]["domain"]) for f in known if "domain" in columns[f]}
    imputer = Imputer(known, input_domains, joint, random_state, model.encoder_.ordinal)
    imputer.fit(reference, joint.joint_index(reference))
    return imputer.predict_proba(records).tolist()


def brute_force_match(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                      known: Sequence[str], reference: pd.DataFrame, access: str,
                      prior: str = "marginal", smoothing: float = 1.0,
                      random_state: int = 0, labels: Sequence[Any] | None = None,
                      **grid: Any) -> np.ndarray:
    """Posterior (n records, K joint candidates) of the match attack, by loops."""
    answers = candidate_answers(model, records, sensitive=sensitive, known=known,
                                reference=reference, smoothing=smoothing,
                                answer="label" if access == "label" else "argmax", **grid)
    y = label_indices(model, records, labels)
    priors = reference_prior(model, records, sensitive=sensitive, known=known,
                             reference=reference, prior=prior, smoothing=smoothing,
                             random_state=random_state)
    posterior = np.zeros((len(records), len(answers[0])))
    for i in range(len(records)):
        matches = [answers[i][k][y[i]] for k in range(len(answers[i]))]
        if any(m > 0 for m in matches):
            scores = [priors[i][k] * matches[k] for k in range(len(matches))]
        else:
            scores = list(priors[i])
        total = sum(scores)
        for k, score in enumerate(scores):
            posterior[i, k] = score / total
    return posterior
