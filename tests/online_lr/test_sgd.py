"""SGDRegressor: River's protocol, the compiled path, bad input, persistence.

Step-for-step parity with River's LinearRegression is in test_river_parity.py.
"""

from __future__ import annotations

import copy
import json
import itertools
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from learner_helpers import TOL, assert_same_model, python_output, scaled_trump
from river import checks, datasets, linear_model, optim, preprocessing

from online_lr import DivergenceError, SGDRegressor, schedules


def synthetic(n: int = 500, d: int = 5, seed: int = 0, noise: float = 0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 3.0 + noise * rng.normal(size=n)
    return X, y


def state(model: SGDRegressor) -> dict:
    return model.to_dict()


def assert_same_state(a: SGDRegressor, b: SGDRegressor) -> None:
    """Parameters and weights equal to the bit; metric sums equal up to summation order."""
    a, b = state(a), state(b)
    metrics_a, metrics_b = a.pop("metrics"), b.pop("metrics")
    assert a == b
    for name in metrics_a:
        assert metrics_a[name]["params"] == metrics_b[name]["params"]
        for key, value in metrics_a[name]["state"].items():
            assert value == pytest.approx(metrics_b[name]["state"][key], rel=1e-12)


# River's estimator checks


@pytest.mark.parametrize("params", [{}, *SGDRegressor._unit_test_params()], ids=str)
def test_check_estimator(params):
    checks.check_estimator(SGDRegressor(**params))


def test_works_in_a_river_pipeline():
    from river import evaluate, metrics

    model = preprocessing.StandardScaler() | SGDRegressor()
    score = evaluate.progressive_val_score(datasets.TrumpApproval(), model, metrics.MSE())
    assert score.get() < 2.5


# The compiled path equals the learn_one loop


OPTION_SETS = [
    {},
    {"l2": 0.01},
    {"l1": 0.01},
    {"averaged": True},
    {"update": "normalized", "learning_rate": 0.3, "intercept_lr": 0.3},
    {"update": "normalized", "learning_rate": 0.3, "l1": 0.001, "averaged": True},
    {"loss": optim.losses.Huber(epsilon=0.5)},
    {"loss": optim.losses.Quantile(alpha=0.3)},
    {"loss": optim.losses.EpsilonInsensitiveHinge(eps=0.1)},
    {"loss": optim.losses.Cauchy(C=2.0)},
    {"intercept_init": 0.0, "learning_rate": schedules.InverseScaling(0.05)},
    {"learning_rate": schedules.Cosine(0.05, period=100, restarts=True)},
    {"standardize": False},
    {"standardize": False, "averaged": True, "l1": 0.01},
    {"standardize": False, "update": "normalized", "learning_rate": 0.3},
]


@pytest.mark.parametrize("params", OPTION_SETS, ids=lambda p: ",".join(map(str, p)) or "defaults")
def test_learn_sequential_equals_learn_one_loop(params):
    X, y = synthetic(n=600, d=4)
    names = ["a", "b", "c", "d"]
    learn = np.random.default_rng(1).random(600) > 0.2  # a fifth of the rows are unlabelled
    loop, block = SGDRegressor(**copy.deepcopy(params)), SGDRegressor(**copy.deepcopy(params))
    loop_predictions = []
    for row, target, labelled in zip(X, y, learn):
        x = dict(zip(names, row.tolist()))
        loop_predictions.append(loop.predict_one(x))
        if labelled:
            loop.learn_one(x, target)
    predictions = np.concatenate(
        [block.learn_sequential(X[i : i + 128], y[i : i + 128], names, learn[i : i + 128])
         for i in range(0, 600, 128)]
    )
    np.testing.assert_allclose(predictions, loop_predictions, rtol=TOL, atol=TOL)
    for name in names:
        assert block.weights[name] == pytest.approx(loop.weights[name], rel=TOL, abs=TOL)
    assert block.intercept == pytest.approx(loop.intercept, rel=TOL, abs=TOL)
    assert block.n_updates == loop.n_updates == learn.sum()
    for metric in ("running_mse", "rolling_mse", "ewm_mse"):
        assert getattr(block, metric) == pytest.approx(getattr(loop, metric), rel=TOL)


def test_learn_sequential_accepts_a_dataframe():
    X, y = synthetic(n=100, d=3)
    frame = pd.DataFrame(X, columns=["u", "v", "w"])
    a, b = SGDRegressor(), SGDRegressor()
    a.learn_sequential(frame, y)
    b.learn_sequential(X, y, columns=["u", "v", "w"])
    assert a.weights == b.weights


# Running metrics


@pytest.mark.parametrize("params", OPTION_SETS[:6], ids=lambda p: ",".join(map(str, p)) or "defaults")
def test_learn_many_reads_every_memory_layout_alike(params):
    """The batch kernel loops in the array's memory order: row-major arrays, a DataFrame's
    column-major values and strided views must all take the same steps."""
    X, y = synthetic(n=320, d=3)
    wide = np.zeros((320, 6))
    wide[:, ::2] = X
    layouts = {
        "row-major": np.ascontiguousarray(X),
        "column-major": np.asfortranarray(X),
        "strided view": wide[:, ::2],
        "DataFrame": pd.DataFrame(X),
    }
    models = {}
    for layout, matrix in layouts.items():
        model = models[layout] = SGDRegressor(**params)
        for start in range(0, 320, 64):
            model.learn_many(matrix[start : start + 64], y[start : start + 64])
    reference = models["row-major"]
    for layout, model in models.items():
        for name, weight in reference.weights.items():
            assert model.weights[name] == pytest.approx(weight, rel=1e-12, abs=1e-15), layout
        assert model.intercept == pytest.approx(reference.intercept, rel=1e-12), layout
        assert model.running_mse == pytest.approx(reference.running_mse, rel=1e-12), layout

def test_running_mse_is_the_prequential_mse():
    from river import metrics

    model, reference = SGDRegressor(), metrics.MSE()
    for x, y in scaled_trump():
        reference.update(y, model.predict_one(x))
        model.learn_one(x, y)
    assert model.running_mse == pytest.approx(reference.get(), rel=1e-12)


def test_rolling_mse_covers_the_last_window():
    from river import metrics, utils

    model = SGDRegressor(mse_window=50)
    reference = utils.Rolling(metrics.MSE, window_size=50)
    for x, y in scaled_trump(300):
        reference.update(y, model.predict_one(x))
        model.learn_one(x, y)
    assert model.rolling_mse == pytest.approx(reference.get(), rel=1e-9)


def test_intercept_auto_starts_at_the_first_target():
    model = SGDRegressor(standardize=False)
    model.learn_one({"a": 1.0}, 42.0)
    assert model.intercept == 42.0
    assert model.predict_one({"a": 1.0}) == 42.0


# The seed's algorithm: full-batch gradient descent on the MSE reaches least squares


def test_full_batch_gradient_descent_converges_to_least_squares():
    X, y = synthetic(n=400, d=5, noise=0.5)
    model = SGDRegressor(learning_rate=0.1, intercept_lr=0.1, intercept_init=0.0, standardize=False)
    for _ in range(2000):
        model.learn_many(X, y)
    design = np.column_stack([X, np.ones(len(X))])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    learned = np.array([model.weights[j] for j in range(5)] + [model.intercept])
    np.testing.assert_allclose(learned, solution, atol=1e-8)


# Bad input: a clear error, and the model is unchanged


@pytest.mark.parametrize(
    "x, y, error, words",
    [
        ({"a": float("nan"), "b": 1.0}, 1.0, ValueError, "'a'"),
        ({"a": 1.0, "b": float("inf")}, 1.0, ValueError, "'b'"),
        ({"a": "12", "b": 1.0}, 1.0, TypeError, "'a'"),
        ({"a": None, "b": 1.0}, 1.0, TypeError, "'a'"),
        ({"a": 1.0, "b": 1.0}, None, ValueError, "None"),
        ({"a": 1.0, "b": 1.0}, float("nan"), ValueError, "target"),
        ({"a": 1.0, "b": 1.0}, "3", TypeError, "target"),
    ],
)
@pytest.mark.parametrize("params", [{}, {"update": "normalized"}], ids=["sgd", "normalized"])
def test_bad_input_is_refused_and_the_model_unchanged(x, y, error, words, params):
    model = SGDRegressor(**params)
    for row, target in scaled_trump(20):
        model.learn_one({"a": row["gallup"], "b": row["ipsos"]}, target)
    before = state(model)
    with pytest.raises(error, match=words):
        model.learn_one(x, y)
    assert state(model) == before


@pytest.mark.parametrize(
    "params", [{}, {"averaged": True}, {"learning_rate": schedules.Plateau(0.01, period=10)}],
    ids=["sgd-kernel", "general-kernel", "blocks"],
)
def test_bad_rows_in_a_block_refuse_the_whole_block(params):
    X, y = synthetic(n=50, d=2)
    X[30, 1] = np.nan
    model = SGDRegressor(**params)
    model.learn_sequential(X[:10], y[:10], columns=["u", "v"])
    before = state(model)
    with pytest.raises(ValueError, match="feature 'v'.*row 30"):
        model.learn_sequential(X, y, columns=["u", "v"])
    assert state(model) == before
    y[40] = np.inf
    learn = np.ones(50, dtype=bool)
    learn[40] = False  # an unlabelled row's target is not read
    X[30, 1] = 0.0
    with pytest.raises(ValueError, match="target must be finite.*row 40"):
        model.learn_sequential(X, y, columns=["u", "v"])
    assert state(model) == before
    model.learn_sequential(X, y, columns=["u", "v"], learn=learn)
    assert model.n_updates == 10 + 49


@pytest.mark.parametrize("params", [{}, {"standardize": False, "intercept_init": 0.0}],
                         ids=["default", "parity"])
def test_a_refused_block_forgets_the_features_it_brought(params):
    X, y = synthetic(n=50, d=3)
    model, fresh = SGDRegressor(**params), SGDRegressor(**params)
    for m in (model, fresh):
        m.learn_sequential(X[:10, :2], y[:10], columns=["u", "v"])
    bad = X.copy()
    bad[30, 0] = np.inf  # rows 0-29 were learned, "w" included, before the kernel stopped
    with pytest.raises(ValueError, match="feature 'u'.*row 30"):
        model.learn_sequential(bad, y, columns=["u", "v", "w"])
    assert "w" not in model.weights
    model.learn_sequential(X, y, columns=["u", "v", "w"])
    fresh.learn_sequential(X, y, columns=["u", "v", "w"])
    assert_same_state(model, fresh)


def test_divergence_is_refused_with_a_hint():
    model = SGDRegressor(learning_rate=1e3, intercept_lr=1e3, intercept_init=0.0, standardize=False)
    x = {"big": 1e306}
    before = state(model)
    with pytest.raises(DivergenceError, match="learning rate"):
        model.learn_one(x, 1.0)
    assert state(model) == before


@pytest.mark.parametrize("params", [{}, {"averaged": True}, {"l1": 0.01}], ids=str)
def test_divergence_in_a_block_keeps_the_rows_before_it(params):
    """Both compiled kernels refuse the row that overflows, and keep the rows before it."""
    X = np.array([[1.0], [2.0], [1e300], [1.0]])  # the gradient is clipped at 1e12
    y = np.array([1.0, 2.0, 3.0, 4.0])
    raw = {"learning_rate": 0.1, "intercept_lr": 0.1, "intercept_init": 0.0, "standardize": False}
    model = SGDRegressor(**raw, **params)
    reference = SGDRegressor(**raw, **params)
    reference.learn_sequential(X[:2], y[:2])
    with pytest.raises(DivergenceError) as info:
        model.learn_sequential(X, y)
    assert info.value.row == 2
    assert len(info.value.predictions) == 2
    assert state(model)["feature_state"] == state(reference)["feature_state"]
    assert model.n_updates == 2


# Persistence


@pytest.mark.parametrize("params", OPTION_SETS[:6] + OPTION_SETS[-2:], ids=str)
def test_save_load_continues_exactly(tmp_path, params):
    X, y = synthetic(n=400, d=3)
    names = ["u", "v", "w"]
    whole = SGDRegressor(**copy.deepcopy(params))
    whole.learn_sequential(X, y, names)
    first = SGDRegressor(**copy.deepcopy(params))
    first.learn_sequential(X[:170], y[:170], names)
    first.save(tmp_path / "model.json")
    resumed = SGDRegressor.load(tmp_path / "model.json")
    resumed.learn_sequential(X[170:], y[170:], names)
    assert_same_state(resumed, whole)


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(pickle.dumps(SGDRegressor()))
    with pytest.raises(ValueError, match="not a valid model file"):
        SGDRegressor.load(path)


def test_pickle_copy_and_clone():
    model = SGDRegressor(update="normalized")
    for x, y in scaled_trump(50):
        model.learn_one(x, y)
    for twin in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert_same_state(twin, model)
    fresh = model.clone()
    assert fresh.n_updates == 0 and fresh.weights == {}


def test_from_config_names_the_bad_field():
    with pytest.raises(ValueError, match="l3"):
        SGDRegressor.from_config({"l3": 0.1})
    with pytest.raises(ValueError, match="update"):
        SGDRegressor.from_config({"update": "fast"})
    model = SGDRegressor.from_config(
        {"learning_rate": {"type": "InverseScaling", "learning_rate": 0.1}, "l2": 0.01}
    )
    assert isinstance(model.learning_rate, schedules.InverseScaling)


def test_a_config_loss_is_named_in_any_case_as_schedules_are():
    assert isinstance(SGDRegressor.from_config({"loss": "squared"}).loss, optim.losses.Squared)
    model = SGDRegressor.from_config({"loss": {"type": "HUBER", "epsilon": 2.0}})
    assert isinstance(model.loss, optim.losses.Huber) and model.loss.epsilon == 2.0
    with pytest.raises(ValueError, match="Squared, Absolute, Huber.*got 'sqared'"):
        SGDRegressor.from_config({"loss": "sqared"})


def test_import_is_cheap():
    """`import online_lr` must not pull River's linear models, numba or even numpy."""
    code = (
        "import sys, online_lr; "
        "print(any(m.startswith(('river', 'numba', 'numpy')) for m in sys.modules))"
    )
    assert python_output(code) == "False"


def test_the_default_model_imports_no_heavy_module():
    """Building a model loads no numba (the kernels load on the first learn or predict); no
    River linear models, metrics (scipy.stats) or optim (scipy.special, ~0.4 s) at all, even
    with a schedule of ours or a saved model loaded."""
    import subprocess
    import sys

    code = (
        "import sys; from online_lr import SGDRegressor; m = SGDRegressor(); "
        "before = 'numba' in sys.modules; "
        "m.learn_one({'a': 1.0}, 2.0); m.predict_one({'a': 1.0}); "
        "m = SGDRegressor.from_config({'learning_rate': {'type': 'InverseScaling', "
        "'learning_rate': 0.1}}); m.learn_one({'a': 1.0}, 2.0); "
        "SGDRegressor.from_dict(m.to_dict()).learn_one({'a': 1.0}, 2.0); "
        "print(before, [m for m in ('river.linear_model', 'river.metrics', 'scipy.stats', "
        "'river.optim', 'scipy.special') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False []"


def test_math_sanity_of_the_gradient():
    """One plain step by hand: w -= lr * 2 (ŷ - y) x; b -= lr * 2 (ŷ - y)."""
    model = SGDRegressor(
        learning_rate=0.1, intercept_lr=0.05, intercept_init=1.0, standardize=False
    )
    model.learn_one({"a": 2.0}, 5.0)  # ŷ = 1, gradient of the loss = 2 (1 - 5) = -8
    assert model.weights["a"] == pytest.approx(0.1 * 8 * 2.0)
    assert model.intercept == pytest.approx(1.0 + 0.05 * 8)
    assert math.isclose(model.running_mse, 16.0)


@pytest.mark.parametrize("params", [{}, {"standardize": False, "l2": 0.001}], ids=str)
def test_python_dict_path_equals_the_extension(params):
    """Without a C compiler the install maps dicts in Python (`_dictpath_py`): the same
    numbers (to the last bits LLVM may reassociate), since both call the same compiled rule."""
    from online_lr import _dictpath_py

    pytest.importorskip("online_lr._dictpath")
    extension, python = SGDRegressor(**params), SGDRegressor(**params)
    python._rows = _dictpath_py.DictRows(
        None, python._state, python._params, 0, 16384, python._flush_errors
    )
    for x, y in scaled_trump(200):
        assert python.predict_one(x) == pytest.approx(extension.predict_one(x), rel=1e-12)
        extension.learn_one(x, y)
        python.learn_one(x, y)
    assert_same_state(python, extension)
    with pytest.raises(TypeError, match="'a'"):
        python.predict_one({"a": "1.5"})


def test_learn_many_refuses_a_bad_frame_by_name_and_stays_unchanged():
    model = SGDRegressor()
    model.learn_many(pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 1.5]}), pd.Series([1.0, 2.0]))
    before = state(model)
    bad = pd.DataFrame({"a": [1.0, float("nan")], "b": [2.0, 3.0]})
    with pytest.raises(ValueError, match=r"feature 'a' must be finite, got nan in row 1"):
        model.learn_many(bad, pd.Series([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target must be finite, got inf in row 0"):
        model.learn_many(np.ones((2, 2)), np.array([np.inf, 1.0]))
    assert state(model) == before


# Standardization: raw data of any scale, weights in the data's units


def raw_stream(n=3000, seed=3, feature_scales=(1e-3, 1.0, 1e4), offset=1e5, noise=0.1):
    rng = np.random.default_rng(seed)
    scales = np.array(feature_scales)
    z = rng.normal(size=(n, len(scales)))
    X = z * scales + 50 * scales
    beta = np.array([2.0, -1.0, 0.5])
    y = z @ beta * 1e3 + offset + noise * 1e3 * rng.normal(size=n)
    return X, y, beta * 1e3 / scales


def test_the_default_learns_raw_features_and_target_of_any_scale():
    X, y, true_weights = raw_stream()
    model = SGDRegressor()
    model.learn_sequential(X, y, columns=["a", "b", "c"])
    assert model.rolling_mse < 1.3 * (0.1 * 1e3) ** 2
    assert model.rolling_mse < 0.01 * model.baseline_rolling_mse
    np.testing.assert_allclose([model.weights[k] for k in "abc"], true_weights, rtol=0.05)


def test_weights_and_intercept_are_in_the_data_units():
    X, y, _ = raw_stream(n=500)
    model = SGDRegressor(averaged=True)
    for row, target in zip(X, y):
        model.learn_one(dict(zip("abc", row.tolist())), target)
    x = dict(zip("abc", X[-1].tolist()))
    by_hand = model.intercept + sum(model.weights[k] * v for k, v in x.items())
    assert by_hand == pytest.approx(model.predict_one(x), rel=1e-12)
    twin = SGDRegressor(averaged=True)
    twin.learn_sequential(X, y, columns=list("abc"))
    twin.set_parameters(model.weights, model.intercept)
    assert twin.predict_one(x) == pytest.approx(model.predict_one(x), rel=1e-12)


def test_one_hot_indicator_features_learn():
    """A feature that only ever shows 1 (one-hot) enters as 1, not as a standardized 0."""
    rng = np.random.default_rng(0)
    effect = {"paris": 10.0, "lyon": -5.0, "nice": 0.0}
    model = SGDRegressor()
    for _ in range(3000):
        city = rng.choice(list(effect))
        size = rng.normal(50, 10)
        model.learn_one({f"city={city}": 1.0, "size": size}, 100 + effect[city] + 0.5 * size)
    base = model.predict_one({"size": 50.0, "city=nice": 1.0})
    assert model.predict_one({"size": 50.0, "city=paris": 1.0}) - base == pytest.approx(10, abs=1)
    assert model.predict_one({"size": 50.0, "city=lyon": 1.0}) - base == pytest.approx(-5, abs=1)


def test_the_baseline_is_the_running_mean_of_the_targets_learned_before():
    X, y = synthetic(n=300, d=2)
    model = SGDRegressor(mse_window=50)
    learn = np.ones(300, dtype=bool)
    learn[::7] = False
    model.learn_sequential(X, y, learn=learn)
    learned = y[learn]
    before = np.concatenate([[0.0], np.cumsum(learned)[:-1] / np.arange(1, learned.size)])
    errors = (learned - before) ** 2
    assert model.baseline_running_mse == pytest.approx(errors.mean(), rel=1e-12)
    assert model.baseline_rolling_mse == pytest.approx(errors[-50:].mean(), rel=1e-12)


# Guards and refusals as values


def house_prices(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(40, 200, n), rng.integers(1, 6, n), rng.uniform(0, 80, n)])
    y = 2000 * X[:, 0] + 10000 * X[:, 1] - 500 * X[:, 2] + 50000 + rng.normal(0, 1e4, n)
    return X, y


def test_a_step_that_would_overshoot_lands_on_the_target_instead():
    """With standardization a step never carries the prediction past the target: a rate too
    large for the row (2 lr (|z|^2 + 1) > 1) is shortened to land on it."""
    X, y = house_prices()
    hasty = SGDRegressor(learning_rate=2.0, intercept_lr=2.0)
    for row, target in zip(X, y):
        x = dict(enumerate(row))
        hasty.learn_one(x, target)
        assert hasty.predict_one(x) == pytest.approx(target, rel=1e-9)
    default = SGDRegressor()
    X, y = house_prices(n=3000)
    assert not default.learn_rows(X, y).refused.any()
    assert default.rolling_mse < 0.2 * default.baseline_rolling_mse


def test_the_default_learns_many_features_without_diverging():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 150)) * np.logspace(-3, 3, 150)
    y = X[:, :5] @ (1 / np.logspace(-3, 3, 150)[:5]) + rng.normal(size=3000)
    model = SGDRegressor()
    outcome = model.learn_rows(X, y)
    assert not outcome.refused.any()
    assert model.rolling_mse < 0.5 * model.baseline_rolling_mse  # about 2x the noise: see README


def test_without_standardization_overshooting_steps_are_rivers():
    """standardize=False is River's LinearRegression, divergent trajectories included."""
    X, y = house_prices(n=20)
    ours = SGDRegressor(standardize=False, intercept_init=0.0, learning_rate=0.01,
                        intercept_lr=0.01, update="sgd")
    theirs = linear_model.LinearRegression(optimizer=optim.SGD(0.01), intercept_lr=0.01)
    for row, target in zip(X[:6], y[:6]):
        x = dict(enumerate(row.tolist()))
        ours.learn_one(x, target)
        theirs.learn_one(x, target)
    assert abs(ours.intercept) > 1e9  # far gone, as River
    assert_same_model(ours, theirs)


def test_learn_rows_skips_the_refused_rows_and_learns_the_rest():
    X, y = synthetic(n=60, d=2)
    X[10, 0], y[20], X[30, 1] = np.nan, np.inf, 1e300
    learn = np.ones(60, dtype=bool)
    model = SGDRegressor()
    outcome = model.learn_rows(X, y, learn, columns=["u", "v"])
    assert outcome.reasons() == [
        (10, "non_finite_feature"), (20, "non_finite_target"), (30, "diverged"),
    ]
    assert np.isnan(outcome.predictions[10]) and np.isfinite(outcome.predictions[20])
    keep = np.ones(60, dtype=bool)
    keep[[10, 20, 30]] = False
    reference = SGDRegressor()
    predictions = reference.learn_sequential(X[keep], y[keep], columns=["u", "v"])
    np.testing.assert_array_equal(outcome.predictions[keep], predictions)
    assert_same_state(model, reference)
    assert model.n_updates == 57



def sparse_rows(rng: np.random.Generator, n: int) -> tuple[list[dict], list[float]]:
    """Dict rows over five features, each present with probability 0.6 (some rows empty)."""
    rows = [{f"f{j}": float(rng.normal()) for j in range(5) if rng.random() < 0.6}
            for _ in range(n)]
    return rows, [2.0 + sum(x.values()) + 0.1 * float(rng.normal()) for x in rows]


def as_csr(rows: list[dict], columns: list[str]):
    position = {name: j for j, name in enumerate(columns)}
    indptr = np.cumsum([0] + [len(x) for x in rows])
    indices = np.array([position[k] for x in rows for k in x], dtype=np.int64)
    values = np.array([v for x in rows for v in x.values()])
    return indptr, indices, values


@pytest.mark.parametrize("params", [{}, {"standardize": False, "learning_rate": 0.05},
                                    {"update": "normalized"}, {"loss": optim.losses.Huber()}])
def test_learn_rows_sparse_is_a_learn_one_loop_on_rows_with_absent_features(params):
    rows, y = sparse_rows(np.random.default_rng(4), 300)
    columns = ["f3", "f0", "f4", "f1", "f2"]  # any order
    learn = np.array([i % 7 != 3 for i in range(300)])
    sparse, loop = SGDRegressor(**params), SGDRegressor(**params)
    outcome = sparse.learn_rows_sparse(*as_csr(rows, columns), y, columns=columns, learn=learn)
    predictions = []
    for x, target, labelled in zip(rows, y, learn):
        predictions.append(loop.predict_one(x))
        if labelled:
            loop.learn_one(x, target)
    np.testing.assert_allclose(outcome.predictions, predictions, rtol=1e-9, atol=1e-12)
    assert sparse.weights.keys() == loop.weights.keys()
    for name, weight in loop.weights.items():
        assert sparse.weights[name] == pytest.approx(weight, rel=1e-9, abs=1e-12), name
    assert sparse.intercept == pytest.approx(loop.intercept, rel=1e-9, abs=1e-12)
    assert (sparse.n_updates, sparse.rolling_mse) == (loop.n_updates,
                                                      pytest.approx(loop.rolling_mse, rel=1e-9))
    assert not outcome.reasons()


def test_learn_rows_sparse_refuses_rows_as_values_and_checks_its_arguments():
    rows, y = sparse_rows(np.random.default_rng(5), 40)
    rows[5] = {"f0": float("nan")}
    y[9] = float("inf")
    columns = [f"f{j}" for j in range(5)]
    outcome = SGDRegressor().learn_rows_sparse(*as_csr(rows, columns), y, columns=columns)
    assert outcome.reasons() == [(5, "non_finite_feature"), (9, "non_finite_target")]
    indptr, indices, values = as_csr(rows, columns)
    with pytest.raises(ValueError, match="indptr"):
        SGDRegressor().learn_rows_sparse(indptr[:-1], indices, values, y, columns=columns)
    with pytest.raises(ValueError, match="column positions"):
        SGDRegressor().learn_rows_sparse(indptr, indices, values, y, columns=columns[:2])


# Losses, rates


class MySquared:
    """A user's loss: anything with gradient(y_true, y_pred), as River accepts."""

    def gradient(self, y_true, y_pred):
        return 2.0 * (y_pred - y_true)


class Squared(optim.losses.Squared):
    """Named like River's, but a different gradient: identified by type, it must be used."""

    def gradient(self, y_true, y_pred):
        return 4.0 * (y_pred - y_true)


@pytest.mark.parametrize("standardize", [False, True])
def test_a_custom_loss_takes_the_steps_of_the_builtin_one(standardize):
    params = {"standardize": standardize, "intercept_init": 0.0}
    custom, builtin = SGDRegressor(loss=MySquared(), **params), SGDRegressor(**params)
    for x, y in scaled_trump(150):
        assert custom.predict_one(x) == pytest.approx(builtin.predict_one(x), rel=1e-12)
        custom.learn_one(x, y)
        builtin.learn_one(x, y)
    X, y = synthetic(n=100, d=3)
    np.testing.assert_allclose(custom.learn_sequential(X, y), builtin.learn_sequential(X, y),
                               rtol=1e-12)
    custom.learn_many(X, y)
    builtin.learn_many(X, y)
    assert custom.weights == pytest.approx(builtin.weights, rel=1e-12)


def test_a_loss_is_identified_by_type_not_by_name():
    doubled = SGDRegressor(loss=Squared(), learning_rate=0.01, intercept_lr=0.01,
                           standardize=False, intercept_init=0.0)
    plain = SGDRegressor(learning_rate=0.02, intercept_lr=0.02, standardize=False,
                         intercept_init=0.0)
    for x, y in scaled_trump(50):
        doubled.learn_one(x, y)
        plain.learn_one(x, y)
    assert doubled.weights == pytest.approx(plain.weights, rel=1e-9)
    with pytest.raises(TypeError, match="cannot be saved"):
        doubled.to_dict()


@pytest.mark.parametrize("frozen", [0, 0.0, schedules.Constant(0), optim.schedulers.Constant(0)])
def test_a_zero_intercept_rate_freezes_the_intercept(frozen):
    model = SGDRegressor(intercept_lr=frozen, intercept_init=1.5, standardize=False)
    X, y = synthetic(n=100, d=2)
    model.learn_sequential(X, y)
    for x, target in scaled_trump(20):
        model.learn_one(x, target)
    assert model.intercept == 1.5


@pytest.mark.parametrize("name", ["learning_rate", "intercept_lr"])
def test_a_bad_rate_error_names_its_parameter(name):
    with pytest.raises(ValueError, match=name):
        SGDRegressor(**{name: -0.1})
    with pytest.raises(ValueError, match=name):
        SGDRegressor(**{name: math.nan})


def test_plateau_cuts_the_rate_between_blocks():
    X, y = synthetic(n=400, d=3, noise=1.0)
    plateau = schedules.Plateau(0.05, factor=0.5, patience=1, period=20)
    model = SGDRegressor(learning_rate=plateau, standardize=False)
    for start in range(0, 400, 100):
        model.learn_sequential(X[start : start + 100], y[start : start + 100])
        rate = model.learning_rate_now
        assert rate == plateau.current_learning_rate  # fixed for the whole next block
    assert rate < 0.05
    loop = SGDRegressor(learning_rate=schedules.Plateau(0.05, factor=0.5, patience=1, period=20),
                        standardize=False)
    rows = SGDRegressor(learning_rate=schedules.Plateau(0.05, factor=0.5, patience=1, period=20),
                        standardize=False)
    for i in range(400):
        loop.learn_one(dict(enumerate(X[i])), y[i])
        rows.learn_sequential(X[i : i + 1], y[i : i + 1])
    assert_same_state(loop, rows)


# Persistence: version 2 names its state; version 1 still loads; checkpoints load


def test_the_model_file_names_every_piece_of_state():
    model = SGDRegressor()
    model.learn_one({"a": 1.0}, 2.0)
    data = model.to_dict()
    assert data["version"] == 2
    assert set(data["feature_state"]) >= {"weight", "mean", "m2", "count"}
    assert set(data["scalars"]) >= {"intercept", "steps", "y_mean"}


def test_a_version_1_file_loads_as_the_raw_model_it_was(tmp_path):
    v1 = {
        "format": "online-lr-model", "version": 1,
        "params": {k: v for k, v in SGDRegressor(standardize=False)._params_to_dict().items()
                   if k != "standardize"},
        "features": ["a", "b"],
        "feature_state": {"0": [2.0, -1.0]},
        "scalars": {"intercept": 0.5, "intercept_average": 0.5, "intercept_grad_sq": 0.0,
                    "normalizer": 0.0, "max_cum_l1": 0.0, "steps": 3, "intercept_started": 1.0},
        "y_name": None,
        "metrics": state(SGDRegressor())["metrics"],
    }
    del v1["metrics"]["baseline_running"], v1["metrics"]["baseline_rolling"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(v1))
    model = SGDRegressor.load(path)
    assert model.standardize is False and model.n_updates == 3
    assert model.predict_one({"a": 1.0, "b": 2.0}) == 0.5
    model.learn_one({"a": 1.0, "b": 2.0}, 1.0)
    v1["version"] = 7
    path.write_text(json.dumps(v1))
    with pytest.raises(ValueError, match="version 7.*versions 1 and 2"):
        SGDRegressor.load(path)


def test_load_reads_the_model_of_a_checkpoint(tmp_path):
    model = SGDRegressor()
    X, y = synthetic(n=50, d=2)
    model.learn_sequential(X, y)
    path = tmp_path / "run.ckpt.json"
    path.write_text(json.dumps({"format": "online-lr-checkpoint", "version": 1,
                                "model": model.to_dict()}))
    assert_same_state(SGDRegressor.load(path), model)
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="neither an online-lr-model file nor an online-lr-"
                                         "checkpoint file.*'something-else'"):
        SGDRegressor.load(path)


@pytest.mark.parametrize("grow", ["learn_many", "learn_sequential", "learn_one_custom"])
def test_the_dict_path_follows_the_state_when_a_block_grows_it(grow):
    """A block with new features may reallocate the state's arrays: learn_one and predict_one
    then read and write the new arrays (they once kept pointers into the freed ones)."""
    x = {"a": 1.0}
    model = SGDRegressor(standardize=False, intercept_init=0.0)
    model.learn_one(x, 1.0)  # the dict path, bound to the first arrays
    many = {f"f{j}": float(j % 3) for j in range(200)}  # past the state's capacity
    if grow == "learn_many":
        model.learn_many(pd.DataFrame([many]), pd.Series([2.0]))
    elif grow == "learn_sequential":
        model.learn_sequential(pd.DataFrame([many]), [2.0])
    else:
        model = SGDRegressor(standardize=False, intercept_init=0.0, loss=_HalfSquaredLoss())
        model.learn_one(x, 1.0)
        model.learn_one(many, 2.0)
    row = {**many, "a": 1.0}
    assert model.predict_one(row) == pytest.approx(model.predict_many(pd.DataFrame([row]))[0])
    model.learn_one(row, 3.0)
    assert math.isfinite(model.predict_one(row))


class _HalfSquaredLoss:
    def gradient(self, y_true, y_pred):
        return y_pred - y_true


def test_loading_the_kernels_ahead_in_a_thread_changes_nothing_learned():
    """A consumer loads the kernels in a thread while it waits for the broker
    (`SGDRegressor.load_kernels`); learning meanwhile, and after, is as without it."""
    import threading

    X, y = synthetic(300)
    ahead, plain = SGDRegressor(), SGDRegressor()
    ahead.load_kernels()
    assert state(ahead) == state(plain)
    ahead = SGDRegressor()
    loading = threading.Thread(target=ahead.load_kernels)
    loading.start()
    ahead.learn_many(X[:100], y[:100])  # while loading, if it is not done yet
    loading.join()
    ahead.load_kernels()
    ahead.learn_many(X[100:], y[100:])
    plain.learn_many(X[:100], y[:100])
    plain.learn_many(X[100:], y[100:])
    assert_same_state(ahead, plain)
