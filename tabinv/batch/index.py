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
from ..report.glossary import anchor, cell_anchor
from ..report.glossary import entries as glossary_entries
from ..text import html_text, link_target, spans
from ..vocabulary import ACCESS_LEVELS, RATINGS, UTILITY_NAMES
from .advice import batch_command, what_to_do
from .entry import Entry
from .indexstyle import STYLE

__all__ = ["SUMMARY_LINKS", "index_html"]

#: the summary files the page links to (written next to it by :func:`.summary.write_summary`)
SUMMARY_LINKS = ("summary.csv", "summary.json")

_NOT_MEASURED = "not measured"
_SEVERITY = {**{rating: rank for rank, rating in enumerate(RATINGS)}, "": len(RATINGS)}
#: glossary terms the page uses besides its ratings, attacks and baselines
_TERMS = ("leakage", "best baseline", "member", "non-member", "reference sample",
          "95% interval", "accuracy", "utility")
_UTILITY_TERMS = {"auc": "AUC", "r2": "R^2"}
_ACCESS_TERMS = {"label-only": "label-only", "white-box": "white-box"}
esc = html_text


# -- what each model shows --------------------------------------------------------------

def _rank(row: Mapping[str, Any]) -> tuple[int, float]:
    leakage = row.get("leakage")
    value = float(leakage) if isinstance(leakage, (int, float)) else math.nan
    return (_SEVERITY.get(str(row.get("verdict") or ""), len(RATINGS)),
            -value if not math.isnan(value) else math.inf)


def _deciding(ok: pd.DataFrame) -> list[dict[str, Any]]:
    """Per assessed entry, its deciding row; entries in that order (worst first)."""
    rows = [dict(row) for _, row in ok.iterrows()]
    best: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=_rank):
        best.setdefault(str(row["entry"]), row)
    return list(best.values())


def _rating(row: Mapping[str, Any]) -> str:
    return str(row.get("verdict") or "") or _NOT_MEASURED


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _interval(value: Any, low: Any, high: Any, digits: int = 3, sign: str = "+") -> str:
    """``+0.083 [+0.027, +0.143]`` that never wraps; a dash when undefined."""
    numbers = [_number(v) for v in (value, low, high)]
    if math.isnan(numbers[0]):
        return "&ndash;"
    shown = [f"{v:{sign}.{digits}f}" for v in numbers]
    spread = "" if any(math.isnan(v) for v in numbers[1:]) else \
        f" <span class='range'>[{shown[1]}, {shown[2]}]</span>"
    return f"<span class='ci'>{shown[0]}{spread}</span>"


def _badge(rating: str) -> str:
    target = cell_anchor(rating)
    style = f"badge b-{anchor(rating)[2:]}"
    if target is None:
        return f"<span class='{style}'>{esc(rating)}</span>"
    return f"<a class='{style}' href='#{target}'>{esc(rating)}</a>"


def _linked(text: str) -> str:
    """An attack or baseline name linked to its glossary entry."""
    target = cell_anchor(text)
    return f"<a href='#{target}'>{esc(text)}</a>" if target else esc(text)


def _utility(row: Mapping[str, Any]) -> tuple[str, bool]:
    """The model's utility on non-members, and whether it is an R^2 below -1 (shown as
    ``< -1`` with a footnote)."""
    metric = str(row.get("utility_metric") or "")
    value = _number(row.get("utility"))
    if not metric or math.isnan(value):
        return "&ndash;", False
    name = esc(UTILITY_NAMES.get(metric, metric))
    if metric == "r2" and value < -1:
        return f"{name} <span class='ci'>&lt; -1</span><sup>*</sup>", True
    return f"{name} {_interval(value, row.get('utility_low'), row.get('utility_high'), 2, '')}", \
        False


def _attribute(row: Mapping[str, Any]) -> str:
    name, hidden = str(row.get("sensitive") or ""), str(row.get("hidden") or "")
    if hidden and hidden != name and " + " in hidden:
        if name == hidden.replace(" + ", "+"):
            return f"{esc(name)} (jointly)"
        return f"{esc(name)} <small>(with {esc(hidden)} hidden)</small>"
    return esc(name)


def _link(name: str) -> str:
    return f"entries/{esc(link_target(name, safe=''))}/report.html"


# -- the summary box ----------------------------------------------------------------------

def _counts(models: Sequence[Mapping[str, Any]], failed: int, ok: pd.DataFrame) -> str:
    items = []
    for rating in (*RATINGS, _NOT_MEASURED):
        chosen = [m for m in models if _rating(m) == rating]
        if not chosen:
            continue
        rows = int((ok["verdict"].fillna("").replace("", _NOT_MEASURED) == rating).sum())
        noun = "model" if len(chosen) == 1 else "models"
        items.append(f"<li>{_badge(rating)} {len(chosen)} {noun} "
                     f"<small>({rows} of {len(ok)} measurements)</small></li>")
    if failed:
        items.append(f"<li>{_badge('failed')} {failed} "
                     f"{'entry' if failed == 1 else 'entries'} could not be assessed</li>")
    leaking = sum(_rating(m) == "leaks" for m in models)
    assessed = f"{len(models)} assessed {'model' if len(models) == 1 else 'models'}"
    head = (f"{leaking} of {assessed} {'leaks' if leaking == 1 else 'leak'} a sensitive "
            "attribute beyond what population statistics reveal.")
    return f"<p>{head}</p><ul>{''.join(items)}</ul>"


def _population(row: Mapping[str, Any]) -> str:
    population = str(row.get("population") or "")
    return {"members": "its training members", "non-members": "non-members"}.get(
        population, esc(population))


def _worst(row: Mapping[str, Any], description: str) -> str:
    """The worst model in one sentence: attack, attribute, population, size in words."""
    name = str(row["entry"])
    noted = f" <small>({esc(description)})</small>" if description else ""
    over = str(row.get("over") or "")
    interval = _interval(row.get("leakage"), row.get("leakage_low"), row.get("leakage_high"))
    measured = f"leakage {interval} over {_linked(over)}" if over else \
        "no baseline to measure it against"
    n = _number(row.get("n"))
    records = "" if math.isnan(n) else f", {int(n)} records"
    size = esc(str(row.get("size") or "was not scored"))
    utility, _ = _utility(row)
    return (f"<p><span class='label'>Worst:</span> {_badge(_rating(row))} "
            f"<a href='{_link(name)}'>{esc(name)}</a>{noted}: the attack "
            f"{_linked(str(row.get('attack') or ''))} {size} on {_population(row)} "
            f"<small>({measured}{records})</small>. The model's own utility on "
            f"non-members: {utility}.</p>")


def _threat(row: Mapping[str, Any], entry: Entry | None) -> str:
    """The threat model of the worst entry in one sentence."""
    access = str(row.get("access") or (entry.access if entry else ""))
    sees = ACCESS_LEVELS.get(access, access)
    if access == "rounded" and entry is not None and entry.decimals is not None:
        sees += f" ({entry.decimals} decimals)"
    known = "every other column of a person's record" if entry is None or entry.known is None \
        else "the columns " + ", ".join(entry.known)
    holds = "model-predicted" if entry is not None and entry.label_source != "true" \
        else "true"
    hidden = str(row.get("hidden") or row.get("sensitive") or "")
    return (f"<p><span class='label'>Threat:</span> the attacker wants {esc(hidden)} of a "
            f"person, knows {esc(known)} and the {holds} label {esc(str(row.get('label')))}, "
            "holds a sample of the same population (not the training records) and gets "
            f"from the model {esc(sees)}.</p>")


def _downloads(names: Sequence[str]) -> str:
    links = " &middot; ".join(f"<a href='{esc(link_target(n, safe=''))}'>{esc(n)}</a>"
                              for n in names)
    return (f"<p><span class='label'>Data:</span> every measurement in {links}; each model's "
            "name links to its full report.</p>") if links else ""


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
    utility, footnote = _utility(row)
    accuracy = _number(row.get("attack_accuracy"))
    attack = _linked(str(row.get("attack") or ""))
    if not math.isnan(accuracy):
        attack += f" <span class='ci'>{accuracy:.2f}</span>"
    n = _number(row.get("n"))
    population = esc(str(row.get("population") or "")) + \
        ("" if math.isnan(n) else f", {int(n)} records")
    labels = [label for label, _ in _MODEL_COLUMNS]
    cells = [str(rank), f"<a href='{_link(name)}'>{esc(name)}</a>{note}",
             _badge(_rating(row)),
             _interval(row.get("leakage"), row.get("leakage_low"), row.get("leakage_high")),
             _linked(str(row.get("over") or "")),
             f"{_attribute(row)}<br><small>{population}</small>", attack,
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
    models = _deciding(ok)
    total = frame["entry"].nunique()
    title = f"tabinv batch: {total} {'model' if total == 1 else 'models'}"
    box = ["<div class='summary' role='region' aria-label='Summary'><h2>Summary</h2>",
           _counts(models, len(failed), ok)]
    if models:
        worst = models[0]
        box += [_worst(worst, descriptions.get(str(worst["entry"])) or ""),
                _threat(worst, by_name.get(str(worst["entry"])))]
    box += [_downloads(links), "</div>"]
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
