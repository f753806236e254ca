"""Membership inference in the reports: a real membership assessment (a tree on the
planted cohort, 4 shadows) planted into the planted assessment document, rendered as
Markdown and HTML; every cell of its table against the stored numbers, written here
independently of the report code."""

from __future__ import annotations

import copy
import functools
import html
import json
import re
from typing import Any

import pytest

from tabinv import api
from tabinv.cli.render import summary_lines
from tabinv.data.registry import builtin_card
from tabinv.membership import assess_membership
from tabinv.models.families import make_model
from tabinv.report.advice import summary, what_to_do
from tabinv.report.document import as_document, scenarios
from tabinv.report.html import render_html
from tabinv.report.markdown import render_markdown
from tabinv.report.membership import membership_table_rows, resolution_note, strongest_attack
from tabinv.report.outline import outline
from tabinv.report.plots import membership_figures
from tabinv.vocabulary import rating

from . import (
    COMMAND,
    PLANTED_DOSE,
    PLANTED_WEIGHT,
    ci,
    html_outline,
    longest_list,
    markdown_tables,
    numbers_in,
    planted_assessments,
    planted_splits,
    stored,
)
from .test_html import parse

PNG = b"\x89PNG\r\n\x1a\n"
#: the names the report shows, written out
NAMES = {"loss": "loss threshold", "lira-offline": "LiRA offline",
         "lira-online": "LiRA online", "rmia": "RMIA", "gap": "gap attack",
         "label-noise": "label-only noise robustness"}
HEADER = ["attack", "shadow models", "membership AUC [95% CI]", "TPR at 0.1% FPR [95% CI]",
          "TPR at 1% FPR [95% CI]", "membership advantage [95% CI]", "rating"]


@functools.cache
def _membership() -> tuple[dict[str, Any], ...]:
    """Every membership attack on a tree trained on the planted members (the planted
    patient among them), each dict with the rating and verdict added the documented way."""
    splits = planted_splits()
    card = builtin_card("iwpc").with_label("dose_class")
    target = make_model("tree", card, random_state=0, max_depth=6).fit(splits.members)
    results = assess_membership(target, splits.members, splits.non_members,
                                splits.reference, n_shadows=4, n_boot=50, random_state=0)
    items = []
    for result in results:
        item = json.loads(json.dumps(result.to_dict()))
        auc = item["metrics"]["auc"]
        item["rating"] = rating(auc["low"] - 0.5, auc["high"] - 0.5)
        item["verdict"] = f"{item['attack']} rated {item['rating']}."
        items.append(item)
    return tuple(items)


def plain_document() -> dict[str, Any]:
    """The planted assessment document, as stored, with its command."""
    return {**stored(api.combine(list(planted_assessments()))), "command": COMMAND}


def membership_document(items: Any = None) -> dict[str, Any]:
    """The planted document with membership results in its first scenario (no schema
    validation: the schema does not know the key yet)."""
    document = plain_document()
    document["assessments"][0]["membership_inference"] = copy.deepcopy(
        list(_membership() if items is None else items))
    return document


@functools.cache
def markdown_text() -> str:
    return render_markdown(membership_document(), images="figures/")


@functools.cache
def html_page() -> str:
    return render_html(membership_document())


def expected_rows(items: Any) -> list[list[str]]:
    rows = []
    for item in items:
        metrics = item["metrics"]
        shadows = f"{item['n_shadows']} ({item['shadows']})" if item["n_shadows"] else "none"
        tprs = {point["fpr"]: point for point in metrics["tpr_at_fpr"]}
        cells = ["not resolvable" if 1 / metrics["n_non_members"] > fpr else ci(tprs[fpr])
                 for fpr in (0.001, 0.01)]
        rows.append([NAMES[item["attack"]], shadows, ci(metrics["auc"]), *cells,
                     ci(metrics["advantage"]), item["rating"]])
    return rows


def _strongest(items: Any) -> dict[str, Any]:
    return max(items, key=lambda i: (i["metrics"]["auc"]["low"], i["metrics"]["auc"]["value"]))


def test_the_case_exercises_both_kinds_of_tpr_cell():
    items = _membership()
    assert [i["attack"] for i in items] == list(NAMES)
    assert {i["metrics"]["n_non_members"] for i in items} == {len(planted_splits().non_members)}
    assert 0.001 < 1 / len(planted_splits().non_members) < 0.01  # 0.1% hidden, 1% shown


def test_markdown_section_table_and_figure():
    text = markdown_text()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    first = headings.index("## vkorc1 hidden")
    assert headings[first + 5] == "### Membership inference"
    assert headings.count("### Membership inference") == 1  # the second scenario has none
    [(header, rows)] = markdown_tables(text)["Membership inference"]
    assert header == HEADER
    assert rows == expected_rows(_membership())
    section = text.split("### Membership inference", 1)[1].split("\n## ", 1)[0]
    for citation in ("Yeom et al., 2018", "Carlini et al., 2022", "Zarifzadeh et al., 2024"):
        assert citation in section
    assert "![ROC curves of the membership attacks" in section
    assert "(figures/membership-roc-1-vkorc1.png)" in section
    n = len(planted_splits().non_members)
    assert f"With {n} non-members the smallest false positive rate that can be measured " \
           f"is 1/{n}" in section
    [loss] = [i for i in _membership() if i["attack"] == "loss"]
    unescaped = re.sub(r"\\(.)", r"\1", section)
    assert (f"flags {ci(loss['calibrated']['tpr'])} of the members (TPR) and "
            f"{ci(loss['calibrated']['fpr'])} of the non-members (FPR)") in unescaped
    top = _strongest(_membership())
    assert f"highest lower end, is {NAMES[top['attack']]}: {top['rating']}" in unescaped
    glossary = text.split("## Glossary", 1)[1]
    for term in ("LiRA", "RMIA", "loss threshold", "TPR at FPR", "membership AUC",
                 "membership advantage"):
        assert f"\n- {term}: " in glossary, term


def test_findings_and_summary_name_the_strongest_membership_attack():
    document = membership_document()
    top = _strongest(_membership())
    text = re.sub(r"\\(.)", r"\1", markdown_text())
    findings = text.split("## Findings", 1)[1].split("\n## ", 1)[0]
    [paragraph] = [p for p in findings.split("\n\n") if p.startswith("What the model leaks")]
    assert "it reveals nothing measurable about vkorc1, cyp2c9, vkorc1+cyp2c9 beyond" \
        in paragraph  # the attribute verdict: the planted model leaks no genotype
    assert f"{top['rating']}: the strongest attack, {NAMES[top['attack']]}, separates " \
           f"members from non-members with AUC {ci(top['metrics']['auc'])}" in paragraph
    [(label, line)] = [pair for pair in summary(as_document(document))
                       if pair[0] == "Membership"]
    assert line.startswith(f"{top['rating']}: the strongest attack, {NAMES[top['attack']]}")
    [terminal] = [line for line in summary_lines(scenarios(as_document(document))[0])
                  if line.startswith("[membership")]
    assert terminal.startswith(f"[membership [vkorc1 hidden]] {top['rating']}: ")


def test_html_table_links_and_figure():
    page = html_page()
    outline = html_outline(page)
    [(header, rows)] = outline.tables["Membership inference"]
    assert header == HEADER and rows == expected_rows(_membership())
    checker = parse(page)
    assert checker.errors == [] and checker.stack == []
    ids = {value for _, name, value in checker.attributes if name == "id"}
    links = {value for tag, name, value in checker.attributes if (tag, name) == ("a", "href")}
    for term in ("g-lira", "g-rmia", "g-loss-threshold", "g-membership-auc",
                 "g-tpr-at-fpr", "g-membership-advantage"):
        assert f"#{term}" in links and term in ids
    assert all(link[1:] in ids for link in links)
    section = page.split(">Membership inference</h3>", 1)[1].split("<h2", 1)[0]
    assert section.count("<img ") == 1 and 'alt="ROC curves of the membership' in section


def test_hostile_attack_and_shadow_texts_are_escaped():
    items = copy.deepcopy(list(_membership()))
    items[1]["attack"] = "<script>alert(1)</script> | *x* $\\frac{1}{2}$"
    items[1]["shadows"] = "<img src=x onerror=alert(1)> [a](javascript:x) `y`"
    document = membership_document(items)
    del document["assessments"][1]  # fewer figures to draw
    page = render_html(document)
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    [(_, rows)] = html_outline(page).tables["Membership inference"]
    assert rows[1][0] == items[1]["attack"]
    text = render_markdown(document)
    assert "<" not in text.split("### Membership inference", 1)[1].split("\n## ", 1)[0]
    [(header, rows)] = markdown_tables(text)["Membership inference"]
    assert len(rows[1]) == len(header) and html.unescape(rows[1][0]) == items[1]["attack"]
    terminal = {**items[1], "attack": "red\x1b[31m<script>"}
    [line] = [line for line in summary_lines(scenarios(as_document(
        membership_document([terminal])))[0]) if line.startswith("[membership")]
    assert "\x1b" not in line and "red\\x1b[31m<script>" in line  # terminal escaping


def test_no_per_record_data_in_the_membership_results_or_reports():
    items = list(_membership())
    smallest = min(min(i["metrics"]["n_members"], i["metrics"]["n_non_members"])
                   for i in items)
    assert longest_list(items) < smallest
    assert not any(abs(n - v) < 1e-3 for n in numbers_in(items)
                   for v in (PLANTED_WEIGHT, PLANTED_DOSE))
    for text in (markdown_text(), html_page()):
        for value in (PLANTED_WEIGHT, PLANTED_DOSE):
            for shown in (repr(value), f"{value:.3f}", f"{value:.2f}", f"{value:.1f}"):
                assert shown not in text


def test_roc_plot_is_a_deterministic_png():
    scenario = scenarios(as_document(membership_document()))[0]
    [one] = membership_figures(scenario, 1)
    [again] = membership_figures(copy.deepcopy(scenario), 1)
    assert one.name == "membership-roc-1-vkorc1" and one.png == again.png
    assert one.png.startswith(PNG) and 2_000 < len(one.png) < 600_000
    assert membership_figures(scenarios(as_document(plain_document()))[0], 1) == []


@pytest.mark.parametrize("absent", ["no key", "empty list"])
def test_documents_without_membership_render_as_before(absent):
    plain = plain_document()
    other = copy.deepcopy(plain)
    if absent == "empty list":
        other["assessments"][0]["membership_inference"] = []
    blocks = outline(other, figures=False)
    assert blocks == outline(plain, figures=False)  # what every writer renders
    text = render_markdown(other)
    assert "embership inference" not in text and "LiRA" not in text
    assert not any(label == "Membership" for label, _ in summary(as_document(other)))
    assert "membership" not in " ".join(what_to_do(as_document(other)))
    assert not any(membership_figures(s) for s in scenarios(as_document(other)))


def test_what_to_do_compares_membership_across_a_measured_defence():
    items = list(_membership())
    rounded = copy.deepcopy(items)
    for item in rounded:
        item["metrics"]["auc"] = {"value": 0.51, "low": 0.47, "high": 0.54}
        item["rating"] = rating(-0.03, 0.04)
    document = membership_document(items)
    document["assessments"][1]["membership_inference"] = rounded
    document["assessments"][1]["threat"]["rounding"] = 1
    top = _strongest(items)
    assert (f"Rounding the confidences to 1 decimals: the strongest membership attack's "
            f"AUC is {ci(top['metrics']['auc'])} without it ({top['rating']}), "
            "0.510 [0.470, 0.540] with it (no measurable leakage).") \
        in what_to_do(as_document(document))


def _entry(attack: str, auc: tuple[float, float, float], n_non_members: int) -> dict:
    return {"attack": attack, "metrics": {
        "auc": dict(zip(("value", "low", "high"), auc, strict=True)),
        "tpr_at_fpr": [{"fpr": 0.001, "value": 0.002, "low": 0.0, "high": 0.004}],
        "n_non_members": n_non_members, "smallest_fpr": 1 / n_non_members}}


@pytest.mark.parametrize("n_non_members, shown", [
    (999, "not resolvable"), (1000, "0.002 [0.000, 0.004]"), (5000, "0.002 [0.000, 0.004]")])
def test_a_tpr_is_shown_only_where_the_non_members_resolve_its_fpr(n_non_members, shown):
    [row] = membership_table_rows([_entry("rmia", (0.6, 0.55, 0.65), n_non_members)])
    assert row[2:4] == ("0.600 [0.550, 0.650]", shown)
    assert bool(resolution_note([_entry("rmia", (0.6, 0.55, 0.65), n_non_members)])) \
        == (shown == "not resolvable")


def test_the_strongest_attack_has_the_highest_lower_auc_bound():
    wide = _entry("lira-online", (0.70, 0.52, 0.88), 1000)  # highest AUC, least sure
    sure = _entry("rmia", (0.64, 0.60, 0.68), 1000)
    tied = _entry("loss", (0.66, 0.60, 0.72), 1000)  # same lower bound, higher AUC
    assert strongest_attack([wide, sure])["attack"] == "rmia"
    assert strongest_attack([wide, sure, tied])["attack"] == "loss"
    assert strongest_attack([]) is None


def test_a_score_with_few_values_still_shows_on_the_roc_plot():
    """The gap attack's score is 0 or 1: one interior ROC point, at a high FPR, leaves
    one or two points on the log axes; they are drawn with markers."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from tabinv.report.plots import _membership_roc

    [gap] = [i for i in _membership() if i["attack"] == "gap"]
    interior = [p for p in gap["metrics"]["roc"] if 0 < p[1] < 1]
    assert interior and all(p[0] > 0.1 for p in interior)  # nothing at a low FPR
    figure = Figure()
    _membership_roc(figure, [gap])
    [chance, curve] = figure.axes[0].get_lines()
    assert curve.get_marker() == "o"
    assert sum(y == y for y in curve.get_ydata()) >= 1  # a point that is not NaN
    scenario = scenarios(as_document(membership_document([gap])))[0]
    assert membership_figures(scenario, 1)[0].png.startswith(PNG)
