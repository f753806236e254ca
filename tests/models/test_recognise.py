"""Issue 13, item 1 (white-box attacks behind a recognised preprocessing, skipped with the
reason otherwise) and item 5 (the fast paths on recognised pipelines, with the pipeline's
own answers).

scikit-learn pipelines are trained inside the tests on IWPC records in their own form
(renamed columns, their own column order); tabinv opens them through ``open_model``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from attacks.reference import brute_force_map
from attacks.whitebox_reference import brute_force_whitebox
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from tabinv.attacks.map import MAPInversion
from tabinv.attacks.treegrid import tree_parts
from tabinv.attacks.whitebox import WhiteBoxTreeInversion
from tabinv.core.inputs import load_dataset
from tabinv.core.run import run_attacks
from tabinv.core.threat import ThreatModel
from tabinv.data.splits import split_dataset
from tabinv.exceptions import AttackError
from tabinv.models.foreign import ForeignModel
from tabinv.models.oracle import Oracle
from tabinv.models.readable import ReadablePipeline, ReadableTreePipeline
from tabinv.models.recognise import readable_model, recognition
from tabinv.models.sources import open_model

#: the hospital's own names for the card's columns
FEATURE_MAP = {"vkorc1": "VKORC1", "cyp2c9": "CYP2C9_genotype", "race": "Race",
               "age": "AgeDecades", "weight_kg": "Weight"}
CATEGORIES = ["Race", "VKORC1", "CYP2C9_genotype"]
SCALED = ["Weight", "height_cm", "enzyme_inducer"]
PASSED = ["AgeDecades", "amiodarone"]
#: the hospital's column order
OWN_ORDER = ["amiodarone", "Weight", "VKORC1", "AgeDecades", "height_cm", "Race",
             "enzyme_inducer", "CYP2C9_genotype"]


def own_form(frame: pd.DataFrame) -> pd.DataFrame:
    """Records as the hospital keeps them: its names, its column order."""
    return frame.rename(columns=FEATURE_MAP)[OWN_ORDER]


@pytest.fixture(scope="module")
def iwpc() -> Any:
    data = load_dataset("iwpc").with_label("dose_class")
    splits = split_dataset(data.frame.sample(900, random_state=1), (0.5, 0.3, 0.2), 0)
    return data.card, splits


def onehot_scaled() -> ColumnTransformer:
    return ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
                              ("num", StandardScaler(), SCALED),
                              ("keep", "passthrough", PASSED)])


def ordinal_minmax() -> ColumnTransformer:
    """Ordinal codes, an imputer in front, clipping and max-abs scaling, and the
    remainder passed through."""
    return ColumnTransformer(
        [("codes", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                 OrdinalEncoder()), ["VKORC1", "Race"]),
         ("clip", MinMaxScaler(clip=True), ["Weight"]),
         ("abs", MaxAbsScaler(), ["height_cm", "AgeDecades"]),
         ("genotype", OneHotEncoder(sparse_output=False), ["CYP2C9_genotype"])],
        remainder="passthrough")


def fitted(preprocessing: Callable[[], Any] | None, estimator: Any, records: pd.DataFrame,
           label: str = "dose_class") -> Any:
    steps = ([("prep", preprocessing())] if preprocessing else []) + [("model", estimator)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the small fits
        return Pipeline(steps).fit(own_form(records), records[label])


def opened(pipe: Any, card: Any, records: pd.DataFrame, **options: Any) -> Any:
    return open_model(pipe, card=card, records=records, feature_map=FEATURE_MAP, **options)


CLASSIFIERS = {
    "logistic": (onehot_scaled, lambda: LogisticRegression(max_iter=300)),
    "forest": (onehot_scaled, lambda: RandomForestClassifier(12, max_depth=6,
                                                             random_state=0)),
    "tree-ordinal": (ordinal_minmax, lambda: DecisionTreeClassifier(max_depth=6,
                                                                    random_state=0)),
    "logistic-ordinal": (ordinal_minmax, lambda: LogisticRegression(max_iter=300)),
}


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_item5_encoder_reproduces_the_pipeline_bit_for_bit(iwpc: Any, name: str) -> None:
    card, splits = iwpc
    preprocessing, estimator = CLASSIFIERS[name]
    pipe = fitted(preprocessing, estimator(), splits.members)
    model = opened(pipe, card, splits.members)
    assert isinstance(model, ReadablePipeline)
    assert model.estimator_ is pipe[-1]
    for records in (splits.members, splits.non_members):
        theirs = pipe[:-1].transform(own_form(records))
        theirs = theirs.toarray() if hasattr(theirs, "toarray") else theirs
        ours = model.encoder_.transform(records)
        assert ours.dtype == np.float64 and np.array_equal(ours, theirs)
        np.testing.assert_array_equal(model.predict(records), pipe.predict(own_form(records)))
        np.testing.assert_allclose(model.predict_proba(records)[:, model.classes_present_],
                                   pipe.predict_proba(own_form(records)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_item5_fast_paths_give_the_black_box_posteriors(iwpc: Any, name: str,
                                                      monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    """MAP on the recognised pipeline (linear fast path or tree walk, never querying the
    pipeline) equals MAP on the same pipeline queried as a black box and the brute-force
    reference calling it on every candidate row; a numeric feature is unknown."""
    card, splits = iwpc
    preprocessing, estimator = CLASSIFIERS[name]
    pipe = fitted(preprocessing, estimator(), splits.members)
    read = opened(pipe, card, splits.members)
    black = opened(pipe, card, splits.members, recognise=False)
    assert isinstance(black, ForeignModel)
    fast = Oracle.for_model(read, "confidences")
    trees = isinstance(read, ReadableTreePipeline)
    assert (tree_parts(fast) is not None) if trees else (fast.linear_parts() is not None)
    known = tuple(f for f in read.features if f not in ("vkorc1", "height_cm"))
    records = splits.members.iloc[:40]
    posteriors = []
    for model in (read, black):
        with monkeypatch.context() as patch:
            if model is read:  # the fast paths never call the estimator
                patch.setattr(pipe[-1], "predict_proba", _never_called)
            attack = MAPInversion(numeric_points=3).fit(
                Oracle.for_model(model, "confidences"), sensitive=("vkorc1",), known=known,
                reference=splits.reference)
            posteriors.append(attack.infer(records).probabilities)
    np.testing.assert_allclose(posteriors[0], posteriors[1], rtol=0, atol=1e-12)
    if trees:  # the same leaves, the same sums: bit for bit
        np.testing.assert_array_equal(posteriors[0], posteriors[1])
    slow = brute_force_map(black, records.iloc[:8], sensitive=("vkorc1",), known=known,
                           reference=splits.reference, access="confidence",
                           numeric_points=3)
    np.testing.assert_allclose(posteriors[0][:8], slow, rtol=0, atol=1e-9)


def _never_called(*args: Any) -> Any:
    raise AssertionError("the estimator was queried instead of read")


def test_item5_regression_fast_paths_and_published_sigma(iwpc: Any) -> None:
    card, splits = iwpc
    card = load_dataset("iwpc").with_label("dose").card
    for estimator, kind in ((LinearRegression(), ReadablePipeline),
                            (DecisionTreeRegressor(max_depth=5, random_state=0),
                             ReadableTreePipeline)):
        pipe = fitted(onehot_scaled, estimator, splits.members, label="dose")
        read = opened(pipe, card, splits.members)
        black = opened(pipe, card, splits.members, recognise=False)
        assert type(read) is kind
        assert read.residual_sigma_ == pytest.approx(black.residual_sigma_, rel=1e-12)
        known = tuple(f for f in read.features if f not in ("cyp2c9", "weight_kg"))
        records = splits.non_members.iloc[:30]
        posteriors = [MAPInversion(numeric_points=3).fit(
            Oracle.for_model(m, "confidences"), sensitive=("cyp2c9",), known=known,
            reference=splits.reference).infer(records).probabilities for m in (read, black)]
        np.testing.assert_allclose(posteriors[0], posteriors[1], rtol=0, atol=1e-9)


def pipeline_row(pipe: Any) -> Callable[[Any, dict[str, Any]], list[float | None]]:
    """A candidate row encoded by the pipeline's own preprocessing, as float32 values."""
    def encode(model: Any, row: dict[str, Any]) -> list[float | None]:
        frame = own_form(pd.DataFrame([row])[list(model.features)])
        return [float(np.float32(v)) for v in np.ravel(pipe[:-1].transform(frame))]
    return encode


@pytest.mark.parametrize("name", ["forest", "tree-ordinal"])
def test_item1_white_box_attacks_read_trees_behind_the_preprocessing(iwpc: Any,
                                                                     name: str) -> None:
    card, splits = iwpc
    preprocessing, estimator = CLASSIFIERS[name]
    pipe = fitted(preprocessing, estimator(), splits.members)
    read = opened(pipe, card, splits.members)
    oracle = Oracle.for_model(read, "white-box")
    known = tuple(f for f in read.features if f != "vkorc1")
    records = splits.non_members.iloc[:25]
    attack = WhiteBoxTreeInversion(leaf_label="fractions").fit(
        oracle, sensitive=("vkorc1",), known=known, reference=splits.reference)
    slow = brute_force_whitebox(read, records, sensitive=("vkorc1",), known=known,
                                reference=splits.reference, leaf_label="fractions",
                                encode=pipeline_row(pipe))
    np.testing.assert_allclose(attack.infer(records).probabilities, slow, rtol=0, atol=1e-9)
    assessment, _ = run_attacks(read, {"members": splits.members.iloc[:50]},
                                ThreatModel(sensitive=("vkorc1",), attacks=("all",)),
                                reference=splits.reference)
    assert assessment.threat["access"] == "white-box"
    assert "whitebox-tree" in {a["attack"] for a in assessment.threat["attacks"]}


def test_item1_attack_all_skips_white_box_on_a_black_box_with_the_reason(iwpc: Any) -> None:
    card, splits = iwpc
    pipe = fitted(onehot_scaled, HistGradientBoostingClassifier(max_iter=10),
                  splits.members)
    model = opened(pipe, card, splits.members)
    assert isinstance(model, ForeignModel) and not model.has_structure
    assessment, _ = run_attacks(model, {"members": splits.members.iloc[:50]},
                                ThreatModel(sensitive=("vkorc1",), attacks=("all",)),
                                reference=splits.reference)
    skipped = assessment.threat["skipped"]
    assert assessment.threat["access"] == "confidences"
    for name in ("whitebox-tree", "whitebox-dt"):
        assert any(s.startswith(name) and "the model is queried as a black box: its final "
                   "estimator HistGradientBoostingClassifier" in s for s in skipped), skipped
    assert "map" in {a["attack"] for a in assessment.threat["attacks"]}
    with pytest.raises(AttackError, match="queried as a black box"):
        Oracle.for_model(model, "white-box")
    black = opened(fitted(onehot_scaled, RandomForestClassifier(5, random_state=0),
                          splits.members), card, splits.members, recognise=False)
    assessment, _ = run_attacks(black, {"members": splits.members.iloc[:50]},
                                ThreatModel(sensitive=("vkorc1",), attacks=("all",)),
                                reference=splits.reference)
    assert any("queried as a black box: it was opened with recognise=False" in s
               for s in assessment.threat["skipped"])


UNRECOGNISED = {
    "dropped first category": (
        lambda: ColumnTransformer([("cat", OneHotEncoder(drop="first"), CATEGORIES)],
                                  remainder="passthrough"), "drops or groups categories"),
    "function": (
        lambda: ColumnTransformer([("cat", OneHotEncoder(), CATEGORIES),
                                   ("log", FunctionTransformer(np.log1p),
                                    ["Weight", "height_cm"])],
                                  remainder="passthrough"),
        "step FunctionTransformer is not one tabinv reproduces"),
    "numeric one-hot": (
        lambda: ColumnTransformer([("cat", OneHotEncoder(), [*CATEGORIES, "AgeDecades"])],
                                  remainder="passthrough"),
        "card column 'age' is numeric but the pipeline encodes it as categories"),
}


@pytest.mark.parametrize("case", UNRECOGNISED)
def test_item1_unrecognised_pipelines_stay_black_boxes(iwpc: Any, case: str) -> None:
    card, splits = iwpc
    preprocessing, reason = UNRECOGNISED[case]
    pipe = fitted(preprocessing, RandomForestClassifier(5, random_state=0), splits.members)
    why = recognition(pipe, card, FEATURE_MAP, "pipe")
    assert isinstance(why, str) and reason in why
    assert readable_model(pipe, card, FEATURE_MAP, "pipe") is None
    model = opened(pipe, card, splits.members)
    assert isinstance(model, ForeignModel) and reason in model.structure_note()


def test_item1_unseen_categories_recognised_only_where_the_encoder_takes_them(
        iwpc: Any) -> None:
    """A card value the encoder never saw: zeros with handle_unknown='ignore' (as the
    pipeline gives); with 'error' the pipeline would raise, so it is not recognised."""
    card, splits = iwpc
    members = splits.members[splits.members["race"] != "Unknown"]
    unknown = splits.non_members[splits.non_members["race"] == "Unknown"].head(5)
    assert len(unknown)
    ignore = fitted(onehot_scaled, LogisticRegression(max_iter=300), members)
    model = opened(ignore, card, members)
    assert isinstance(model, ReadablePipeline)
    race = model.encoder_.slices_["race"]
    assert not model.encoder_.block("race", np.array([3])).any()
    assert race[1] - race[0] == 3
    assert np.array_equal(model.encoder_.transform(unknown),
                          ignore[:-1].transform(own_form(unknown)))

    def strict() -> ColumnTransformer:
        return ColumnTransformer([("cat", OneHotEncoder(handle_unknown="error"), CATEGORIES),
                                  ("num", StandardScaler(), SCALED)], remainder="passthrough")

    pipe = fitted(strict, LogisticRegression(max_iter=300), members)
    why = recognition(pipe, card, FEATURE_MAP, "pipe")
    assert isinstance(why, str) and "fails on the card's values" in why


def test_item1_bare_estimator_on_a_frame_of_numbers(iwpc: Any) -> None:
    """A forest fitted on a DataFrame of numbers (no preprocessing) is read, and is
    queried on arrays without scikit-learn's feature-name warning."""
    card, splits = iwpc
    numbers = ["Weight", "height_cm", "AgeDecades", "enzyme_inducer", "amiodarone"]
    frame = own_form(splits.members)[numbers]
    forest = RandomForestClassifier(8, max_depth=5, random_state=0).fit(
        frame, splits.members["dose_class"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = open_model(forest, card=card, records=splits.members,
                           feature_map={"age": "AgeDecades", "weight_kg": "Weight"})
        assert isinstance(model, ReadableTreePipeline)
        assert model.estimator_ is not forest and model.estimator_.estimators_ is \
            forest.estimators_
        np.testing.assert_array_equal(model.predict_proba(splits.non_members)
                                      [:, model.classes_present_],
                                      forest.predict_proba(own_form(splits.non_members)
                                                           [numbers]))
    assert model.features == ("weight_kg", "height_cm", "age", "enzyme_inducer",
                              "amiodarone")
    assert model.describe()["card_features_not_taken_by_the_model"] == [
        "race", "vkorc1", "cyp2c9"]


def test_item1_dropped_inputs_are_not_features(iwpc: Any) -> None:
    card, splits = iwpc

    def dropping() -> ColumnTransformer:
        return ColumnTransformer([("cat", OneHotEncoder(), CATEGORIES),
                                  ("num", StandardScaler(), SCALED)])  # remainder dropped

    pipe = fitted(dropping, LogisticRegression(max_iter=300), splits.members)
    model = opened(pipe, card, splits.members)
    assert isinstance(model, ReadablePipeline)
    assert set(model.features) == {"race", "vkorc1", "cyp2c9", "weight_kg", "height_cm",
                                   "enzyme_inducer"}
    assert model.describe()["model_inputs_its_preprocessing_drops"] == ["amiodarone",
                                                                       "AgeDecades"]
    black = opened(pipe, card, splits.members, recognise=False)
    assert black.confusion_.tolist() == model.confusion_.tolist()


@pytest.mark.parametrize("name", ["logistic", "forest"])
def test_item5_assessment_equals_the_black_box_one(iwpc: Any, name: str) -> None:
    """Every default attack (marginal and learned priors) and baseline scores the same on
    the recognised pipeline as on the same pipeline queried as a black box."""
    card, splits = iwpc
    preprocessing, estimator = CLASSIFIERS[name]
    pipe = fitted(preprocessing, estimator(), splits.members)
    tables = []
    for recognise in (True, False):
        model = opened(pipe, card, splits.members, recognise=recognise)
        assessment, _ = run_attacks(
            model, {"members": splits.members.iloc[:80],
                    "non-members": splits.non_members.iloc[:80]},
            ThreatModel(sensitive=("vkorc1", "cyp2c9"), n_boot=20),
            reference=splits.reference, members=splits.members)
        tables.append([r.to_dict() for r in assessment.results])
    assert tables[0] == tables[1] and len(tables[0]) > 4


def test_item1_xgboost_behind_dense_preprocessing(iwpc: Any) -> None:
    """XGBoost's trees are read behind dense preprocessing (bit for bit the black box's
    posteriors); behind sparse one-hot columns, whose zeros XGBoost takes as missing,
    the pipeline stays a black box."""
    from xgboost import XGBClassifier

    from tabinv.data.schema import card_from_dict

    card, splits = iwpc
    codes = {"low": 0, "medium": 1, "high": 2}
    spec = card.to_dict()
    spec["columns"]["dose_class"]["domain"] = [0, 1, 2]  # XGBoost's labels are 0..k-1
    card = card_from_dict(spec)
    members, reference = (frame.assign(dose_class=frame["dose_class"].map(codes))
                          for frame in (splits.members, splits.reference))
    for sparse in (False, True):
        def encoding(sparse: bool = sparse) -> ColumnTransformer:
            return ColumnTransformer(
                [("cat", OneHotEncoder(sparse_output=sparse), CATEGORIES)],
                remainder=StandardScaler(), sparse_threshold=1.0 if sparse else 0.0)

        pipe = fitted(encoding, XGBClassifier(n_estimators=8, max_depth=3), members)
        read = opened(pipe, card, members)
        if sparse:
            assert isinstance(read, ForeignModel)
            assert "zeros of its sparse input" in read.structure_note()
            continue
        assert isinstance(read, ReadableTreePipeline)
        black = opened(pipe, card, members, recognise=False)
        known = tuple(f for f in read.features if f != "vkorc1")
        posteriors = [MAPInversion(numeric_points=3).fit(
            Oracle.for_model(m, "confidences"), sensitive=("vkorc1",), known=known,
            reference=reference).infer(members.iloc[:60]).probabilities
            for m in (read, black)]
        np.testing.assert_array_equal(posteriors[0], posteriors[1])


def test_item1_steps_on_the_whole_frame(iwpc: Any) -> None:
    """Imputing and scaling every column (no ColumnTransformer) in front of a logistic
    regression: recognised, the linear fast path reads it."""
    card, splits = iwpc
    numbers = ["Weight", "height_cm", "AgeDecades", "enzyme_inducer", "amiodarone"]
    pipe = make_pipeline(SimpleImputer(), StandardScaler(), MinMaxScaler(),
                         LogisticRegression(max_iter=300)).fit(
        own_form(splits.members)[numbers], splits.members["dose_class"])
    model = open_model(pipe, card=card, records=splits.members,
                       feature_map={"age": "AgeDecades", "weight_kg": "Weight"})
    assert isinstance(model, ReadablePipeline)
    assert Oracle.for_model(model, "confidences").linear_parts() is not None
    records = own_form(splits.non_members)[numbers]
    assert np.array_equal(model.encoder_.transform(splits.non_members),
                          pipe[:-1].transform(records))


def test_item1_unreadable_parts_leave_a_black_box(iwpc: Any) -> None:
    """A loaded pipeline whose parts make no sense (a hostile file) is not read."""
    card, splits = iwpc
    pipe = fitted(onehot_scaled, LogisticRegression(max_iter=300), splits.members)
    pipe[0].output_indices_ = {"cat": "not a slice"}
    why = recognition(pipe, card, FEATURE_MAP, "pipe")
    assert isinstance(why, str) and why.startswith("tabinv cannot read its parts")
