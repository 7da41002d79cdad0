"""Data, frame back-ends and comparisons shared by the learner's tests."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from river import datasets, preprocessing

TOL = 1e-9


def scaled_trump(n: int | None = None) -> list[tuple[dict, float]]:
    """TrumpApproval standardised with running statistics, materialised so both models see it."""
    scaler = preprocessing.StandardScaler()
    rows = []
    for x, y in itertools.islice(datasets.TrumpApproval(), n):
        scaler.learn_one(x)
        rows.append((scaler.transform_one(x), y))
    return rows


def assert_same_model(ours, river_model, tol: float = TOL) -> None:
    """Same weights and intercept as a River linear model, to ``tol``."""
    for name, weight in river_model.weights.items():
        assert ours.weights.get(name, 0.0) == pytest.approx(weight, abs=tol, rel=tol)
    assert ours.intercept == pytest.approx(river_model.intercept, abs=tol, rel=tol)


class FrameBackend(NamedTuple):
    """Native frame and series constructors of one data-frame library."""

    name: str
    frame: Callable[[dict[str, Any]], Any]
    series: Callable[..., Any]


BACKENDS = {
    "pandas": FrameBackend(
        "pandas", pd.DataFrame, lambda values, name="y": pd.Series(values, name=name)
    ),
    "polars": FrameBackend(
        "polars", pl.DataFrame, lambda values, name="y": pl.Series(name, values)
    ),
    # pyarrow has no series: a Table's columns are ChunkedArrays, which carry no name.
    "pyarrow": FrameBackend(
        "pyarrow", pa.table, lambda values, name="y": pa.chunked_array([np.asarray(values)])
    ),
}


def columns_of(rows: list[tuple[dict, float]]) -> dict[str, list[float]]:
    """The feature dicts of ``rows`` as columns."""
    return {name: [x[name] for x, _ in rows] for name in rows[0][0]}


def assert_same_series(ours, theirs, tol: float = TOL) -> None:
    """Same native type, values (to ``tol``), name and pandas index."""
    assert type(ours) is type(theirs)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=tol, atol=tol)
    assert getattr(ours, "name", None) == getattr(theirs, "name", None)
    if isinstance(theirs, pd.Series):
        pd.testing.assert_index_equal(ours.index, theirs.index)


def python_output(code: str) -> str:
    """What ``code`` prints when run by this interpreter in a fresh process."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()
