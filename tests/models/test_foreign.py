"""Item 1 (issue 13): models tabinv did not train, queried in their own input form.

A scikit-learn pipeline fitted on IWPC with its own column names and order is opened
through :func:`tabinv.models.sources.open_model`; the MAP attack's posteriors equal the
brute-force reference asking *the pipeline itself* (not tabinv's wrapper) on every
candidate row. Also: what the model reveals (labels only), the checks of its inputs,
classes and outputs against the card, and the owners' member / non-member files.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from attacks.reference import brute_force_map
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

from tabinv.attacks.map import MAPInversion
from tabinv.core.inputs import given_splits, load_dataset
from tabinv.core.threat import ThreatModel
from tabinv.data.splits import split_dataset
from tabinv.exceptions import AttackError, DataError, ModelError
from tabinv.models.foreign import ForeignModel, parse_feature_map
from tabinv.models.oracle import Oracle
from tabinv.models.sources import open_model

RENAME = {"vkorc1": "VKORC1_genotype", "age": "age_decade", "race": "Race"}
CATEGORICAL = ["Race", "cyp2c9", "VKORC1_genotype"]
NUMERIC = ["weight_kg", "age_decade", "height_cm", "amiodarone", "enzyme_inducer"]
FEATURE_MAP = {card: model for card, model in RENAME.items()}


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    data = load_dataset("iwpc").with_label("dose_class")
    frame = data.frame.sample(900, random_state=3).reset_index(drop=True)
    splits = split_dataset(frame, (0.5, 0.25, 0.25), 0)
    return {"card": data.card, "splits": splits}


def owner_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The records as the model's owner keeps them: own names, own column order."""
    return frame.rename(columns=RENAME)[NUMERIC[::-1] + CATEGORICAL]


def pipeline(final: Any) -> Pipeline:
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                              ("num", StandardScaler(), NUMERIC)])
    return Pipeline([("prep", prep), ("model", final)])


class OwnerModel:
    """The pipeline asked directly on records in the card's names (for the reference):
    renamed to the owner's names, its probabilities placed on the label's domain."""

    def __init__(self, pipe: Pipeline, wrapped: ForeignModel) -> None:
        self.pipe, self.wrapped = pipe, wrapped
        self.card, self.features = wrapped.card, wrapped.features
        self.task, self.label = wrapped.task, wrapped.label
        self.confusion_ = getattr(wrapped, "confusion_", None)
        self.residual_sigma_ = getattr(wrapped, "residual_sigma_", None)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.pipe.predict_proba(owner_frame(frame))
        domain = list(self.card["columns"][self.label]["domain"])
        full = np.zeros((len(frame), len(domain)))
        full[:, [domain.index(c) for c in self.pipe.classes_]] = raw
        return full

    def predict_fitted(self, frame: pd.DataFrame) -> np.ndarray:
        if self.task == "regression":
            return np.asarray(self.pipe.predict(owner_frame(frame)), dtype=float)
        return self.predict_proba(frame).argmax(axis=1)


def test_item1_pipeline_posteriors_equal_brute_force_on_the_pipeline(world) -> None:
    """item 1: a Pipeline(ColumnTransformer, LogisticRegression) with its own names."""
    splits = world["splits"]
    pipe = pipeline(LogisticRegression(max_iter=400)).fit(
        owner_frame(splits.members), splits.members["dose_class"])
    model = open_model(pipe, card=world["card"], records=splits.members,
                       feature_map=FEATURE_MAP, recognise=False)
    assert isinstance(model, ForeignModel) and model.reveals == "confidences"
    assert set(model.features) == set(world["card"].features)
    attacked = splits.non_members.head(40)
    known = [f for f in model.features if f not in ("vkorc1", "cyp2c9")]
    for unknown in ((), ("cyp2c9",)):
        hidden = [f for f in known if f not in unknown]
        fitted = MAPInversion(numeric_points=3).fit(
            Oracle.for_model(model), sensitive=("vkorc1",), known=hidden,
            reference=splits.reference)
        fast = fitted.infer(attacked).probabilities
        slow = brute_force_map(OwnerModel(pipe, model), attacked, sensitive=("vkorc1",),
                               known=hidden, reference=splits.reference,
                               access="confidence", numeric_points=3)
        np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
        assert np.ptp(fast, axis=1).max() > 0.05  # the model's answers moved the posterior


def test_item1_regression_pipeline_and_its_published_sigma(world) -> None:
    """item 1: a regression pipeline answers on the label's own scale (no transform)."""
    data = load_dataset("iwpc")  # label dose (card transform sqrt: tabinv's own choice)
    splits = split_dataset(data.frame.sample(600, random_state=1).reset_index(drop=True),
                           (0.5, 0.25, 0.25), 0)
    pipe = pipeline(LinearRegression()).fit(owner_frame(splits.members),
                                            splits.members["dose"])
    model = open_model(pipe, card=data.card, records=splits.members,
                       feature_map=FEATURE_MAP, recognise=False)
    residual = splits.members["dose"] - pipe.predict(owner_frame(splits.members))
    dof = len(residual) - (len(model.features) + 1)
    assert model.residual_sigma_ == pytest.approx(np.sqrt((residual**2).sum() / dof))
    known = [f for f in model.features if f != "vkorc1"]
    fast = MAPInversion().fit(Oracle.for_model(model), sensitive=("vkorc1",), known=known,
                              reference=splits.reference).infer(splits.non_members.head(30))
    slow = brute_force_map(OwnerModel(pipe, model), splits.non_members.head(30),
                           sensitive=("vkorc1",), known=known, reference=splits.reference,
                           access="output")
    np.testing.assert_allclose(fast.probabilities, slow, rtol=0, atol=1e-9)


def test_item1_a_model_without_probabilities_is_attacked_label_only(world) -> None:
    """item 1: what the model reveals is detected: no predict_proba -> label-only."""
    splits = world["splits"]
    pipe = pipeline(LinearSVC()).fit(owner_frame(splits.members), splits.members["dose_class"])
    model = open_model(pipe, card=world["card"], records=splits.members,
                       feature_map=FEATURE_MAP)
    assert model.reveals == "labels"
    threat = ThreatModel(sensitive=("vkorc1",))
    assert threat.access_for(model, threat.specs(True)) == "label-only"
    with pytest.raises(AttackError, match="reveals predicted labels only"):
        Oracle.for_model(model, "confidences")
    oracle = Oracle.for_model(model, "label-only")
    answers = oracle.query_encoded(model.encode(splits.non_members))
    expected = pd.Index(model.domain("dose_class")).get_indexer(
        pipe.predict(owner_frame(splits.non_members)))
    np.testing.assert_array_equal(answers, expected)
    confusion = pd.crosstab(splits.members["dose_class"],
                            pipe.predict(owner_frame(splits.members)))
    assert model.confusion_.sum() == len(splits.members) == confusion.to_numpy().sum()


def test_item1_inputs_checked_against_the_card(world) -> None:
    """item 1: missing, extra and wrongly typed inputs are listed in one line."""
    splits, card = world["splits"], world["card"]
    pipe = pipeline(LogisticRegression(max_iter=200)).fit(
        owner_frame(splits.members), splits.members["dose_class"])
    with pytest.raises(ModelError) as missing:
        open_model(pipe, card=card, records=splits.members, feature_map={"age": "age_decade"})
    message = str(missing.value)
    assert "\n" not in message and "does not fit the card" in message
    assert "VKORC1_genotype" in message and "Race" in message and "--feature-map" in message
    with pytest.raises(ModelError, match="not in the card: 'nonsense'"):
        open_model(pipe, card=card, records=splits.members,
                   feature_map={**FEATURE_MAP, "nonsense": "x"})
    with pytest.raises(ModelError, match="does not take: .dose=weight."):
        open_model(pipe, card=card, records=splits.members,
                   feature_map={**FEATURE_MAP, "dose": "weight"})
    # the owner coded VKORC1 as numbers: the card's text values are not its categories
    coded = owner_frame(splits.members).assign(
        VKORC1_genotype=lambda f: f["VKORC1_genotype"].map({"A/A": 0, "A/G": 1, "G/G": 2}))
    numeric = pipeline(LogisticRegression(max_iter=200)).fit(coded, splits.members["dose_class"])
    with pytest.raises(ModelError, match="VKORC1_genotype.*none of card column 'vkorc1'"):
        open_model(numeric, card=card, records=splits.members, feature_map=FEATURE_MAP)


def test_item6_classes_outputs_and_failures_name_the_model(world) -> None:
    """item 6: classes outside the label's domain, a regression for a categorical label,
    outputs of the wrong shape and a model raising on records: one line each."""
    splits, card = world["splits"], world["card"]
    owner = owner_frame(splits.members)
    relabelled = pipeline(LogisticRegression(max_iter=200)).fit(
        owner, splits.members["dose_class"].map({"low": "L", "medium": "M", "high": "H"}))
    with pytest.raises(ModelError, match=r"classes \['H', 'L', 'M'\] are not values of the "
                                         r"label 'dose_class'"):
        open_model(relabelled, card=card, records=splits.members, feature_map=FEATURE_MAP)
    regression = pipeline(LinearRegression()).fit(owner, splits.members["dose"])
    with pytest.raises(ModelError, match="is a regression .* label 'dose_class' is categorical"):
        open_model(regression, card=card, records=splits.members, feature_map=FEATURE_MAP)

    class Broken(LogisticRegression):
        def predict_proba(self, X: Any) -> np.ndarray:
            if len(X) > 50:
                raise ValueError("the service is down")
            return super().predict_proba(X)[:, :2]

    broken = pipeline(Broken(max_iter=200)).fit(owner, splits.members["dose_class"])
    with pytest.raises(ModelError, match=r"failed on 450 record\(s\) \(ValueError: the "
                                         "service is down\\)"):
        open_model(broken, card=card, records=splits.members, feature_map=FEATURE_MAP)
    with pytest.raises(ModelError, match=r"probabilities of shape \(10, 2\) for 10 records; "
                                         r"expected \(10, 3\)"):
        open_model(broken, card=card, records=splits.members.head(10),
                   feature_map=FEATURE_MAP)


def test_item1_foreign_models_need_a_card_and_labelled_records(world) -> None:
    splits = world["splits"]
    pipe = pipeline(LogisticRegression(max_iter=200)).fit(
        owner_frame(splits.members), splits.members["dose_class"])
    with pytest.raises(ModelError, match="carries no card: give the card"):
        open_model(pipe, records=splits.members)
    with pytest.raises(ModelError, match="need the label column 'dose_class'"):
        open_model(pipe, card=world["card"], feature_map=FEATURE_MAP,
                   records=splits.members.drop(columns=["dose_class"]))


def test_feature_map_pairs_are_checked() -> None:
    assert parse_feature_map(["a=b", " c = d "]) == {"a": "b", "c": "d"}
    for bad, match in ((["a"], "expected CARD_COLUMN=MODEL_INPUT"), (["a=b", "a=c"], "twice"),
                       (["a=b", "c=b"], "two card columns"), (["=b"], "non-empty")):
        with pytest.raises(ModelError, match=match):
            parse_feature_map(bad)


def test_item2_given_splits_from_a_member_column(world, tmp_path) -> None:
    """item 2: one file whose column marks the training members; the reference defaults
    to a seeded half of the non-members, and says so."""
    frame = pd.concat([world["splits"].members.assign(trained="yes"),
                       world["splits"].non_members.assign(trained="no")], ignore_index=True)
    path = tmp_path / "records.csv"
    frame.to_csv(path, index=False)
    given = given_splits(world["card"], data=path, member_column="trained", random_state=4)
    assert len(given.splits.members) == len(world["splits"].members)
    sizes = given.splits.sizes()
    assert sizes["non_members"] + sizes["reference"] == len(world["splits"].non_members)
    assert "half of the given non-members" in given.reference_source
    assert "trained" not in given.splits.members.columns
    again = given_splits(world["card"], data=path, member_column="trained", random_state=4)
    pd.testing.assert_frame_equal(again.splits.reference, given.splits.reference)
    frame.loc[3, "trained"] = "maybe"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="member column 'trained' .* 1 value.*'maybe'"):
        given_splits(world["card"], data=path, member_column="trained")
    with pytest.raises(DataError, match="--members FILE and --non-members FILE"):
        given_splits(world["card"], members=path)


def test_item1_hist_gradient_boosting_nodes_are_checked(tmp_path) -> None:
    """item 1: a HistGradientBoosting pipeline loads (with --trust: its tree predictor is
    outside skops' trusted types) and a node pointing outside its tree is refused."""
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    from tabinv.exceptions import UnsafeModelError
    from tabinv.models.persist import load_object

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    model = HistGradientBoostingClassifier(max_iter=3).fit(X, X["a"] > 0)
    path = tmp_path / "hgb.skops"
    sio.dump(model, path)
    with pytest.raises(UnsafeModelError, match="TreePredictor.*trust=True"):
        load_object(path)
    assert load_object(path, trust=True).predict(X).shape == (300,)
    model._predictors[0][0].nodes["left"][0] = 10_000
    sio.dump(model, path)
    with pytest.raises(UnsafeModelError, match=r"_predictors\[0\]\[0\] fails a safety check: "
                                               "left must point to a later node"):
        load_object(path, trust=True)


def test_item1_a_scaler_that_saw_a_constant_column_loads(tmp_path) -> None:
    """item 1: an ordinary pipeline whose StandardScaler saw a constant column (variance
    0, as enzyme_inducer in a small IWPC sample) is not mistaken for a crafted file."""
    import skops.io as sio

    from tabinv.models.persist import load_object

    X = pd.DataFrame({"a": np.arange(50.0), "constant": np.zeros(50)})
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(
        X, np.arange(50) % 2)
    path = tmp_path / "pipe.skops"
    sio.dump(pipe, path)
    assert load_object(path).predict(X).shape == (50,)
