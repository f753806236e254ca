"""Items 2, 8 (first bullet) and 10 (third bullet) of issue 11: text from inputs escaped
for where it lands.

One list of hostile strings goes into a data set the realistic way (as a card's title,
column names and domain values, a data file's name, ``--population``, a batch entry's
description, a cell the loader refuses) and through every writer: the Markdown and HTML
reports, the Markdown tables of ``--markdown``, the ``--records`` CSV, the batch run's
``summary.csv`` and ``index.html``, the results table printed by the CLI and the error
line. Markdown is checked by rendering it (markdown-it, raw HTML allowed as GitHub does)
and HTML by parsing it: no tag or attribute from an input, and the input shown as text.
"""

from __future__ import annotations

import csv
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from pages import Page
from typer.testing import CliRunner

from tabinv.batch.index import SUMMARY_LINKS
from tabinv.batch.summary import index_html
from tabinv.batch.task import ROW_COLUMNS
from tabinv.cli import app
from tabinv.report.markdown import render_markdown
from tabinv.report.tables import assessment_markdown
from tabinv.text import LINE_LIMIT, csv_cell, csv_safe_frame, markdown_text, printable

LONG = "L" * 100_000
#: the hostile strings: each is a category of the sensitive column (its domain)
HOSTILE = (
    "x`<img src=x onerror=alert(7)>`", "[/bold]", "[red]x[/]", "=2+5", "@SUM(1+1)", "+1",
    "-2+3", "\tTAB", "\rCR", "a|b|c", "new\nline", "\x1b[31mred", "<script>alert(1)</script>",
    "javascript:alert(1)", "\"double\" 'single'", "Ünïcödé 東京 \u202eevil", LONG,
)
SENSITIVE = "@SUM(1+1)[/bold]\x1b[31m`<img src=x onerror=alert(7)>`|x"
LABEL = "=2+5"
FEATURE = "-2+3<script>alert(1)</script>"
TITLE = "T`<img src=x onerror=alert(7)>` [/bold] \x1b[2J javascript:alert(1) \"q' | p\nline"
POPULATION = "x`<img src=x onerror=alert(7)>`[red]x[/]\x1b[31m|-2+3"
DESCRIPTION = "<b>desc</b> `x` [/bold] \x1b[31m javascript:alert(1) \"q'"
DATA_NAME = "d\x1b[2J`<img src=x onerror=alert(7)>`[red]x.csv"  # (no '/' in a name)
#: what a spreadsheet may read as a formula (OWASP), fullwidth forms included
FORMULA = tuple("=+-@\t\r") + ("\uff1d", "\uff0b", "\uff0d", "\uff20")
#: the tags the writers emit themselves (markdown-it for Markdown, html.py, summary.py)
OWN_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "h3", "h4",
            "p", "section", "dl", "dt", "dd",
            "ul", "li", "div", "table", "thead", "tbody", "tr", "th", "td", "span", "code",
            "figure", "img", "figcaption", "em", "strong", "blockquote", "a", "br", "small"}

runner = CliRunner()


def invoke(*args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def toml_value(value: Any) -> str:
    """A TOML value (JSON strings are TOML basic strings: escapes as \\u001b, \\n)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def seen(text: str) -> str:
    """How a hostile text reads in a report: one line, control characters as escapes."""
    return printable(re.sub(r"[\n\r\t]", " ", text))


# -- the hostile data set, model and runs ---------------------------------------------------

def write_card(path: Path) -> Path:
    columns = {FEATURE: {"kind": "numeric", "bounds": [-10, 10], "description": "f"},
               SENSITIVE: {"kind": "categorical", "domain": list(HOSTILE),
                           "description": DESCRIPTION},
               LABEL: {"kind": "numeric", "bounds": [-100, 100], "description": "y"}}
    lines = ['name = "hostile"', f"title = {toml_value(TITLE)}",
             f"description = {toml_value(DESCRIPTION)}", f"label = {toml_value(LABEL)}",
             f"features = {toml_value([FEATURE, SENSITIVE])}",
             f"sensitive = {toml_value([SENSITIVE])}"]
    for name, spec in columns.items():
        lines += ["", f"[columns.{toml_value(name)}]",
                  *(f"{k} = {toml_value(v)}" for k, v in spec.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_data(path: Path, rows: int = 340) -> Path:
    """Each hostile category 20 times; the label all but names it (a leaking model)."""
    rng = np.random.default_rng(0)
    codes = np.arange(rows) % len(HOSTILE)
    feature = rng.uniform(-1, 1, rows)
    pd.DataFrame({FEATURE: feature, SENSITIVE: [HOSTILE[c] for c in codes],
                  LABEL: 4.0 * codes + feature + rng.normal(0, 0.2, rows)}
                 ).pipe(write_csv, path)
    return path


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Text quoted: a lone carriage return in a value stays inside its cell."""
    frame.to_csv(path, index=False, quoting=csv.QUOTE_NONNUMERIC)


@dataclass(frozen=True)
class World:
    folder: Path
    card: Path
    data: Path
    model: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("hostile")
    card, data = write_card(folder / "card.toml"), write_data(folder / DATA_NAME)
    trained = invoke("train", "--data", data, "--card", card, "--model", "linear",
                     "--out", folder / "model.skops")
    assert trained.exit_code == 0, trained.output
    return World(folder, card, data, folder / "model.skops")


def attack(world: World, *extra: Any) -> Any:
    return invoke("attack", "--model", world.model, "--data", world.data, "--sensitive",
                  SENSITIVE, "--label", LABEL, "--population", POPULATION, "--reference",
                  world.data, *extra)


@pytest.fixture(scope="module")
def attacked(world: World) -> None:
    """``tabinv attack --records --out result.json --json``, then ``tabinv report``
    renders its Markdown and HTML."""
    folder = world.folder
    result = attack(world, "--records", folder / "records.csv",
                    "--out", folder / "result.json", "--json")
    assert result.exit_code == 0, result.output
    rendered = invoke("report", folder / "result.json", "--markdown", folder / "report.md",
                      "--html", folder / "report.html")
    assert rendered.exit_code == 0, rendered.output


# -- Markdown -------------------------------------------------------------------------------

def assert_no_injected_markup(page: str) -> Page:
    """Only the writers' own tags; no event handler; links and images only our own."""
    parsed = Page(page)
    assert set(parsed.tags) <= OWN_TAGS, set(parsed.tags) - OWN_TAGS
    for tag, name, value in parsed.attributes:
        assert not name.startswith("on"), (tag, name)
        if name in ("src", "href"):  # inline images, or a relative path (no scheme)
            assert not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", value) or value.startswith(
                "data:image/png;base64,"), (tag, value)
    assert "<script" not in page.lower()
    return parsed


def render_markdown_as_github(text: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]
                                                          ).render(text)


@pytest.mark.parametrize("start", [True, False])
def test_item2_markdown_text_renders_as_exactly_the_input(start: bool) -> None:
    """item 2: each hostile string, as a paragraph and as a table cell, renders as itself
    (one line, controls as escapes) and adds no element."""
    for hostile in HOSTILE:
        escaped = markdown_text(hostile, start=start)
        assert "\n" not in escaped and "<" not in escaped
        source = escaped if start else f"| h |\n|---|\n| {escaped} |"
        parsed = assert_no_injected_markup(render_markdown_as_github(source))
        assert set(parsed.tags) <= ({"p"} if start else {"table", "thead", "tbody", "tr",
                                                         "th", "td"}), (hostile, parsed.tags)
        assert seen(hostile).strip() in parsed.text, hostile


def unescaped_backticks(text: str) -> list[int]:
    """Positions of backticks not escaped by a backslash."""
    return [m.end() - 1 for m in re.finditer(r"(?<!\\)(?:\\\\)*`", text)]


def test_item2_markdown_report_escapes_every_input(world: World, attacked: None) -> None:
    """item 2: report.md has no raw '<' or '>' and no backtick of an input; rendered, it
    has no element an input made and shows every input as text."""
    text = (world.folder / "report.md").read_text(encoding="utf-8")
    assert "<" not in text and ">" not in text and "\x1b" not in text
    spans = re.findall(r"(?<!\\)(?:\\\\)*`([^`]*)`", text)
    assert len(unescaped_backticks(text)) == 2 * len(spans)
    assert all(re.fullmatch(r"[^<>&|\\\x00-\x1f]+", span) for span in spans), spans
    shown = assert_no_injected_markup(render_markdown_as_github(text)).text
    for hostile in (SENSITIVE, FEATURE, POPULATION, LABEL, str(world.data)):
        assert seen(hostile) in shown, hostile


def test_item2_markdown_figure_links_and_captions(world: World, attacked: None) -> None:
    """item 2: figures' alt text and captions are escaped, and their links (a folder
    named after the report's file) are percent-encoded: no scheme, no early end."""
    document = json.loads((world.folder / "result.json").read_text(encoding="utf-8"))
    folder = "x) <img src=x onerror=alert(1)> javascript:alert(1)_figures/"
    text = render_markdown(document, images=folder)
    assert "<" not in text and "![" in text
    parsed = assert_no_injected_markup(render_markdown_as_github(text))
    sources = [value for tag, name, value in parsed.attributes if name == "src"]
    assert sources and all(unquote(src).startswith(folder) for src in sources), sources
    alts = [value for tag, name, value in parsed.attributes if name == "alt"]
    assert any(seen(SENSITIVE) in alt for alt in alts), alts


def test_item2_markdown_tables_of_the_markdown_option(world: World, attacked: None) -> None:
    """item 2: the tables ``--markdown`` prints escape cells (pipes stay inside a cell)."""
    document = json.loads((world.folder / "result.json").read_text(encoding="utf-8"))
    text = assessment_markdown(document)
    assert "<" not in text and "\x1b" not in text
    rendered = render_markdown_as_github(text)
    parsed = assert_no_injected_markup(rendered)
    header = text.splitlines()[0]
    assert rendered.count("<th>") == header.count(" | ") + 1
    assert seen(SENSITIVE) in parsed.text


# -- HTML -----------------------------------------------------------------------------------

def test_item2_html_report_has_no_injected_tag_or_attribute(world: World,
                                                             attacked: None) -> None:
    """item 2: report.html holds only its own tags, inputs as text (controls escaped)."""
    page = (world.folder / "report.html").read_text(encoding="utf-8")
    assert "\x1b" not in page
    parsed = assert_no_injected_markup(page)
    shown = html.unescape(parsed.text)
    for hostile in (SENSITIVE, FEATURE, POPULATION, LABEL, str(world.data)):
        assert printable(hostile, keep="\n\t") in shown, hostile


# -- CSV ------------------------------------------------------------------------------------

def read_csv_cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def assert_no_formula(rows: list[list[str]]) -> None:
    """No cell a spreadsheet would run: a cell starting with = + - @ tab CR is a number."""
    for row in rows:
        for cell in row:
            if cell.lstrip(" ").startswith(FORMULA):
                assert is_number(cell) and not cell.startswith(("+", "\t", "\r")), cell


def test_item2_csv_cells_neutralised_numbers_kept() -> None:
    """item 2: text cells that could start a formula get a leading quote; numbers (a
    numeric column's -0.5) and column names are handled apart."""
    frame = pd.DataFrame({"=HYPERLINK(1)": ["=2+5", "-2+3", "+1", "ok"],
                          "number": [-0.5, 2.0, -3e-3, 1.0],
                          "mixed": ["-0.5", -0.5, " =1", "\uff1dSUM(1)"]})
    safe = csv_safe_frame(frame)
    assert list(safe.columns) == ["'=HYPERLINK(1)", "number", "mixed"]
    assert list(safe["'=HYPERLINK(1)"]) == ["'=2+5", "'-2+3", "'+1", "ok"]
    assert safe["number"].dtype == float and list(safe["number"]) == list(frame["number"])
    assert list(safe["mixed"]) == ["'-0.5", -0.5, "' =1", "'\uff1dSUM(1)"]
    assert frame.columns[0] == "=HYPERLINK(1)"  # the frame given is not changed
    assert [csv_cell(v) for v in ("\tx", "\rx", "@x", "x=1")] == ["'\tx", "'\rx", "'@x", "x=1"]


def test_item2_records_csv_neutralises_formula_cells(world: World, attacked: None) -> None:
    """item 2: the --records CSV read back with the csv module: every inferred value is
    the category or, when it could start a formula, the category after a quote."""
    rows = read_csv_cells(world.folder / "records.csv")
    assert_no_formula(rows)
    header, body = rows[0], rows[1:]
    inferred = {row[header.index(f"inferred_{SENSITIVE}")] for row in body}
    expected = {csv_cell(value) for value in HOSTILE}
    assert inferred <= expected and len(inferred) >= len(HOSTILE) - 2
    assert {"'=2+5", "'@SUM(1+1)", "'+1", "'-2+3", "'\tTAB", "'\rCR"} <= inferred
    probabilities = [float(row[1]) for row in body]  # posteriors stay numbers
    assert all(0.0 <= p <= 1.0 for p in probabilities)


# -- the terminal ---------------------------------------------------------------------------

def test_item8_results_table_shows_markup_and_controls_as_text(world: World) -> None:
    """item 8: the results table printed by ``tabinv attack`` (rich cells read no markup):
    exit 0, no ESC byte, '[/bold]' printed as it is."""
    result = attack(world)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "@SUM(1+1)[/bold]" in result.stdout
    assert "\\x1b[2J" in result.stdout  # the data file's name, in the table's title


def test_item8_item10_error_line_is_one_escaped_capped_line(world: World,
                                                            tmp_path: Path) -> None:
    """items 8 and 10: a refused value holding markup, an ANSI escape and 10^5 characters
    gives exit 2 and one line on stderr, at most LINE_LIMIT characters plus its length."""
    frame = pd.read_csv(world.data)
    frame[SENSITIVE] = frame[SENSITIVE].astype(object)
    frame.loc[3, SENSITIVE] = "[/bold][red]x[/]\x1b[2J<script>" + LONG
    write_csv(frame, tmp_path / "bad.csv")
    for args in (["--data", tmp_path / "bad.csv", "--sensitive", SENSITIVE],
                 ["--data", world.data, "--sensitive", "[/bold]\x1b[2J" + LONG]):
        result = invoke("attack", "--model", world.model, "--label", LABEL, *args)
        assert result.exit_code == 2, result.output
        assert result.stdout == "" and "Traceback" not in result.output
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines[:3]
        assert "\x1b" not in result.stderr and "\\x1b[2J" in lines[0]
        assert len(lines[0]) <= len("error: ") + LINE_LIMIT + len("... (1234567 chars)")


# -- the batch run --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch(world: World) -> Any:
    """A batch of two entries on the hostile data: one assessed, one refused by the loader
    (a cell outside the domain, holding markup, an escape and 10^5 characters)."""
    folder = world.folder
    frame = pd.read_csv(world.data)
    frame[SENSITIVE] = frame[SENSITIVE].astype(object)
    frame.loc[0, SENSITIVE] = "[/bold]\x1b[2J<script>alert(1)</script>" + LONG
    write_csv(frame, folder / "refused.csv")
    common = {"model": str(world.model), "card": str(world.card), "label": LABEL,
              "sensitive": [SENSITIVE], "description": DESCRIPTION}
    lines = ["[defaults]", "n_boot = 10", 'attacks = ["map"]', 'priors = ["marginal"]']
    for name, data in (("assessed", world.data), ("refused", folder / "refused.csv")):
        entry = {"name": name, "data_file": str(data), **common}
        lines += ["", "[[entry]]", *(f"{k} = {toml_value(v)}" for k, v in entry.items())]
    inventory = folder / "inventory.toml"
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = folder / "batch\x1b[2J[red]x"  # printed in the run's last lines
    result = invoke("batch", inventory, "--out", out, "--executor", "serial")
    assert result.exit_code == 1, result.output  # one entry failed, the run went on
    return result, out


def test_item2_batch_summary_csv_neutralises_formula_cells(batch: Any) -> None:
    """item 2: summary.csv read back with the csv module: no cell could start a formula;
    the label and column names that did are quoted, numeric columns stay numbers."""
    rows = read_csv_cells(batch[1] / "summary.csv")
    assert_no_formula(rows)
    header, body = rows[0], rows[1:]
    cells = {name: {row[header.index(name)] for row in body} for name in header}
    assert cells["label"] == {"'" + LABEL} and cells["sensitive"] == {"'" + SENSITIVE}
    assert any(is_number(value) for value in cells["leakage"])
    refused = next(row for row in body if row[header.index("entry")] == "refused")
    assert "\x1b" not in refused[header.index("error")]  # (the message quotes with repr)


def test_item2_batch_index_html_has_no_injected_markup(batch: Any) -> None:
    """item 2: index.html: inputs (descriptions, column names, the refused entry's error)
    as text; links only to each entry's report under entries/."""
    page = (batch[1] / "index.html").read_text(encoding="utf-8")
    parsed = assert_no_injected_markup(page)
    hrefs = [value for tag, name, value in parsed.attributes if name == "href"]
    assert {h for h in hrefs if h.startswith("entries/")} == {"entries/assessed/report.html"}
    assert all(h.startswith(("entries/", "#g-")) or h in SUMMARY_LINKS for h in hrefs), hrefs
    shown = html.unescape(parsed.text)
    assert printable(DESCRIPTION) in shown and printable(SENSITIVE) in shown


def test_item2_index_links_stay_in_entries_whatever_the_name() -> None:
    """item 2: index.html links an entry by its name percent-encoded as one folder, so a
    name that got past the inventory (quotes, a scheme, a path) cannot leave entries/."""
    names = ["x' onmouseover='alert(1)", "javascript:alert(1)", "../../etc/passwd",
             '"><script>alert(1)</script>']
    frame = pd.DataFrame([{column: None for column in ROW_COLUMNS} | {
        "entry": name, "status": "ok", "leakage": 0.1, "leakage_low": 0.0,
        "leakage_high": 0.2, "attack_accuracy": 0.5, "verdict": "leaks"} for name in names])
    parsed = assert_no_injected_markup(index_html(frame, {name: name for name in names}))
    hrefs = [value for tag, name, value in parsed.attributes if name == "href"
             and not value.startswith("#g-") and value not in SUMMARY_LINKS]
    assert {unquote(h.split("/")[1]) for h in hrefs} == set(names)
    assert all(len(h.split("/")) == 3 and h.endswith("/report.html") for h in hrefs)


def test_item2_batch_entry_reports_escape_the_card(batch: Any) -> None:
    """item 2: an entry's report.md and report.html show the card's title and every
    domain value (the per-value table) as text, and add no element."""
    folder = batch[1] / "entries" / "assessed"
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "<" not in markdown and "\x1b" not in markdown
    shown = assert_no_injected_markup(render_markdown_as_github(markdown)).text
    page = assert_no_injected_markup((folder / "report.html").read_text(encoding="utf-8"))
    for hostile in (TITLE, *HOSTILE):
        assert seen(hostile).strip() in shown, hostile
        assert printable(hostile, keep="\n\t") in page.text, hostile
    assert f"{seen(SENSITIVE)} jointly" not in shown  # a '+' in a name is not a joint one


def test_item8_batch_terminal_lines_are_escaped(batch: Any) -> None:
    """item 8: ``tabinv batch`` prints the refused entry's error on one line, and its
    output folder's name with the escape shown, not sent."""
    result = batch[0]
    assert "\x1b" not in result.output and "Traceback" not in result.output
    assert "batch\\x1b[2J[red]x/index.html" in result.stdout
    failed = [line for line in result.stdout.splitlines() if line.startswith("  failed ")]
    assert len(failed) == 1 and failed[0].startswith("  failed refused: ")
