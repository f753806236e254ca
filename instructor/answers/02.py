"""Instructor answers of lesson 2 (trees): passes every exercise.

Check with: tabinv lesson check 2 instructor/answers/02.py --allow-code
"""
import numpy as np

# confidence attack on members (0.466853) minus the best model-free baseline,
# imputation (0.450732): see instructor/solutions/02-trees.md
exercise_1 = 0.016121

# confidence attack on members with confidences rounded to 0 decimals
exercise_2 = 0.451719


def exercise_3(prior, consistent, counts, votes_y):
    """Index of the candidate value the white-box tree attack picks (ATTACKS.md sec. 3)."""
    prior = np.asarray(prior, dtype=float)
    consistent = np.asarray(consistent, dtype=float)
    counts = np.asarray(counts, dtype=float)
    votes_y = np.asarray(votes_y, dtype=float)
    total = consistent @ counts                 # training count of consistent leaves
    voting = consistent @ (counts * votes_y)    # ... of those whose label is y
    share = np.divide(voting, total, out=np.zeros_like(total), where=total > 0)
    return int(np.argmax(prior * share))
