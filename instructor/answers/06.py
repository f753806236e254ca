"""Answers to lesson 6 (genomic): `tabinv lesson check 6 instructor/answers/06.py --allow-code`.

The numbers are computed by instructor/solutions/06-genomic.md on the lesson's cohort
(load_dataset("genomic", params={"people": 2000, "snps": 200}, seed=0), hidden SNP
snp_00044, the second causal SNP).
"""

import numpy as np


def exercise_1(x, y):
    """r^2 between two genotype vectors: the squared Pearson correlation."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    dx = x - x.mean()
    dy = y - y.mean()
    return float((dx @ dy) ** 2 / ((dx @ dx) * (dy @ dy)))


# share right when guessing the most common genotype within each ancestry (whole cohort)
exercise_2 = 0.5835

# largest r^2 between the hidden SNP and any other SNP (snp_00046)
exercise_3 = 0.8073749483213929
