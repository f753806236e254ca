"""Helpers of the batch tests: tiny models on IWPC and inventories written from dicts."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the executor tests' workers import this module: keep it light
    from tabinv.models.target import TargetModel

#: settings that keep one entry around a second: few bootstrap replicates, one attack
FAST: dict[str, Any] = {"data": "iwpc", "n_boot": 10, "attacks": ["map"],
                        "priors": ["marginal"]}


def toml_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def write_inventory(path: Path, entries: Sequence[Mapping[str, Any]],
                    defaults: Mapping[str, Any] | None = None) -> Path:
    lines = ["[defaults]", *(f"{k} = {toml_value(v)}" for k, v in (defaults or FAST).items())]
    for entry in entries:
        lines += ["", "[[entry]]", *(f"{k} = {toml_value(v)}" for k, v in entry.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train(family: str, label: str = "dose", seed: int = 0, **params: Any) -> TargetModel:
    """A small model of ``family`` on the members of the IWPC split drawn with ``seed``."""
    from tabinv.data.registry import load_builtin
    from tabinv.data.splits import split_dataset
    from tabinv.models.families import make_model

    data = load_builtin("iwpc")
    card = data.card.with_label(label)
    members = split_dataset(data.frame, random_state=seed).members
    return make_model(family, card, random_state=seed, **params).fit(members)


def save(model: TargetModel, path: Path) -> Path:
    from tabinv.models.persist import save_model

    return save_model(model, path)


def save_onnx(model: TargetModel, path: Path) -> dict[str, Any]:
    """The model's estimator as ONNX (the card-encoded float matrix in); entry keys."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    estimator = model.estimator_
    options = {id(estimator): {"zipmap": False}} if model.task == "classification" else None
    graph = to_onnx(estimator, initial_types=[("X", FloatTensorType(
        [None, model.encoder_.n_output_]))], options=options)
    path.write_bytes(graph.SerializeToString())
    keys: dict[str, Any] = {"model": str(path), "format": "onnx", "label": model.label}
    if model.task == "classification":
        domain = model.domain(model.label)
        keys["onnx_classes"] = [domain[i] for i in model.classes_present_]
    return keys


def make_marker_pickle(path: Path, marker: Path, compress: bool = False) -> None:
    """A pickle whose loading creates ``marker`` (stands for any code a pickle runs)."""
    import pickle
    import zlib

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    data = pickle.dumps(Payload(), protocol=4)
    path.write_bytes(zlib.compress(data) if compress else data)


def crash_on(item: str) -> str:
    """A task for the executor tests: the worker process dies on ``"crash"``."""
    if item == "crash":
        os._exit(7)
    return item.upper()


