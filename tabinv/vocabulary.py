"""Names every layer shares: method labels, baselines, access levels.

This module imports nothing from tabinv, so the attacks, the scoring, the report
writers and the front ends can all take their words from here without an import cycle.
"""

from __future__ import annotations

__all__ = ["ACCESS_LEVELS", "ANSWERS", "ATTACK_MEANINGS", "BASELINES", "BASELINE_MEANINGS",
           "GLOSSARY", "LEAKAGE_BASELINES", "RATINGS", "RATING_MEANINGS", "RESOLUTION",
           "UTILITY_NAMES", "method_label", "rating", "size_words"]

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
BASELINES = ("prior-mode", "imputation", "boosted-imputation", "ideal", "label-rule")

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
    "boosted-imputation": "imputation with gradient boosting, the learner of the meta "
                          "attack (run with it, hyperparameters chosen the same way on "
                          "the reference sample): the meta attack must beat a model-free "
                          "classifier as strong as its own",
}

#: the model-free baselines leakage is measured over: the best of those present on the
#: same records ("ideal" is not one: it uses the members' own data)
LEAKAGE_BASELINES = ("prior-mode", "imputation", "boosted-imputation", "label-rule")

#: the verdict on one attack, attribute and population, from the interval of its leakage
RATINGS = ("leaks", "inconclusive", "no measurable leakage")

#: the smallest gain over the best baseline (in accuracy) a verdict of "no measurable
#: leakage" must exclude: 5 points
RESOLUTION = 0.05

#: what each rating means, in one plain sentence
RATING_MEANINGS = {
    "leaks": "the whole 95% interval of the leakage is above 0: the attack guesses the "
             "hidden value right more often than the best model-free baseline, so the "
             "model itself reveals it",
    "inconclusive": "the 95% interval of the leakage includes 0 but also a gain of "
                    f"{round(100 * RESOLUTION)} points or more: these records cannot tell "
                    "whether the model leaks (more records would)",
    "no measurable leakage": "the whole 95% interval of the leakage is below a gain of "
                             f"{round(100 * RESOLUTION)} points: if the model leaks, it is "
                             "by less than the assessment can measure",
}

#: what each registered attack does, in the words of the report
ATTACK_MEANINGS = {
    "map": "weighs every possible hidden value by how often it occurs in the population "
           "and by how well the model's answer for that value matches the record's label, "
           "and guesses the most likely one (Fredrikson et al., 2014)",
    "confidence": "the same weighing, using the confidence the model reports for the "
                  "record's label (Fredrikson et al., 2015)",
    "csmia": "tries every hidden value, keeps those for which the model predicts the "
             "record's label, and picks the one the model is most (or least) confident "
             "about (Mehnaz et al., 2022)",
    "lomia": "sees only the model's predicted labels: learns from the records where "
             "exactly one hidden value reproduces the label, then guesses for all "
             "(Mehnaz et al., 2022)",
    "match": "sees only the model's predicted labels: weighs each hidden value by how "
             "often it occurs (given what else is known) and keeps the values for which "
             "the model predicts the record's label; if none does, the weighing alone",
    "meta": "trains a classifier on the attacker's own sample, where the hidden value is "
            "known, to guess it from the known columns, the label and the model's answers "
            "for every possible hidden value; then applies it to the attacked records",
    "whitebox-tree": "reads the model file's trees: weighs each hidden value by the "
                     "training counts of the leaves it reaches that predict the record's "
                     "label (Fredrikson et al., 2015)",
    "whitebox-dt": "the white-box rule for one decision tree as IBM ART decides it: the "
                   "value whose leaf predicts the label, else the value with the most "
                   "training records in its leaf (Fredrikson et al., 2015)",
}

#: the words of the reports, each explained in one plain sentence (report code derives
#: anchor ids as "g-" + a slug of the term)
GLOSSARY = {
    "leakage": "how much more often the attack guesses the hidden value right than the "
               "best model-free baseline on the same records, in points of accuracy",
    "baseline": "a guess made without the model, from population statistics only; it "
                "shows what anyone could infer without access to the model",
    "best baseline": "of the model-free baselines (prior-mode, imputation, label-rule), "
                     "the one with the highest accuracy on the same records; leakage is "
                     "measured over it",
    "member": "a record the model was trained on",
    "non-member": "a record from the same population that the model never saw",
    "reference sample": "records from the same population the attacker is assumed to "
                        "hold (not the members); baselines and priors are built from them",
    "95% interval": "the range the true value lies in with 95% confidence, given how "
                    "many records were measured",
    "accuracy": "the share of records whose value was guessed (or predicted) exactly",
    "balanced accuracy": "the average, over the values, of the share of records with "
                         "that value guessed right; a rare value counts as much as a "
                         "common one",
    "AUC": "the chance that a record with a value is ranked above one without it; 0.5 is "
           "a coin toss, 1 is perfect",
    "precision": "of the records guessed to have the positive value, the share that "
                 "truly have it",
    "recall": "of the records that truly have the positive value, the share guessed to "
              "have it (true positive rate)",
    "F1": "the harmonic mean of precision and recall",
    "g-mean": "the geometric mean of recall and TNR; high only when both the positive "
              "and the other records are recognised",
    "MCC": "Matthews correlation coefficient between guess and truth for the positive "
           "value: 0 is chance, 1 perfect, -1 always wrong",
    "FPR": "false positive rate: of the records without the positive value, the share "
           "wrongly guessed to have it",
    "TNR": "true negative rate: of the records without the positive value, the share "
           "guessed not to have it",
    "top-k precision": "of the k records the attack ranks most likely to have the "
                       "positive value, the share that truly have it",
    "positive value": "the value of a sensitive attribute whose disclosure matters most "
                      "(for example a diagnosis); the binary metrics treat it as "
                      "'positive' and every other value as 'negative'",
    "epsilon (privacy budget)": "the parameter of differential privacy: the smaller, "
                                "the more noise and the less any one record can change "
                                "the model",
    "differential privacy": "training with added noise so that the model barely depends "
                            "on any single record",
    "utility": "how good the model is at its own task on records it never saw (accuracy "
               "and AUC for a classifier, R^2 for a regression)",
    "R^2": "the share of the variation of the label the model explains on records it "
           "never saw: 1 is perfect, 0 is as good as predicting the mean, below 0 worse",
    "rounding": "publishing the model's confidences with fewer decimals, a defence "
                "against confidence-based attacks",
    "small-cell suppression": "counts of fewer training records than a threshold are "
                              "not shown, so no table singles out a few people",
    "label-only": "an attacker who sees only the model's predicted label, not its "
                  "confidences",
    "white-box": "an attacker who holds the model file itself: its structure, "
                 "thresholds and training counts",
}

#: utility metric key -> readable name
UTILITY_NAMES = {
    "accuracy": "accuracy",
    "auc": "AUC",
    "r2": "R^2",
    "within_20": "share dosed within 20%",
}


def rating(low: float, high: float) -> str:
    """The rating of a leakage interval: one of :data:`RATINGS`.

    ``leaks`` when the interval is above 0; ``no measurable leakage`` when it excludes a
    gain of :data:`RESOLUTION` or more; otherwise (or when undefined) ``inconclusive``.

    Examples
    --------
    >>> rating(0.027, 0.143), rating(-0.03, 0.04), rating(-0.03, 0.09)
    ('leaks', 'no measurable leakage', 'inconclusive')
    >>> rating(float("nan"), float("nan"))
    'inconclusive'
    """
    if low > 0:
        return "leaks"
    if high < RESOLUTION:
        return "no measurable leakage"
    return "inconclusive"


def size_words(value: float, sensitive: object) -> str:
    """The size of a leakage in plain words (points = ``round(100 * value)``).

    Examples
    --------
    >>> size_words(0.081, "VKORC1")
    'guesses VKORC1 right 8 points more often than population statistics allow'
    >>> size_words(-0.03, "VKORC1")
    'guesses VKORC1 right 3 points less often than population statistics allow'
    >>> size_words(0.004, "race")
    'guesses race right less than 1 point more often than population statistics allow'
    >>> size_words(0.0, "race")
    'guesses race right as often as population statistics allow'
    >>> size_words(0.01, "race")[:31]
    'guesses race right 1 point more'
    """
    if value != value:  # NaN (no import: this module sits below every layer)
        return f"cannot tell how often it guesses {sensitive} right"
    if value == 0:
        return f"guesses {sensitive} right as often as population statistics allow"
    points = round(100 * value)
    # a gain that rounds to 0 points is still a gain: "as often" would contradict a rating
    amount = "less than 1 point" if points == 0 else \
        f"{abs(points)} {'point' if abs(points) == 1 else 'points'}"
    direction = "more" if value > 0 else "less"
    return (f"guesses {sensitive} right {amount} {direction} often than population "
            "statistics allow")


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
