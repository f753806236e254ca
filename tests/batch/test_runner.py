"""The runner: outputs, resume, failures that do not stop the run, SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from tabinv.batch.executors import LocalExecutor, SerialExecutor, TaskFailure
from tabinv.batch.inventory import read_inventory
from tabinv.batch.runner import (
    ROW_COLUMNS,
    BatchProgress,
    assess_entry,
    read_record,
    run_batch,
)
from tabinv.exceptions import TabinvError
from tabinv.vocabulary import LEAKAGE_BASELINES, RATINGS

from . import crash_on, save, save_onnx, train, write_inventory
from .test_inventory import app

ROOT = Path(__file__).resolve().parents[2]


def entry_tables(folder: Path, onnx: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": "linear", "model": str(folder / "linear.skops"), "sensitive": ["vkorc1"],
         "description": "<b>OLS</b> & friends"},
        {"name": "tree-skops", "model": str(folder / "tree.skops"), "label": "dose_class",
         "seed": 1, "sensitive": ["cyp2c9"]},
        {"name": "tree-onnx", **onnx, "seed": 1, "sensitive": ["cyp2c9"]},
        {"name": "broken", "model": str(folder / "broken.skops"), "sensitive": ["vkorc1"]},
    ]


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inventory")
    tree = train("tree", "dose_class", seed=1, max_depth=4)
    save(train("linear"), folder / "linear.skops")
    save(tree, folder / "tree.skops")
    onnx = save_onnx(tree, folder / "tree.onnx")
    (folder / "onnx.json").write_text(json.dumps(onnx))
    (folder / "broken.skops").write_bytes(b"PK\x03\x04 not really a zip")
    return write_inventory(folder / "inventory.toml", entry_tables(folder, onnx))


@pytest.fixture(scope="module")
def first_run(inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("out")
    states: list[BatchProgress] = []
    result = run_batch(read_inventory(inventory), out, executor=SerialExecutor(),
                       progress=states.append)
    return result, states


def test_outputs_rows_and_failures(first_run: Any) -> None:
    result, states = first_run
    out = result.out
    assert (result.total, result.succeeded, result.failed, result.reused) == (4, 3, 1, 0)
    assert result.exit_code == 1
    assert result.failures == (("broken", result.failures[0][1]),)
    assert "not a readable skops file" in result.failures[0][1]
    assert "\n" not in result.failures[0][1] and "Traceback" not in result.failures[0][1]
    assert "Traceback" in (out / "batch.log").read_text()
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.columns) == list(ROW_COLUMNS)
    pd.testing.assert_frame_equal(summary, result.summary)
    assert len(pd.read_csv(out / "summary.csv")) == len(summary)
    # one row per entry x inferred attribute x population
    assert summary.groupby("entry").size().to_dict() == {"linear": 2, "tree-skops": 2,
                                                         "tree-onnx": 2, "broken": 2}
    ok = summary[summary["status"] == "ok"]
    assert ok[["attack_accuracy", "baseline_imputation", "leakage", "leakage_low",
               "leakage_high"]].notna().all().all()
    assert (ok["leakage_low"] <= ok["leakage"]).all() and (ok["leakage"] <= ok["leakage_high"]
                                                          ).all()
    # issue 14: rated over the best model-free baseline, next to the model's utility
    assert set(ok["verdict"]) <= set(RATINGS) and set(ok["over"]) <= set(LEAKAGE_BASELINES)
    assert ok["size"].str.startswith("guesses ").all()
    assert set(ok["utility_metric"]) == {"r2", "accuracy"} and ok["utility"].notna().all()
    assert (ok["utility_low"] <= ok["utility"]).all()
    broken = summary[summary["entry"] == "broken"]
    assert (broken["status"] == "failed").all() and broken["leakage"].isna().all()
    for name in ("linear", "tree-skops", "tree-onnx"):
        for report in ("report.json", "report.md", "report.html", "result.json"):
            assert (out / "entries" / name / report).stat().st_size > 0
    assert sorted(p.name for p in (out / "entries" / "broken").iterdir()) == ["result.json"]
    assert [(s.done, s.failed, s.remaining) for s in states] == [
        (0, 0, 4), (1, 0, 3), (2, 0, 2), (3, 0, 1), (4, 1, 0)]


def test_onnx_and_skops_copies_of_one_tree_agree(first_run: Any) -> None:
    summary = first_run[0].summary.set_index(["entry", "population"])
    numbers = [c for c in ROW_COLUMNS if c.startswith(("attack_", "baseline_", "leak"))]
    skops, onnx = summary.loc["tree-skops", numbers], summary.loc["tree-onnx", numbers]
    # float32 probabilities order some tied records differently: AUC agrees only roughly
    pd.testing.assert_frame_equal(skops.drop(columns="attack_auc"),
                                  onnx.drop(columns="attack_auc"))
    assert (skops["attack_auc"] - onnx["attack_auc"]).abs().max() < 0.03
    assert set(summary.loc["tree-onnx", "family"]) == {"onnx"}
    report = json.loads((first_run[0].out / "entries/tree-onnx/report.json").read_text())
    assert report["model"]["estimator"] == "ONNX graph"


def test_index_is_self_contained_and_ordered(first_run: Any) -> None:
    page = (first_run[0].out / "index.html").read_text()
    assert "<script" not in page.lower() and "http" not in page.lower()
    assert "&lt;b&gt;OLS&lt;/b&gt; &amp; friends" in page  # descriptions are escaped
    summary = first_run[0].summary
    worst = summary[summary.status == "ok"].groupby("entry")["leakage"].max()
    shown = sorted(worst.index, key=lambda name: page.index(f"href='entries/{name}/"))
    assert list(worst[shown]) == sorted(worst, reverse=True)
    assert "Failed entries" in page and "broken" in page


def test_resume_reuses_redoes_and_distrusts(first_run: Any, inventory: Path,
                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0].out, out)
    records = {n: (out / "entries" / n / "result.json").stat().st_mtime_ns
               for n in ("linear", "tree-skops", "tree-onnx")}
    again = run_batch(read_inventory(inventory), out, executor=SerialExecutor())
    assert (again.succeeded, again.failed, again.reused) == (3, 1, 3)  # failed is retried
    assert {n: (out / "entries" / n / "result.json").stat().st_mtime_ns
            for n in records} == records
    pd.testing.assert_frame_equal(again.summary, first_run[0].summary)
    # a killed writer leaves temporaries (in the scratch folder, cleared by the next run);
    # a torn record or an edited report is not trusted
    (out / ".tabinv-scratch/result.json.x1.tmp").write_text("{")
    (out / "entries/linear/result.json").write_text('{"format": 1, "entry": "lin')
    with (out / "entries/tree-skops/report.html").open("a") as stream:
        stream.write("<!-- edited -->")
    tables = entry_tables(inventory.parent,
                          json.loads((inventory.parent / "onnx.json").read_text()))
    tables[2]["n_boot"] = 12
    changed = write_inventory(tmp_path / "elsewhere.toml", tables)  # names files elsewhere
    third = run_batch(read_inventory(changed, allow_paths=[inventory.parent]), out,
                      executor=SerialExecutor())
    assert (third.succeeded, third.reused) == (3, 0), third.summary[["entry", "key"]]
    assert not list(out.glob(".tabinv-scratch/*"))
    unchanged = "entry != 'tree-onnx'"
    pd.testing.assert_frame_equal(third.summary.query(unchanged),
                                  first_run[0].summary.query(unchanged))
    onnx_keys = set(third.summary.query("entry == 'tree-onnx'")["key"])
    assert onnx_keys.isdisjoint(first_run[0].summary["key"])


def test_a_second_writer_is_refused(first_run: Any, inventory: Path, tmp_path: Path) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with (out / ".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(TabinvError, match="another tabinv batch is writing"):
            run_batch(read_inventory(inventory), out, executor=SerialExecutor())


def test_sigkill_mid_run_loses_no_finished_result(inventory: Path, first_run: Any,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tabinv.cli.batch", "batch", str(inventory),
               "--out", str(out), "--jobs", "1"]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 900  # a hang guard, far above a normal run
        while not list(out.glob("entries/*/result.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the runner and its worker processes
        process.wait()
    assert process.returncode == -signal.SIGKILL
    entries = read_inventory(inventory).entries
    keys = dict(zip((e.name for e in entries), first_run[0].summary.drop_duplicates("entry")
                    ["key"], strict=True))
    finished = [name for name in keys if (out / "entries" / name / "result.json").exists()]
    assert finished, "the run was killed before any entry finished"
    for name in finished:  # every record on disk is whole: trusted, or a recorded failure
        record = json.loads((out / "entries" / name / "result.json").read_text())
        assert record["status"] == "failed" or read_record(out, name, keys[name]) is not None
    assert not (out / "summary.parquet").exists()
    resumed = run_batch(read_inventory(inventory), out, executor=SerialExecutor())
    assert resumed.reused == len([n for n in finished if n != "broken"])
    assert (resumed.succeeded, resumed.failed) == (3, 1)
    pd.testing.assert_frame_equal(resumed.summary, first_run[0].summary)


def test_local_executor_isolates_a_crashing_worker() -> None:
    items = ["a", "crash", "b", "c", "d"]
    results = dict(LocalExecutor(2).run(crash_on, items))
    assert sorted(results) == list(range(len(items)))
    assert isinstance(results[1], TaskFailure) and "worker process died" in results[1].message
    assert [results[i] for i in (0, 2, 3, 4)] == ["A", "B", "C", "D"]


def test_batch_command_counts_and_exit_codes(first_run: Any, inventory: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(first_run[0].out, out)
    arguments = ["batch", str(inventory), "--out", str(out), "--executor", "serial"]
    result = CliRunner().invoke(app(), arguments)
    assert result.exit_code == 1, result.output
    assert "4 entries: 3 succeeded (3 reused from earlier runs), 1 failed" in result.output
    assert "failed broken: " in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app(), [*arguments, "--json"])
    document = json.loads(result.output[result.output.index("{"):])
    assert (document["failed"], document["reused"]) == (1, 3)
    result = CliRunner().invoke(app(), [*arguments, "--jobs", "2"])
    assert result.exit_code == 2 and "takes neither --jobs" in result.output


def test_white_box_attacks_need_white_box_access_and_never_meet_onnx(
        inventory: Path) -> None:
    """An entry's access level decides (tabinv.core, as for the CLI and the API): under
    'confidences', 'all' skips the white-box attacks with a note and naming one fails;
    'white-box' runs them; an ONNX graph never gets white-box access."""
    import dataclasses

    from tabinv.attacks.registry import ATTACKS

    white = sorted(name for name, attack in ATTACKS.items() if attack.needs_white_box)
    assert white, "no white-box attack is registered"
    entries = {e.name: e for e in read_inventory(inventory).entries}
    tree = dataclasses.replace(entries["tree-skops"], n_boot=5)

    def threat(entry: Any) -> dict[str, Any]:
        outcome = assess_entry(entry)
        assert outcome.status == "ok", outcome.error
        return json.loads(outcome.files["report.json"])["assessments"][0]["threat"]

    plain = threat(dataclasses.replace(tree, attacks=("all",)))
    assert plain["access"] == "confidences"
    ran = {a["attack"] for a in plain["attacks"]}
    assert ran.isdisjoint(white) and "map" in ran
    for name in white:
        assert any(s.startswith(name) and "grant access 'white-box'" in s
                   for s in plain["skipped"]), (name, plain["skipped"])
    granted = threat(dataclasses.replace(tree, attacks=("map", *white), access="white-box"))
    assert granted["access"] == "white-box"
    assert set(white) <= {a["attack"] for a in granted["attacks"]}
    forced = assess_entry(dataclasses.replace(tree, attacks=(white[0],)))
    assert forced.status == "failed"
    assert f"attack {white[0]!r} needs white-box access" in forced.error
    onnx = assess_entry(dataclasses.replace(entries["tree-onnx"], access="white-box",
                                            attacks=("map",), n_boot=5))
    assert onnx.status == "failed" and "does not give tabinv" in onnx.error
