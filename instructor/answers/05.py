"""Answers to lesson 5 (dp): `tabinv lesson check 5 instructor/answers/05.py --allow-code`.

Computed by instructor/solutions/05-dp.md (sweep_defences on iwpc, linear, epsilons
0.25, 1, 5, 20, 100, seeds=4, n_boot=20, random_state=0).
"""

# share of held-out patients dosed within 20% by the DP model at epsilon 100
exercise_1 = 0.4230769230769231

# VKORC1 accuracy of map (learned prior) minus prior-mode, members, epsilon 0.25
exercise_2 = 0.24531475252282559

# sequential composition of the five models of one seed: 0.25 + 1 + 5 + 20 + 100
exercise_3 = 126.25
