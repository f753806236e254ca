"""Reports checked in a real browser: Debian's chromium, driven by playwright.

One browser per test module (:func:`browser`, a module-scoped fixture); each report is
opened from a local file with every request outside that file blocked and recorded. The
helpers measure what a reader would see: elements that stick out of the viewport at a
given width, tables the print layout cuts off on A4 and Letter, the PDF's page count.

Nothing is downloaded: ``make browser`` installs Debian's chromium where it can, and the
tests skip with the reason where it cannot (no chromium, no playwright).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "PAPERS", "ReportPage", "browser", "open_report", "unavailable"]

CHROMIUM = Path("/usr/bin/chromium")
#: printed content width in CSS pixels (96 per inch) with the reports' 15 mm page margins
PAPERS = {"A4": 680, "Letter": 702}


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (run `make browser` as root to install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the whole test module."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM),
                                          args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


#: elements whose right edge passes the viewport's, or whose content is wider than them
_OVERFLOW = """(width) => {
  const found = [];
  const limit = Math.max(width, document.documentElement.clientWidth) + 0.5;
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;  // empty or visually hidden
    const style = getComputedStyle(el);
    const scrolls = ['auto', 'scroll', 'hidden'].includes(style.overflowX)
                    && el.scrollWidth > el.clientWidth + 1;
    if (box.right > limit || scrolls) {
      found.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                 (el.className && typeof el.className === 'string' ? '.' + el.className : '') +
                 ' right=' + Math.round(box.right) + ' scroll=' + el.scrollWidth +
                 '/' + el.clientWidth + ': ' + (el.textContent || '').trim().slice(0, 40));
    }
  }
  if (document.documentElement.scrollWidth > document.documentElement.clientWidth + 1)
    found.push('document scrollWidth=' + document.documentElement.scrollWidth);
  return found;
}"""

#: tables that are wider than their box or than the printed line
_CLIPPED = """(width) => {
  const found = [];
  for (const table of document.querySelectorAll('table')) {
    const box = table.getBoundingClientRect();
    let wide = table.scrollWidth > table.clientWidth + 1 || box.right > width + 0.5;
    for (const cell of table.querySelectorAll('th, td')) {
      const cellBox = cell.getBoundingClientRect();
      if (cellBox.right > width + 0.5 || cell.scrollWidth > cell.clientWidth + 1) wide = true;
    }
    if (wide) found.push((table.querySelector('th') || table).textContent.trim().slice(0, 60) +
                         ' right=' + Math.round(box.right) + ' of ' + width);
  }
  return found;
}"""


@dataclass
class ReportPage:
    """One report opened in the browser, every request outside it recorded and blocked."""

    page: Any
    url: str
    blocked: list[str] = field(default_factory=list)

    @property
    def external_requests(self) -> list[str]:
        """Every request for anything but the report file itself (all were blocked)."""
        return list(self.blocked)

    def at_width(self, width: int, height: int = 900) -> ReportPage:
        self.page.set_viewport_size({"width": width, "height": height})
        self.page.emulate_media(media="screen")
        return self

    def overflowing(self, width: int) -> list[str]:
        """Elements sticking out of a ``width`` px wide viewport (or scrolling sideways)."""
        self.at_width(width)
        return list(self.page.evaluate(_OVERFLOW, width))

    def clipped_in_print(self, paper: str) -> list[str]:
        """Tables the print layout on ``paper`` (A4, Letter) cuts off or scrolls."""
        width = PAPERS[paper]
        self.page.set_viewport_size({"width": width, "height": 1000})
        self.page.emulate_media(media="print")
        try:
            return list(self.page.evaluate(_CLIPPED, width))
        finally:
            self.page.emulate_media(media="screen")

    def pdf_pages(self, paper: str) -> int:
        """Pages of the printed report on ``paper``."""
        pdf = self.page.pdf(format=paper, prefer_css_page_size=True)
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))

    def screenshot(self, path: str | Path, width: int, full_page: bool = False) -> Path:
        self.at_width(width)
        self.page.screenshot(path=str(path), full_page=full_page)
        return Path(path)


def open_report(browser: Any, path: str | Path) -> ReportPage:
    """Open the HTML file at ``path`` in a new page; only that file may be loaded."""
    target = Path(path).resolve().as_uri()
    page = browser.new_page()
    opened = ReportPage(page, target)

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url == target:
            request_route.continue_()
        else:
            opened.blocked.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.goto(target, wait_until="load")
    return opened
