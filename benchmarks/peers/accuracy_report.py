"""The peer accuracy comparison as a summary and a Markdown table (``peers-accuracy.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TARGET = ("tabinv's strongest attack minus ART's strongest attack (both chosen out of fold) "
          "is above zero (95% interval above zero) in every cell where an attack beats "
          "the best model-free baseline, and never below zero (interval not entirely "
          "below zero)")


def met(row: dict[str, Any]) -> bool:
    """Whether a cell meets the whole target."""
    return bool(row["never_below"] and row["above_where_needed"])


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts of cells meeting each part of the target, and the cells that miss it."""
    return {"cells": len(rows),
            "never_below": sum(r["never_below"] for r in rows),
            "attack_beats_best_baseline": sum(r["any_attack_beats_best_baseline"]
                                              for r in rows),
            "above_where_needed": sum(r["above_where_needed"] for r in rows),
            "target_met": sum(met(r) for r in rows),
            "difference_over_art_baseline_true_label_above_zero":
                sum(r["difference_over_art_baseline_true_label"]["low"] > 0 for r in rows),
            "difference_over_art_baseline_true_label_below_zero":
                sum(r["difference_over_art_baseline_true_label"]["high"] < 0 for r in rows),
            "missed": [_cell(r) for r in rows if not met(r)]}


def _cell(row: dict[str, Any]) -> str:
    return f"{row['case']}, {row['label_source']} label, {row['population']}"


def _interval(estimate: dict[str, float]) -> str:
    return f"{estimate['value']:+.3f} [{estimate['low']:+.3f}, {estimate['high']:+.3f}]"


def _verdict(row: dict[str, Any]) -> str:
    if not row["never_below"]:
        return "**no**: below ART"
    if not row["above_where_needed"]:
        return "**no**: not above ART"
    if row["difference"]["low"] > 0:
        return "yes"
    return "yes (no attack beats the baseline; not below ART)"


HEADER = ("| case | label | population | n | best baseline | tabinv strongest | "
          "ART strongest | tabinv - ART [95%] | ART BaselineTrueLabel | "
          "tabinv - BaselineTrueLabel [95%] | an attack beats baseline? | target met? |\n"
          "|---|---|---|---:|---|---|---|---|---|---|---|---|\n")


def markdown(report: dict[str, Any]) -> str:
    """The 12-cell table with the target, the summary and what each side ran."""
    rows = report["cells"]
    lines = [f"| {r['case']} | {r['label_source']} | {r['population']} | {r['n']:,} | "
             f"{r['best_baseline']} {r['best_baseline_accuracy']:.3f} | "
             f"{r['tabinv']['favourite']} {r['tabinv']['accuracy']:.3f} | "
             f"{r['art']['favourite']} {r['art']['accuracy']:.3f} | "
             f"{_interval(r['difference'])} | "
             f"{r['art_baseline_true_label']['favourite']} "
             f"{r['art_baseline_true_label']['accuracy']:.3f} | "
             f"{_interval(r['difference_over_art_baseline_true_label'])} | "
             f"{'yes' if r['any_attack_beats_best_baseline'] else 'no'} | {_verdict(r)} |"
             for r in rows]
    total = report["summary"]
    return "\n".join([
        "# tabinv against IBM ART: attack accuracy on the same models and records",
        "",
        "Written by `benchmarks/peers/test_art_accuracy.py` (`make bench-peers`); "
        "what each side runs is described in `benchmarks/peers/accuracy.py`.",
        f"Seed {report['seed']}, {report['n_boot']:,} paired bootstrap replicates, "
        f"ART attack models {', '.join(report['art_model_types'])}; "
        f"seconds per case: {report['seconds']}.",
        "",
        f"Target: {TARGET}.",
        "",
        "Strongest = the attack chosen out of fold (5 folds: each fold's records are "
        "scored by the attack most accurate on the other folds); the name shown is the "
        "attack most folds chose. ART's strongest is over ART's attacks (black-box and "
        "white-box); its BaselineTrueLabel (a model-free classifier of the sensitive "
        "value from the other features and the label) is compared separately. The best "
        "baseline is tabinv's best model-free baseline (prior-mode, imputation, "
        "boosted-imputation, label-rule); \"an attack beats baseline\" means the gain of "
        "tabinv's or ART's strongest over it has a 95% interval above zero.",
        "",
        HEADER + "\n".join(lines),
        "",
        f"Cells meeting the target: {total['target_met']} of {total['cells']} "
        f"(never below ART: {total['never_below']}; an attack beats the best baseline: "
        f"{total['attack_beats_best_baseline']}). Against ART's BaselineTrueLabel: "
        f"above zero in {total['difference_over_art_baseline_true_label_above_zero']}, "
        f"below zero in {total['difference_over_art_baseline_true_label_below_zero']}.",
        *([f"Cells missing the target: {'; '.join(total['missed'])}."]
          if total["missed"] else []),
        "",
    ])
