"""Item 3: one model-format registry (tabinv.models.formats), and a contract every
registered format passes: written and read back (saved by tabinv where it can be), its own
bytes sniffed as its kind, a file of another format refused with a clear one-line message,
and pickle formats refused without the opt-in. A new format gets these checks for free
(it only needs a writer in WRITERS when tabinv does not save it)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from batch import make_marker_pickle, save_onnx, train

from tabinv.batch import entry
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import ModelError, UnsafeModelError
from tabinv.models import formats
from tabinv.models.formats import ModelFormat, model_format, model_formats, register
from tabinv.models.persist import load_model, load_object, save_model
from tabinv.models.sniff import sniff
from tabinv.models.sources import open_model
from tabinv.models.target import TargetModel

NAMES = [f.name for f in model_formats()]
#: how the tests write a file of a format tabinv does not save
WRITERS: dict[str, Callable[[TargetModel, Path], Any]] = {
    "onnx": save_onnx,
    "pickle": lambda model, path: path.write_bytes(pickle.dumps(model, protocol=4)),
    "joblib": lambda model, path: joblib.dump(model, path, compress=("gzip", 3)),
    "lightgbm": lambda model, path: save_lightgbm(model, path),
}


def save_lightgbm(model: TargetModel, path: Path) -> TargetModel:
    """A LightGBM model trained by its owner on the model's members (categories as pandas
    categories), saved as text; returns the same booster opened in memory, which the file
    must answer like."""
    import lightgbm

    from tabinv.data.registry import load_builtin
    from tabinv.data.splits import split_dataset
    card = card_from_dict(model.card)
    members = split_dataset(load_builtin("iwpc").frame, random_state=0).members
    table = members[list(card.features)].copy()
    for column in table.columns:
        if card.column(column).domain is not None:
            table[column] = table[column].astype("category")
    assert card.task == "regression"
    booster = lightgbm.train({"objective": "regression", "num_leaves": 7, "verbose": -1},
                             lightgbm.Dataset(table, members[card.label]), 5)
    booster.save_model(path)
    return open_model(booster, card=card, records=members)


@pytest.fixture(scope="module")
def models() -> list[TargetModel]:
    """Small fitted models; each format is written from the first one it takes."""
    return [train("tree", max_depth=3), train("xgboost", n_estimators=3, max_depth=2)]


@pytest.fixture(scope="module")
def members() -> pd.DataFrame:
    from tabinv.data.registry import load_builtin
    from tabinv.data.splits import split_dataset

    return split_dataset(load_builtin("iwpc").frame, random_state=0).members


def write(chosen: ModelFormat, models: list[TargetModel], folder: Path
          ) -> tuple[Path, TargetModel]:
    """A file of format ``chosen`` (saved by tabinv when it writes the format)."""
    path = folder / f"model{chosen.suffixes[0]}"
    for model in models:
        try:
            if chosen.save_as is None:
                made = WRITERS[chosen.name](model, path)
                return path, made if isinstance(made, TargetModel) else model
            save_model(model, path, format=chosen.save_as)
            return path, model
        except ModelError as error:
            assert "can only be saved as" in str(error)
    raise AssertionError(f"no test model can be written as {chosen.name}")


@pytest.fixture(scope="module")
def files(models: list[TargetModel], tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, tuple[Path, TargetModel]]:
    return {name: write(model_format(name), models, tmp_path_factory.mktemp(name))
            for name in NAMES}


def declared(path: Path, name: str, members: pd.DataFrame, model: TargetModel, **kw: Any
             ) -> TargetModel:
    """``path`` loaded the way a batch entry declaring format ``name`` loads it (a format
    of models other tools trained: opened with the entry's card, by open_model)."""
    options = {}
    if model.task == "classification":
        domain = model.domain(model.label)
        options["onnx_classes"] = tuple(domain[i] for i in model.classes_present_)
    return open_model(path, card=card_from_dict(model.card), records=members,
                      format=name, options=options, **kw)


def test_item3_registry_is_the_one_list_of_formats() -> None:
    assert entry.FILE_FORMATS == tuple(NAMES) == (
        "skops", "xgboost-json", "xgboost-ubj", "lightgbm", "onnx", "pickle", "joblib")
    assert entry.FORMATS == (*entry.FILE_FORMATS, "mlflow")  # a directory, not a file
    assert entry.PICKLE_FORMATS == ("pickle", "joblib")
    assert entry.SUFFIX_FORMATS == {".skops": "skops", ".json": "xgboost-json",
                                    ".ubj": "xgboost-ubj", ".txt": "lightgbm", ".onnx": "onnx",
                                    ".pkl": "pickle",
                                    ".pickle": "pickle", ".joblib": "joblib"}
    assert entry.ONNX_KEYS == ("onnx_encoding", "onnx_classes", "onnx_output")
    assert entry.FORMAT_KEYS == dict.fromkeys(entry.ONNX_KEYS, "onnx")
    assert {f.name for f in model_formats() if f.save_as is None} <= set(WRITERS)


def test_item3_a_name_suffix_or_save_name_belongs_to_one_format() -> None:
    for clash in (ModelFormat("skops", "x", (".x",), (), "m:f"),
                  ModelFormat("x", "x", (".pkl",), (), "m:f"),
                  ModelFormat("x", "x", (".x",), (), "m:f", save_as="json")):
        with pytest.raises(ModelError, match="already belong to another format"):
            register(clash)
    assert formats.model_formats() == tuple(model_format(n) for n in NAMES)
    with pytest.raises(ModelError, match="unknown model file format 'h5'; formats are: skops"):
        model_format("h5")


@pytest.mark.parametrize("name", NAMES)
def test_item3_contract_round_trip(name: str, files: dict[str, tuple[Path, TargetModel]],
                                   members: pd.DataFrame) -> None:
    chosen = model_format(name)
    path, model = files[name]
    loaded = declared(path, name, members, model, allow_pickle=chosen.runs_code)
    rows = members.head(50)
    np.testing.assert_allclose(loaded.predict(rows), model.predict(rows), rtol=1e-5,
                               atol=1e-4)
    assert loaded.label == model.label
    if not chosen.needs_card and isinstance(load_object(path, allow_pickle=chosen.runs_code),
                                            TargetModel):
        again = load_model(path, allow_pickle=chosen.runs_code)
        np.testing.assert_array_equal(again.predict(rows), model.predict(rows))


@pytest.mark.parametrize("name", NAMES)
def test_item3_contract_sniffing_its_bytes_gives_its_kind(
        name: str, files: dict[str, tuple[Path, TargetModel]]) -> None:
    chosen = model_format(name)
    found = sniff(files[name][0].read_bytes())
    if chosen.sniffed:
        assert found in chosen.sniffed
        assert formats.format_of_kind(found).runs_code == chosen.runs_code  # type: ignore
    else:  # not recognised by content: never taken for another format
        assert formats.format_of_kind(found) is None
        with pytest.raises(ModelError, match="is not a model file tabinv can read"):
            load_model(files[name][0])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("other", NAMES)
def test_item3_contract_refuses_a_file_of_another_format(
        name: str, other: str, files: dict[str, tuple[Path, TargetModel]],
        members: pd.DataFrame) -> None:
    chosen, actual = model_format(name), model_format(other)
    path, model = files[other]
    if name == other or set(actual.sniffed) & set(chosen.sniffed):
        return  # the same kind of file (a pickle is both a pickle and a joblib file)
    # a graph-only format's own reader parses (never runs) the file and refuses it
    unsafe = actual.runs_code and not chosen.runs_code and not chosen.needs_card
    with pytest.raises(UnsafeModelError if unsafe else ModelError) as refused:
        declared(path, name, members, model, allow_pickle=True)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 300 and str(path) in message, message
    if chosen.needs_card:
        assert "not a readable ONNX model" in message, message
    elif actual.sniffed:
        described = formats.format_of_kind(sniff(path.read_bytes()))  # pickle for joblib too
        code = " (reading it runs code)" if unsafe else ""
        assert message.startswith(f"{path} is {described.description}{code}, not the "  # type: ignore[union-attr]
                                  f"{name} file the inventory declares"), message
    else:
        assert "is not a model file tabinv can read" in message, message


@pytest.mark.parametrize("name", NAMES)
def test_item3_contract_pickles_need_the_opt_in(name: str, tmp_path: Path,
                                                members: pd.DataFrame,
                                                models: list[TargetModel]) -> None:
    """A pickle that would create a marker: refused by every format without the opt-in,
    and by every format that does not run code even with it; nothing runs."""
    chosen = model_format(name)
    marker = tmp_path / "ran"
    path = tmp_path / "evil.bin"
    make_marker_pickle(path, marker)
    allowed = [False, *([] if chosen.runs_code else [True])]
    for allow in allowed:
        error = ModelError if chosen.needs_card else UnsafeModelError
        with pytest.raises(error):
            declared(path, name, members, models[0], allow_pickle=allow)
    if chosen.runs_code:
        with pytest.raises(UnsafeModelError, match="refused without allow_pickle"):
            declared(path, name, members, models[0])
    assert not marker.exists()


def load_text(path: Path, data: bytes, found: str, *, trust: bool) -> Any:
    """Loader of the format the next test registers (a text file naming a model file)."""
    return load_model(data.decode().strip())


def test_item3_a_new_format_is_one_registration(monkeypatch: pytest.MonkeyPatch,
                                                files: dict[str, tuple[Path, TargetModel]],
                                                members: pd.DataFrame,
                                                tmp_path: Path) -> None:
    monkeypatch.setattr(formats, "_FORMATS", dict(formats._FORMATS))
    register(ModelFormat("pointer", "a pointer file", (".ptr",), ("text",),
                         f"{__name__}:load_text"))
    path, model = files["skops"]
    pointer = tmp_path / "model.ptr"
    pointer.write_text(str(path))
    rows = members.head(5)
    for loaded in (load_model(pointer),
                   declared(pointer, "pointer", members, model)):
        np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
    with pytest.raises(ModelError, match="is a pointer file, not the skops file"):
        declared(pointer, "skops", members, model)
