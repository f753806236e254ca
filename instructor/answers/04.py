"""Instructor answers of lesson 4 (label-only): passes every exercise.

Check with: tabinv lesson check 4 instructor/answers/04.py --allow-code
"""
import numpy as np

# CSMIA accuracy on members (0.306300) minus on non-members (0.149342)
exercise_1 = 0.156958


def exercise_2(predicted, y, confidence):
    """CSMIA's decision (Mehnaz et al. 2022; ATTACKS.md section 4), one index per record."""
    predicted = np.atleast_2d(np.asarray(predicted, dtype=float))
    confidence = np.atleast_2d(np.asarray(confidence, dtype=float))
    y = np.asarray(y, dtype=float).reshape(-1)
    matches = predicted == y[:, None]
    size = matches.sum(axis=1)
    best_in_m = np.argmax(np.where(matches, confidence, -np.inf), axis=1)
    lowest = np.argmin(confidence, axis=1)
    return np.where(size >= 1, best_in_m, lowest).astype(int)


# sex (positive female), same forest: CSMIA accuracy on non-members (0.504276) minus the
# label-rule baseline's (0.559211)
exercise_3 = -0.054934
