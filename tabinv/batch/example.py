"""An example inventory: N small models of mixed families trained on built-in data.

``write_example_inventory(out, entries=N)`` trains each model on the members split of the
IWPC cohort drawn with the entry's own seed (so the entry's ``seed`` reproduces its
split, as ``tabinv train --seed`` does), saves it in one of the formats an inventory
takes, and writes ``out/inventory.toml``. Families, labels, formats, attacker access and
sensitive attributes rotate, so any N >= 8 covers regression and classification, skops,
XGBoost JSON and UBJ, ONNX (when skl2onnx is installed), and confidences, rounded and
label-only access. Every model is kept tiny so a 200-entry inventory trains in seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..exceptions import TabinvError

__all__ = ["PLAN", "write_example_inventory"]

#: (family, label, format, estimator parameters, access) of consecutive entries
PLAN: tuple[tuple[str, str, str, dict[str, Any], str], ...] = (
    ("linear", "dose", "skops", {}, "confidences"),
    ("tree", "dose_class", "skops", {"max_depth": 4}, "confidences"),
    ("xgboost", "dose", "xgboost-json", {"n_estimators": 10, "max_depth": 3}, "confidences"),
    ("logistic", "dose_class", "skops", {"solver": "newton-cholesky"}, "label-only"),
    ("forest", "dose_class", "skops", {"n_estimators": 10, "max_depth": 6}, "rounded"),
    ("xgboost", "dose_class", "xgboost-ubj", {"n_estimators": 10, "max_depth": 3},
     "confidences"),
    ("naive-bayes", "dose_class", "skops", {}, "confidences"),
    ("tree", "dose_class", "onnx", {"max_depth": 5}, "confidences"),
)
SENSITIVE: tuple[tuple[str, ...], ...] = (("vkorc1",), ("cyp2c9",), ("vkorc1", "cyp2c9"))
DEFAULTS = {"data": "iwpc", "n_boot": 50, "attacks": ["map"], "priors": ["marginal"]}


def _toml(value: Any) -> str:
    """A TOML value for strings, numbers, booleans and lists of them (JSON agrees here)."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def _onnx_available() -> bool:
    try:
        import skl2onnx  # noqa: F401
    except ImportError:
        return False
    return True


def _save_onnx(model: Any, path: Path) -> dict[str, Any]:
    """Convert the fitted estimator (on the encoded matrix) with skl2onnx."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    estimator = model.estimator_
    options = {id(estimator): {"zipmap": False}} if model.task == "classification" else None
    graph = to_onnx(estimator, initial_types=[("X", FloatTensorType(
        [None, model.encoder_.n_output_]))], options=options)
    path.write_bytes(graph.SerializeToString())
    if model.task != "classification":
        return {}
    domain = model.domain(model.label)
    return {"onnx_classes": [domain[i] for i in model.classes_present_]}


def _train(index: int, seed: int, data: Any, out: Path, onnx: bool) -> dict[str, Any]:
    """Train, save and describe entry ``index`` (its TOML keys)."""
    from ..data.splits import split_dataset
    from ..models.families import make_model
    from ..models.formats import model_format
    from ..models.persist import save_model

    family, label, form, params, access = PLAN[index % len(PLAN)]
    if form == "onnx" and not onnx:
        form = "skops"
    entry_seed = seed + index
    name = f"m{index:04d}-{family}-{label.replace('_', '-')}"
    card = data.card.with_label(label)
    members = split_dataset(data.frame, random_state=entry_seed).members
    model = make_model(family, card, random_state=entry_seed, **params).fit(members)
    path = out / "models" / f"{name}{model_format(form).suffixes[0]}"
    keys: dict[str, Any] = {"name": name, "model": f"models/{path.name}", "format": form,
                            "label": label, "seed": entry_seed}
    if form == "onnx":
        keys.update(_save_onnx(model, path))
    else:
        save_model(model, path, format=str(model_format(form).save_as))
    sensitive = SENSITIVE[index % len(SENSITIVE)]
    keys["sensitive"] = [list(sensitive)] if len(sensitive) > 1 else list(sensitive)
    keys["access"] = access
    if access == "rounded":
        keys["decimals"] = 1
    keys["description"] = f"{family} model of {label} ({form}), trained on " \
                          f"{len(members)} IWPC members"
    return keys


def write_example_inventory(out: str | os.PathLike[str], *, entries: int = 20,
                            seed: int = 0) -> Path:
    """Train ``entries`` small models into ``out/models`` and write ``out/inventory.toml``.

    Returns the inventory's path. Raises TabinvError for ``entries`` < 1.
    """
    from ..data.registry import load_builtin

    if entries < 1:
        raise TabinvError(f"--entries must be 1 or more, got {entries}")
    out = Path(out)
    (out / "models").mkdir(parents=True, exist_ok=True)
    data = load_builtin("iwpc")
    onnx = _onnx_available()
    lines = ["# tabinv example inventory: small models trained on the IWPC cohort",
             f"# written by `tabinv inventory example --entries {entries} --seed {seed}`",
             "", "[defaults]"]
    lines += [f"{key} = {_toml(value)}" for key, value in DEFAULTS.items()]
    for index in range(entries):
        keys = _train(index, seed, data, out, onnx)
        lines += ["", "[[entry]]", *(f"{k} = {_toml(v)}" for k, v in keys.items())]
    path = out / "inventory.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
