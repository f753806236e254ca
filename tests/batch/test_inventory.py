"""Inventory files: defaults, paths, and every problem reported at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tabinv.batch.entry import Entry
from tabinv.batch.inventory import InventoryError, read_inventory
from tabinv.batch.runner import entry_key
from tabinv.cli.batch import batch, inventory_app

from . import FAST, make_marker_pickle, save, train, write_inventory


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    save(train("linear"), folder / "linear.skops")
    save(train("tree", "dose_class", max_depth=3), folder / "tree.skops")
    (folder / "card.toml").write_text(
        'name = "tiny"\nlabel = "y"\nsensitive = ["g"]\n[columns.x]\nkind = "numeric"\n'
        '[columns.g]\nkind = "categorical"\ndomain = ["a", "b"]\n'
        '[columns.y]\nkind = "categorical"\ndomain = [0, 1]\n')
    (folder / "tiny.csv").write_text("x,g,y\n1,a,0\n2,b,1\n")
    return folder


def test_defaults_paths_and_groups(models: Path, tmp_path: Path) -> None:
    shutil.copytree(models, tmp_path / "m")
    defaults = {k: v for k, v in FAST.items() if k != "data"} | {"seed": 3}
    entries = [{"name": "a", "model": "m/linear.skops", "data": "iwpc",
                "sensitive": ["vkorc1", ["vkorc1", "cyp2c9"]]},
               {"name": "b", "model": "m/tree.skops", "data": "iwpc", "label": "dose_class",
                "access": "rounded", "decimals": 2, "n_boot": 5,
                "positive": {"cyp2c9": "*1/*1"}},
               {"name": "c", "model": "m/tree.skops", "data_file": "m/tiny.csv",
                "card": "m/card.toml", "known": ["x"]}]
    inventory = read_inventory(write_inventory(tmp_path / "inventory.toml", entries, defaults))
    a, b, c = inventory.entries
    assert a.model == (tmp_path / "m" / "linear.skops").resolve() and a.format == "skops"
    assert a.label == "dose" and a.sensitive == (("vkorc1",), ("vkorc1", "cyp2c9"))
    assert (a.seed, a.n_boot, b.n_boot, a.attacks, a.priors) == (3, 10, 5, ("map",),
                                                                 ("marginal",))
    assert (b.access, b.decimals, dict(b.positive)) == ("rounded", 2, {"cyp2c9": "*1/*1"})
    assert b.sensitive == (("vkorc1",), ("cyp2c9",))  # the card's sensitive columns
    assert (c.label, c.sensitive, c.data, c.data_name) == ("y", (("g",),), None, "tiny.csv")
    assert c.known == ("x",) and c.card == (tmp_path / "m" / "card.toml").resolve()
    # a data set in [defaults] and a data file in the entry: one problem, named
    entries[2]["data"] = "iwpc"
    with pytest.raises(InventoryError, match="entry 'c', key 'data': give either"):
        read_inventory(write_inventory(tmp_path / "inventory.toml", entries, defaults))


def test_every_problem_is_reported_at_once(models: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    make_marker_pickle(tmp_path / "model.pkl", marker)
    path = write_inventory(tmp_path / "inventory.toml", [
        {"name": "ok", "model": str(models / "linear.skops")},
        {"name": "typo", "model": str(models / "linear.skops"), "acess": "rounded"},
        {"name": "pickled", "model": str(tmp_path / "model.pkl")},
        {"name": "missing", "model": str(tmp_path / "nowhere.skops")},
        {"name": "bad/name", "model": str(models / "linear.skops")},
        {"name": "ok", "model": str(models / "linear.skops")},
        {"name": "rounded", "model": str(models / "tree.skops"), "label": "dose_class",
         "access": "rounded"},
        {"name": "regression-label-only", "model": str(models / "linear.skops"),
         "access": "label-only"},
        {"name": "columns", "model": str(models / "linear.skops"), "label": "dose",
         "sensitive": ["height_cm", "vkorc2"], "known": ["height_cm"]},
        {"name": "attack", "model": str(models / "linear.skops"), "attacks": ["mapp"],
         "priors": ["conditional"]},
        {"name": "onnx", "model": str(models / "linear.skops"), "format": "onnx",
         "access": "white-box"},
        {"name": "onnx-keys", "model": str(models / "linear.skops"), "onnx_classes": [1, 2]},
        {"name": "no-data", "model": str(models / "linear.skops"), "data_file": "x.csv"},
        {"model": str(models / "linear.skops")},
    ], defaults={**FAST, "allow_pickle": True, "acces": "x", "n_boot": 0})
    with pytest.raises(InventoryError) as raised:
        read_inventory(path, allow_paths=[models])  # the models sit outside tmp_path
    problems = raised.value.problems
    expected = [
        "[defaults], key 'allow_pickle': must be set in each entry",
        "[defaults]: unknown key 'acces' (did you mean 'access'?)",
        "[defaults], key 'n_boot': expected an integer >= 1, got 0",
        "entry 'typo': unknown key 'acess' (did you mean 'access'?)",
        "entry 'pickled', key 'format': a pickle file runs code",
        f"entry 'missing', key 'model': {tmp_path / 'nowhere.skops'} does not exist",
        "entry 'bad/name', key 'name': 'bad/name' is not a valid entry name",
        "entry 'ok': the name is used by an earlier entry",
        "entry 'rounded', key 'decimals': give decimals with access = 'rounded'",
        "entry 'regression-label-only', key 'access': 'label-only' applies to classifiers",
        "entry 'columns', key 'sensitive': 'height_cm' is numeric",
        "entry 'columns', key 'sensitive': 'vkorc2' is not a column of the card "
        "(did you mean 'vkorc1'?)",
        "entry 'columns', key 'known': ['height_cm'] cannot be used here",
        "entry 'attack', key 'attacks': unknown attack 'mapp' (did you mean 'map'?)",
        "entry 'attack', key 'priors': 'conditional' is not marginal",
        "entry 'onnx', key 'access': an ONNX model is assessed as a black box",
        "entry 'onnx-keys', key 'onnx_classes': applies to format 'onnx' only",
        f"entry 'no-data', key 'data_file': {tmp_path / 'x.csv'} does not exist",
        "entry 'no-data', key 'data': give either data",
        "entry #14: key 'name' is required",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert len(problems) == len(expected), "\n".join(problems)
    assert str(raised.value).startswith(f"inventory {path} has {len(expected)} problems:")
    assert not marker.exists()  # validating never opens a model file


@pytest.mark.parametrize(("text", "message"), [
    ("[defaults\n", "is not valid TOML"),
    ("[defaults]\nn_boot = 5\n", "needs at least one [[entry]] table"),
    ("entries = 1\n[[entry]]\nname = 'a'\n", "top level: unknown key 'entries'"),
])
def test_file_level_problems(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "inventory.toml"
    path.write_text(text)
    with pytest.raises(InventoryError, match=message.replace("[", r"\[")):
        read_inventory(path)
    with pytest.raises(InventoryError, match="does not exist"):
        read_inventory(tmp_path / "nowhere.toml")


def test_key_follows_bytes_and_settings_not_paths(models: Path, tmp_path: Path) -> None:
    for folder in ("one", "two"):
        shutil.copytree(models, tmp_path / folder / "m")
        write_inventory(tmp_path / folder / "inventory.toml",
                        [{"name": "a", "model": "m/linear.skops"}])
    first, second = (read_inventory(tmp_path / f / "inventory.toml").entries[0]
                     for f in ("one", "two"))
    assert first.model != second.model and entry_key(first) == entry_key(second)
    changed = Entry(**{**{f: getattr(first, f) for f in first.__dataclass_fields__},
                       "n_boot": 11})
    assert entry_key(changed) != entry_key(first)
    with (tmp_path / "two" / "m" / "linear.skops").open("ab") as stream:
        stream.write(b"\0")
    assert entry_key(second) != entry_key(first)


def app() -> typer.Typer:
    cli = typer.Typer()
    cli.command("batch")(batch)
    cli.add_typer(inventory_app, name="inventory")
    return cli


def test_check_command_lists_problems(models: Path, tmp_path: Path) -> None:
    good = write_inventory(tmp_path / "good.toml", [{"name": "a",
                                                     "model": str(models / "linear.skops")}])
    allow = ["--allow-path", str(models)]  # the models sit outside the inventory's folder
    result = CliRunner().invoke(app(), ["inventory", "check", str(good), *allow])
    assert result.exit_code == 0 and "1 entries, no problems" in result.output
    bad = write_inventory(tmp_path / "bad.toml", [
        {"name": "a", "model": str(models / "linear.skops"), "access": "everything"},
        {"name": "b", "model": str(models / "nowhere.skops")}])
    for command in (["inventory", "check", str(bad)], ["batch", str(bad), "--out",
                                                       str(tmp_path / "out")]):
        result = CliRunner().invoke(app(), [*command, *allow])
        assert result.exit_code == 2, result.output
        assert "2 problems" in result.output and "entry 'a', key 'access'" in result.output
        assert "entry 'b', key 'model'" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()  # nothing starts before the file is valid


def test_white_box_attacks_need_white_box_access(models: Path, tmp_path: Path) -> None:
    from tabinv.attacks.registry import ATTACKS

    white = sorted(name for name, attack in ATTACKS.items() if attack.needs_white_box)
    if not white:
        pytest.skip("no white-box attack is registered")
    entry = {"name": "t", "model": str(models / "tree.skops"), "label": "dose_class",
             "attacks": ["map", white[0]]}
    with pytest.raises(InventoryError, match=f"key 'attacks': '{white[0]}' reads the model's "
                                             "structure; it needs access = 'white-box'"):
        read_inventory(write_inventory(tmp_path / "a.toml", [entry]), allow_paths=[models])
    granted = read_inventory(write_inventory(tmp_path / "b.toml", [{**entry,
                                                                    "access": "white-box"}]),
                             allow_paths=[models])
    assert granted.entries[0].attacks == ("map", white[0])
