"""Fixtures shared by the consumers tests."""

from __future__ import annotations

import pytest


def _assert_same_model(a, b, tol: float = 1e-9) -> None:
    """Same updates, weights, intercept and running MSE, to ``tol``."""
    assert a.n_updates == b.n_updates
    assert a.weights.keys() == b.weights.keys()
    for k in a.weights:
        assert a.weights[k] == pytest.approx(b.weights[k], rel=tol, abs=tol)
    assert a.intercept == pytest.approx(b.intercept, rel=tol, abs=tol)
    assert a.running_mse == pytest.approx(b.running_mse, rel=tol)


@pytest.fixture
def assert_same_model():
    return _assert_same_model
