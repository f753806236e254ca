"""Bad input gives one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tabinv.cli import app

runner = CliRunner()


def fails_cleanly(args, *expected: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit)
    text = result.output
    for fragment in expected:
        assert fragment in text, text
    return text


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad")
    result = runner.invoke(app, ["train", "--dataset", "iwpc", "--model", "linear", "--out",
                                 str(folder / "m.skops"), "--splits-out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def attack_args(folder: Path, data: Path, *extra: str) -> list:
    return ["attack", "--model", folder / "m.skops", "--data", data, "--sensitive", "vkorc1",
            "--label", "dose", *extra]


def write(folder: Path, name: str, frame: pd.DataFrame) -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def test_misspelled_column_suggests_closest(model_dir, tmp_path):
    fails_cleanly(["assess", "--dataset", "iwpc", "--sensitive", "vkorc"], "vkorc1")
    frame = pd.read_csv(model_dir / "members.csv").rename(columns={"weight_kg": "weight"})
    path = write(tmp_path, "renamed.csv", frame)
    fails_cleanly(attack_args(model_dir, path, "--known", "weight_kg"), "weight_kg",
                  "did you mean")


def test_sensitive_column_not_categorical():
    fails_cleanly(["assess", "--dataset", "iwpc", "--sensitive", "height_cm"],
                  "height_cm", "categorical")


def test_unseen_category(model_dir, tmp_path):
    frame = pd.read_csv(model_dir / "members.csv")
    frame.loc[3, "race"] = "Martian"
    fails_cleanly(attack_args(model_dir, write(tmp_path, "unseen.csv", frame)),
                  "race", "Martian", "domain")


def test_nan_in_required_column(model_dir, tmp_path):
    frame = pd.read_csv(model_dir / "members.csv")
    frame.loc[[1, 5], "weight_kg"] = None
    fails_cleanly(attack_args(model_dir, write(tmp_path, "nan.csv", frame)),
                  "weight_kg", "2 missing")


def test_empty_and_binary_files(model_dir, tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    fails_cleanly(attack_args(model_dir, tmp_path / "empty.csv"), "empty")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    fails_cleanly(attack_args(model_dir, tmp_path / "binary.csv"), "not a CSV")
    (tmp_path / "header.csv").write_text("a,b\n")
    fails_cleanly(attack_args(model_dir, tmp_path / "header.csv"), "no rows")


def test_model_file_that_is_not_a_model(model_dir, tmp_path):
    (tmp_path / "fake.skops").write_text("age,height\n1,2\n")
    fails_cleanly(["attack", "--model", tmp_path / "fake.skops", "--data",
                   model_dir / "members.csv", "--sensitive", "vkorc1", "--label", "dose"],
                  "fake.skops")


def test_model_whose_features_do_not_match(model_dir, tmp_path):
    frame = pd.read_csv(model_dir / "members.csv").drop(columns=["race", "age"])
    fails_cleanly(attack_args(model_dir, write(tmp_path, "fewer.csv", frame),
                              "--known", "race"), "race")


def test_wrong_label(model_dir):
    fails_cleanly(attack_args(model_dir, model_dir / "members.csv")[:-2] + ["--label", "age"],
                  "dose")


def test_unknown_dataset_and_family():
    fails_cleanly(["assess", "--dataset", "iwcp", "--sensitive", "vkorc1"], "iwcp", "iwpc")
    fails_cleanly(["assess", "--model", "lineer", "--sensitive", "vkorc1"], "lineer",
                  "linear")
    fails_cleanly(["train", "--dataset", "iwpc", "--model", "logistic", "--out", "x.skops"],
                  "classification")


def test_missing_data_file(model_dir, tmp_path):
    fails_cleanly(attack_args(model_dir, tmp_path / "nope.csv"), "does not exist")


def test_bad_card(tmp_path, model_dir):
    (tmp_path / "card.toml").write_text("name = 'x'\nlabel = 'y'\n[columns.y]\nkind = 'text'\n")
    fails_cleanly(["train", "--data", model_dir / "members.csv", "--card",
                   tmp_path / "card.toml", "--model", "linear", "--out", tmp_path / "m.skops"],
                  "kind")


def test_memory_budget_must_be_a_size():
    fails_cleanly(["assess", "--dataset", "iwpc", "--sensitive", "vkorc1", "--memory", "lots"],
                  "size 'lots'", "GiB")
    fails_cleanly(["assess", "--dataset", "iwpc", "--sensitive", "vkorc1", "--memory", "0"],
                  "at least one byte")
