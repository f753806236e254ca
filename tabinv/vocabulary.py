"""Names every layer shares: method labels, baselines, access levels.

This module imports nothing from tabinv, so the attacks, the scoring, the report
writers and the front ends can all take their words from here without an import cycle.
"""

from __future__ import annotations

__all__ = ["ACCESS_LEVELS", "ANSWERS", "BASELINES", "BASELINE_MEANINGS", "method_label"]

#: The attacker's access to the model, and what each level grants: the one vocabulary of
#: the Python API (``ThreatModel.access``), the CLI (``--access``), inventories
#: (``access``), the oracle (:attr:`~tabinv.models.oracle.Oracle.level`) and reports.
ACCESS_LEVELS = {
    "confidences": "answers to queries: a classifier's class probabilities, a "
                   "regression's prediction (and its published residual spread)",
    "rounded": "a classifier's class probabilities rounded to a number of decimals",
    "label-only": "only a classifier's predicted class (and its training confusion counts)",
    "white-box": "the answers to queries and the model file: its structure (tree paths, "
                 "thresholds, training counts)",
}

#: what one query of the model returns: a regression's prediction (with its residual
#: spread), a classifier's confidence scores, or its predicted label
ANSWERS = ("output", "confidence", "label")

#: the model-free baselines every attack is reported against (Jayaraman & Evans, 2022)
BASELINES = ("prior-mode", "imputation", "ideal", "label-rule")

#: what each baseline does, in the words of the report
BASELINE_MEANINGS = {
    "prior-mode": "always guesses the most frequent value in the attacker's reference "
                  "sample (no model, no record-specific knowledge)",
    "imputation": "a classifier trained on the reference sample that predicts the hidden "
                  "value from what the attacker knows and the label, without the model: "
                  "what population statistics alone reveal",
    "ideal": "the same classifier trained on the members themselves: the best a "
             "model-free guess could do with the training data in hand (scored in-sample "
             "on members, so with many features, e.g. thousands of SNPs, it can reach 1.0 "
             "there; its non-member figure is the fair one)",
    "label-rule": "the most likely hidden value given the label alone, from the "
                  "reference sample",
}


def method_label(method: object, variant: object = "") -> str:
    """The name of a method (attack or baseline) in results, tables and timings.

    Parameters
    ----------
    method : str
        The attack or baseline name.
    variant : str, optional
        The attack's variant (its prior setting); empty or None when it has none.

    Returns
    -------
    str
        ``method (variant)``, or the bare method name without a variant.

    Examples
    --------
    >>> method_label("map", "learned prior")
    'map (learned prior)'
    >>> method_label("imputation", "")
    'imputation'
    """
    return f"{method} ({variant})" if variant else str(method)
