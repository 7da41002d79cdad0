"""Frames in and out of the mini-batch methods: pandas, polars, pyarrow and numpy, alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from learner_helpers import python_output

from online_lr import SGDRegressor
from online_lr._frames import as_vector, to_matrix

NAMES = ["u", "v", "w"]


def data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(NAMES)))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 3.0


# Each input kind: (frame or array from a matrix, targets from a vector, its predictions' type)
INPUTS = {
    "pandas": (
        lambda X: pd.DataFrame(X, columns=NAMES, index=np.arange(len(X)) + 1000),
        lambda y: pd.Series(y, name="target"),
        pd.Series,
    ),
    "polars": (
        lambda X: pl.DataFrame(dict(zip(NAMES, X.T))),
        lambda y: pl.Series("target", y),
        pl.Series,
    ),
    "pyarrow-table": (
        lambda X: pa.table(dict(zip(NAMES, X.T))),
        lambda y: pa.chunked_array([y]),
        pa.ChunkedArray,
    ),
    "pyarrow-batch": (
        lambda X: pa.record_batch(dict(zip(NAMES, X.T))),
        pa.array,
        pa.DoubleArray,
    ),
    "numpy": (lambda X: X, lambda y: y, np.ndarray),
}


def weights_in_order(model: SGDRegressor) -> list[float]:
    """The weights by column position (a numpy array's columns are named 0..d-1)."""
    return list(model.weights.values())


@pytest.mark.parametrize("kind", INPUTS)
def test_every_input_kind_learns_and_predicts_alike(kind):
    make_frame, make_series, series_type = INPUTS[kind]
    X, y = data()
    reference, model = SGDRegressor(), SGDRegressor()
    for start in range(0, len(X), 40):
        rows = slice(start, start + 40)
        reference.learn_many(X[rows], y[rows])
        model.learn_many(make_frame(X[rows]), make_series(y[rows]))
    assert weights_in_order(model) == pytest.approx(weights_in_order(reference), rel=1e-12)
    assert model.intercept == pytest.approx(reference.intercept, rel=1e-12)

    predictions = model.predict_many(make_frame(X))
    assert type(predictions) is series_type
    np.testing.assert_allclose(np.asarray(predictions), reference.predict_many(X), rtol=1e-12)

    sequential, reference_sequential = SGDRegressor(), SGDRegressor()
    prequential = sequential.learn_sequential(make_frame(X), make_series(y))
    expected = reference_sequential.learn_sequential(X, y)
    np.testing.assert_allclose(prequential, expected, rtol=1e-12)
    assert weights_in_order(sequential) == pytest.approx(
        weights_in_order(reference_sequential), rel=1e-12
    )


def test_pandas_predictions_keep_the_index_and_the_target_name():
    X, y = data(10)
    frame = pd.DataFrame(X, columns=NAMES, index=list("abcdefghij"))
    model = SGDRegressor()
    model.learn_many(frame, pd.Series(y, index=frame.index, name="target"))
    predictions = model.predict_many(frame)
    assert predictions.name == "target"
    assert predictions.index.tolist() == list("abcdefghij")


def test_polars_predictions_carry_the_target_name():
    X, y = data(10)
    frame = pl.DataFrame(dict(zip(NAMES, X.T)))
    model = SGDRegressor()
    model.learn_many(frame, pl.Series("target", y))
    assert model.predict_many(frame).name == "target"


NON_NUMERIC = {  # a frame whose column "city" holds strings, and the dtype an error should name
    "pandas": (pd.DataFrame({"u": [1.0, 2.0], "city": ["Oslo", "Rome"]}), "(object|str)"),
    "pandas-string": (
        pd.DataFrame({"u": [1.0, 2.0], "city": pd.Series(["Oslo", "Rome"], dtype="string")}),
        "string",
    ),
    "polars": (pl.DataFrame({"u": [1.0, 2.0], "city": ["Oslo", "Rome"]}), "String"),
    "pyarrow-table": (pa.table({"u": [1.0, 2.0], "city": ["Oslo", "Rome"]}), "string"),
    "pyarrow-batch": (pa.record_batch({"u": [1.0, 2.0], "city": ["Oslo", "Rome"]}), "string"),
}


@pytest.mark.parametrize("kind", NON_NUMERIC)
def test_a_non_numeric_column_is_refused_by_name(kind):
    frame, dtype = NON_NUMERIC[kind]
    model = SGDRegressor()
    model.learn_many(np.ones((2, 1)), np.ones(2))
    before = model.to_dict()
    message = rf"feature column 'city' must be numeric, got dtype {dtype}"
    with pytest.raises(TypeError, match=message):
        model.learn_many(frame, np.ones(2))
    with pytest.raises(TypeError, match=message):
        model.learn_sequential(frame, np.ones(2))
    with pytest.raises(TypeError, match=message):
        model.predict_many(frame)
    assert model.to_dict() == before


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"u": [1.0, 2.0], "a": pd.array([1, None], dtype="Int64")}),
        pl.DataFrame({"u": [1.0, 2.0], "a": [1, None]}),
        pa.table({"u": [1.0, 2.0], "a": [1, None]}),
    ],
    ids=["pandas-Int64", "polars", "pyarrow"],
)
def test_a_missing_value_is_refused_by_feature_and_row(frame):
    model = SGDRegressor()
    with pytest.raises(ValueError, match=r"feature 'a' must be finite, got nan in row 1"):
        model.learn_many(frame, np.ones(2))
    assert model.n_updates == 0


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"flag": [True, False, True], "n": pd.array([1, 2, 3], dtype="Int64")}),
        pl.DataFrame({"flag": [True, False, True], "n": [1, 2, 3]}),
        pa.table({"flag": [True, False, True], "n": pa.array([1, 2, 3], pa.int8())}),
    ],
    ids=["pandas", "polars", "pyarrow"],
)
def test_integer_and_boolean_columns_are_numbers(frame):
    names, matrix = to_matrix(frame)
    assert names == ["flag", "n"]
    assert matrix.dtype == np.float64
    assert matrix.tolist() == [[1.0, 1.0], [0.0, 2.0], [1.0, 3.0]]


@pytest.mark.parametrize(
    "targets",
    [pd.Series(["1.5", "2"]), pl.Series(["1.5", "2"]), pa.array(["1.5", "2"]),
     np.array(["1.5", "2"])],
    ids=["pandas", "polars", "pyarrow", "numpy"],
)
def test_text_targets_are_refused_even_when_they_read_as_numbers(targets):
    with pytest.raises(TypeError, match="the target must be numeric, got dtype"):
        as_vector(targets)


def test_numeric_text_in_an_array_is_refused():
    with pytest.raises(TypeError, match="X must be numeric, got dtype <U3"):
        to_matrix(np.array([["1.5", "2.0"]]))


def test_polars_and_pyarrow_are_imported_only_for_their_frames():
    code = (
        "import sys, numpy as np; from online_lr import SGDRegressor; m = SGDRegressor(); "
        "X = np.ones((4, 2)); m.learn_many(X, np.ones(4)); m.predict_many(X); "
        "m.learn_sequential(X, np.ones(4)); "
        "numpy_only = [k for k in ('pandas', 'polars', 'pyarrow') if k in sys.modules]; "
        "import pandas as pd; frame = pd.DataFrame(X, columns=['a', 'b']); "
        "m.learn_many(frame, pd.Series(np.ones(4))); m.predict_many(frame); "
        "print(numpy_only, 'polars' in sys.modules)"
    )
    assert python_output(code) == "[] False"
