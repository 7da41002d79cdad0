"""SGDRegressor against River's LinearRegression, step for step (1e-9).

First our parity matrix: every built-in regression loss, with L1, L2, clipping, constant and
scheduled rates, on `learn_one`/`predict_one` and on `learn_many`/`predict_many` for each frame
back-end; user-defined losses; a frozen intercept. Then River's own linear-model tests
(river/linear_model/test_glm.py, River 0.26) for LinearRegression, rewritten for SGDRegressor with
the parity parameters (`parity_model`).
"""

from __future__ import annotations

import copy
import inspect
import math

import numpy as np
import pandas as pd
import pytest
from learner_helpers import (
    BACKENDS, TOL, assert_same_model, assert_same_series, columns_of, scaled_trump,
)
from river import datasets, linear_model, optim, preprocessing, stream
from sklearn import linear_model as sklearn_linear_model
from sklearn.datasets import make_regression

from online_lr import SGDRegressor, schedules

RATE = 0.02


def parity_model(loss=None, rate=RATE, intercept_rate=None, **options) -> SGDRegressor:
    """SGDRegressor with the parameters under which it takes LinearRegression's steps.

    ``rate`` and ``intercept_rate`` are floats or zero-argument factories of schedules, so that
    each model gets its own schedule; ``intercept_rate`` defaults to ``rate``.
    """
    params = {
        "intercept_init": 0.0,
        "learning_rate": _fresh(rate),
        "intercept_lr": _fresh(rate if intercept_rate is None else intercept_rate),
        "update": "sgd",
        "loss": copy.deepcopy(loss),
        **options,
    }
    if "standardize" in inspect.signature(SGDRegressor).parameters:
        params["standardize"] = False
    return SGDRegressor(**params)


def river_model(loss=None, rate=RATE, intercept_rate=None, **options):
    return linear_model.LinearRegression(
        optimizer=optim.SGD(_fresh(rate)),
        intercept_lr=_fresh(rate if intercept_rate is None else intercept_rate),
        loss=copy.deepcopy(loss),
        **options,
    )


def _fresh(rate):
    return rate() if callable(rate) else rate


def raw_prediction(river_lin_reg, x: dict) -> float:
    """w·x + b of a River linear model, for losses without River's `mean_func`."""
    weights = river_lin_reg.weights
    return sum(weights.get(k, 0.0) * v for k, v in x.items()) + river_lin_reg.intercept


def parity_rows(n: int) -> list[tuple[dict, float]]:
    """``n`` scaled TrumpApproval rows with centred targets, so that every loss's cases (inside
    and outside Huber's epsilon, either side of a quantile...) occur within a few steps."""
    rows = scaled_trump(n)
    mean = sum(y for _, y in rows) / n
    return [(x, y - mean) for x, y in rows]


def learn_one_in_step(ours, theirs, rows, predict=None) -> None:
    """Predict, then learn, each row with both models; the same numbers at every step."""
    predict = predict or theirs.predict_one
    for x, y in rows:
        assert ours.predict_one(x) == pytest.approx(predict(x), abs=TOL, rel=TOL)
        ours.learn_one(x, y)
        theirs.learn_one(x, y)
        assert_same_model(ours, theirs)


def learn_many_in_step(ours, theirs, rows, backend, batch_size=32, predict=True) -> None:
    """The same with `predict_many`/`learn_many` on batches of ``backend`` frames."""
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        X = backend.frame(columns_of(batch))
        y = backend.series([y for _, y in batch], name="approval")
        if predict:
            assert_same_series(ours.predict_many(X), theirs.predict_many(X))
        ours.learn_many(X, y)
        theirs.learn_many(X, y)
        assert_same_model(ours, theirs)


# Every built-in loss, every option

LOSSES = [
    pytest.param(optim.losses.Squared(), id="Squared"),
    pytest.param(optim.losses.Absolute(), id="Absolute"),
    pytest.param(optim.losses.Huber(epsilon=2.0), id="Huber"),
    pytest.param(optim.losses.Quantile(alpha=0.3), id="Quantile"),
    pytest.param(optim.losses.EpsilonInsensitiveHinge(eps=0.5), id="EpsilonInsensitiveHinge"),
    pytest.param(optim.losses.Cauchy(C=5.0), id="Cauchy"),
]
OPTIONS = {
    "constant": {},
    "l2": {"l2": 0.01},
    "l1": {"l1": 0.001},
    "clip": {"clip_gradient": 0.5},
    "scheduled": {"rate": lambda: schedules.InverseScaling(0.1, power=0.5)},
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_learn_one_takes_rivers_steps(loss, options):
    learn_one_in_step(parity_model(loss, **options), river_model(loss, **options),
                      parity_rows(300))


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_learn_many_takes_rivers_steps(loss, options, backend):
    learn_many_in_step(parity_model(loss, **options), river_model(loss, **options),
                       parity_rows(600), backend)


@pytest.mark.parametrize(
    "make_schedule",
    [
        lambda: schedules.InverseScaling(0.1, power=0.5),
        lambda: schedules.Exponential(0.05, decay=0.995),
        lambda: schedules.Warmup(schedules.Constant(0.05), warmup_steps=50),
        lambda: optim.schedulers.InverseScaling(0.1),
        lambda: optim.schedulers.Constant(0.03),
    ],
    ids=["inverse-scaling", "exponential", "warmup", "river-inverse-scaling", "river-constant"],
)
def test_schedules_take_rivers_steps(make_schedule):
    rows = parity_rows(300)
    learn_one_in_step(parity_model(rate=make_schedule), river_model(rate=make_schedule), rows)
    learn_many_in_step(parity_model(rate=make_schedule), river_model(rate=make_schedule), rows,
                       BACKENDS["pandas"], batch_size=8)


# Losses of the user's own


class HalfSquared:
    """The squared loss as scikit-learn scales it: gradient ŷ - y, without River's factor 2."""

    def gradient(self, y_true, y_pred):
        return y_pred - y_true


class Squared:
    """A user's loss named like River's `Squared`, with a gradient four times smaller."""

    def gradient(self, y_true, y_pred):
        return (y_pred - y_true) / 2


CUSTOM_LOSSES = [pytest.param(HalfSquared(), id="HalfSquared"),
                 pytest.param(Squared(), id="user-Squared")]


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS)
@pytest.mark.parametrize("loss", CUSTOM_LOSSES)
def test_a_custom_loss_takes_rivers_steps_in_learn_one(loss, options):
    theirs = river_model(loss, **options)
    learn_one_in_step(parity_model(loss, **options), theirs, parity_rows(300),
                      predict=lambda x: raw_prediction(theirs, x))


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
@pytest.mark.parametrize("loss", CUSTOM_LOSSES)
def test_a_custom_loss_takes_rivers_steps_in_learn_many(loss, backend):
    # River's predict_many needs the loss's mean_func: compare the learned models only.
    learn_many_in_step(parity_model(loss), river_model(loss), parity_rows(600), backend,
                       predict=False)


# A frozen intercept


ZERO_RATES = [
    pytest.param(0, id="int-0"),
    pytest.param(0.0, id="float-0"),
    pytest.param(lambda: schedules.Constant(0.0), id="Constant(0)"),
]


@pytest.mark.parametrize("zero", ZERO_RATES)
def test_a_zero_intercept_rate_freezes_the_intercept(zero):
    rows = parity_rows(300)
    ours, theirs = parity_model(intercept_rate=zero), river_model(intercept_rate=0)
    learn_one_in_step(ours, theirs, rows)
    assert ours.intercept == 0.0
    ours, theirs = parity_model(intercept_rate=zero), river_model(intercept_rate=0)
    learn_many_in_step(ours, theirs, rows, BACKENDS["pandas"])
    assert ours.intercept == 0.0


# River's own tests (river/linear_model/test_glm.py), for SGDRegressor


def trump_frame(n: int | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """TrumpApproval as River's tests read it: raw features and the five_thirty_eight target."""
    X = pd.read_csv(datasets.TrumpApproval().path)
    y = X.pop("five_thirty_eight")
    return (X, y) if n is None else (X[:n], y[:n])


def chunks(n_rows: int, n_chunks: int) -> list[np.ndarray]:
    return np.array_split(np.arange(n_rows), n_chunks)


def batch_of(backend, X: pd.DataFrame, Y: pd.Series, rows: np.ndarray, columns) -> tuple:
    """``rows`` of ``X[columns]`` and ``Y`` as a ``backend`` frame and series."""
    frame = backend.frame({c: X[c].to_numpy()[rows] for c in columns})
    return frame, backend.series(Y.to_numpy()[rows])


def river_default(**options) -> SGDRegressor:
    """SGDRegressor with the parity parameters and River's default rate 0.01."""
    return parity_model(rate=0.01, **options)


def unit_and_random_directions(names: list, rng: np.random.Generator, n: int = 10):
    """Perturbations of the weights: each unit vector, then ``n`` random unit vectors."""
    for name in names:
        yield {k: float(k == name) for k in names}
    for _ in range(n):
        d = rng.normal(size=len(names))
        yield dict(zip(names, d / np.linalg.norm(d)))


@pytest.mark.parametrize(
    "loss",
    [optim.losses.Squared(), optim.losses.Absolute(), optim.losses.Huber(),
     optim.losses.Quantile(), optim.losses.EpsilonInsensitiveHinge()],
    ids=lambda loss: type(loss).__name__,
)
def test_finite_differences(loss):
    """The step `learn_one` takes is -lr times the loss's gradient in the weights.

    River checks its gradient against central differences of the loss; here the gradient is
    read from the step itself. Where River's `__call__` is not the integral of its `gradient`
    the check cannot hold: Cauchy's `__call__` is |y - ŷ|, and Quantile's mirrors alpha, so it
    runs at alpha = 0.5 only.
    """
    lr, eps = 0.01, 1e-6
    model = river_default(loss=loss)
    scaler = preprocessing.StandardScaler()
    rng = np.random.default_rng(42)
    for x, y in datasets.TrumpApproval().take(100):
        scaler.learn_one(x)
        x = scaler.transform_one(x)
        before, intercept = {k: model.weights.get(k, 0.0) for k in x}, model.intercept
        model.learn_one(x, y)
        gradient = {k: (before[k] - model.weights[k]) / lr for k in x}

        def loss_at(weights):
            return loss(y_true=y, y_pred=sum(weights[k] * x[k] for k in x) + intercept)

        for d in unit_and_random_directions(list(x), rng):
            forward = loss_at({k: before[k] + eps * d[k] for k in x})
            backward = loss_at({k: before[k] - eps * d[k] for k in x})
            g = sum(d[k] * gradient[k] for k in x)
            h = (forward - backward) / (2 * eps)
            assert abs(g - h) < 1e-5


def test_one_many_consistent():
    """`learn_many` on one-row batches takes `learn_one`'s steps."""
    X, Y = trump_frame(100)
    one = river_default()
    for x, y in stream.iter_frame(X, Y):
        one.learn_one(x, y)
    many = river_default()
    for rows in chunks(len(X), len(X)):
        many.learn_many(X.iloc[rows], Y.iloc[rows])
    for name in X:
        assert math.isclose(one.weights[name], many.weights[name])


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
def test_shuffle_columns(backend):
    """`learn_many` reads columns by name, not by position."""
    X, Y = trump_frame()
    rng = np.random.default_rng(0)
    normal, shuffled = river_default(), river_default()
    for rows in chunks(len(X), 10):
        normal.learn_many(*batch_of(backend, X, Y, rows, X.columns))
        shuffled.learn_many(*batch_of(backend, X, Y, rows, rng.permutation(X.columns)))
    for name in X:
        assert math.isclose(normal.weights[name], shuffled.weights[name])


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
def test_add_remove_columns(backend):
    """Columns may come and go between batches; a feature's weight moves only when present."""
    X, Y = trump_frame()
    rng = np.random.default_rng(0)
    model = river_default()
    seen = set()
    for rows in chunks(len(X), 10):
        columns = rng.choice(X.columns, len(X.columns) // 2, replace=False)
        before = model.weights
        model.learn_many(*batch_of(backend, X, Y, rows, columns))
        seen.update(columns)
        assert set(model.weights) == seen
        assert all(model.weights[k] == w for k, w in before.items() if k not in columns)
    assert model.n_updates == 10


LIN_REG_SKLEARN = {  # (SGDRegressor options, sklearn.linear_model.SGDRegressor parameters)
    "Vanilla": (
        {"loss": HalfSquared()},
        {"learning_rate": "constant", "eta0": 1e-2, "alpha": 0},
    ),
    "Huber": (
        {"loss": optim.losses.Huber()},
        {"loss": "huber", "learning_rate": "constant", "eta0": 1e-2, "alpha": 0},
    ),
    "No intercept": (
        {"loss": HalfSquared(), "intercept_rate": 0},
        {"learning_rate": "constant", "eta0": 1e-2, "alpha": 0, "fit_intercept": False},
    ),
    "L2 regu": (
        {"loss": HalfSquared(), "l2": 1e-3},
        {"learning_rate": "constant", "eta0": 1e-2, "alpha": 1e-3},
    ),
}
LIN_REG_SKLEARN_CASES = [
    pytest.param(*LIN_REG_SKLEARN[name], id=name)
    for name in LIN_REG_SKLEARN
]


def learn_like_sklearn(ours_options, sklearn_params, learn) -> None:
    """Learn 100 scaled rows with both models: ``learn(model, x, y)`` for ours."""
    scaler = preprocessing.StandardScaler()
    ours = river_default(**ours_options)
    theirs = sklearn_linear_model.SGDRegressor(**sklearn_params)
    for x, y in datasets.TrumpApproval().take(100):
        scaler.learn_one(x)
        x = scaler.transform_one(x)
        learn(ours, x, y)
        theirs.partial_fit([list(x.values())], [y])
    for name, coef in zip(x, theirs.coef_):
        assert math.isclose(ours.weights[name], coef)
    assert math.isclose(ours.intercept, theirs.intercept_[0])


@pytest.mark.parametrize("ours_options, sklearn_params", LIN_REG_SKLEARN_CASES)
def test_lin_reg_sklearn_coherence(ours_options, sklearn_params):
    learn_like_sklearn(ours_options, sklearn_params, lambda model, x, y: model.learn_one(x, y))


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
@pytest.mark.parametrize("ours_options, sklearn_params", LIN_REG_SKLEARN_CASES)
def test_lin_reg_sklearn_learn_many_coherence(ours_options, sklearn_params, backend):
    def learn_one_row_batch(model, x, y):
        model.learn_many(backend.frame({k: [v] for k, v in x.items()}), backend.series([y]))

    learn_like_sklearn(ours_options, sklearn_params, learn_one_row_batch)


def test_lin_reg_sklearn_l1_non_regression():
    """River's cumulative L1 zeroes at least as many weights as scikit-learn's, and keeps the
    informative ones within 5% of the truth."""
    X, y, true_coefs = make_regression(
        n_samples=1000, n_features=20, n_informative=4, coef=True, random_state=273
    )
    scaler = preprocessing.StandardScaler()
    ours = river_default(loss=HalfSquared(), l1=1e-1)
    theirs = sklearn_linear_model.SGDRegressor(
        learning_rate="constant", eta0=1e-2, alpha=1e-1, penalty="l1"
    )
    for xi, yi in stream.iter_frame(pd.DataFrame(X), pd.Series(y)):
        scaler.learn_one(xi)
        xi = scaler.transform_one(xi)
        ours.learn_one(xi, yi)
        theirs.partial_fit([list(xi.values())], [yi])
    our_coefs = np.array([ours.weights[j] for j in range(20)])
    assert np.sum(our_coefs > 0) <= np.sum(theirs.coef_ > 0)
    assert np.isclose(our_coefs, true_coefs, rtol=5e-2, atol=0.0).all()


@pytest.fixture(scope="module")
def reg_batch() -> tuple[dict, list[float], list[dict]]:
    """80 raw TrumpApproval rows: (columns, targets, feature dicts)."""
    rows = list(datasets.TrumpApproval().take(80))
    return columns_of(rows), [float(y) for _, y in rows], [x for x, _ in rows]


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
def test_learn_many_is_backend_agnostic(backend, reg_batch):
    data, targets, _ = reg_batch
    pandas = BACKENDS["pandas"]
    reference = river_default()
    reference.learn_many(pandas.frame(data), pandas.series(targets))
    model = river_default()
    model.learn_many(backend.frame(data), backend.series(targets))
    assert model.weights.keys() == reference.weights.keys()
    for name, weight in reference.weights.items():
        assert math.isclose(model.weights[name], weight, rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(model.intercept, reference.intercept, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
def test_learn_many_matches_learn_one(backend, reg_batch):
    data, targets, feature_dicts = reg_batch
    one = river_default()
    for x, y in zip(feature_dicts, targets):
        one.learn_one(x, y)
    many = river_default()
    for i, y in enumerate(targets):
        many.learn_many(backend.frame({c: [data[c][i]] for c in data}), backend.series([y]))
    for name in one.weights:
        assert math.isclose(many.weights[name], one.weights[name], rel_tol=1e-9)


@pytest.mark.parametrize("backend", BACKENDS.values(), ids=BACKENDS)
def test_predict_many_returns_native_backend(backend, reg_batch):
    data, targets, feature_dicts = reg_batch
    X, y = backend.frame(data), backend.series(targets)
    model = river_default()
    model.learn_many(X, y)
    y_pred = model.predict_many(X)
    assert type(y_pred) is type(y)
    expected = [model.predict_one(x) for x in feature_dicts]
    np.testing.assert_allclose(np.asarray(y_pred), expected, rtol=1e-9)


def test_predict_many_preserves_pandas_index():
    index = [100, 200, 300, 400]
    X = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [4.0, 3, 2, 1]}, index=index)
    model = river_default()
    model.learn_many(X, pd.Series([1.0, 2, 3, 4], index=index, name="target"))
    y_pred = model.predict_many(X)
    assert list(y_pred.index) == index
    assert y_pred.name == "target"
