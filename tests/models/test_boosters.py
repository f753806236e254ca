"""Issue 13 item 1: XGBoost and LightGBM models tabinv did not train, with their own
feature names, column order and categorical handling.

Each booster is trained here the way its owner would (IWPC, some columns renamed, its own
column order, categorical columns as pandas categories), saved to its own file format and
opened with ``open_model(path, card=..., records=members, feature_map=...)``. The MAP
attack's posteriors must equal a brute-force reference that calls the owner's model
directly (its own DataFrame, its own predict) on every candidate row. Hostile LightGBM
texts are refused with one line before LightGBM's parser sees them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from attacks.reference import brute_force_map

from tabinv.attacks.map import MAPInversion
from tabinv.core.inputs import load_dataset
from tabinv.exceptions import ModelError, UnsafeModelError
from tabinv.models.oracle import Oracle
from tabinv.models.persist import describe_file, load_object
from tabinv.models.sources import open_model

N_MEMBERS, N_REFERENCE, N_ATTACKED = 300, 120, 25
TOLERANCE = 1e-9
#: the owner's column order and names (a card column -> the model's name)
ORDER = ["weight_kg", "vkorc1", "age", "cyp2c9", "race", "height_cm", "amiodarone",
         "enzyme_inducer"]
RENAMES = {"vkorc1": "VKORC1_genotype", "age": "Age_decades"}
CATEGORICAL = ["vkorc1", "cyp2c9", "race"]


@dataclass
class Owner:
    """What the owner has: the training table in the model's own form and a call."""

    name: str
    task: str
    model: Any
    columns: dict[str, pd.Index]  # categorical model column -> its training categories
    call: Callable[[pd.DataFrame], np.ndarray]
    classes: list[Any] | None = None
    order: list[str] = field(default_factory=lambda: list(ORDER))


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame]:
    dataset = load_dataset("iwpc").with_label("dose_class")
    frame = dataset.frame.sample(N_MEMBERS + N_REFERENCE, random_state=3)
    members = frame.iloc[:N_MEMBERS].reset_index(drop=True)
    return {"members": members, "reference": frame.iloc[N_MEMBERS:].reset_index(drop=True)}


def owner_table(frame: pd.DataFrame, categories: dict[str, pd.Index] | None = None,
                order: list[str] = ORDER) -> pd.DataFrame:
    """The owner's own DataFrame: renamed, reordered, categorical columns as pandas
    categories (those of the training table when given)."""
    table = frame[order].rename(columns=RENAMES)
    for column in CATEGORICAL:
        name = RENAMES.get(column, column)
        if categories is None:
            table[name] = table[name].astype("category")
        else:  # a value the model never saw is missing
            codes = categories[name].get_indexer(table[name])
            table[name] = pd.Categorical.from_codes(codes, categories=categories[name])
    return table


def train(kind: str, members: pd.DataFrame) -> Owner:
    """The owner's booster of ``kind`` on the members (classes coded 0..2 in the label's
    order for raw boosters, as their owners do)."""
    table = owner_table(members)
    columns = {RENAMES.get(c, c): table[RENAMES.get(c, c)].cat.categories for c in CATEGORICAL}
    codes = members["dose_class"].map({"low": 0, "medium": 1, "high": 2})
    if kind == "xgb-booster":
        booster = xgboost.train({"objective": "multi:softprob", "num_class": 3,
                                 "max_depth": 3, "max_cat_to_onehot": 1, "nthread": 1},
                                xgboost.DMatrix(table, codes, enable_categorical=True), 6)
        return Owner(kind, "classification", booster, columns, booster.inplace_predict)
    if kind == "xgb-regressor":
        model = xgboost.XGBRegressor(n_estimators=6, max_depth=3, enable_categorical=True,
                                     n_jobs=1).fit(table, members["dose"])
        return Owner(kind, "regression", model, columns, model.predict)
    if kind == "xgb-classifier":
        model = xgboost.XGBClassifier(n_estimators=6, max_depth=3, enable_categorical=True,
                                      n_jobs=1).fit(table, codes)
        return Owner(kind, "classification", model, columns, model.predict_proba)
    params = {"num_leaves": 7, "min_data_in_leaf": 10, "verbose": -1, "num_threads": 1}
    if kind == "lgb-booster":
        booster = lightgbm.train({**params, "objective": "multiclass", "num_class": 3},
                                 lightgbm.Dataset(table, codes), 6)
        return Owner(kind, "classification", booster, columns, booster.predict)
    if kind == "lgb-regression":
        booster = lightgbm.train({**params, "objective": "regression"},
                                 lightgbm.Dataset(table, members["dose"]), 6)
        return Owner(kind, "regression", booster, columns, booster.predict)
    assert kind == "lgb-classifier"  # knows its labels: classes_ sorted as text
    model = lightgbm.LGBMClassifier(n_estimators=6, **params).fit(table,
                                                                  members["dose_class"])
    return Owner(kind, "classification", model, columns, model.predict_proba,
                 list(model.classes_))


def save(owner: Owner, folder: Path) -> tuple[Path | Any, dict[str, Any]]:
    """The owner's file (or, for a wrapper, a joblib file: pickle needs the opt-in)."""
    if owner.name == "xgb-booster":
        path = folder / "booster.json"
        owner.model.save_model(path)
        return path, {}
    if owner.name in ("lgb-booster", "lgb-regression"):
        path = folder / "model.txt"
        owner.model.save_model(path)
        return path, {}
    path = folder / "model.joblib"
    joblib.dump(owner.model, path)
    return path, {"allow_pickle": True}


class Direct:
    """The owner's model asked directly, in its own form, with the statistics an owner
    publishes computed here: what the brute-force reference queries."""

    def __init__(self, owner: Owner, opened: Any, members: pd.DataFrame) -> None:
        self.owner, self.card, self.features = owner, opened.card, opened.features
        self.label, self.task = opened.label, opened.task
        if self.task == "regression":
            residuals = members["dose"].to_numpy() - self.predict_fitted(members)
            dof = len(members) - (len(self.features) + 1)
            self.residual_sigma_ = float(np.sqrt(np.sum(residuals ** 2) / dof))
        else:
            domain = list(self.card["columns"][self.label]["domain"])
            self.confusion_ = np.zeros((len(domain), len(domain)), dtype=np.int64)
            truth = [domain.index(v) for v in members[self.label]]
            np.add.at(self.confusion_, (truth, self.predict_fitted(members)), 1)

    def _ask(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.owner.call(owner_table(frame, self.owner.columns,
                                                      self.owner.order)), dtype=float)

    def predict_fitted(self, frame: pd.DataFrame) -> np.ndarray:
        """A regression's prediction; a classifier's predicted class index."""
        answer = self._ask(frame)
        if self.task == "regression":
            return answer
        return answer.astype(int) if answer.ndim == 1 else \
            np.argmax(self.predict_proba(frame), axis=1)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        answer = self._ask(frame)
        if self.owner.classes is None:
            return answer  # class k is the k-th label value
        domain = list(self.card["columns"][self.label]["domain"])
        return answer[:, [self.owner.classes.index(v) for v in domain]]


KINDS = ["xgb-booster", "xgb-classifier", "xgb-regressor", "lgb-booster", "lgb-classifier",
         "lgb-regression"]


@pytest.mark.parametrize("kind", KINDS)
def test_item1_booster_posteriors_equal_brute_force(kind: str, data: dict[str, pd.DataFrame],
                                                    tmp_path: Path) -> None:
    """item 1: a booster with its own names, order and pandas categories, saved by its
    owner, opened from its file with the card: MAP posteriors equal the brute force."""
    members, reference = data["members"], data["reference"]
    owner = train(kind, members)
    source, flags = save(owner, tmp_path)
    label = "dose_class" if owner.task == "classification" else "dose"
    card = load_dataset("iwpc").with_label(label).card
    model = open_model(source, card=card, records=members, feature_map=RENAMES, **flags)
    assert model.reveals == ("output" if owner.task == "regression" else "confidences")
    assert list(model.inputs_) == [RENAMES.get(c, c) for c in ORDER]
    direct = Direct(owner, model, members)
    attacked = members.iloc[:N_ATTACKED]
    if owner.task == "regression":
        assert model.residual_sigma_ == pytest.approx(direct.residual_sigma_, rel=1e-6)
    else:
        np.testing.assert_allclose(model.predict_proba(attacked),
                                   direct.predict_proba(attacked), rtol=0, atol=1e-6)
    unknown = ("height_cm",) if owner.task == "regression" else ("cyp2c9",)
    known = tuple(f for f in model.features if f != "vkorc1" and f not in unknown)
    access = "output" if owner.task == "regression" else "confidence"
    oracle = Oracle.for_model(model, "confidences")
    fast = MAPInversion(numeric_points=3).fit(oracle, sensitive=("vkorc1",), known=known,
                                              reference=reference)
    slow = brute_force_map(direct, attacked, sensitive=("vkorc1",), known=known,
                           reference=reference, access=access, numeric_points=3)
    posterior = fast.infer(attacked).probabilities
    assert posterior.shape == slow.shape
    np.testing.assert_allclose(posterior, slow, rtol=0, atol=TOLERANCE)
    assert np.ptp(slow, axis=1).max() > 0.05  # the model's answers matter


def test_item1_classes_option_names_a_raw_boosters_classes(data: dict[str, pd.DataFrame],
                                                           tmp_path: Path) -> None:
    """item 1: a raw booster's class k is the label's k-th value unless ``classes`` says."""
    members = data["members"]
    owner = train("xgb-booster", members)
    path, _ = save(owner, tmp_path)
    card = load_dataset("iwpc").with_label("dose_class").card
    default = open_model(path, card=card, records=members, feature_map=RENAMES)
    named = open_model(path, card=card, records=members, feature_map=RENAMES,
                       options={"classes": ["high", "low", "medium"]})
    rows = members.head(10)
    np.testing.assert_allclose(named.predict_proba(rows),
                               default.predict_proba(rows)[:, [1, 2, 0]], atol=1e-12)
    with pytest.raises(ModelError, match="has 3 classes but the classes option names 2"):
        open_model(path, card=card, records=members, feature_map=RENAMES,
                   options={"classes": "low,high"})
    with pytest.raises(ModelError, match="class 'huge' of the classes option"):
        open_model(path, card=card, records=members, feature_map=RENAMES,
                   options={"classes": ["low", "medium", "huge"]})


def test_item1_wrong_feature_names_are_listed(data: dict[str, pd.DataFrame],
                                              tmp_path: Path) -> None:
    """item 1: inputs the card does not describe, and inputs of the wrong kind, are
    listed in one line."""
    members = data["members"]
    owner = train("lgb-booster", members)
    path, _ = save(owner, tmp_path)
    card = load_dataset("iwpc").with_label("dose_class").card
    with pytest.raises(ModelError) as refused:
        open_model(path, card=card, records=members)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message
    assert "2 input(s) the card does not describe: 'VKORC1_genotype', 'Age_decades'" \
        in message
    table = owner_table(members)
    table["race"] = table["race"].cat.codes  # race as integer codes: a number
    booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1,
                              "num_leaves": 5}, lightgbm.Dataset(
        table, members["dose_class"].map({"low": 0, "medium": 1, "high": 2})), 2)
    with pytest.raises(ModelError, match="input 'race' takes numbers but card column "
                                         "'race' holds text"):
        open_model(booster, card=card, records=members, feature_map=RENAMES)


# -- hostile LightGBM texts ------------------------------------------------------------
@pytest.fixture(scope="module")
def good_text(data: dict[str, pd.DataFrame]) -> str:
    return str(train("lgb-booster", data["members"]).model.model_to_string())


def _tree_line(text: str, key: str, change: Callable[[list[str]], list[str]]) -> str:
    """``text`` with the first tree's ``key`` array changed."""
    start = text.index("Tree=0\n")
    line = re.compile(rf"^{key}=(.*)$", re.MULTILINE).search(text, start)
    assert line is not None
    values = change(line.group(1).split(" "))
    return text[:line.start()] + f"{key}=" + " ".join(values) + text[line.end():]


HOSTILE: dict[str, tuple[Callable[[str], str], str]] = {
    "child-out-of-range": (lambda t: _tree_line(t, "left_child", lambda v: ["999", *v[1:]]),
                           "left_child must be an internal node in [0,"),
    "child-cycle": (lambda t: _tree_line(t, "right_child", lambda v: [*v[:-1], "0"]),
                    "must form a tree"),
    "split-feature-too-large": (lambda t: _tree_line(t, "split_feature",
                                                     lambda v: ["50", *v[1:]]),
                                "split_feature must be a feature index in [0, 8)"),
    "huge-num-leaves": (lambda t: _tree_line(t, "num_leaves", lambda v: ["2000000000"]),
                        "num_leaves must be an integer in [1, 131072]"),
    "short-array": (lambda t: _tree_line(t, "threshold", lambda v: v[:-1]),
                    "threshold must hold"),
    "infinite-leaf": (lambda t: _tree_line(t, "leaf_value", lambda v: ["inf", *v[1:]]),
                      "leaf_value must be finite"),
    "tree-sizes": (lambda t: re.sub(r"tree_sizes=(\d+)", lambda m: "tree_sizes=99999",
                                    t, count=1),
                   "tree_sizes must be the byte length of each tree block"),
    "line-without-equals": (lambda t: t.replace("shrinkage=1\n", "shrinkage\n", 1),
                            "is not a tree key given once"),
    "nul-byte": (lambda t: t.replace("num_cat=", "num_cat=\x00", 1), "control character"),
    "truncated": (lambda t: t[: len(t) // 2], "(truncated?)"),
    "unknown-objective": (lambda t: t.replace("objective=multiclass", "objective=lambdarank",
                                              1), "objective 'lambdarank' is not one"),
    "deep-pandas-categories": (lambda t: t.rstrip("\n").rsplit("\n", 1)[0]
                               + "\npandas_categorical:" + "[" * 50 + "]" * 50 + "\n",
                               "pandas_categorical fails a safety check"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_item1_hostile_lightgbm_text_refused_before_parsing(
        name: str, good_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """item 1: a LightGBM text with an out-of-range index, a cycle, a huge count, a
    wrong length or a truncation is refused with one line; LightGBM never parses it."""
    change, fragment = HOSTILE[name]
    path = tmp_path / "model.txt"
    path.write_bytes(change(good_text).encode())
    parsed: list[str] = []
    monkeypatch.setattr(lightgbm, "Booster", lambda **kw: parsed.append("parsed"))
    with pytest.raises(ModelError) as refused:
        load_object(path)
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and fragment in message, message
    assert not parsed


def test_item1_lightgbm_files_are_recognised_and_checked(good_text: str,
                                                         tmp_path: Path) -> None:
    """item 1: a LightGBM text is sniffed as such, described, and its categorical
    bitsets checked (a categorical split naming a bitset that does not exist)."""
    path = tmp_path / "model.txt"
    path.write_text(good_text)
    facts = describe_file(path)
    assert facts["format"] == "lightgbm" and facts["objective"] == "multiclass"
    assert facts["categorical_features"] == ["VKORC1_genotype", "cyp2c9", "race"]
    assert isinstance(load_object(path), lightgbm.Booster)
    start = good_text.index("Tree=0\n")
    block = good_text[start:good_text.index("\n\n", start)]
    assert re.search(r"^num_cat=[1-9]", block, re.MULTILINE), "no categorical split"
    decision = re.search(r"^decision_type=(.*)$", block, re.MULTILINE).group(1).split(" ")
    categorical = next(i for i, d in enumerate(decision) if int(d) & 1)
    evil = _tree_line(good_text, "threshold", lambda v: [
        *v[:categorical], "7", *v[categorical + 1:]])
    path.write_text(evil)
    with pytest.raises(UnsafeModelError, match="categorical splits must each name one of"):
        load_object(path)


def test_item1_lightgbm_is_an_optional_extra(good_text: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """item 1: without the lightgbm package, one line says how to install it."""
    path = tmp_path / "model.txt"
    path.write_text(good_text)
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(ModelError, match=r"pip install tabinv\[lightgbm\]"):
        load_object(path)


# -- XGBoost files without tabinv's metadata --------------------------------------------
def test_item1_xgboost_categorical_documents_are_checked(data: dict[str, pd.DataFrame],
                                                         tmp_path: Path) -> None:
    """item 1: an XGBoost file without tabinv's metadata loads as its raw Booster; its
    categorical splits and kept categories are checked before XGBoost reads them."""
    owner = train("xgb-booster", data["members"])
    path, _ = save(owner, tmp_path)
    assert isinstance(load_object(path), xgboost.Booster)
    edits: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any]], None], str]] = {
        "category": (lambda model, tree: tree["categories"].__setitem__(0, 1_000_000),
                     "categories must be codes in [0, 65536)"),
        "segment": (lambda model, tree: tree["categories_segments"].__setitem__(0, 10**6),
                    "segment must lie inside categories"),
        "sorted": (lambda model, tree: model["cats"]["sorted_idx"].__setitem__(0, 99),
                   "cats.sorted_idx must order each feature's categories"),
        "offsets": (lambda model, tree: model["cats"]["enc"][1]["offsets"].__setitem__(
            1, 10**6), "offsets rising from 0"),
    }
    for name, (edit, fragment) in edits.items():
        document = json.loads(path.read_text())
        model = document["learner"]["gradient_booster"]["model"]
        edit(model, next(t for t in model["trees"] if t["categories_nodes"]))
        evil = tmp_path / f"{name}.json"
        evil.write_text(json.dumps(document))
        with pytest.raises(UnsafeModelError, match=re.escape(fragment)):
            load_object(evil)


def train_other(case: str, members: pd.DataFrame, folder: Path) -> tuple[Owner, Path, str]:
    """Boosters with other objectives: binary (label ``amiodarone``, values 0/1) from an
    XGBoost UBJ file and a LightGBM text, and XGBoost ``multi:softmax`` (labels only)."""
    label = "dose_class" if case == "xgb-softmax" else "amiodarone"
    order = [c for c in ORDER if c != label]
    table = owner_table(members, order=order)
    columns = {RENAMES.get(c, c): table[RENAMES.get(c, c)].cat.categories for c in CATEGORICAL}
    if case == "xgb-softmax":
        target = members[label].map({"low": 0, "medium": 1, "high": 2})
        booster = xgboost.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3,
                                 "nthread": 1}, xgboost.DMatrix(table, target,
                                                                enable_categorical=True), 6)
        path = folder / "softmax.json"
        call = booster.inplace_predict
    elif case == "xgb-binary-ubj":
        booster = xgboost.train({"objective": "binary:logistic", "max_depth": 3,
                                 "nthread": 1}, xgboost.DMatrix(table, members[label],
                                                                enable_categorical=True), 6)
        path = folder / "binary.ubj"
        call = _two_columns(booster.inplace_predict)
    else:
        booster = lightgbm.train({"objective": "binary", "num_leaves": 5, "verbose": -1,
                                  "min_data_in_leaf": 5, "num_threads": 1},
                                 lightgbm.Dataset(table, members[label]), 6)
        path = folder / "binary.txt"
        call = _two_columns(booster.predict)
    booster.save_model(path)
    task = "classification"
    return Owner(case, task, booster, columns, call, order=order), path, label


def _two_columns(positive: Callable[[pd.DataFrame], Any]) -> Callable[[pd.DataFrame], Any]:
    """P(0), P(1) in float64 from a binary model's P(1)."""
    def both(table: pd.DataFrame) -> np.ndarray:
        p = np.asarray(positive(table), dtype=float)
        return np.column_stack([1.0 - p, p])
    return both


@pytest.mark.parametrize("case", ["xgb-binary-ubj", "lgb-binary", "xgb-softmax"])
def test_item1_other_objectives_equal_brute_force(case: str, data: dict[str, pd.DataFrame],
                                                  tmp_path: Path) -> None:
    """item 1: binary objectives on a label with values 0/1, and a softmax booster that
    reveals labels only (label-only access), equal the brute force."""
    members, reference = data["members"], data["reference"]
    owner, path, label = train_other(case, members, tmp_path)
    card = load_dataset("iwpc").with_label(label).card
    model = open_model(path, card=card, records=members, feature_map=RENAMES)
    labels_only = case == "xgb-softmax"
    assert model.reveals == ("labels" if labels_only else "confidences")
    direct = Direct(owner, model, members)
    if labels_only:
        np.testing.assert_array_equal(model.confusion_, direct.confusion_)
    known = tuple(f for f in model.features if f not in ("vkorc1", "cyp2c9"))
    attacked = members.iloc[:N_ATTACKED]
    oracle = Oracle.for_model(model, "label-only" if labels_only else "confidences")
    fast = MAPInversion(numeric_points=3).fit(oracle, sensitive=("vkorc1",), known=known,
                                              reference=reference)
    slow = brute_force_map(direct, attacked, sensitive=("vkorc1",), known=known,
                           reference=reference, numeric_points=3,
                           access="label" if labels_only else "confidence")
    np.testing.assert_allclose(fast.infer(attacked).probabilities, slow, rtol=0,
                               atol=TOLERANCE)
    assert np.ptp(slow, axis=1).max() > 0.01


def test_item1_unnamed_boosters_take_the_cards_features_in_order(
        data: dict[str, pd.DataFrame]) -> None:
    """item 1: a booster fitted on an array has no names: it takes the card's features
    in card order, as numbers; a different count, or text columns, is one clear line."""
    members = data["members"]
    card = load_dataset("iwpc").with_label("dose_class").card
    target = members["dose_class"].map({"low": 0, "medium": 1, "high": 2})
    numeric = members[["age", "height_cm", "weight_kg"]].to_numpy()
    booster = xgboost.train({"objective": "multi:softprob", "num_class": 3, "nthread": 1},
                            xgboost.DMatrix(numeric, target), 2)
    with pytest.raises(ModelError, match="takes 3 unnamed features but the card of 'iwpc' "
                                         "has 8"):
        open_model(booster, card=card, records=members)
    coded = members[list(card.features)].apply(
        lambda c: c.astype("category").cat.codes if c.dtype == object else c)
    booster = lightgbm.train({"objective": "multiclass", "num_class": 3, "verbose": -1},
                             lightgbm.Dataset(coded.to_numpy(dtype=float), target), 2)
    with pytest.raises(ModelError, match="input 'race' takes numbers but card column 'race' "
                                         "holds text"):
        open_model(booster, card=card, records=members)
