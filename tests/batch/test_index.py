"""The batch index page: summary box, badges, links, intervals that never wrap, what to do
from measured facts, escaping; and in a real browser: no overflow at 390 and 1280 px, no
request outside the file, no table clipped in print."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from browser import browser, open_report  # noqa: F401  (browser: a fixture)
from pages import Page

from tabinv.batch.entry import Entry
from tabinv.batch.index import SUMMARY_LINKS, index_html
from tabinv.batch.indexstyle import NARROW, STYLE
from tabinv.batch.task import ROW_COLUMNS
from tabinv.text import printable
from tabinv.vocabulary import ACCESS_LEVELS, RATINGS, size_words

COMMAND = "tabinv batch 'my inventory.toml' --out out"
TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "p", "ul",
        "li", "div", "table", "thead", "tbody", "tr", "th", "td", "span", "code", "a",
        "br", "small", "strong", "sup"}


def row(entry: str, verdict: str, leakage: float, low: float, high: float,
        **values: Any) -> dict[str, Any]:
    sensitive = values.pop("sensitive", "vkorc1")
    return {column: None for column in ROW_COLUMNS} | {
        "entry": entry, "status": "ok", "error": "", "sensitive": sensitive,
        "hidden": sensitive, "population": "members", "n": 2081,
        "attack": "map (marginal prior)", "attack_accuracy": 0.66, "baseline_prior_mode": 0.35,
        "baseline_imputation": 0.65, "over": "imputation", "leakage": leakage,
        "leakage_low": low, "leakage_high": high, "verdict": verdict,
        "size": size_words(leakage, sensitive), "utility_metric": "accuracy",
        "utility": 0.67, "utility_low": 0.64, "utility_high": 0.70, "data": "iwpc",
        "label": "dose_class", "family": "tree", "format": "skops",
        "access": "confidences"} | values


def failed(entry: str, error: str) -> dict[str, Any]:
    return {column: None for column in ROW_COLUMNS} | {
        "entry": entry, "status": "failed", "error": error, "sensitive": "vkorc1",
        "hidden": "vkorc1", "population": "members"}


def entry(name: str, **values: Any) -> Entry:
    return Entry(**{"name": name, "model": f"{name}.skops", "format": "skops",
                    "label": "dose_class", "sensitive": (("vkorc1",),), "data": "iwpc",
                    "attacks": ("map",)} | values)


ROWS = [
    row("steady", "no measurable leakage", 0.04, 0.035, 0.045),
    row("wide", "inconclusive", 0.10, -0.01, 0.21, n=151),
    row("leaky", "leaks", 0.08, 0.03, 0.13, population="non-members"),
    row("leaky", "no measurable leakage", -0.02, -0.05, 0.01),
    row("worse", "leaks", 0.05, 0.01, 0.09, access="label-only"),
    failed("broken", "not a readable skops file"),
]
ENTRIES = [entry("steady"), entry("wide"), entry("leaky"), entry("worse", access="label-only"),
           entry("broken")]


def page_of(rows: list[dict[str, Any]], entries: list[Entry] | None = None,
            descriptions: dict[str, str] | None = None) -> str:
    return index_html(pd.DataFrame(rows, columns=list(ROW_COLUMNS)), descriptions,
                      entries=ENTRIES if entries is None else entries,
                      inventory="my inventory.toml", out="out")


@pytest.fixture(scope="module")
def page() -> str:
    return page_of(ROWS, descriptions={"leaky": "forest behind the dosing API"})


def summary_box(page: str) -> str:
    return page[page.index("<div class='summary'"):page.index("</div>\n")]


def section(page: str, anchor: str) -> str:
    start = page.index(f"<h2 id='{anchor}'>")
    following = page.find("<h2 ", start + 1)
    return page[start:following if following > 0 else None]


def test_the_page_is_self_contained_and_fits_phones(page: str) -> None:
    parsed = Page(page)
    assert set(parsed.tags) <= TAGS, set(parsed.tags) - TAGS
    assert "width=device-width, initial-scale=1" in parsed.values("content")
    assert "<script" not in page and "http" not in page and "@import" not in page
    assert f"@media screen and (max-width: {NARROW}.98px)" in STYLE and NARROW < 760
    assert "@media print" in STYLE and "@page" in STYLE


def test_models_are_ordered_by_rating_then_leakage(page: str) -> None:
    table = section(page, "models")
    order = [table.index(f"href='entries/{name}/report.html'")
             for name in ("leaky", "worse", "wide", "steady")]
    assert order == sorted(order)
    # one row per model, the deciding measurement: leaky's non-member row, not its other
    assert table.count("href='entries/leaky/") == 1 and "-0.020" not in table
    assert "broken" not in table and "broken" in section(page, "failed")


def test_badges_name_the_ratings_and_link_the_glossary(page: str) -> None:
    parsed = Page(page)
    ids = set(parsed.values("id"))
    badges = [(value, text) for value, text in re.findall(
        r"<a class='badge b-([a-z-]+)' href='#g-[a-z-]+'>([^<]+)</a>", page)]
    assert {text for _, text in badges} == set(RATINGS)
    assert all(style == text.replace(" ", "-") for style, text in badges)
    assert "<span class='badge b-failed'>failed</span>" in page
    for target in (v[1:] for v in parsed.values("href") if v.startswith("#")):
        assert target in ids, target  # every glossary link lands
    assert {"g-leaks", "g-inconclusive", "g-no-measurable-leakage", "g-leakage",
            "g-best-baseline", "g-imputation", "g-map", "g-utility", "g-label-only"} <= ids
    assert "g-white-box" not in ids  # no entry has white-box access: not in the glossary


def test_summary_box_counts_and_names_the_worst_model(page: str) -> None:
    box = summary_box(page)
    text = Page(box).words
    assert text.startswith("Summary 2 of 4 assessed models leak a sensitive attribute")
    assert "leaks 2 models (2 of 5 measurements)" in text
    assert "inconclusive 1 model (1 of 5 measurements)" in text
    assert "no measurable leakage 1 model (2 of 5 measurements)" in text
    assert "failed 1 entry could not be assessed" in text
    assert ("Worst: leaks leaky (forest behind the dosing API): the attack map (marginal "
            "prior) guesses vkorc1 right 8 points more often than population statistics "
            "allow on non-members (leakage +0.080 [+0.030, +0.130] over imputation, 2081 "
            "records). The model's own utility on non-members: accuracy 0.67 [0.64, 0.70].") \
        in text
    assert (f"Threat: the attacker wants vkorc1 of a person, knows every other column of a "
            f"person's record and the true label dose_class, holds a sample of the same "
            f"population (not the training records) and gets from the model "
            f"{ACCESS_LEVELS['confidences']}.") in text
    assert set(re.findall(r"href='([^']+)'", box)) == {
        "entries/leaky/report.html", "#g-leaks", "#g-inconclusive",
        "#g-no-measurable-leakage", "#g-map", "#g-imputation", *SUMMARY_LINKS}


def test_summary_links_and_entry_reports(page: str) -> None:
    hrefs = Page(page).values("href")
    assert set(SUMMARY_LINKS) == {"summary.csv", "summary.json"} <= set(hrefs)
    entries = {h for h in hrefs if h.startswith("entries/")}
    assert entries == {f"entries/{name}/report.html"
                       for name in ("steady", "wide", "leaky", "worse")}


def test_intervals_never_wrap(page: str) -> None:
    assert re.search(r"\.ci \{ white-space: nowrap;", STYLE)
    table = section(page, "models")
    for value, low, high in (("+0.080", "+0.030", "+0.130"), ("+0.100", "-0.010", "+0.210"),
                             ("+0.040", "+0.035", "+0.045")):
        assert (f"<span class='ci'>{value} <span class='range'>[{low}, {high}]</span></span>"
                in table)
    assert "<span class='ci'>0.67 <span class='range'>[0.64, 0.70]</span></span>" in table


def test_what_to_do_comes_from_what_was_measured(page: str) -> None:
    todo = [" ".join(Page(item).words.split()) for item in
            re.findall(r"<li>(.*?)</li>", section(page, "what-to-do"))]
    assert todo[0] == (f"Fix the failed entry first (broken): batch.log holds the "
                       f"tracebacks, and {COMMAND} redoes only them.")
    assert todo[1] == ("Look first at leaky (vkorc1 of non-members: +8 points over "
                       "imputation); worse (vkorc1 of members: +5 points over imputation): "
                       "each report names the attack and how often it is right.")
    # the batch measured the same data, label and attribute with less access: said so
    assert todo[2] == ("Measured: worse, the same data, label and attribute with access "
                       "label-only, shows leaks (+5 points).")
    assert todo[3] == ("Not measured: differential privacy. tabinv sweep --dataset iwpc "
                       "--model tree --label dose_class -s vkorc1 -a map --prior marginal "
                       "trains tree models with it at several epsilons and measures the "
                       "same attack and the model's utility at each.")
    assert todo[4] == ("Inconclusive: wide (vkorc1 of members, 151 records: interval "
                       "[-0.010, +0.210]): the interval cannot rule out a gain of 5 points; "
                       "only more records can decide it.")
    assert len(todo) == 5  # imputation beat prior-mode everywhere: nothing said about it
    assert "<code>" + COMMAND.replace("'", "&#x27;") + "</code>" in page


def test_what_to_do_reports_a_measured_access_and_weak_imputation() -> None:
    rows = [row("open", "leaks", 0.08, 0.03, 0.13),
            row("labels", "no measurable leakage", -0.1, -0.13, -0.07, access="label-only",
                baseline_imputation=0.30, baseline_prior_mode=0.32, over="prior-mode"),
            row("regression", "no measurable leakage", -0.1, -0.13, -0.07,
                utility_metric="r2", utility=-4.5e7, family="linear", label="dose")]
    page = page_of(rows, [entry("open", data=None), entry("labels", access="label-only")])
    todo = Page(section(page, "what-to-do")).words
    assert ("Measured: labels, the same data, label and attribute with access label-only, "
            "shows no measurable leakage (-10 points).") in todo
    assert "Not measured: whether less access" not in todo  # measured in this batch
    alone = Page(section(page_of([rows[0]], [entry("open")]), "what-to-do")).words
    assert (f"Not measured: whether less access stops it. Copy the entry open under a new "
            f"name with access = \"rounded\", decimals = 1 or access = \"label-only\" and "
            f"run {COMMAND} (finished entries are reused).") in alone
    assert "tabinv sweep --dataset iwpc --model tree --label dose_class -s vkorc1" in alone
    assert "sweep" not in todo  # the entry's data is a file, not a built-in data set
    assert ("For labels, imputation trained on the reference sample guesses worse than "
            "always guessing the most common value") in todo
    table = section(page, "models")
    assert "R^2 <span class='ci'>&lt; -1</span><sup>*</sup>" in table
    assert "<sup>*</sup> R^2 below -1" in table and "-4.5" not in page


def test_nothing_leaking_names_the_attacks_not_run() -> None:
    page = page_of([row("quiet", "no measurable leakage", -0.1, -0.13, -0.07)],
                   [entry("quiet")])
    todo = Page(section(page, "what-to-do")).words
    assert todo == ("What to do No model leaks measurably with the attacks run (map). Not "
                    "run: confidence, csmia, lomia, match, meta, whitebox-dt, whitebox-tree; "
                    "set attacks "
                    f"= [\"all\"] in the inventory's [defaults] and run {COMMAND} to "
                    "measure them.")
    assert "0 of 1 assessed model leak" in Page(summary_box(page)).words
    everything = page_of([row("quiet", "no measurable leakage", -0.1, -0.13, -0.07)],
                         [entry("quiet", attacks=("all",))])
    assert Page(section(everything, "what-to-do")).words == (
        "What to do No model leaks measurably with any of tabinv's attacks: nothing to fix "
        "for these threat models.")


HOSTILE = ["<script>alert(1)</script>", "x' onmouseover='alert(1)", "\"><img src=x>",
           "a&amp;b", "javascript:alert(1)", "name\x1b[31m\nnext"]


def test_every_input_is_text() -> None:
    rows = [row(f"e{i}", "leaks" if i == 0 else "no measurable leakage", 0.08 - i / 100,
                0.03 - i / 100, 0.13 - i / 100, sensitive=value, data=value, label=value,
                attack=value, over=value, family=value, format=value, access=value,
                population=value, utility_metric=value)
            for i, value in enumerate(HOSTILE)]
    rows.append(failed(HOSTILE[0], HOSTILE[1]))
    descriptions = {f"e{i}": value for i, value in enumerate(HOSTILE)}
    page = page_of(rows, [], descriptions)
    parsed = Page(page)
    assert set(parsed.tags) <= TAGS, set(parsed.tags) - TAGS
    assert not [name for _, name, _ in parsed.attributes if name.startswith("on")]
    assert "<script>" not in page and "<img" not in page
    for href in parsed.values("href"):
        assert href.startswith(("entries/", "#g-")) or href in SUMMARY_LINKS, href
    for value in HOSTILE:
        assert " ".join(printable(value, keep="\n\t").split()) in parsed.words, value


def test_an_entry_name_cannot_leave_entries() -> None:
    names = ["../../etc/passwd", "javascript:alert(1)", "a/b", "x'y"]
    rows = [row(name, "leaks", 0.08, 0.03, 0.13) for name in names]
    hrefs = [h for h in Page(page_of(rows, [])).values("href") if h.startswith("entries/")]
    assert {len(h.split("/")) for h in hrefs} == {3}
    assert all(h.endswith("/report.html") and "'" not in h for h in hrefs)


def test_a_real_batch_writes_the_index_next_to_its_summaries(tmp_path: Path) -> None:
    from tabinv.batch.example import write_example_inventory
    from tabinv.batch.executors import SerialExecutor
    from tabinv.batch.inventory import read_inventory
    from tabinv.batch.runner import run_batch

    inventory = read_inventory(write_example_inventory(tmp_path / "inv", entries=2))
    result = run_batch(inventory, tmp_path / "out", executor=SerialExecutor())
    page = (result.out / "index.html").read_text(encoding="utf-8")
    for name in SUMMARY_LINKS:
        assert (result.out / name).is_file() and f"href='{name}'" in page
    for name in result.summary["entry"].unique():
        assert f"href='entries/{name}/report.html'" in page
        assert (result.out / "entries" / name / "report.html").is_file()
    assert f"tabinv batch {inventory.path} --out {result.out}" in Page(page).words
    ratings = set(result.summary["verdict"])
    assert ratings <= set(RATINGS) and ratings
    assert not math.isnan(float(result.summary["utility"].iloc[0]))


# -- in a real browser (Debian's chromium through playwright; tests/browser.py) -----------

@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("index")
    long = "x" * 180
    wide = [*ROWS, row("m-" + "long" * 24, "leaks", 0.3, 0.2, 0.4, sensitive=long,
                       label=long, data=long)]
    written = {"typical": page_of(ROWS, descriptions={"leaky": "forest " * 40}),
               "hostile": page_of(wide, descriptions={"m-" + "long" * 24: long})}
    paths = {}
    for name, text in written.items():
        paths[name] = folder / f"{name}.html"
        paths[name].write_text(text, encoding="utf-8")
    return paths


@pytest.mark.parametrize("kind", ["typical", "hostile"])
def test_in_a_browser_nothing_overflows_or_is_clipped(
        browser: Any, pages: dict[str, Path], kind: str) -> None:  # noqa: F811
    opened = open_report(browser, pages[kind])
    try:
        for width in (390, 1280):
            assert opened.overflowing(width) == [], (kind, width)
        for paper in ("A4", "Letter"):
            assert opened.clipped_in_print(paper) == [], (kind, paper)
        assert opened.external_requests == []
    finally:
        opened.page.close()


def test_in_a_browser_the_summary_comes_first_and_intervals_stay_on_one_line(
        browser: Any, pages: dict[str, Path]) -> None:  # noqa: F811
    opened = open_report(browser, pages["typical"])
    try:
        for width in (390, 1280):
            opened.at_width(width, height=900)
            box = opened.page.evaluate(
                "() => document.querySelector('.summary').getBoundingClientRect().top")
            assert box < 150, width  # under the title, above the fold
            lines = opened.page.evaluate(  # the line boxes each interval sits on
                "() => [...document.querySelectorAll('.ci')].map(e => new Set("
                "[...e.getClientRects()].map(r => Math.round(r.top))).size)")
            assert lines and set(lines) == {1}, width
            stacked = opened.page.evaluate(
                "() => getComputedStyle(document.querySelector('#models ~ table td'))"
                ".display")
            assert stacked == ("grid" if width == 390 else "table-cell")
    finally:
        opened.page.close()


def test_a_row_without_a_baseline_is_not_measured_and_last() -> None:
    rows = [row("bare", None, math.nan, math.nan, math.nan, over="", size=""),
            row("quiet", "no measurable leakage", -0.1, -0.13, -0.07)]
    page = page_of(rows, [])
    table = section(page, "models")
    assert table.index("entries/quiet/") < table.index("entries/bare/")
    assert "<span class='badge b-not-measured'>not measured</span>" in table
    assert "not measured 1 model (1 of 2 measurements)" in Page(summary_box(page)).words
