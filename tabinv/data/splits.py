"""Seeded member / non-member / reference splits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import DataError
from ..utils import check_random_state

__all__ = ["Splits", "split_dataset", "split_by_column", "DEFAULT_FRACTIONS", "MEMBER_VALUES"]

#: members (train the target), non-members (held out), reference (attacker's sample)
DEFAULT_FRACTIONS = (0.5, 0.25, 0.25)


@dataclass(frozen=True)
class Splits:
    """Three disjoint samples of one population.

    ``members`` train the target model; ``non_members`` are never seen by it;
    ``reference`` is the attacker's own sample of the population (priors, imputation).
    """

    members: pd.DataFrame
    non_members: pd.DataFrame
    reference: pd.DataFrame

    def sizes(self) -> dict[str, int]:
        return {"members": len(self.members), "non_members": len(self.non_members),
                "reference": len(self.reference)}


def split_dataset(frame: pd.DataFrame, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
                  random_state: int | np.random.Generator | None = 0) -> Splits:
    """Shuffle ``frame`` with ``random_state`` and cut it into three disjoint samples.

    Raises
    ------
    DataError
        If a fraction is not positive, they do not sum to 1, or a split would be empty.
    """
    if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise DataError(
            f"split fractions {fractions!r} must be three positive numbers summing to 1"
        )
    rng = check_random_state(random_state)
    order = rng.permutation(len(frame))
    n_members = int(round(fractions[0] * len(frame)))
    n_non = int(round(fractions[1] * len(frame)))
    cuts = np.split(order, [n_members, n_members + n_non])
    if any(len(c) == 0 for c in cuts):
        raise DataError(f"{len(frame)} rows are too few to split into {fractions!r}")
    parts = [frame.iloc[np.sort(c)].reset_index(drop=True) for c in cuts]
    return Splits(members=parts[0], non_members=parts[1], reference=parts[2])


#: values of a member column that mean "a training member" / "not a member"
MEMBER_VALUES = {True: ("1", "true", "yes", "y", "member", "train", "training", "in"),
                 False: ("0", "false", "no", "n", "non-member", "nonmember", "test",
                         "holdout", "out")}


def split_by_column(frame: pd.DataFrame, column: str, origin: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(members, non-members) of ``frame`` by its ``column`` marking training members
    (1/0, true/false, yes/no, member/non-member ...; see :data:`MEMBER_VALUES`), which
    is dropped. Any other or missing value is a DataError counting and naming it."""
    if column not in frame.columns:
        raise DataError(f"{origin} has no member column {column!r}")
    text = frame[column].map(lambda v: str(v).strip().lower() if pd.notna(v) else "")
    text = text.str.replace(r"\.0$", "", regex=True)
    member = text.isin(MEMBER_VALUES[True])
    non_member = text.isin(MEMBER_VALUES[False])
    bad = ~(member | non_member)
    if bad.any():
        shown = sorted(set(frame.loc[bad, column].astype(str)))[:5]
        raise DataError(f"member column {column!r} of {origin} has {int(bad.sum())} value(s) "
                        f"that are neither member (1, true, yes, member) nor non-member (0, "
                        f"false, no, non-member): {', '.join(repr(v[:30]) for v in shown)}")
    for name, mask in (("members", member), ("non-members", non_member)):
        if not mask.any():
            raise DataError(f"member column {column!r} of {origin} marks no {name}")
    rest = frame.drop(columns=[column])
    return (rest[member.to_numpy()].reset_index(drop=True),
            rest[non_member.to_numpy()].reset_index(drop=True))
