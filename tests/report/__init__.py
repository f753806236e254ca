"""Shared builders for the report tests: a small fake sweep and small real assessments."""

from __future__ import annotations

import functools
import json
import re
from html.parser import HTMLParser
from typing import Any

import pandas as pd

from tabinv import api
from tabinv.data.dataset import Dataset
from tabinv.data.registry import builtin_card
from tabinv.data.splits import Splits, split_dataset
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.models.families import make_model
from tabinv.report.files import report_text
from tabinv.report.json import to_json
from tabinv.vocabulary import rating, size_words

EPSILONS = (0.25, 1.0, 5.0, 20.0, 100.0)
#: a weight (kg) and a stable dose (mg/week) that only the planted patient has
PLANTED_WEIGHT = 137.9153
PLANTED_DOSE = 61.7383
COMMAND = "tabinv assess --model linear -s vkorc1 --out report.html"
#: the row of the planted patient in the synthetic cohort
PLANTED_ROW = 0


def _estimate(value: float, half: float) -> dict[str, float]:
    return {"value": value, "low": value - half, "high": value + half}


def fake_sweep(epsilons: tuple[float, ...] = EPSILONS) -> dict[str, Any]:
    """A sweep document shaped like the warfarin reproduction (made-up numbers)."""
    points = []
    for epsilon in (None, *epsilons):  # the non-private point first, as sweep() does
        strength = 1.0 if epsilon is None else epsilon / (epsilon + 20.0)
        attacks, baselines = [], []
        for sensitive, prior_mode, imputation, top in (("vkorc1", 0.36, 0.67, 0.75),
                                                       ("cyp2c9", 0.76, 0.76, 0.77)):
            for population, shrink in (("members", 1.0), ("non-members", 0.8)):
                accuracy = prior_mode + (top - prior_mode) * strength * shrink
                for variant, offset in (("marginal prior", 0.0), ("learned prior", 0.01)):
                    gain = accuracy + offset - max(imputation, prior_mode)
                    attacks.append({
                        "method": "map", "variant": variant, "sensitive": sensitive,
                        "population": population,
                        "accuracy": _estimate(accuracy + offset, 0.02),
                        "leakage": _estimate(gain, 0.015), "over": "imputation",
                        "rating": rating(gain - 0.015, gain + 0.015),
                        "size": size_words(gain, sensitive),
                        "accuracy_per_seed": [accuracy + offset] * 3,
                        "leakage_per_seed": [gain] * 3})
                for method, value in (("prior-mode", prior_mode), ("imputation", imputation),
                                      ("ideal", imputation + 0.02)):
                    baselines.append({"method": method, "sensitive": sensitive,
                                      "population": population,
                                      "accuracy": _estimate(value, 0.02),
                                      "accuracy_per_seed": [value] * 3})
        points.append({
            "epsilon": epsilon, "epsilon_spent": epsilon, "n_seeds": 3,
            "utility": {"r2": _estimate(0.45 * strength - 0.2 * (1 - strength), 0.03),
                        "within_20": _estimate(0.46 * strength, 0.02)},
            "attacks": attacks, "baselines": baselines})
    return {
        "kind": "sweep",
        "dataset": {"name": "iwpc", "title": "IWPC warfarin cohort", "rows": 4162,
                    "raw_rows": 6256,
                    "cleaning": [{"step": "keep patients with age recorded", "dropped": 39,
                                  "changed": 0}],
                    "splits": {"members": 2081, "non_members": 1040, "reference": 1041}},
        "model": {"family": "linear", "task": "regression", "label": "dose",
                  "estimator": "LinearRegression", "dp_estimator": "LinearRegression",
                  "library": "diffprivlib 0.6.6", "mechanism": "Laplace noise",
                  "bounds": "public bounds of the dataset card"},
        "threat": {"sensitive": ["vkorc1"], "known": ["age", "race"], "unknown": [],
                   "label": "dose", "label_source": "true", "access": "output",
                   "rounding": None, "white_box": False},
        "epsilons": list(epsilons), "seeds": [0, 1, 2],
        "utility_metrics": ["r2", "within_20"],
        "utility_definitions": {"r2": "R^2 on held-out records",
                                "within_20": "share of held-out patients dosed within 20%"},
        "interval": "95% Student t interval over seeds",
        "points": points,
        "verdict": "VKORC1 leaks only at large epsilon, where dosing is also useful.",
        "notes": [],
        "settings": {"tabinv": "0.1.0", "seconds": 12.5,
                     "budget": {"epsilon_per_seed": sum(epsilons), "delta_per_seed": 0.0,
                                "note": "the models of one seed compose"}},
    }


def planted_splits(n: int = 600) -> Splits:
    """Splits of a synthetic IWPC-like cohort in which one member has a weight and a
    stable dose nobody else has (values no report number could print by chance)."""
    splits = split_dataset(synthetic_iwpc(n, random_state=11), random_state=0)
    members = splits.members.copy()
    members.loc[PLANTED_ROW, ["weight_kg", "dose", "dose_class"]] = [
        PLANTED_WEIGHT, PLANTED_DOSE, "high"]
    return Splits(members, splits.non_members, splits.reference)


@functools.cache
def planted_assessments() -> tuple[api.Assessment, ...]:
    """Two small assessments of a linear model trained with the planted patient among
    the members: VKORC1 hidden (with a positive value), and both genotypes hidden."""
    card = builtin_card("iwpc")
    splits = planted_splits()
    frame = pd.concat([splits.members, splits.non_members, splits.reference],
                      ignore_index=True)
    assert (frame["weight_kg"] == PLANTED_WEIGHT).sum() == 1
    data = Dataset("planted", card, frame)
    target = make_model("linear", card, random_state=0).fit(splits.members)
    return tuple(api.assess(data, target, sensitive=hidden, splits=splits, n_boot=20,
                            attacks=api.expand_specs(None, None),  # the CLI's default
                            positive={"vkorc1": "A/A"} if hidden == ("vkorc1",) else {},
                            random_state=0)
                 for hidden in (("vkorc1",), ("vkorc1", "cyp2c9")))


@functools.cache
def planted_html() -> str:
    """The HTML report of :func:`planted_assessments`, as ``--out r.html`` writes it."""
    return report_text(list(planted_assessments()), ".html", COMMAND)


def with_command(document: dict[str, Any]) -> dict[str, Any]:
    return {**document, "command": COMMAND}


def stored(document: Any) -> dict[str, Any]:
    """``document`` as it comes back from a JSON file."""
    return json.loads(to_json(document))


def numbers_in(value: Any) -> list[float]:
    """Every number anywhere in a JSON value."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers_in(v)]
    if isinstance(value, list):
        return [n for v in value for n in numbers_in(v)]
    return []


def longest_list(value: Any) -> int:
    """The length of the longest list anywhere in a JSON value."""
    if isinstance(value, dict):
        return max((longest_list(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max([len(value), *(longest_list(v) for v in value)])
    return 0


# -- expected report content, written independently of the report code (issue 12, item 6)

Table = tuple[list[str], list[list[str]]]  # header cells, body rows of cells


def ci(estimate: dict[str, float], signed: bool = False) -> str:
    """An estimate as the reports print it: ``0.500 [0.444, 0.556]`` (``+0.017 [...]``)."""
    form = "{:+.3f}" if signed else "{:.3f}"
    value, low, high = (form.format(estimate[k]) for k in ("value", "low", "high"))
    return f"{value} [{low}, {high}]"


def reading(difference: dict[str, float], above: str, below: str, neither: str) -> str:
    return above if difference["low"] > 0 else below if difference["high"] < 0 else neither


def _label(row: dict[str, Any]) -> str:
    return f"{row['method']} ({row['variant']})" if row.get("variant") else row["method"]


def _find(rows: list[dict[str, Any]], **where: Any) -> dict[str, Any]:
    [row] = [r for r in rows if all(r.get(k, "") == v for k, v in where.items())]
    return row


#: the methods of the planted assessments, in the order of the report's rows
PLANTED_METHODS = [("map", "marginal prior", "attack"), ("map", "learned prior", "attack"),
                   ("prior-mode", "", "baseline"), ("imputation", "", "baseline"),
                   ("ideal", "", "baseline")]


def expected_assessment_tables(scenario: dict[str, Any], order: list[str]) -> dict[str, Table]:
    """The three main tables of one scenario of a stored (``--json``) document: the
    accuracies (rows by inferred attribute in ``order``, then method), the leakage over
    imputation and the members-vs-non-members gaps, with every cell computed here."""
    results = scenario["results"]
    accuracy = (["inferred", "method", "kind", "members: accuracy [95% CI]",
                 "members: AUC [95% CI]", "non-members: accuracy [95% CI]",
                 "non-members: AUC [95% CI]"], [])
    membership = (["inferred", "method", "members", "non-members", "difference", "reading"],
                  [])
    for sensitive in order:
        for method, variant, kind in PLANTED_METHODS:
            members, others = (_find(results, method=method, variant=variant,
                                     sensitive=sensitive, population=population)
                               for population in ("members", "non-members"))
            label = f"{method} ({variant})" if variant else method
            accuracy[1].append([sensitive, label, kind, ci(members["accuracy"]),
                                ci(members["auc"]), ci(others["accuracy"]),
                                ci(others["auc"])])
            gap = _find(scenario["membership"], method=method, variant=variant,
                        sensitive=sensitive)["difference"]
            membership[1].append([sensitive, label, ci(members["accuracy"]),
                                  ci(others["accuracy"]), ci(gap, signed=True),
                                  reading(gap, "members easier", "non-members easier",
                                          "no difference")])
    leakage = (["inferred", "attack", "population", "model-free baselines", "best baseline",
                "leakage [95% CI]", "rating"],
               [[item["sensitive"], _label(item), item["population"],
                 ", ".join(f"{name} {value:.3f}" for name, value in item["baselines"].items()),
                 item["over"], ci(item["leakage"], signed=True), item["rating"]]
                for item in scenario["leakage"]])
    strongest = (["inferred", "population", "strongest attack", "chosen by",
                  "attacks compared", "accuracy (cross-fitted) [95% CI]",
                  "leakage [95% CI]", "over",
                  "rating"],
                 [[item["sensitive"], item["population"], _label(item),
                   f"{item['selection']['chosen'][_label(item)]} of "
                   f"{item['selection']['folds']} folds",
                   str(len(item["selection"]["considered"])), ci(item["accuracy"]),
                   ci(item["leakage"], signed=True), item["over"], item["rating"]]
                  for item in scenario["strongest"]])
    return {"Attacks and baselines": accuracy, "Leakage over the best baseline": leakage,
            "The strongest attack, chosen out of fold": strongest,
            "Members vs non-members": membership}


def fake_sweep_rows(sensitive: str = "vkorc1") -> list[list[str]]:
    """The attack rows the sweep reports print for ``sensitive`` of :func:`fake_sweep`,
    computed from the formula that made its numbers (epsilon shown once per group of
    rows): members' accuracy and leakage with intervals and the rating, non-members'
    accuracy and leakage without."""
    prior_mode, imputation, top = {"vkorc1": (0.36, 0.67, 0.75),
                                   "cyp2c9": (0.76, 0.76, 0.77)}[sensitive]

    def estimate(value: float, half: float) -> dict[str, float]:
        return {"value": value, "low": value - half, "high": value + half}

    rows = []
    for epsilon in (*EPSILONS, None):
        strength = 1.0 if epsilon is None else epsilon / (epsilon + 20.0)
        shown = "non-private" if epsilon is None else f"{epsilon:g}"
        for index, (variant, offset) in enumerate((("marginal prior", 0.0),
                                                   ("learned prior", 0.01))):
            inside, outside = (prior_mode + (top - prior_mode) * strength * shrink + offset
                               for shrink in (1.0, 0.8))
            gain = inside - imputation
            rows.append([shown if index == 0 else "", f"map ({variant})",
                         ci(estimate(inside, 0.02)), ci(estimate(gain, 0.015), signed=True),
                         rating(gain - 0.015, gain + 0.015), f"{outside:.3f}",
                         f"{outside - imputation:+.3f}"])
    return rows


def fake_sweep_baseline_rows(sensitive: str = "vkorc1") -> list[list[str]]:
    """The baselines of :func:`fake_sweep` for ``sensitive``: once, not per epsilon."""
    prior_mode, imputation = {"vkorc1": (0.36, 0.67), "cyp2c9": (0.76, 0.76)}[sensitive]
    return [[method, *[ci({"value": value, "low": value - 0.02, "high": value + 0.02})] * 2]
            for method, value in (("prior-mode", prior_mode), ("imputation", imputation),
                                  ("ideal", imputation + 0.02))]


#: the headings of the planted report, in order (item 6: written out, not derived)
PLANTED_HEADINGS = [
    "# tabinv report: planted, linear model", "## Summary", "## Findings", "## Data",
    "## Model", "## vkorc1 hidden", "### Attacks and baselines",
    "### Leakage over the best baseline", "### The strongest attack, chosen out of fold",
    "### Members vs non-members", "## vkorc1 + cyp2c9 hidden", "### Attacks and baselines",
    "### Leakage over the best baseline", "### The strongest attack, chosen out of fold",
    "### Members vs non-members", "## Glossary",
    "## Appendix: details", "### vkorc1 hidden", "#### The positive value",
    "#### Per value (strongest attack)", "#### Time", "### vkorc1 + cyp2c9 hidden",
    "#### Per value (strongest attack)", "#### Time"]
#: the inferred attributes of each planted scenario, in the order of the rows
PLANTED_ORDERS = (["vkorc1"], ["vkorc1", "cyp2c9", "vkorc1+cyp2c9"])


def expected_verdict(document: dict) -> str:
    """The findings of the planted assessments (nothing leaks): per inferred attribute,
    the attack with the highest members' accuracy (the first on a tie), its leakage over
    the best baseline with its size and rating, and its members-vs-non-members gap, from
    the stored numbers."""
    scopes, findings = [], []
    for scenario, order in zip(document["assessments"], PLANTED_ORDERS, strict=True):
        joint = len(order) > 1
        for sensitive in order:
            attacks = [f"{method} ({variant})" for method, variant, kind in PLANTED_METHODS
                       if kind == "attack"]
            [item] = [item for item in scenario["strongest"]
                      if (item["sensitive"], item["population"]) == (sensitive, "members")]
            method, variant = item["method"], item["variant"]
            selection = item["selection"]
            assert selection["considered"] == attacks
            votes = selection["chosen"][f"{method} ({variant})"]
            assert votes == max(selection["chosen"].values())
            [gap] = [item["difference"] for item in scenario["membership"]
                     if (item["method"], item["variant"], item["sensitive"])
                     == (method, variant, sensitive)]
            scope = (f"{sensitive} jointly" if "+" in sensitive else
                     f"{sensitive} (with vkorc1 and cyp2c9 hidden)" if joint else sensitive)
            assert item["rating"] == "no measurable leakage"
            scopes.append(scope)
            findings.append(
                f"{scope}: the strongest attack on members, {method} ({variant}) (chosen "
                f"out of fold among {len(attacks)} attacks: by {votes} of "
                f"{selection['folds']} folds), "
                f"{item['size']} ({ci(item['leakage'], signed=True)} over {item['over']}; "
                f"{item['rating']}); members vs non-members {ci(gap, signed=True)}, no "
                "membership effect.")
    return " ".join([f"No measurable leakage of {', '.join(scopes)}.", *findings])


_MARKDOWN_ESCAPE = re.compile(r"\\(.)")


def markdown_tables(text: str) -> dict[str, list[Table]]:
    """Every pipe table of a Markdown text under the heading above it, cells unescaped."""
    tables: dict[str, list[Table]] = {}
    heading, current = "", None
    for line in text.splitlines():
        if line.startswith("#"):
            heading, current = line.lstrip("#").strip(), None
        elif line.startswith("|"):
            cells = [_MARKDOWN_ESCAPE.sub(r"\1", cell.strip())
                     for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if current is None:
                current = (cells, [])
                tables.setdefault(heading, []).append(current)
            elif set("".join(cells)) != {"-"}:
                current[1].append(cells)
        else:
            current = None
    return tables


class HtmlOutline(HTMLParser):
    """Headings (level, text), paragraphs and tables (under their heading) of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[int, str]] = []
        self.paragraphs: list[str] = []
        self.tables: dict[str, list[Table]] = {}
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._table: Table | None = None
        self._header = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "h2", "h3", "h4", "p", "td", "th", "li"):
            self._text = []
        elif tag == "table":
            self._table = ([], [])
            heading = self.headings[-1][1] if self.headings else ""
            self.tables.setdefault(heading, []).append(self._table)
        elif tag == "tr":
            self._row = []
        elif tag == "thead":
            self._header = True

    def handle_endtag(self, tag: str) -> None:
        text = " ".join("".join(self._text or []).split())
        if tag in ("h1", "h2", "h3", "h4"):
            self.headings.append((int(tag[1]), text))
        elif tag == "p":
            self.paragraphs.append(text)
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(text)
        elif tag == "tr" and self._table is not None and self._row is not None:
            (self._table[0].extend if self._header else self._table[1].append)(self._row)
            self._row = None
        elif tag == "thead":
            self._header = False
        elif tag == "table":
            self._table = None
        if tag in ("h1", "h2", "h3", "h4", "p", "td", "th", "li"):
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def html_outline(page: str) -> HtmlOutline:
    outline = HtmlOutline()
    outline.feed(page)
    outline.close()
    return outline


__all__ = ["COMMAND", "EPSILONS", "PLANTED_DOSE", "PLANTED_HEADINGS", "PLANTED_METHODS",
           "PLANTED_ORDERS", "PLANTED_ROW", "expected_verdict",
           "PLANTED_WEIGHT", "ci", "expected_assessment_tables", "fake_sweep",
           "fake_sweep_rows", "html_outline", "longest_list", "markdown_tables", "numbers_in",
           "planted_assessments", "planted_html", "planted_splits", "reading", "stored",
           "with_command"]
