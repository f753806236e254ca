"""Hostile data files (issue 11, items 3, 7, 8 and 10): every one gives one clear line and
exit code 2 (or, in a batch, a one-line failure of that entry), never a line of a file
that is not a table, and never a silently wrong result."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tabinv.batch.executors import SerialExecutor
from tabinv.batch.inventory import InventoryError, read_inventory
from tabinv.batch.runner import run_batch
from tabinv.cli import app
from tabinv.data.schema import card_from_dict, read_card
from tabinv.data.tables import DataOptions, load_table, read_table
from tabinv.exceptions import ColumnError, DataError
from tabinv.models.families import make_model

SECRET = "root:$6$s3cr3t-hash-0123456789:19000:0:99999:7:::"
CARD = """name = "toy"
label = "y"
features = ["x", "w", "s", "c"]
sensitive = ["s"]
[columns.x]
kind = "numeric"
bounds = [0, 100]
[columns.w]
kind = "numeric"
[columns.s]
kind = "categorical"
domain = ["a", "b"]
[columns.c]
kind = "categorical"
domain = ["u", "v", "w"]
[columns.y]
kind = "numeric"
bounds = [0, 1000]
[columns.k]
kind = "categorical"
domain = ["lo", "hi"]
"""
runner = CliRunner()


def toy_frame(rows: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = rng.choice(["a", "b"], rows)
    x = rng.uniform(0, 100, rows).round(2)
    y = (3 * x + 40 * (s == "b") + rng.normal(0, 5, rows)).clip(0, 1000).round(2)
    return pd.DataFrame({"x": x, "w": rng.normal(70, 10, rows).round(1), "s": s,
                         "c": rng.choice(["u", "v", "w"], rows), "y": y,
                         "k": np.where(y > 150, "hi", "lo")})


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with card.toml, data.csv and a linear model trained on them."""
    folder = tmp_path_factory.mktemp("toy")
    (folder / "card.toml").write_text(CARD)
    toy_frame().to_csv(folder / "data.csv", index=False)
    ok(["train", "--data", folder / "data.csv", "--card", folder / "card.toml",
        "--model", "linear", "--out", folder / "model.skops"])
    (folder / "secret").write_text(SECRET + "\nsecond line, with a comma\n")
    return folder


def ok(args: list) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def fails(args: list, *expected: str) -> str:
    """The command exits 2 with one error line holding ``expected`` and no traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for fragment in expected:
        assert fragment in lines[0], lines[0]
    return lines[0]


def attack(toy: Path, data: Path, *extra: object) -> list:
    return ["attack", "--model", toy / "model.skops", "--data", data, "--sensitive", "s",
            "--label", "y", *extra]


def write_inventory(path: Path, entries: Sequence[Mapping[str, Any]],
                    defaults: Mapping[str, Any] | None = None) -> Path:
    """An inventory file (JSON strings, lists and numbers are TOML values too)."""
    tables = [("[defaults]", defaults or {"n_boot": 5, "priors": ["marginal"]}),
              *(("[[entry]]", entry) for entry in entries)]
    path.write_text("\n".join(f"{head}\n" + "".join(f"{k} = {json.dumps(v)}\n"
                                                  for k, v in table.items())
                              for head, table in tables), encoding="utf-8")
    return path


def write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


# -- item 3: a data file that is a symlink to a secret file -----------------------------
def test_item3_symlinked_secret_data_file_is_not_quoted(toy: Path, tmp_path: Path) -> None:
    """item 3: the CLI refuses a file without the card's columns and quotes none of it."""
    link = tmp_path / "records.csv"
    link.symlink_to(toy / "secret")
    for args in (attack(toy, link), attack(toy, link, "--known", "x"),
                 ["train", "--data", link, "--card", toy / "card.toml", "--model", "linear",
                  "--out", tmp_path / "m.skops"]):
        line = fails(args, "records.csv is not a CSV table with the card's columns",
                     "found 1 column(s)")
        assert "s3cr3t" not in line
    (tmp_path / "secret.csv").write_text("token,s3cr3t-value\n1,2\n")
    line = fails(attack(toy, tmp_path / "secret.csv"), "found 2 column(s)")
    assert "s3cr3t" not in line


def test_item3_inventory_files_stay_in_its_folder(toy: Path, tmp_path: Path) -> None:
    """item 3: files an inventory names must stay inside its folder (symlinks resolved);
    the refusal names the entry, the key and the resolved path."""
    folder = tmp_path / "inventory"
    folder.mkdir()
    (folder / "model.skops").symlink_to(toy / "model.skops")
    (folder / "data.csv").symlink_to(toy / "secret")
    entries = [{"name": "linked", "model": "model.skops", "data_file": "data.csv",
                "card": str(toy / "card.toml")},
               {"name": "climbs", "model": f"../../{toy.name}/model.skops",
                "data_file": str(folder / "data.csv"), "card": "sub/../../card.toml"}]
    path = write_inventory(folder / "inventory.toml", entries, {"n_boot": 5})
    with pytest.raises(InventoryError) as raised:
        read_inventory(path)
    outside = (f"is outside the inventory's folder {str(folder.resolve())!r} (symlinks "
               "resolved)")
    problems = [p for p in raised.value.problems if "outside" in p]
    assert problems[:3] == [
        f"entry 'linked', key 'model': {str((toy / 'model.skops').resolve())!r} {outside}; "
        "files elsewhere need `--allow-path DIR` on the command line",
        f"entry 'linked', key 'data_file': {str((toy / 'secret').resolve())!r} {outside}; "
        "files elsewhere need `--allow-path DIR` on the command line",
        f"entry 'linked', key 'card': {str((toy / 'card.toml').resolve())!r} {outside}; "
        "files elsewhere need `--allow-path DIR` on the command line"]
    assert {p.split(":")[0] for p in problems[3:]} == {
        "entry 'climbs', key 'model'", "entry 'climbs', key 'data_file'",
        "entry 'climbs', key 'card'"}
    result = runner.invoke(app, ["batch", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "entry 'linked', key 'data_file'" in result.output
    assert not (tmp_path / "out").exists()
    granted = read_inventory(write_inventory(folder / "one.toml", entries[:1]),
                             allow_paths=[toy])
    assert granted.entries[0].data_file == (toy / "secret").resolve()


def test_item3_allowed_secret_never_reaches_batch_outputs(toy: Path, tmp_path: Path) -> None:
    """item 3: even allowed, a symlinked secret data file fails its entry with a line that
    quotes none of it: not in the summary, the index or the log."""
    folder = tmp_path / "inventory"
    folder.mkdir()
    (folder / "data.csv").symlink_to(toy / "secret")
    path = write_inventory(folder / "inventory.toml", [
        {"name": "secret", "model": str(toy / "model.skops"), "data_file": "data.csv",
         "card": str(toy / "card.toml"), "n_boot": 5, "priors": ["marginal"]}])
    out = tmp_path / "out"
    result = run_batch(read_inventory(path, allow_paths=[toy]), out,
                       executor=SerialExecutor())
    assert result.failed == 1
    assert "is not a CSV table with the card's columns" in result.failures[0][1]
    for name in ("summary.csv", "index.html", "batch.log"):
        text = (out / name).read_text(encoding="utf-8")
        assert "s3cr3t" not in text and "second line" not in text, name


# -- item 7: unknown, duplicated and out-of-bounds columns ------------------------------
def test_item7_misspelt_column_is_an_error_with_a_suggestion(toy: Path,
                                                             tmp_path: Path) -> None:
    """item 7: a misspelt data column ('säx' for 's') is an error naming the closest
    column, in attack and train, unless the user ignores it."""
    frame = toy_frame(40, seed=1).rename(columns={"c": "cä"})
    path = write(frame, tmp_path / "misspelt.csv")
    expected = ("misspelt.csv: 1 column(s) not in the card 'toy': 'cä' (did you mean 'c'?)",
                "--ignore-column")
    fails(attack(toy, path), *expected)
    fails(["train", "--data", path, "--card", toy / "card.toml", "--model", "linear",
           "--out", tmp_path / "m.skops"], *expected)
    ok(attack(toy, path, "--ignore-column", "cä"))  # 'c' is then unknown: summed out
    with_id = write(toy_frame(40).assign(patient_id=range(40)), tmp_path / "ids.csv")
    fails(attack(toy, with_id), "'patient_id'")
    ok(attack(toy, with_id, "--ignore-column", "patient_id"))


@pytest.mark.parametrize("header", ["x,w,s,c,y,x", "x,w,s,c,y,k,x.1,x"])
def test_item7_duplicated_csv_column_is_an_error(toy: Path, tmp_path: Path,
                                                 header: str) -> None:
    """item 7: a header naming a column twice is refused (pandas would rename it x.1,
    or x.2 when x.1 exists, and go on)."""
    rows = toy_frame(10).astype(str)
    body = [",".join([*row, row[0], row[0]][: header.count(",") + 1])
            for row in rows.itertuples(index=False)]
    path = tmp_path / "twice.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    fails(attack(toy, path), "twice.csv' names column 'x' 2 times (columns 1, ")


def test_item7_duplicated_parquet_column_is_an_error(tmp_path: Path) -> None:
    """item 7: a Parquet schema naming a column twice is refused by name."""
    path = tmp_path / "twice.parquet"
    pq.write_table(pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0])], names=["x", "x"]),
                   path)
    with pytest.raises(ColumnError, match="names column 'x' 2 times"):
        read_table(path)


def test_item7_out_of_bounds_refused_clipped_or_kept(toy: Path, tmp_path: Path) -> None:
    """item 7: a weight of 1e308 is refused with its count and column; --clip clips it
    (a warning says how many); --allow-out-of-bounds keeps it (a warning says so)."""
    frame = toy_frame(40, seed=2)
    frame.loc[[3, 7], "x"] = [1e308, -5.0]
    path = write(frame, tmp_path / "huge.csv")
    fails(attack(toy, path), "numeric column 'x' has 2 value(s) outside the card's bounds "
          "[0, 100]", "--clip", "--allow-out-of-bounds")
    clipped = ok(attack(toy, path, "--clip"))
    assert "warning: huge.csv: numeric column 'x' has 2 value(s) outside the card's bounds " \
        "[0, 100]: clipped to the bounds" in clipped
    frame.loc[3, "x"] = 130.0  # a kept 1e308 would overflow the model, as asked
    kept = ok(attack(toy, write(frame, tmp_path / "wide.csv"), "--allow-out-of-bounds"))
    assert "2 value(s) outside the card's bounds [0, 100]: kept" in kept
    fails(attack(toy, path, "--clip", "--allow-out-of-bounds"), "not both")
    loaded = load_table(path, read_card(toy / "card.toml"), DataOptions(out_of_bounds="clip"))
    assert loaded.frame.loc[[3, 7], "x"].tolist() == [100.0, 0.0]
    assert [(s.dropped, s.changed) for s in loaded.cleaning] == [(0, 2)]


def test_item7_inventory_keys_for_data_files(toy: Path, tmp_path: Path) -> None:
    """item 7: an inventory entry takes ignore_columns and clip / allow_out_of_bounds for
    its data_file (not for a built-in data set, and not clip with allow)."""
    frame = toy_frame(40).assign(note="x")
    frame.loc[1, "x"] = 500.0
    write(frame, tmp_path / "data.csv")
    (tmp_path / "card.toml").write_text(CARD)
    (tmp_path / "model.skops").write_bytes((toy / "model.skops").read_bytes())
    entry = {"name": "e", "model": "model.skops", "data_file": "data.csv",
             "card": "card.toml", "ignore_columns": ["note"], "clip": True}
    parsed = read_inventory(write_inventory(tmp_path / "a.toml", [entry])).entries[0]
    options = parsed.data_options()
    assert options == DataOptions(("note",), "clip")
    assert load_table(parsed.data_file, read_card(parsed.card), options).frame["x"].max() \
        == 100.0
    with pytest.raises(InventoryError) as raised:
        read_inventory(write_inventory(tmp_path / "b.toml", [
            {**entry, "allow_out_of_bounds": True},
            {"name": "f", "model": "model.skops", "data": "iwpc", "clip": True}]))
    assert [p.split(":")[0] for p in raised.value.problems] == [
        "entry 'e', key 'clip'", "entry 'f', key 'clip'"]


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e999"])
def test_item7_and_10_infinity_is_named_with_its_column(toy: Path, tmp_path: Path,
                                                         cell: str) -> None:
    """items 7 and 10: inf, -inf and a number too large for a float are named with their
    column and count when the file is read (not "no candidate with a finite score")."""
    frame = toy_frame(30).astype({"w": object})
    frame.loc[[4, 9], "w"] = cell
    fails(attack(toy, write(frame, tmp_path / "inf.csv")),
          "numeric column 'w' has 2 infinite value(s)", "row 5")


# -- item 8: a classifier's data with one class ----------------------------------------
@pytest.mark.parametrize("family", ["logistic", "tree"])
def test_item8_one_class_members_give_one_line(toy: Path, tmp_path: Path,
                                               family: str) -> None:
    """item 8: a 10-row CSV whose members are all one class: one line naming the label
    column and the class, exit 2 (was sklearn's ValueError and a traceback)."""
    path = write(toy_frame(10).assign(k="lo"), tmp_path / "one.csv")
    fails(["train", "--data", path, "--card", toy / "card.toml", "--label", "k", "--model",
           family, "--out", tmp_path / "m.skops"],
          f"cannot fit the {family} model on 5 rows: the label column 'k' holds 1 class "
          "('lo'); a classifier needs at least two")


def test_item8_one_class_reference_sample_is_fine(toy: Path, tmp_path: Path) -> None:
    """item 8: a reference sample whose sensitive column or label holds one value is a
    valid (if poor) attacker's sample: the baselines fit and the attack runs."""
    frame = toy_frame(40, seed=3)
    ok(attack(toy, toy / "data.csv", "--reference",
              write(frame.assign(s="a"), tmp_path / "one_s.csv")))
    ok(attack(toy, toy / "data.csv", "--reference",
              write(frame.head(1), tmp_path / "one_row.csv")))


def test_item8_numbers_too_large_to_fit_name_their_column(toy: Path) -> None:
    """item 8: an estimator that overflows on huge numbers in a column without bounds
    raises a DataError naming that column; other estimator errors are not hidden."""
    card = card_from_dict({**read_card(toy / "card.toml").to_dict()})
    frame = toy_frame(40)
    frame.loc[2, "w"] = 1e300
    with pytest.raises(DataError, match="cannot fit the tree model on 40 rows: the numbers "
                       "are too large to compute with \\(column 'w' reaches 1e\\+300\\)"), \
            pytest.warns(RuntimeWarning, match="overflow"):  # numpy's, before sklearn's error
        make_model("tree", card).fit(frame)
    with pytest.raises(ValueError, match="max_depth") as raised:
        make_model("tree", card, max_depth=-1).fit(toy_frame(40))
    assert not isinstance(raised.value, DataError)


# -- item 10: a 10^6-character cell ------------------------------------------------------
@pytest.mark.parametrize("column", ["s", "x", "name"])
def test_item10_huge_cell_is_shortened(toy: Path, tmp_path: Path, column: str) -> None:
    """item 10: a 10^6-character cell (a categorical value, a number, a column name) is
    quoted shortened, with its length, in a short error line."""
    frame = toy_frame(20).astype({"s": object, "x": object})
    huge = "z" * 10**6
    if column == "name":
        frame = frame.rename(columns={"c": huge})
    else:
        frame.loc[3, column] = huge
    line = fails(attack(toy, write(frame, tmp_path / "huge.csv")), "(1000000 chars)")
    assert len(line) < 500


def test_item10_not_a_regular_file(toy: Path, tmp_path: Path) -> None:
    """item 10: a data file or card that is a device, a pipe or a folder is refused
    before anything reads it (the endless zero device would never end)."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    fails(attack(toy, fifo), "is not a regular file")
    fails(["train", "--data", toy / "data.csv", "--card", fifo, "--model", "linear",
           "--out", tmp_path / "m.skops"], "is not a regular file")
    fails(attack(toy, tmp_path), "is not a regular file")
