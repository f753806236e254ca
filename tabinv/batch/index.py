"""The batch run's index.html: one summary box, what to do, every model worst first,
and a short glossary, in one self-contained page (inline CSS, no script, no request).

Each model is shown by its deciding measurement: of its rows (attribute x population),
the one with the most severe rating (:data:`tabinv.vocabulary.RATINGS`), and among those
the largest leakage. Models are ordered the same way, so the first rows are the ones to
look at. Every text from an input is escaped (:func:`tabinv.text.html_text`); an entry's
link is its percent-encoded folder under ``entries/``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._version import __version__
from ..report.glossary import anchor
from ..report.glossary import entries as glossary_entries
from ..text import html_text, spans
from .advice import batch_command, what_to_do
from .entry import Entry
from .indexbox import (
    attribute,
    badge,
    deciding,
    entry_link,
    interval,
    linked,
    number,
    rating_of,
    summary_box,
    utility_cell,
)
from .indexstyle import STYLE

__all__ = ["SUMMARY_LINKS", "index_html"]

#: the summary files the page links to (written next to it by :func:`.summary.write_summary`)
SUMMARY_LINKS = ("summary.csv", "summary.json")

#: glossary terms the page uses besides its ratings, attacks and baselines
_TERMS = ("leakage", "best baseline", "member", "non-member", "reference sample",
          "95% interval", "accuracy", "utility")
_UTILITY_TERMS = {"auc": "AUC", "r2": "R^2"}
_ACCESS_TERMS = {"label-only": "label-only", "white-box": "white-box"}
esc = html_text


# -- the page ------------------------------------------------------------------------------

def _text(value: str) -> str:
    """Escaped text with the code spans :func:`tabinv.text.code` marked as ``<code>``."""
    return "".join(f"<code>{esc(piece)}</code>" if is_code else esc(piece)
                   for piece, is_code in spans(value))


def _cell(label: str, content: str, style: str = "") -> str:
    """A cell labelled by its column (shown when the table stacks), its content in one
    element so the stacked card keeps it in one grid cell."""
    kind = f" class='{style}'" if style else ""
    return f"<td data-label='{esc(label)}'{kind}><div>{content}</div></td>"


def _head(columns: Sequence[tuple[str, str | None]]) -> str:
    cells = "".join(f"<th scope='col'>{_linked_term(label, term)}</th>"
                    for label, term in columns)
    return f"<thead><tr>{cells}</tr></thead>"


def _linked_term(label: str, term: str | None) -> str:
    return f"<a href='#{anchor(term)}'>{esc(label)}</a>" if term else esc(label)


_MODEL_COLUMNS = (("#", None), ("model", None), ("rating", None), ("leakage [95% interval]",
                  "leakage"), ("over", "best baseline"), ("attribute, population", None),
                  ("attack, accuracy", None), ("utility", "utility"), ("data, label", None),
                  ("model type, access", None))


def _model_row(rank: int, row: Mapping[str, Any], description: str) -> tuple[str, bool]:
    name = str(row["entry"])
    note = f"<br><small>{esc(description)}</small>" if description else ""
    utility, footnote = utility_cell(row)
    accuracy = number(row.get("attack_accuracy"))
    attack = linked(str(row.get("attack") or ""))
    if not math.isnan(accuracy):
        attack += f" <span class='ci'>{accuracy:.2f}</span>"
    n = number(row.get("n"))
    population = esc(str(row.get("population") or "")) + \
        ("" if math.isnan(n) else f", {int(n)} records")
    labels = [label for label, _ in _MODEL_COLUMNS]
    cells = [str(rank), f"<a href='{entry_link(name)}'>{esc(name)}</a>{note}",
             badge(rating_of(row)),
             interval(row.get("leakage"), row.get("leakage_low"), row.get("leakage_high")),
             linked(str(row.get("over") or "")),
             f"{attribute(row)}<br><small>{population}</small>", attack,
             utility, f"{esc(str(row.get('data')))}, {esc(str(row.get('label')))}",
             f"{esc(str(row.get('family')))} ({esc(str(row.get('format')))}), "
             f"{esc(str(row.get('access')))}"]
    styles = ["num", "free name", "", "num", "", "free", "", "", "free", "free"]
    return ("<tr>" + "".join(_cell(label, cell, style) for label, cell, style
                             in zip(labels, cells, styles, strict=True)) + "</tr>", footnote)


def _models_table(models: Sequence[Mapping[str, Any]], descriptions: Mapping[str, str]
                  ) -> list[str]:
    rows, footnote = [], False
    for rank, row in enumerate(models, start=1):
        line, marked = _model_row(rank, row, descriptions.get(str(row["entry"])) or "")
        rows.append(line)
        footnote |= marked
    lines = ["<h2 id='models'>Models, worst first</h2>",
             "<p class='note'>One row per model: of its attributes and populations, the "
             "measurement with the most severe rating (then the largest leakage). Leakage is "
             "the attack's accuracy minus the best model-free baseline's on the same "
             "records; utility is the model's own on non-members.</p>",
             f"<table>{_head(_MODEL_COLUMNS)}<tbody>", *rows, "</tbody></table>"]
    if footnote:
        lines.append("<p class='note'><sup>*</sup> R^2 below -1: the model predicts worse "
                     "than a constant by more than the label's own spread; the exact value "
                     "is in summary.csv.</p>")
    return lines


def _failed_table(failed: pd.DataFrame) -> list[str]:
    if not len(failed):
        return []
    rows = [f"<tr>{_cell('entry', esc(str(r.entry)), 'failed')}"
            f"{_cell('error', esc(str(r.error)))}</tr>" for r in failed.itertuples()]
    return ["<h2 id='failed'>Failed entries</h2>",
            f"<table>{_head((('entry', None), ('error', None)))}<tbody>", *rows,
            "</tbody></table>"]


def _glossary(ok: pd.DataFrame) -> list[str]:
    """The terms the page uses: its attacks and baselines, the ratings, and the words of
    its tables (anchors ``g-`` + slug, as in every report)."""
    methods = [str(a).split(" (")[0] for a in ok.get("attack", pd.Series(dtype=str))]
    methods += [str(o) for o in ok.get("over", pd.Series(dtype=str)) if o]
    wanted = set(_TERMS)
    wanted |= {_UTILITY_TERMS[m] for m in ok.get("utility_metric", ()) if m in _UTILITY_TERMS}
    wanted |= {_ACCESS_TERMS[a] for a in ok.get("access", ()) if a in _ACCESS_TERMS}
    items = [item for item in glossary_entries(methods)
             if item.kind != "term" or item.term in wanted]
    body = "".join(f"<li id='{esc(item.anchor)}'><strong>{esc(item.term)}"
                   f"{'' if item.kind == 'term' else ' (' + esc(item.kind) + ')'}</strong>: "
                   f"{esc(item.meaning)}.</li>" for item in items)
    return ["<h2 id='glossary'>Glossary</h2>", f"<ul class='glossary'>{body}</ul>"]


def index_html(frame: pd.DataFrame, descriptions: Mapping[str, str] | None = None, *,
               entries: Sequence[Entry] = (), inventory: str | Path | None = None,
               out: str | Path | None = None,
               links: Sequence[str] = SUMMARY_LINKS) -> str:
    """The batch index: a self-contained page (inline CSS, no script).

    Parameters
    ----------
    frame : DataFrame
        The summary rows (:data:`tabinv.batch.task.ROW_COLUMNS`).
    descriptions : mapping of str to str, optional
        Each entry's description.
    entries : sequence of Entry, optional
        The inventory's entries (their threat models and the commands in "What to do").
    inventory, out : path, optional
        The inventory file and the output folder, for the rerun command.
    links : sequence of str
        The summary files next to the page, linked from the summary box.
    """
    descriptions = descriptions or {}
    by_name = {entry.name: entry for entry in entries}
    ok = frame[frame["status"] == "ok"]
    failed = frame[frame["status"] != "ok"].drop_duplicates("entry")
    models = deciding(ok)
    total = frame["entry"].nunique()
    title = f"tabinv batch: {total} {'model' if total == 1 else 'models'}"
    box = summary_box(models, len(failed), ok, descriptions, by_name, links)
    advice = what_to_do(models, [str(n) for n in failed["entry"]], ok, by_name,
                        batch_command(inventory, out))
    todo = ["<h2 id='what-to-do'>What to do</h2>",
            "<ul>" + "".join(f"<li>{_text(line)}</li>" for line in advice) + "</ul>"] \
        if advice else []
    body = [f"<h1>{esc(title)}</h1>", *box, *todo, *_failed_table(failed),
            *(_models_table(models, descriptions) if models else []), *_glossary(ok),
            f"<p class='note'>tabinv {esc(__version__)}</p>"]
    return ("<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>\n"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f"<title>{esc(title)}</title>\n<style>{STYLE}</style></head><body><main>\n"
            + "\n".join(part for part in body if part) + "\n</main></body></html>\n")
