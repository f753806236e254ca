"""Items 3 and 5: one Assessment -> document conversion that every writer renders, and
the threat sentence in the access-level vocabulary (old stored documents still render)."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import tabinv
from tabinv import api
from tabinv.batch import task
from tabinv.cli import app as cli_app
from tabinv.cli import render as cli_render
from tabinv.exceptions import TabinvError
from tabinv.report import document as document_module
from tabinv.report.document import Document, as_document, combine
from tabinv.report.files import read_document, write_report
from tabinv.report.html import render_html
from tabinv.report.json import plain, to_json
from tabinv.report.markdown import render_markdown
from tabinv.report.threat import threat_sentence
from tabinv.text import CODE_END, CODE_START

from . import COMMAND, planted_assessments, stored

REPORT = Path(tabinv.__file__).parent / "report"


def _reference(value: Any) -> Any:
    """What the JSON text round trip gave: parsed JSON, NaN as None, no code-span marks."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value.replace(CODE_START, "").replace(CODE_END, "")
    if isinstance(value, dict):
        return {_reference(k): _reference(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reference(v) for v in value]
    return value


def _round_trip(document: Any) -> Any:
    """``document`` through JSON text, as the writers used to convert it."""
    return _reference(json.loads(json.dumps(document, default=lambda v: v.item())))


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the documents built (each conversion checks its input once)."""
    calls: list[int] = []
    check = document_module._check

    def counting(document: Any) -> None:
        calls.append(1)
        check(document)

    monkeypatch.setattr(document_module, "_check", counting)
    return calls


def test_item5_live_and_stored_give_the_same_plain_document():
    """item 5: live assessments and their stored JSON give one document, equal to what
    the JSON text round trip gave (NaN as None, tuples as lists, no marks)."""
    live = list(planted_assessments())
    document = as_document(live)
    assert isinstance(document, Document) and as_document(document) is document
    assert document == _round_trip(combine(live))
    assert as_document(json.loads(to_json(document))) == document
    assert combine(live) == api.combine(live)  # the facade keeps its output
    nans = [v for a in live for r in a.results for v in
            (e.value for e in r.metrics.values()) if math.isnan(v)]
    assert nans, "the planted assessments should hold an undefined metric (NaN)"
    assert "NaN" not in to_json(document) and "null" in to_json(document)


def test_item5_plain_values_without_a_json_round_trip():
    """item 5: the plain-value walk gives what ``json.loads`` of the JSON text gave."""
    marked = f"{CODE_START}dose{CODE_END}"
    value = {"t": (1, 2.5, (np.float64("nan"), math.inf)), 3: np.int64(7),
             marked: [np.bool_(True), np.str_("x" + marked), None, -math.inf],
             "n": {"f": np.float32(0.5), "b": False}}
    expected = {"t": [1, 2.5, [None, None]], "3": 7, "dose": [True, "xdose", None, None],
                "n": {"f": 0.5, "b": False}}
    assert plain(value, marks=False) == expected
    assert plain(value)[marked][1] == "x" + marked  # marks kept unless asked
    leaves = [*plain(value, marks=False)["dose"], plain(value, marks=False)["3"],
              plain(value, marks=False)["n"]["f"]]
    assert {type(v) for v in leaves} == {bool, str, type(None), int, float}
    with pytest.raises(TabinvError, match="cannot write a set into a JSON document"):
        plain({"a": {1, 2}})


def test_item5_every_writer_converts_once(tmp_path, conversions):
    """item 5: the batch task's three reports, the CLI's render and a Markdown report
    with its figures each convert the assessments once."""
    live = list(planted_assessments())

    class Entry:
        name = "planted"

    files = task._render(live, Entry())
    assert sorted(files) == ["report.html", "report.json", "report.md"]
    assert len(conversions) == 1
    assert json.loads(files["report.json"])["command"] == "tabinv batch (entry planted)"
    conversions.clear()
    write_report(live, tmp_path / "r.md", command=COMMAND, figures=True)
    assert len(conversions) == 1 and any((tmp_path / "r_figures").glob("*.png"))
    conversions.clear()
    cli_render.render(live, as_json=False, report=tmp_path / "r.html")
    assert len(conversions) == 1
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_item5_report_command_reads_once_and_gives_the_live_bytes(tmp_path, conversions):
    """item 5: ``tabinv report`` converts the stored JSON once for every output, and
    its Markdown and HTML are byte-identical to the live render."""
    live = list(planted_assessments())
    write_report(live, tmp_path / "r.json", command=COMMAND)
    write_report(live, tmp_path / "live.md", command=COMMAND)
    write_report(live, tmp_path / "live.html", command=COMMAND)
    conversions.clear()
    result = CliRunner().invoke(cli_app, [
        "report", str(tmp_path / "r.json"), "--html", str(tmp_path / "stored.html"),
        "--markdown", str(tmp_path / "stored.md"), "--png", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    assert len(conversions) == 1
    for suffix in ("md", "html"):
        assert (tmp_path / f"stored.{suffix}").read_bytes() == \
            (tmp_path / f"live.{suffix}").read_bytes()
    assert read_document(tmp_path / "r.json") == stored(
        {**as_document(live), "command": COMMAND})


def _imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at the top or inside a function, made absolute."""
    package = ["tabinv", "report"]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            found += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return found


def test_item5_report_imports_no_front_end():
    """item 5: tabinv.report imports neither tabinv.api nor batch, defences or cli,
    not even inside a function."""
    banned = ("tabinv.api", "tabinv.batch", "tabinv.defences", "tabinv.cli")
    modules = sorted(REPORT.glob("*.py"))
    assert len(modules) >= 10
    assert {"tabinv.evaluation.results", "tabinv.report.json.plain"} <= set(
        _imports(REPORT / "document.py"))  # relative imports are resolved
    for path in modules:
        imported = _imports(path)
        bad = [n for n in imported if n in banned or n.startswith(tuple(b + "." for b in
                                                                          banned))]
        assert not bad, f"{path.name} imports {bad}"


# -- item 3: access levels -------------------------------------------------------------

THREAT = {"sensitive": ["vkorc1"], "known": ["age"], "unknown": [], "label": "dose",
          "label_source": "true"}

#: (threat written with access levels, the same threat as documents stored it before,
#:  what the attacker can query, in words)
ACCESS_CASES = [
    ({"access": "confidences", "answers": "output", "rounding": None, "white_box": False},
     {"access": "output", "rounding": None, "white_box": False},
     "the model's prediction and its residual spread"),
    ({"access": "confidences", "answers": "confidence", "rounding": None, "white_box": False},
     {"access": "confidence", "rounding": None, "white_box": False},
     "the model's confidence scores"),
    ({"access": "rounded", "answers": "confidence", "rounding": 2, "white_box": False},
     {"access": "confidence", "rounding": 2, "white_box": False},
     "the model's confidence scores rounded to 2 decimals"),
    ({"access": "rounded", "answers": "output", "rounding": 1, "white_box": False},
     {"access": "output", "rounding": 1, "white_box": False},
     "the model's prediction and its residual spread rounded to 1 decimals"),
    ({"access": "label-only", "answers": "label", "rounding": None, "white_box": False},
     {"access": "label", "rounding": None, "white_box": False},
     "only the model's predicted label"),
    ({"access": "white-box", "answers": "confidence", "rounding": None, "white_box": True},
     {"access": "confidence", "rounding": None, "white_box": True},
     "the model's confidence scores, and the model file itself (white box)"),
]


@pytest.mark.parametrize(("levels", "before", "words"), ACCESS_CASES)
def test_item3_threat_sentence_reads_the_access_level(levels, before, words):
    """item 3: the threat sentence reads the access level (with its decimals, and a
    regression's prediction and residual spread for output answers) and renders a
    document stored before the levels (``access`` holding the answer kind) the same."""
    sentence = threat_sentence({**THREAT, **levels})
    assert f"; and can query {words}. The attacker never sees" in sentence
    assert threat_sentence({**THREAT, **before}) == sentence


def test_item3_level_decides_over_answers_and_unknown_values_are_shown():
    """item 3: a label-only level says so whatever the answers; a level without its
    answer kind still reads; an unknown access value is shown as it is."""
    assert "can query only the model's predicted label." in threat_sentence(
        {**THREAT, "access": "label-only", "answers": "confidence"})
    assert "can query the model's full output rounded to 3 decimals." in threat_sentence(
        {**THREAT, "access": "rounded", "rounding": 3})
    assert "can query the model's full output, and the model file itself (white box)." \
        in threat_sentence({**THREAT, "access": "white-box"})
    assert "can query an endpoint." in threat_sentence({**THREAT, "access": "an endpoint"})


def _with_levels(threat: dict[str, Any]) -> dict[str, Any]:
    """A threat written before the access levels, rewritten with them."""
    levels = next(new for new, old, _ in ACCESS_CASES if all(
        threat.get(k) == v for k, v in old.items()))
    return {**threat, **levels}


def _before_levels(threat: dict[str, Any]) -> dict[str, Any]:
    """A threat as documents stored before the access levels held it: the answer kind
    under ``access``, no ``answers``."""
    old = {k: v for k, v in threat.items() if k != "answers"}
    return {**old, "access": threat["answers"]}


def test_item3_reports_are_the_same_in_both_vocabularies():
    """item 3: a whole report is byte-identical whether its document holds the access
    level or (stored before) only the answer kind."""
    after = as_document(list(planted_assessments()))
    assert {s["threat"]["access"] for s in after["assessments"]} == {"confidences"}
    assert {s["threat"]["answers"] for s in after["assessments"]} == {"output"}
    before = {**after, "assessments": [{**s, "threat": _before_levels(s["threat"])}
                                       for s in after["assessments"]]}
    assert [_with_levels(s["threat"]) for s in before["assessments"]] == \
        [s["threat"] for s in after["assessments"]]
    assert render_markdown(after) == render_markdown(before)
    assert render_html(after) == render_html(before)
    assert ("and can query the model's prediction and its residual spread. The attacker "
            "never sees") in render_markdown(before)
