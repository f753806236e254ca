"""The HTML reports in headless chromium: nothing sticks out at 390 and 1280 px, nothing
is fetched from outside the file, and printed on A4 and Letter no table is cut off.

One browser for the module (``tests/browser.py``); skipped, with the reason, where
chromium or playwright is missing (``make browser`` installs chromium as root).
"""

from __future__ import annotations

import pytest
from browser import PAPERS, browser, open_report  # noqa: F401  (browser: a fixture)

from tabinv.report.html import render_html

from . import fake_sweep, planted_html

WIDTHS = (390, 1280)


def _hostile_sweep() -> dict:
    """The fake sweep with a long unbreakable attribute name and markup in it."""
    document = fake_sweep()
    long_name = "vkorc1_" + "x" * 60 + "<b>"
    for point in document["points"]:
        for entry in point["attacks"] + point["baselines"]:
            if entry["sensitive"] == "vkorc1":
                entry["sensitive"] = long_name
    return document


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    pages = {"assessment": planted_html(), "sweep": render_html(fake_sweep()),
             "hostile sweep": render_html(_hostile_sweep())}
    paths = {}
    for name, page in pages.items():
        paths[name] = folder / f"{name.replace(' ', '-')}.html"
        paths[name].write_text(page, encoding="utf-8")
    return paths


@pytest.fixture(scope="module")
def opened(browser, reports):  # noqa: F811
    pages = {name: open_report(browser, path) for name, path in reports.items()}
    yield pages
    for page in pages.values():
        page.page.close()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", ["assessment", "sweep", "hostile sweep"])
def test_nothing_overflows_the_viewport(opened, kind, width):
    assert opened[kind].overflowing(width) == []


@pytest.mark.parametrize("kind", ["assessment", "sweep"])
def test_no_request_leaves_the_file(opened, kind):
    page = opened[kind]
    page.page.reload(wait_until="load")  # every image decoded, every style applied
    assert page.external_requests == []
    assert page.page.evaluate("document.images.length") >= 3
    assert page.page.evaluate(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


@pytest.mark.parametrize("paper", sorted(PAPERS))
@pytest.mark.parametrize("kind", ["assessment", "sweep", "hostile sweep"])
def test_printed_tables_are_not_clipped(opened, kind, paper):
    page = opened[kind]
    assert page.clipped_in_print(paper) == []
    assert page.pdf_pages(paper) >= 2


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_box_is_the_first_thing_on_the_screen(opened, width):
    page = opened["sweep"].at_width(width)
    box = page.page.locator("section.summary").bounding_box()
    assert box is not None and box["y"] < 400  # under the title, above the fold
    labels = page.page.locator("section.summary dt").all_inner_texts()
    assert labels[:4] == ["Rating", "Worst case", "Size", "Threat model"]


def test_glossary_links_land_on_their_entries(opened):
    page = opened["assessment"].page
    targets = page.evaluate("Array.from(document.querySelectorAll('a[href^=\"#\"]'))"
                            ".map(a => a.getAttribute('href'))")
    assert targets and all(page.locator(target).count() == 1 for target in set(targets))


def test_tables_stack_into_labelled_cards_on_a_phone(opened):
    page = opened["sweep"].at_width(390).page
    cell = page.locator("table td[data-label='rating']").first
    assert cell.evaluate("c => getComputedStyle(c).display") == "grid"
    assert cell.evaluate("c => getComputedStyle(c, '::before').content") == '"rating"'
    assert page.locator("table thead").first.evaluate(
        "t => t.getBoundingClientRect().width") <= 1
