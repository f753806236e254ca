"""The MLflow and v2 bodies (pure functions): what is sent, and every answer that is not
a model's answer refused in one EndpointError."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tabinv.models.endpoint import EndpointError, detect_access
from tabinv.models.endpoint.protocols import decode_response, encode_request

COLUMNS = {"race": np.array(["White", "Asian"], dtype=object),
           "age": np.array([3.0, 4.5]), "dose": np.array([1, 2])}


def test_mlflow_request_is_dataframe_split() -> None:
    body = json.loads(encode_request("mlflow", COLUMNS, 2))
    assert body == {"dataframe_split": {"columns": ["race", "age", "dose"],
                                        "data": [["White", 3.0, 1], ["Asian", 4.5, 2]]}}


def test_v2_request_one_fp64_tensor_or_pandas_columns() -> None:
    numeric = json.loads(encode_request("v2", {"a": np.array([1.0, 2.0]),
                                               "b": np.array([3, 4])}, 2))
    assert numeric["inputs"] == [{"name": "input-0", "shape": [2, 2], "datatype": "FP64",
                                  "data": [1.0, 3.0, 2.0, 4.0]}]
    mixed = json.loads(encode_request("v2", COLUMNS, 2))
    assert mixed["parameters"] == {"content_type": "pd"}
    assert mixed["inputs"][0] == {"name": "race", "shape": [2, 1], "datatype": "BYTES",
                                  "data": ["White", "Asian"]}


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_missing_values_are_refused(value) -> None:
    with pytest.raises(EndpointError, match="missing or infinite"):
        encode_request("mlflow", {"age": np.array([1.0, value])}, 2)


@pytest.mark.parametrize(("protocol", "body", "expected"), [
    ("mlflow", {"predictions": [[0.2, 0.8], [0.5, 0.5]]}, [[0.2, 0.8], [0.5, 0.5]]),
    ("mlflow", [[0.2, 0.8], [0.5, 0.5]], [[0.2, 0.8], [0.5, 0.5]]),
    ("mlflow", {"predictions": [{"a": 0.2, "b": 0.8}, {"a": 0.5, "b": 0.5}]},
     [[0.2, 0.8], [0.5, 0.5]]),
    ("mlflow", {"predictions": {"a": [0.2, 0.5], "b": [0.8, 0.5]}}, [[0.2, 0.8], [0.5, 0.5]]),
    ("mlflow", {"predictions": ["low", "high"]}, ["low", "high"]),
    ("v2", {"outputs": [{"name": "p", "shape": [2, 2], "data": [0.2, 0.8, 0.5, 0.5]}]},
     [[0.2, 0.8], [0.5, 0.5]]),
    ("v2", {"outputs": [{"name": "p", "shape": [2], "data": ["low", "high"]}]},
     ["low", "high"]),
])
def test_answers_decoded(protocol, body, expected) -> None:
    answers = decode_response(protocol, json.dumps(body).encode(), 2)
    assert answers.tolist() == expected


@pytest.mark.parametrize(("protocol", "body", "message"), [
    ("mlflow", b"<html>", "not JSON"),
    ("mlflow", b'{"predictions": [[0.2, 0.8]]}', "1 items for 2 rows"),
    ("mlflow", b'{"predictions": [[0.2, 0.8], [0.5]]}', "different lengths"),
    ("mlflow", b'{"predictions": [[{"x": 1}], [{"x": 2}]]}', "neither numbers"),
    ("v2", b'{"outputs": []}', "no outputs"),
    ("v2", b'{"outputs": [{"shape": [3, 2], "data": [1, 2, 3, 4, 5, 6]}]}', "for 2 rows"),
    ("v2", b'{"outputs": [{"shape": "x", "data": []}]}', "no valid shape"),
    ("mlflow", b"[" * 100_000 + b"]" * 100_000, "not JSON"),
])
def test_bad_answers_refused(protocol, body, message) -> None:
    with pytest.raises(EndpointError, match=message):
        decode_response(protocol, body, 2)


@pytest.mark.parametrize(("answers", "level", "decimals"), [
    (np.array([[0.123456789, 0.876543211]]), "confidences", None),
    (np.array([[0.12, 0.88], [0.5, 0.5]]), "rounded", 2),
    (np.array([[0.1, 0.9]]), "rounded", 1),
    (np.array(["low", "high"], dtype=object), "label-only", None),
])
def test_detected_access(answers, level, decimals) -> None:
    detected = detect_access(answers, "classification")
    assert (detected.level, detected.decimals) == (level, decimals)
