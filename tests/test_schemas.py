"""Issue 14, item 5: every JSON document tabinv writes carries ``kind`` and
``schema_version`` and validates against the JSON Schema shipped for its kind; invalid
documents are refused with one line naming the key path; ``tabinv schema KIND``."""

from __future__ import annotations

import fnmatch
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from batch import save, train, write_inventory  # tests/batch (tests/ is on the path)
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from tabinv import api
from tabinv.batch.executors import SerialExecutor
from tabinv.batch.inventory import read_inventory
from tabinv.batch.runner import ROW_COLUMNS, run_batch
from tabinv.cli import app
from tabinv.core.threat import LABEL_SOURCES
from tabinv.data.dataset import Dataset
from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.defences.sweep import sweep
from tabinv.exceptions import DocumentError, TabinvError
from tabinv.report.document import as_document
from tabinv.report.files import read_document, render_file
from tabinv.report.json import to_json
from tabinv.schemas import KINDS, SCHEMA_VERSION, schema, stamp, validate
from tabinv.vocabulary import RATINGS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cohort() -> Dataset:
    return Dataset("synthetic-iwpc", builtin_card("iwpc"), synthetic_iwpc(400, 3))


def _json(document: Any) -> Any:
    """What a reader of the written JSON gets."""
    return json.loads(to_json(as_document(document)))


@pytest.fixture(scope="module")
def assessment(cohort: Dataset) -> dict[str, Any]:
    """Two threat models in one document, with the positive-value metrics."""
    first = api.assess(cohort, "linear", sensitive=["vkorc1"], n_boot=20,
                       positive={"vkorc1": "A/A"})
    second = api.assess(cohort, "naive-bayes", label="dose_class", n_boot=20,
                        sensitive=["vkorc1", "cyp2c9"], attacks=["map", "confidence"])
    return _json([first, second])


@pytest.fixture(scope="module")
def given(cohort: Dataset) -> dict[str, Any]:
    """``tabinv attack``'s document: given records, no baselines."""
    model, splits = api.core.train_target(cohort, "linear")
    result, _ = api.attack_records(model, splits.non_members, sensitive=["vkorc1"],
                                   n_boot=20)
    return _json(result)


@pytest.fixture(scope="module")
def swept(cohort: Dataset) -> dict[str, Any]:
    return _json(sweep(cohort, "linear", epsilons=[2], seeds=2, sensitive=["vkorc1"]).to_dict())


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One entry assessed and one failed: both records, the summary, a report.json."""
    folder = tmp_path_factory.mktemp("inventory")
    save(train("linear"), folder / "linear.skops")
    (folder / "broken.skops").write_bytes(b"PK\x03\x04 not a zip")
    inventory = write_inventory(folder / "inventory.toml", [
        {"name": "linear", "model": str(folder / "linear.skops"), "sensitive": ["vkorc1"]},
        {"name": "broken", "model": str(folder / "broken.skops"), "sensitive": ["vkorc1"]}])
    out = folder / "out"
    run_batch(read_inventory(inventory), out, executor=SerialExecutor())
    return out


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_kind_has_a_self_contained_draft_2020_12_schema():
    for kind in KINDS:
        document = schema(kind)
        Draft202012Validator.check_schema(document)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert document["properties"]["kind"]["const"] == kind
        assert "common.json" not in json.dumps(document)  # every $ref is inside it
        assert document["required"][:2] == ["kind", "schema_version"]


def _properties(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found = []
    if isinstance(node, dict):
        for group in ("properties", "patternProperties"):
            for name, value in node.get(group, {}).items():
                found.append((f"{path}.{name}", value))
        for key, value in node.items():
            found += _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _properties(value, f"{path}[{i}]")
    return found


def test_every_property_has_a_description():
    for kind in KINDS:
        properties = _properties(schema(kind))
        assert len(properties) > 10
        missing = [p for p, value in properties if not str(value.get("description", ""))]
        assert not missing, (kind, missing)


def test_vocabularies_are_the_packages_own():
    """The schemas' enumerations are tabinv's vocabularies (one name per concept)."""
    defs = schema("assessment")["$defs"]
    assert tuple(defs["leakage"]["properties"]["rating"]["enum"]) == RATINGS
    assert tuple(schema("sweep")["$defs"]["attack"]["properties"]["rating"]["enum"]) == RATINGS
    assert tuple(defs["result"]["properties"]["label_source"]["enum"]) == LABEL_SOURCES
    assert tuple(defs["threat"]["properties"]["label_source"]["enum"]) == LABEL_SOURCES


def test_schemas_ship_as_package_data():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setup = pyproject["tool"]["setuptools"]
    assert "tabinv.schemas" in setup["packages"]
    patterns = setup["package-data"]["tabinv.schemas"]
    on_disk = {p.name for p in (ROOT / "tabinv" / "schemas").glob("*.json")}
    assert on_disk == {f"{kind}.json" for kind in KINDS} | {"common.json"}
    assert all(any(fnmatch.fnmatch(name, p) for p in patterns) for name in on_disk)
    shipped = {p.name for p in resources.files("tabinv.schemas").iterdir()}
    assert on_disk <= shipped
    assert any(r.startswith("jsonschema") for r in pyproject["project"]["dependencies"])


def _valid(document: Any, kind: str) -> None:
    assert (document["kind"], document["schema_version"]) == (kind, SCHEMA_VERSION)
    assert list(document)[:2] == ["kind", "schema_version"]
    validate(document)


def test_assessment_documents_validate(assessment, given):
    _valid(assessment, "assessment")
    _valid(given, "assessment")
    assert len(assessment["assessments"]) == 2
    assert given["assessments"][0]["results"][0]["population"] == "given"
    names = {k for s in assessment["assessments"] for r in s["results"] for k in r}
    assert {"precision", "mcc", "top_100_precision", "suppressed_below"} <= names
    assert {"rating", "over", "leakage", "size"} <= set(assessment["leakage"][0])


def test_sweep_document_validates(swept):
    _valid(swept, "sweep")
    attack = swept["points"][1]["attacks"][0]
    assert {"leakage", "leakage_per_seed", "over", "rating"} <= set(attack)
    assert not any(key.startswith("advantage") for point in swept["points"]
                   for a in point["attacks"] for key in a)


def test_batch_documents_validate(batch):
    for name in ("linear", "broken"):
        record = _read(batch / "entries" / name / "result.json")
        _valid(record, "batch-entry")
    assert _read(batch / "entries/broken/result.json")["status"] == "failed"
    _valid(_read(batch / "entries/linear/report.json"), "assessment")
    summary = _read(batch / "summary.json")
    _valid(summary, "batch-summary")
    assert {row["entry"] for row in summary["rows"]} == {"linear", "broken"}
    assert summary["entries"] == 2
    csv = (batch / "summary.csv").read_text().splitlines()
    assert len(summary["rows"]) == len(csv) - 1  # the same rows as summary.csv


def test_the_row_schema_describes_every_summary_column():
    assert set(schema("batch-summary")["$defs"]["batch_row"]["properties"]) == set(ROW_COLUMNS)


def test_a_rerun_reuses_the_stamped_records(batch):
    before = (batch / "entries/linear/result.json").read_bytes()
    inventory = batch.parent / "inventory.toml"
    again = run_batch(read_inventory(inventory), batch, executor=SerialExecutor())
    assert again.reused == 1
    assert (batch / "entries/linear/result.json").read_bytes() == before
    run = again.to_dict()  # what `tabinv batch --json` prints
    _valid(run, "batch-run")
    assert (run["total"], run["reused"], run["failed"]) == (2, 1, 1)


def _broken(document: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(document))
    node = copy
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copy


@pytest.mark.parametrize("path, value, message", [
    (["assessments", 0, "results", 1, "accuracy", "value"], "high",
     "at assessments[0].results[1].accuracy.value: 'high' is not of type 'number', 'null'"),
    (["leakage", 0, "rating"], "leaky", "at leakage[0].rating: 'leaky' is not one of"),
    (["assessments", 0, "results", 0, "confusion", 0, 0], -3,
     "at assessments[0].results[0].confusion[0][0]: -3 is less than the minimum of 0"),
    (["assessments"], KeyError, "at the document: 'assessments' is a required property"),
    (["difference"], {"value": 1}, "Additional properties are not allowed ('difference'"),
])
def test_invalid_documents_fail_with_the_key_path(assessment, path, value, message):
    with pytest.raises(DocumentError) as caught:
        validate(_broken(assessment, path, value))
    text = str(caught.value)
    assert text.startswith("assessment document, at ") and message in text, text
    assert "\n" not in text and len(text) < 400


@pytest.mark.parametrize("change, message", [
    ({"schema_version": 2}, "written by a newer tabinv; this tabinv reads schema_version 1"),
    ({"schema_version": "1"}, "schema_version '1'"),
    ({"schema_version": True}, "schema_version 'True'"),
    ({"kind": "report"}, "unknown document kind 'report'; the kinds are assessment, sweep"),
])
def test_kind_and_version_are_checked(swept, change, message):
    with pytest.raises(DocumentError, match=message.replace("(", r"\(")):
        validate({**swept, **change})
    with pytest.raises(DocumentError, match="a JSON object, not a list"):
        validate([swept])


def test_stamp_puts_kind_and_version_first_and_refuses_unknown_kinds():
    assert stamp({"rows": [], "kind": "x", "schema_version": 0}, "batch-summary") == {
        "kind": "batch-summary", "schema_version": 1, "rows": []}
    with pytest.raises(DocumentError, match="unknown document kind 'summary'"):
        stamp({}, "summary")


def test_stored_documents_are_checked_and_old_ones_still_render(assessment, swept, tmp_path):
    stored = tmp_path / "result.json"
    stored.write_text(json.dumps(_broken(swept, ["points", 0, "attacks", 0, "leakage"],
                                         KeyError)))
    with pytest.raises(DocumentError, match=r"result.json: sweep document, at "
                       r"points\[0\].attacks\[0\]: 'leakage' is a required property"):
        read_document(stored)
    result = CliRunner().invoke(app, ["report", str(stored), "--html", str(tmp_path / "x")])
    assert result.exit_code == 2 and "'leakage' is a required property" in result.output
    # written before schema version 1: no kind, no version; rendered as before
    old = {k: v for k, v in assessment.items() if k not in ("kind", "schema_version")}
    stored.write_text(json.dumps(old))
    assert render_file(stored, tmp_path / "old.html").read_text().lower().startswith("<!doctype")
    # another kind of document is not a report
    stored.write_text(json.dumps(stamp({"rows": []}, "batch-summary")))
    with pytest.raises(TabinvError, match="a tabinv 'batch-summary' document is not a report"):
        read_document(stored)


@pytest.mark.parametrize("kind", KINDS)
def test_schema_command_prints_the_schema(kind):
    result = CliRunner().invoke(app, ["schema", kind])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == schema(kind)


def test_schema_command_refuses_an_unknown_kind():
    result = CliRunner().invoke(app, ["schema", "summary"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == ["error: unknown document kind 'summary'; the kinds are assessment, "
                     "sweep, batch-entry, batch-summary, batch-run"]
