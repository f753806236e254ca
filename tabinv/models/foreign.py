"""Models tabinv did not train: anything that maps a table of records to an output.

A hospital's model is a scikit-learn ``Pipeline``, an XGBoost or LightGBM booster, an
ONNX export or an MLflow model, each taking records in *its own* form: its column names,
its column order, its types. :class:`RecordModel` is that model seen from tabinv: the
inputs it declares (names, kinds, known categories), the classes of its output, whether
it reveals probabilities or labels only, and two calls on a table in its own form. Each
loader (:mod:`.sources`) makes one; :class:`ForeignModel` then puts it behind the same
interface as a model tabinv trained, so every attack, baseline and report works on it.

Candidate rows are built the cheap way, in tabinv's ordinal encoding (one column per
feature: a category's index in the card's domain, or the raw number), chunked by the
attack's memory budget; :meth:`ForeignModel.output_encoded` turns each chunk into the
model's own input form (domain values, renamed by the feature map, in the model's column
order) and calls the model on it. The model's declared inputs are checked against the
card when the model is fitted (:func:`match_inputs`): what is missing, extra or of the
wrong kind is listed in one error.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError, TabinvError
from ..text import listed, shorten
from .encoding import TabularEncoder, encode_codes
from .modelinputs import ModelInput, match_inputs, parse_feature_map
from .target import TargetModel
from .validation import _reason

__all__ = ["ForeignModel", "ModelInput", "RecordModel", "match_inputs", "parse_feature_map",
           "traced_peak"]

#: bytes per row a foreign model is taken to hold while answering, when its first call
#: could not be measured (a generous guess: 128 floats)
UNMEASURED_ROW_BYTES = 1024

T = TypeVar("T")


class RecordModel:
    """A model that takes a table of records in its own form (see the module docstring).

    Parameters
    ----------
    model : object
        The loaded model (kept for describing it and, for recognised structures, for
        reading it).
    origin : str
        Where it came from (a file, a directory, a registry URI), named in messages.
    kind : str
        What it is, for reports ("sklearn Pipeline (RandomForestClassifier)").
    inputs : sequence of ModelInput, optional
        The columns it takes, in its order; None when it does not say (it then gets the
        card's features, by their card names, in card order).
    classes : sequence, optional
        A classifier's classes in the order of its probability columns; None for a
        regression.
    proba : callable, optional
        ``proba(table) -> (n, len(classes))`` probabilities; None when the model reveals
        only labels.
    predict : callable
        ``predict(table) -> (n,)`` class labels or numbers.
    table : callable, optional
        ``table(columns, n) -> input``: the model's input from a dict of column arrays
        (its own names, its order); default a pandas DataFrame.
    """

    def __init__(self, model: Any, *, origin: str, kind: str,
                 inputs: Sequence[ModelInput] | None, classes: Sequence[Any] | None,
                 proba: Callable[[Any], Any] | None, predict: Callable[[Any], Any],
                 table: Callable[[dict[str, np.ndarray], int], Any] | None = None) -> None:
        self.model = model
        self.origin = origin
        self.kind = kind
        self.inputs = None if inputs is None else tuple(inputs)
        self.classes = None if classes is None else tuple(classes)
        self._proba = proba
        self._predict = predict
        self._table = table or _data_frame
        if self.inputs is not None:
            names = [i.name for i in self.inputs]
            if len(set(names)) != len(names):
                raise ModelError(f"{origin}: the model declares the same input twice: "
                                 f"{sorted({n for n in names if names.count(n) > 1})}")

    @property
    def task(self) -> str:
        return "regression" if self.classes is None else "classification"

    @property
    def reveals(self) -> str:
        """``confidences`` (class probabilities), ``labels`` or ``output`` (regression)."""
        if self.classes is None:
            return "output"
        return "confidences" if self._proba is not None else "labels"

    def table(self, columns: dict[str, np.ndarray], n: int) -> Any:
        return self._table(columns, n)

    def outputs(self, table: Any, n: int) -> np.ndarray:
        """Probabilities (n, C') of a classifier that reveals them, else predictions (n,)
        as the model returns them; any failure inside the model is a ModelError."""
        call = self._proba if self._proba is not None else self._predict
        try:
            result = np.asarray(call(table))
        except TabinvError:
            raise
        except Exception as error:  # whatever the model raises, named with its origin
            raise ModelError(f"{self.origin} failed on {n:,} record(s) "
                             f"({_reason(error)})") from None
        return result

    def describe(self) -> dict[str, Any]:
        return {"model_kind": self.kind, "model_source": self.origin,
                "reveals": self.reveals}

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _data_frame(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    """The columns as a DataFrame, without copying them: each array becomes its own
    block (no consolidation), and an object array of domain values stays an object
    column, as the model was fitted with. (Left to pandas, text would be inferred as its
    string dtype: every value checked and copied, a fifth of a pipeline's own time on
    the candidate grid, and the pipeline's encoders are slower on it.)"""
    index = pd.RangeIndex(n)
    return pd.DataFrame({name: pd.Series(values, index=index, dtype=object, copy=False)
                         if values.dtype == object else values
                         for name, values in columns.items()}, index=index, copy=False)


class ForeignModel(TargetModel):
    """A :class:`RecordModel` behind the interface of a model tabinv trained.

    ``fit(records)`` trains nothing: it checks the model's inputs and classes against the
    card, calls the model on ``records`` (which must hold the label) and records the
    statistics an owner publishes with a model (residual sigma, confusion counts,
    marginals), like :class:`~tabinv.models.onnx.OnnxTargetModel`. A regression's output
    is on the label's own scale (the card's ``target_transform`` is tabinv's own
    training choice and does not apply). The model is never read, only queried:
    white-box attacks refuse it, saying why (``black_box_reason``, e.g. what
    :func:`~tabinv.models.recognise.recognition` did not recognise; recognised pipelines
    become readable models instead).
    """

    has_structure: ClassVar[bool] = False

    def __init__(self, *, family: str = "foreign", estimator: RecordModel | None = None,
                 card: dict[str, Any] | None = None, categorical: str = "ordinal",
                 feature_map: Mapping[str, str] | None = None,
                 black_box_reason: str = "") -> None:
        super().__init__(family=family, estimator=estimator, card=card,
                         categorical=categorical)
        self.feature_map = feature_map
        self.black_box_reason = black_box_reason

    @classmethod
    def wrap(cls, record_model: RecordModel, card: Card,
             feature_map: Mapping[str, str] | Sequence[str] | None = None,
             black_box_reason: str = "") -> ForeignModel:
        """An unfitted ForeignModel for ``card`` (call ``fit(records)``);
        ``black_box_reason`` says why tabinv does not read it (white-box attacks are
        skipped with it)."""
        return cls(family=record_model.kind, estimator=record_model, card=card.to_dict(),
                   feature_map=parse_feature_map(feature_map),
                   black_box_reason=black_box_reason)

    def structure_note(self) -> str:
        kind = self.estimator.kind if isinstance(self.estimator, RecordModel) else self.family
        return ("the model is queried as a black box: "
                + (self.black_box_reason or f"tabinv runs the {kind} but does not read it"))

    @property
    def reveals(self) -> str:
        return str(self.estimator.reveals) if self.estimator is not None else "confidences"

    def fit(self, frame: pd.DataFrame, y: Any = None) -> ForeignModel:
        from ..data.schema import card_from_dict

        record_model = self.estimator
        if self.card is None or not isinstance(record_model, RecordModel):
            raise ModelError("ForeignModel needs a card and a RecordModel")
        card = card_from_dict(dict(self.card), origin="the model's card")
        pairs = match_inputs(record_model.inputs, record_model.origin, card,
                             dict(self.feature_map or {}))
        features = [column for column, _ in pairs]
        self._check_task(card, record_model)
        self.card = {**card.to_dict(), "features": features, "target_transform": "identity"}
        self.inputs_ = tuple(model_input.name for _, model_input in pairs)
        self.unused_columns_ = tuple(f for f in card.features if f not in set(features))
        self.encoder_ = TabularEncoder(
            features=features, domains={f: list(card.column(f).domain) for f in features
                                        if card.column(f).domain is not None},
            bounds={}, categorical="ordinal",  # the attacker's own models: as the card says
            ordinal=[f for f in features if card.column(f).encoding == "ordinal"]).fit()
        self._values = self._domain_arrays(card, pairs)
        if self.task == "classification":
            self.classes_present_ = encode_codes(list(record_model.classes or ()),
                                                 self.domain(self.label),
                                                 f"classes of {record_model.origin}")
            if len(set(self.classes_present_.tolist())) != len(self.classes_present_):
                raise ModelError(f"{record_model.origin}: its classes repeat a value of "
                                 f"the label {shorten(self.label)}")
        self.estimator_ = record_model
        self.n_train_ = len(frame)
        encoded = self.encoder_.transform(frame)
        self._record_statistics(frame, encoded)
        return self

    @staticmethod
    def _check_task(card: Card, record_model: RecordModel) -> None:
        origin = record_model.origin
        if card.task == "classification" and record_model.classes is None:
            raise ModelError(f"{origin} is a regression (it has no classes), but the card's "
                             f"label {shorten(card.label)} is categorical")
        if card.task == "regression" and record_model.classes is not None:
            raise ModelError(f"{origin} is a classifier, but the card's label "
                             f"{shorten(card.label)} is numeric")
        if record_model.classes is not None:
            domain = card.column(card.label).domain or ()
            try:
                encode_codes(list(record_model.classes), domain, card.label)
            except TabinvError:
                raise ModelError(
                    f"{origin}: its classes {listed(record_model.classes)} are not values "
                    f"of the label {shorten(card.label)} {listed(domain)}") from None

    @staticmethod
    def _domain_arrays(card: Card, pairs: Sequence[tuple[str, ModelInput]]
                       ) -> dict[str, np.ndarray]:
        """For each categorical feature, its domain values as the model takes them
        (numbers as float when the model takes numbers, else the card's values)."""
        values: dict[str, np.ndarray] = {}
        for column, model_input in pairs:
            domain = card.column(column).domain
            if domain is None:
                continue
            if model_input.kind == "number":
                values[column] = np.asarray(domain, dtype=float)
            else:
                values[column] = np.asarray(list(domain), dtype=object)
        return values

    def records_table(self, encoded: np.ndarray) -> Any:
        """Ordinal-encoded rows (n, d) as the model's own input."""
        columns: dict[str, np.ndarray] = {}
        for j, (feature, name) in enumerate(zip(self.features, self.inputs_, strict=True)):
            column = encoded[:, j]
            domain = self._values.get(feature)
            columns[name] = column if domain is None else domain[column.astype(np.intp)]
        return self.estimator_.table(columns, encoded.shape[0])

    def output_encoded(self, encoded: np.ndarray) -> np.ndarray:
        """The model's outputs on ordinal-coded rows (decoded into its own input form).
        The first call (``fit``'s, on the records) also measures the bytes the model
        holds per row: :attr:`query_row_bytes`."""
        n = encoded.shape[0]
        if self._measured_row_bytes() is None and n:
            result, peak = traced_peak(lambda: self._answer(encoded, n))
            if peak is not None:  # kept with the model it measured: a refit is measured
                self.row_bytes_ = (self.estimator_, -(-peak // n))  # again
            return result
        return self._answer(encoded, n)

    def _answer(self, encoded: np.ndarray, n: int) -> np.ndarray:
        return self._shape_output(self.estimator_.outputs(self.records_table(encoded), n), n)

    @property
    def query_row_bytes(self) -> int:
        """Bytes the model holds per row it answers: its input table, what it makes of
        it (a pipeline's encoded matrix, per-tree outputs) and its outputs, as measured
        (Python's allocation tracing) on its first call, on the records it was fitted
        with; ``UNMEASURED_ROW_BYTES`` when that could not be measured (tracing was
        already on). Buffers a native library allocates outside Python's allocator are
        not seen."""
        measured = self._measured_row_bytes()
        return UNMEASURED_ROW_BYTES if measured is None else measured

    def _measured_row_bytes(self) -> int | None:
        measured = getattr(self, "row_bytes_", None)
        if measured is None or measured[0] is not getattr(self, "estimator_", None):
            return None
        return int(measured[1])

    def _shape_output(self, raw: np.ndarray, n: int) -> np.ndarray:
        origin = self.estimator_.origin
        if self.task == "regression":
            values = _numbers(raw, origin)
            if values.size != n:
                raise ModelError(f"{origin} returned {values.shape} for {n:,} records; a "
                                 "regression must return one number per record")
            values = values.reshape(n)
            if not np.isfinite(values).all():
                raise ModelError(f"{origin} returned non-finite predictions")
            return values
        present = np.asarray(self.classes_present_)
        if self.estimator_.reveals == "labels":
            if raw.shape[:1] != (n,) or raw.ndim != 1:
                raise ModelError(f"{origin} returned labels of shape {raw.shape} for {n:,} "
                                 "records; expected one label per record")
            codes = encode_codes(raw, self.domain(self.label), f"labels from {origin}")
            full = np.zeros((n, len(self.domain(self.label))))
            full[np.arange(n), codes] = 1.0
            return full
        probabilities = _numbers(raw, origin)
        if probabilities.shape != (n, present.size):
            raise ModelError(f"{origin} returned probabilities of shape "
                             f"{probabilities.shape} for {n:,} records; expected "
                             f"({n}, {present.size}), one column per class "
                             f"{listed(self.estimator_.classes or ())}")
        if not np.isfinite(probabilities).all() or (probabilities < -1e-6).any() or \
                np.abs(probabilities.sum(axis=1) - 1).max(initial=0) > 1e-3:
            raise ModelError(f"{origin} returned outputs that are not class probabilities "
                             "(each row must be >= 0 and sum to 1)")
        return self.place_classes(probabilities)

    def describe(self) -> dict[str, Any]:
        facts = {**super().describe(), **self.estimator_.describe(),
                 "estimator": self.estimator_.kind,
                 "model_inputs": list(self.inputs_)}
        if self.feature_map:
            facts["feature_map"] = dict(self.feature_map)
        if self.unused_columns_:
            facts["card_features_not_taken_by_the_model"] = list(self.unused_columns_)
        facts["structure"] = self.structure_note()
        return facts


_TRACING = threading.Lock()


def traced_peak(call: Callable[[], T]) -> tuple[T, int | None]:
    """``call()`` and the peak bytes it allocated through Python's allocators (numpy,
    pandas and scikit-learn arrays included), or None when allocation tracing is
    already on (someone else's measurement: left alone)."""
    with _TRACING:
        if tracemalloc.is_tracing():
            return call(), None
        tracemalloc.start()
        try:
            result = call()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return result, int(peak)


def _numbers(raw: np.ndarray, origin: str) -> np.ndarray:
    try:
        return np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f"{origin} returned non-numeric outputs ({raw.dtype}) where "
                         "numbers were expected") from None
