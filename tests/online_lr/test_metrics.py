from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
from river import evaluate, linear_model, metrics, optim, preprocessing, stream, utils

from online_lr.metrics import EWMSE, MSE, RollingMSE, metric_from_dict

METRIC_FACTORIES = [
    MSE,
    functools.partial(RollingMSE, window_size=1),
    functools.partial(RollingMSE, window_size=7),
    functools.partial(RollingMSE, window_size=100),
    functools.partial(EWMSE, alpha=0.5),
    functools.partial(EWMSE, alpha=0.01),
    functools.partial(EWMSE, alpha=1e-5),
]
IDS = ["MSE", "Rolling1", "Rolling7", "Rolling100", "EW0.5", "EW0.01", "EW1e-5"]


def make_metrics() -> list:
    return [make() for make in METRIC_FACTORIES]


@pytest.fixture(params=METRIC_FACTORIES, ids=IDS)
def metric(request):
    """A fresh instance of each metric configuration."""
    return request.param()


def random_pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.normal(size=n) * 3
    y_pred = y_true + rng.standard_t(df=3, size=n)
    return y_true, y_pred


def squared_errors(n: int, seed: int) -> np.ndarray:
    y_true, y_pred = random_pairs(n, seed)
    return (y_true - y_pred) ** 2


def values_after_each_update(metric, y_true, y_pred) -> list[float]:
    values = []
    for yt, yp in zip(y_true.tolist(), y_pred.tolist()):
        metric.update(yt, yp)
        values.append(metric.get())
    return values


# Agreement with River and with references


def test_mse_equals_rivers_mse():
    y_true, y_pred = random_pairs(3000, seed=0)
    ours = values_after_each_update(MSE(), y_true, y_pred)
    theirs = values_after_each_update(metrics.MSE(), y_true, y_pred)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_weighted_mse_equals_rivers_mse():
    y_true, y_pred = random_pairs(3000, seed=1)
    weights = np.random.default_rng(1).uniform(0.1, 5.0, size=3000).tolist()
    ours, theirs = MSE(), metrics.MSE()
    for yt, yp, w in zip(y_true.tolist(), y_pred.tolist(), weights):
        ours.update(yt, yp, w)
        theirs.update(yt, yp, w)
        assert ours.get() == pytest.approx(theirs.get(), rel=1e-12)
    assert ours.weight == pytest.approx(sum(weights))
    assert ours.n == 3000


def test_mse_is_zero_before_any_update():
    assert MSE().get() == 0.0 == metrics.MSE().get()
    assert RollingMSE().get() == 0.0
    assert EWMSE().get() == 0.0


@pytest.mark.parametrize("window_size", [1, 2, 7, 100])
def test_rolling_mse_equals_rivers_rolling_mse(window_size):
    y_true, y_pred = random_pairs(2000, seed=2)
    ours = values_after_each_update(RollingMSE(window_size), y_true, y_pred)
    rolling = utils.Rolling(metrics.MSE, window_size=window_size)
    theirs = values_after_each_update(rolling, y_true, y_pred)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def ewmse_reference(errors, alpha: float) -> list[float]:
    """Adam-style bias-corrected exponential moving average, written out plainly."""
    beta = 1.0 - alpha
    moment, values = 0.0, []
    for t, error in enumerate(errors, start=1):
        moment = beta * moment + alpha * error
        values.append(moment / (1.0 - beta**t))
    return values


@pytest.mark.parametrize("alpha", [0.5, 0.1, 0.01])
def test_ewmse_equals_the_reference_loop(alpha):
    y_true, y_pred = random_pairs(2000, seed=3)
    ours = values_after_each_update(EWMSE(alpha), y_true, y_pred)
    np.testing.assert_allclose(ours, ewmse_reference((y_true - y_pred) ** 2, alpha), rtol=1e-12)


def test_ewmse_first_value_is_the_first_error():
    metric = EWMSE(alpha=0.001)
    metric.update(3.0, 1.0)
    assert metric.get() == pytest.approx(4.0, rel=1e-12)


def test_ewmse_weight_counts_as_repetitions():
    weighted, repeated = EWMSE(alpha=0.2), EWMSE(alpha=0.2)
    for yt, yp, w in [(1.0, 0.0, 3), (0.0, 2.0, 1), (1.0, 1.5, 2)]:
        weighted.update(yt, yp, w=w)
        for _ in range(w):
            repeated.update(yt, yp)
    assert weighted.get() == pytest.approx(repeated.get(), rel=1e-12)


@pytest.mark.parametrize(
    "make_ours, make_theirs",
    [
        (MSE, metrics.MSE),
        (lambda: RollingMSE(50), lambda: utils.Rolling(metrics.MSE, window_size=50)),
    ],
)
def test_progressive_val_score_matches_river(make_ours, make_theirs):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=500)

    def model():
        return preprocessing.StandardScaler() | linear_model.LinearRegression(optim.SGD(0.01))

    ours = evaluate.progressive_val_score(stream.iter_array(X, y), model(), make_ours())
    theirs = evaluate.progressive_val_score(stream.iter_array(X, y), model(), make_theirs())
    assert ours.get() == pytest.approx(theirs.get(), rel=1e-9)


def test_ewmse_runs_in_progressive_val_score():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2))
    y = X.sum(axis=1)
    model = linear_model.LinearRegression()
    metric = evaluate.progressive_val_score(stream.iter_array(X, y), model, EWMSE(0.05))
    assert metric.n == 200 and math.isfinite(metric.get())


def test_river_protocol(metric):
    assert metric.bigger_is_better is False
    assert metric.works_with(linear_model.LinearRegression())
    assert not metric.works_with(linear_model.LogisticRegression())
    assert repr(metric) == f"{type(metric).__name__}: 0."
    clone = metric.clone()
    assert type(clone) is type(metric) and clone._get_params() == metric._get_params()


# Fast path


def assert_same_metric(a, b, rtol: float = 1e-12):
    assert a.n == b.n
    assert a.get() == pytest.approx(b.get(), rel=rtol, abs=0)


def add_one_by_one(metric, errors):
    for error in errors.tolist():
        metric.add(error)


def test_add_equals_update(metric):
    y_true, y_pred = random_pairs(300, seed=6)
    by_update = metric.clone()
    values_after_each_update(by_update, y_true, y_pred)
    add_one_by_one(metric, (y_true - y_pred) ** 2)
    assert_same_metric(metric, by_update, rtol=1e-15)


@pytest.mark.parametrize("length", [0, 1, 6, 7, 8, 99, 100, 101, 102, 250])
def test_add_many_equals_add_loop(metric, length):
    warm_up = squared_errors(40, seed=7)
    errors = squared_errors(length, seed=8)
    by_loop = metric.clone()
    add_one_by_one(by_loop, warm_up)
    add_one_by_one(by_loop, errors)
    metric.add_many(warm_up)
    metric.add_many(errors)
    assert_same_metric(metric, by_loop)


def test_add_many_in_random_blocks_equals_add_loop(metric):
    errors = squared_errors(5000, seed=9)
    by_loop = metric.clone()
    rng = np.random.default_rng(9)
    position = 0
    while position < len(errors):
        size = int(rng.integers(0, 260))
        metric.add_many(errors[position : position + size])
        add_one_by_one(by_loop, errors[position : position + size])
        position += size
        assert_same_metric(metric, by_loop)


@pytest.mark.parametrize(
    "make",
    [MSE, lambda: RollingMSE(1000), lambda: EWMSE(0.9), lambda: EWMSE(1e-3), lambda: EWMSE(1e-6)],
    ids=["MSE", "Rolling1000", "EW0.9", "EW1e-3", "EW1e-6"],
)
def test_add_many_equals_add_loop_on_a_million_errors(make):
    metric = make()
    errors = squared_errors(1_000_000, seed=10)
    by_loop = metric.clone()
    add_one_by_one(by_loop, errors)
    metric.add_many(errors)
    assert_same_metric(metric, by_loop)


def test_add_many_accepts_lists_and_rejects_matrices():
    metric = MSE()
    metric.add_many([1.0, 3.0])
    assert metric.get() == 2.0
    with pytest.raises(ValueError, match="1-D"):
        metric.add_many(np.ones((2, 2)))


def test_rolling_mse_only_the_last_window_counts():
    metric = RollingMSE(window_size=3)
    metric.add_many(np.arange(10.0))
    assert metric.get() == 8.0
    metric.add(100.0)
    assert metric.get() == pytest.approx((8 + 9 + 100) / 3)
    assert metric.n == 11


@pytest.mark.parametrize("in_blocks", [False, True])
def test_rolling_mse_recovers_from_huge_errors_leaving_the_window(in_blocks):
    # 1e12 - 1e12 + 1e-3 loses the 1e-3 to cancellation: the sum must be recomputed.
    metric = RollingMSE(window_size=10)
    metric.add_many(np.full(10, 1e12))
    for _ in range(5):
        if in_blocks:
            metric.add_many([1e-3, 1e-3])
        else:
            metric.add(1e-3)
            metric.add(1e-3)
    assert metric.get() == pytest.approx(1e-3, rel=1e-12)


def test_rolling_mse_running_sum_does_not_drift():
    errors = squared_errors(100_000, seed=17)
    metric = RollingMSE(window_size=333)
    add_one_by_one(metric, errors)
    assert metric.get() == pytest.approx(math.fsum(errors[-333:]) / 333, rel=1e-14)


# Revert


def test_revert_undoes_update(metric):
    y_true, y_pred = random_pairs(150, seed=11)
    values_after_each_update(metric, y_true, y_pred)
    before = metric.get()
    metric.update(10.0, 2.0)
    metric.revert(10.0, 2.0)
    assert metric.n == 150
    assert metric.get() == pytest.approx(before, rel=1e-12)


@pytest.mark.parametrize("make", [MSE, lambda: EWMSE(0.3)], ids=["MSE", "EW0.3"])
def test_weighted_revert_undoes_weighted_update(make):
    metric = make()
    y_true, y_pred = random_pairs(50, seed=12)
    values_after_each_update(metric, y_true, y_pred)
    before = metric.get()
    metric.update(10.0, 2.0, w=2.5)
    metric.revert(10.0, 2.0, w=2.5)
    assert metric.get() == pytest.approx(before, rel=1e-12)


def test_reverting_everything_gives_an_empty_metric(metric):
    metric.update(1.0, 3.0)
    metric.revert(1.0, 3.0)
    assert metric.n == 0 and metric.get() == 0.0
    with pytest.raises(ValueError):
        metric.revert(1.0, 3.0)


def test_mse_revert_removes_any_error():
    metric = MSE()
    for yt, yp in [(1, 0), (2, 0), (3, 0)]:
        metric.update(yt, yp)
    metric.revert(1, 0)
    assert metric.get() == pytest.approx(6.5)


def test_rolling_mse_revert_only_undoes_the_newest_update():
    metric = RollingMSE(window_size=2)
    for error in (1.0, 2.0, 3.0):
        metric.add(error)
    with pytest.raises(ValueError, match="most recent"):
        metric.revert(math.sqrt(2.0), 0.0)
    metric.revert(math.sqrt(3.0), 0.0)
    assert metric.get() == 1.5  # the 1.0 that 3.0 pushed out is back
    metric.revert(math.sqrt(2.0), 0.0)
    assert metric.get() == 1.0
    metric.add(5.0)
    assert metric.get() == 3.0


def test_rolling_mse_revert_then_update_equals_update():
    errors = squared_errors(30, seed=13)
    reverted, direct = RollingMSE(window_size=8), RollingMSE(window_size=8)
    add_one_by_one(reverted, errors)
    reverted.add(123.0)
    reverted.revert(math.sqrt(123.0), 0.0)
    reverted.add(4.0)
    add_one_by_one(direct, errors)
    direct.add(4.0)
    assert reverted.get() == pytest.approx(direct.get(), rel=1e-12)


def test_rolling_mse_is_unweighted():
    metric = RollingMSE()
    assert metric.works_with_weights is False
    with pytest.raises(ValueError, match="unweighted"):
        metric.update(1.0, 0.0, w=2.0)


# Checkpoints


def test_dict_round_trip_mid_stream_continues_identically(metric):
    y_true, y_pred = random_pairs(137, seed=14)
    values_after_each_update(metric, y_true, y_pred)
    restored = type(metric).from_dict(json.loads(json.dumps(metric.to_dict(), allow_nan=False)))
    assert restored.to_dict() == metric.to_dict()
    errors = squared_errors(500, seed=15)
    for target in (metric, restored):
        target.add_many(errors[:123])
        add_one_by_one(target, errors[123:])
        target.update(1.0, -1.0)
    assert restored.get() == metric.get() and restored.n == metric.n
    assert restored.to_dict() == metric.to_dict()


def test_metric_from_dict_dispatches_on_type():
    for metric in make_metrics():
        metric.add_many(squared_errors(20, seed=16))
        restored = metric_from_dict(metric.to_dict())
        assert type(restored) is type(metric) and restored.get() == metric.get()


def test_from_dict_rejects_other_types():
    with pytest.raises(ValueError, match="expected a MSE dict"):
        MSE.from_dict(EWMSE().to_dict())
    with pytest.raises(ValueError, match="unknown metric type"):
        metric_from_dict({"type": "MAE", "params": {}, "state": {}})
    with pytest.raises(ValueError, match="window_size"):
        RollingMSE.from_dict({**RollingMSE(3).to_dict(), "params": {"window_size": 4}})


# Arguments


@pytest.mark.parametrize("window_size", [0, -1, 2.5, True])
def test_rolling_mse_rejects_bad_window_sizes(window_size):
    with pytest.raises(ValueError, match="window_size"):
        RollingMSE(window_size)


@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, "0.1"])
def test_ewmse_rejects_bad_alphas(alpha):
    with pytest.raises(ValueError, match="alpha"):
        EWMSE(alpha)
