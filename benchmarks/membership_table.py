"""Issue 18's table: every membership attack beside the attribute leakage of the same model.

Four models, each assessed once with ``tabinv.api.assess`` (``--attack all`` with the
marginal and the learned prior, every membership attack that applies, 16 shadows,
seed 0): IWPC OLS on the dose (a regression: the four confidence attacks), IWPC depth-8
tree on ``dose_class``, IWPC logistic on ``dose_class`` trained with diffprivlib at
epsilon 1 and at epsilon 0.1, and GSS 100-tree forest on ``abany``. Attribute leakage:
the strongest attack on members, chosen out of fold, over the best model-free baseline.

Run: ``.venv/bin/python -m benchmarks.membership_table`` (about 5 minutes on 2 cores);
writes ``benchmarks/results/membership-table.{json,md}`` and prints the Markdown.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

#: name -> arguments of tabinv.api.assess
CASES: dict[str, dict[str, Any]] = {
    "IWPC linear (OLS), dose": {"dataset": "iwpc", "model": "linear",
                                "sensitive": ["vkorc1"]},
    "IWPC tree (depth 8), dose_class": {"dataset": "iwpc", "model": "tree",
                                        "label": "dose_class", "sensitive": ["vkorc1"],
                                        "model_params": {"max_depth": 8}},
    "IWPC logistic, DP epsilon 1, dose_class": {"dataset": "iwpc", "model": "logistic",
                                                "label": "dose_class",
                                                "sensitive": ["vkorc1"],
                                                "model_params": {"epsilon": 1.0}},
    "IWPC logistic, DP epsilon 0.1, dose_class": {"dataset": "iwpc", "model": "logistic",
                                                  "label": "dose_class",
                                                  "sensitive": ["vkorc1"],
                                                  "model_params": {"epsilon": 0.1}},
    "GSS forest, abany": {"dataset": "gss", "model": "forest", "sensitive": ["partyid"]},
}


def interval(estimate: dict[str, Any], digits: int = 3) -> str:
    return (f"{estimate['value']:.{digits}f} [{estimate['low']:.{digits}f}, "
            f"{estimate['high']:.{digits}f}]")


def percent(estimate: dict[str, Any] | None) -> str:
    if estimate is None:
        return "not resolvable"
    return (f"{100 * estimate['value']:.1f}% [{100 * estimate['low']:.1f}, "
            f"{100 * estimate['high']:.1f}]")


def run_case(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    from tabinv.api import assess

    started = time.perf_counter()
    assessment = assess(**arguments, attacks=["all"], priors=["marginal", "learned"],
                        membership_attacks=["all"], shadows=16, random_state=0)
    seconds = time.perf_counter() - started
    attribute = arguments["sensitive"][0]
    strongest = next(item.to_dict() for item in assessment.strongest
                     if item.leakage.sensitive == attribute
                     and item.leakage.population == "members")
    rows = []
    for entry in assessment.membership_inference:
        metrics = entry["metrics"]
        tpr = {f"{float(item['fpr']):g}": item for item in metrics["tpr_at_fpr"]}
        rows.append({"attack": entry["attack"], "auc": metrics["auc"],
                     "tpr_0.001": tpr.get("0.001"), "tpr_0.01": tpr.get("0.01"),
                     "smallest_fpr": metrics.get("smallest_fpr"),
                     "rating": entry["rating"]})
    return {"model": name, "attribute": attribute, "seconds": round(seconds, 1),
            "attribute_leakage": strongest, "membership": rows}


def markdown(cases: Sequence[dict[str, Any]]) -> str:
    lines = ["| model | attribute leakage on members (strongest, out of fold) | membership "
             "attack | AUC [95%] | TPR at 0.1% FPR | TPR at 1% FPR | rating |",
             "|---|---|---|---|---|---|---|"]
    for case in cases:
        leak = case["attribute_leakage"]
        gain = leak["leakage"]
        told = (f"{case['attribute']} {gain['value']:+.3f} [{gain['low']:+.3f}, "
                f"{gain['high']:+.3f}] over {leak['over']} ({leak['method']}), "
                f"{leak['rating']}")
        for index, row in enumerate(case["membership"]):
            first = index == 0
            small = row["smallest_fpr"] is not None and row["smallest_fpr"] > 0.001
            lines.append(
                f"| {case['model'] if first else ''} | {told if first else ''} | "
                f"{row['attack']} | {interval(row['auc'])} | "
                f"{'not resolvable' if small else percent(row['tpr_0.001'])} | "
                f"{percent(row['tpr_0.01'])} | {row['rating']} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] = ()) -> None:
    names = list(argv) or list(CASES)
    cases = [run_case(name, CASES[name]) for name in names]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "membership-table.json").write_text(json.dumps(cases, indent=1) + "\n")
    text = markdown(cases)
    (RESULTS / "membership-table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
