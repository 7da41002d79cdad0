from __future__ import annotations

import json
import math

import numpy as np
import pytest
from river import linear_model, optim

from online_lr.schedules import (
    Constant,
    Cosine,
    Exponential,
    InverseScaling,
    Optimal,
    Plateau,
    Schedule,
    Step,
    Warmup,
    as_schedule,
    learning_rates,
    schedule_from_dict,
    schedule_to_dict,
)


def make_schedules() -> list[Schedule]:
    """One or more instances of every schedule, fresh for each test."""
    return [
        Constant(0.05),
        InverseScaling(0.1),
        InverseScaling(0.3, power=0.25),
        Optimal(),
        Optimal(alpha=0.01, loss=optim.losses.Squared()),
        Exponential(0.1, decay=0.99, min_learning_rate=1e-3),
        Step(0.2, step_size=7, gamma=0.3),
        Cosine(0.1, period=50, min_learning_rate=0.01),
        Cosine(0.1, period=50, restarts=True),
        Warmup(InverseScaling(0.1), warmup_steps=20, start_factor=0.1),
        Warmup(optim.schedulers.InverseScaling(0.1), warmup_steps=5),
        Warmup(Plateau(0.1, period=10), warmup_steps=5),
        Plateau(0.1, period=10),
    ]


SCHEDULES = make_schedules()
IDS = [f"{type(s).__name__}-{i}" for i, s in enumerate(SCHEDULES)]
STEPS = np.concatenate([np.arange(3000), [10**5, 10**6 + 3, 10**9 + 7]])


def rates_by_loop(schedule, steps) -> np.ndarray:
    return np.array([schedule.get(int(t)) for t in steps])


# Formulas, checked by hand


def test_constant():
    assert [Constant(0.05).get(t) for t in (0, 1, 10**6)] == [0.05, 0.05, 0.05]
    assert Constant(2).learning_rate == 2.0


def test_inverse_scaling():
    schedule = InverseScaling(0.1, power=0.5)
    assert schedule.get(0) == 0.1
    assert schedule.get(3) == pytest.approx(0.1 / 2)
    assert schedule.get(99) == pytest.approx(0.1 / 10)
    assert InverseScaling(0.1, power=0.0).get(50) == 0.1


def test_optimal_formula():
    schedule = Optimal(alpha=1e-4)
    assert schedule.t0 == pytest.approx(1e-4**-0.75)
    assert schedule.get(0) == pytest.approx(10.0)
    assert schedule.get(1000) == pytest.approx(1.0 / (1e-4 * 2000))


def test_exponential():
    schedule = Exponential(0.1, decay=0.9, min_learning_rate=0.04)
    assert schedule.get(0) == 0.1
    assert schedule.get(2) == pytest.approx(0.081)
    assert schedule.get(8) == pytest.approx(0.1 * 0.9**8)  # 0.043
    assert schedule.get(9) == 0.04  # 0.1 * 0.9**9 = 0.039 < floor


def test_step():
    schedule = Step(1.0, step_size=3, gamma=0.1)
    assert [schedule.get(t) for t in range(7)] == pytest.approx(
        [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.01]
    )


@pytest.mark.parametrize("restarts", [False, True])
def test_cosine(restarts):
    schedule = Cosine(0.1, period=100, min_learning_rate=0.02, restarts=restarts)
    assert schedule.get(0) == 0.1
    assert schedule.get(50) == pytest.approx(0.06)
    assert schedule.get(25) == pytest.approx(0.02 + 0.08 * (1 + math.cos(math.pi / 4)) / 2)
    if restarts:
        assert schedule.get(100) == 0.1
        assert schedule.get(150) == pytest.approx(0.06)
    else:
        assert schedule.get(100) == 0.02
        assert schedule.get(10**6) == 0.02


def test_cosine_is_accurate_near_its_floor():
    # One step before the end, (1 + cos(pi (T-1) / T)) / 2 = sin(pi / (2T))^2 ~ 2.5e-12: the
    # cos form would lose about 4 digits to cancellation.
    schedule = Cosine(1.0, period=10**6)
    assert schedule.get(10**6 - 1) == pytest.approx(math.sin(math.pi / 2e6) ** 2, rel=1e-14)


def test_warmup_ramps_linearly_then_delays_the_wrapped_schedule():
    inner = InverseScaling(0.1, power=1.0)
    schedule = Warmup(inner, warmup_steps=4, start_factor=0.2)
    assert [schedule.get(t) for t in range(4)] == pytest.approx([0.02, 0.04, 0.06, 0.08])
    assert [schedule.get(t) for t in range(4, 8)] == [inner.get(t) for t in range(4)]


def test_warmup_with_zero_steps_is_the_wrapped_schedule():
    inner = InverseScaling(0.1)
    schedule = Warmup(inner, warmup_steps=0)
    np.testing.assert_array_equal(schedule.get_many(STEPS), inner.get_many(STEPS))


def test_warmup_accepts_a_number_or_a_config_dict():
    assert Warmup(0.1, warmup_steps=2).get(5) == 0.1
    schedule = Warmup({"type": "Step", "learning_rate": 0.1, "step_size": 1}, warmup_steps=2)
    assert isinstance(schedule.schedule, Step)


# Vectorised rates


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_get_many_equals_get(schedule):
    np.testing.assert_allclose(
        schedule.get_many(STEPS), rates_by_loop(schedule, STEPS), rtol=1e-15, atol=0
    )


@pytest.mark.parametrize("schedule", SCHEDULES, ids=IDS)
def test_get_many_keeps_shape_and_dtype(schedule):
    rates = schedule.get_many(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert rates.shape == (2, 3) and rates.dtype == np.float64
    assert schedule.get_many(np.array([], dtype=np.int64)).shape == (0,)


def test_learning_rates_handles_river_schedulers():
    river_schedule = optim.schedulers.InverseScaling(0.1, power=0.3)
    np.testing.assert_array_equal(
        learning_rates(river_schedule, np.arange(100)),
        [river_schedule.get(t) for t in range(100)],
    )
    np.testing.assert_array_equal(learning_rates(Constant(0.1), [0, 1]), [0.1, 0.1])


# Agreement with River


def test_inverse_scaling_equals_rivers_step_for_step():
    for learning_rate, power in [(0.1, 0.5), (0.01, 0.25), (1.0, 1.0), (0.3, 0.77)]:
        ours = InverseScaling(learning_rate, power)
        river_schedule = optim.schedulers.InverseScaling(learning_rate, power)
        assert [ours.get(t) for t in range(1001)] == [river_schedule.get(t) for t in range(1001)]


@pytest.mark.parametrize("alpha", [1e-6, 1e-4, 1e-2, 0.5, 3.0])
def test_optimal_equals_rivers_for_squared_loss(alpha):
    river_schedule = optim.schedulers.Optimal(optim.losses.Squared(), alpha=alpha)
    for ours in (Optimal(alpha), Optimal(alpha, loss="squared")):
        assert ours.t0 == river_schedule.t0
        assert [ours.get(t) for t in range(1001)] == [river_schedule.get(t) for t in range(1001)]


def test_optimal_uses_other_river_losses_like_river():
    loss = optim.losses.Cauchy()
    assert Optimal(0.01, loss=loss).t0 == optim.schedulers.Optimal(loss, alpha=0.01).t0


@pytest.mark.parametrize("schedule", make_schedules(), ids=IDS)
def test_rivers_sgd_runs_with_our_schedules(schedule):
    optimizer = optim.SGD(lr=schedule)
    model = linear_model.LinearRegression(optimizer=optimizer, intercept_lr=Constant(0.01))
    rng = np.random.default_rng(0)
    for _ in range(30):
        x = {"a": rng.normal(), "b": rng.normal()}
        model.learn_one(x, 2 * x["a"] - x["b"])
    assert optimizer.n_iterations == 30
    assert optimizer.learning_rate == schedule.get(30)
    assert all(math.isfinite(w) for w in model.weights.values())


@pytest.mark.parametrize("schedule", make_schedules(), ids=IDS)
def test_clone_rebuilds_the_same_schedule(schedule):
    clone = schedule.clone()
    assert type(clone) is type(schedule) and clone is not schedule
    assert schedule_to_dict(clone)["params"] == schedule_to_dict(schedule)["params"]
    np.testing.assert_array_equal(clone.get_many(STEPS), schedule.get_many(STEPS))


def test_clone_gives_a_fresh_plateau():
    schedule = Plateau(0.1, patience=1, period=2)
    schedule.observe(2.0, 2)
    schedule.observe(4.0, 2)
    assert schedule.get(0) == 0.05
    clone = schedule.clone()
    assert clone.get(0) == 0.1 and clone.best_mse is None


# Serialisation


@pytest.mark.parametrize("schedule", make_schedules(), ids=IDS)
def test_dict_round_trip_through_json(schedule):
    data = json.loads(json.dumps(schedule_to_dict(schedule), allow_nan=False))
    restored = schedule_from_dict(data)
    assert type(restored) is type(schedule)
    assert schedule_to_dict(restored) == data
    np.testing.assert_array_equal(restored.get_many(STEPS), schedule.get_many(STEPS))


def test_plateau_round_trip_mid_period_continues_exactly():
    rng = np.random.default_rng(1)
    schedule = Warmup(Plateau(0.1, patience=2, period=10, min_delta=0.0), warmup_steps=3)
    feed_plateau(schedule, rng.random(67) * np.linspace(2, 1, 67))
    restored = schedule_from_dict(json.loads(json.dumps(schedule_to_dict(schedule))))
    assert restored.schedule.get_state() == schedule.schedule.get_state()
    assert restored.steps_left_in_period() == 3
    errors = rng.random(500)
    assert feed_plateau(restored, errors) == feed_plateau(schedule, errors)
    assert restored.schedule.get_state() == schedule.schedule.get_state()


def test_river_schedulers_round_trip():
    for schedule in (
        optim.schedulers.Constant(0.02),
        optim.schedulers.InverseScaling(0.1, power=0.3),
    ):
        data = schedule_to_dict(schedule)
        assert data["type"].startswith("river.")
        restored = schedule_from_dict(json.loads(json.dumps(data)))
        assert type(restored) is type(schedule)
        assert [restored.get(t) for t in range(50)] == [schedule.get(t) for t in range(50)]


def test_optimal_loss_is_stored_by_name():
    assert schedule_to_dict(Optimal())["params"]["loss"] is None
    data = schedule_to_dict(Optimal(loss=optim.losses.Squared()))
    assert data["params"]["loss"] == "Squared"
    assert isinstance(schedule_from_dict(data).loss, optim.losses.Squared)


class _CustomScheduler(optim.base.Scheduler):
    def get(self, t):
        return 0.1


@pytest.mark.parametrize(
    "schedule, message",
    [
        (_CustomScheduler(), "_CustomScheduler"),
        (optim.schedulers.Optimal(optim.losses.Squared()), "Optimal"),
        (Optimal(loss=optim.losses.Cauchy()), "Optimal.loss"),
        (Warmup(_CustomScheduler()), "_CustomScheduler"),
    ],
)
def test_schedule_to_dict_rejects_what_it_cannot_serialise(schedule, message):
    with pytest.raises(TypeError, match=message):
        schedule_to_dict(schedule)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"type": "Nope", "params": {}}, "'Nope'"),
        ({"type": "Constant", "params": {}}, "'learning_rate'"),
        ({"type": "Constant", "params": {"learning_rate": 0.1}, "extra": 1}, "extra"),
        ({"type": "Constant", "params": {"learning_rate": 0.1}, "state": {"x": 1}}, "no state"),
        ({"type": "river.Constant", "params": {"learning_rate": 0.1}, "state": {"x": 1}}, "state"),
        ({"type": "Plateau", "params": {"learning_rate": 0.1}, "state": {"x": 1}}, "keys"),
    ],
)
def test_schedule_from_dict_rejects_bad_dicts(data, message):
    with pytest.raises(ValueError, match=message):
        schedule_from_dict(data)


def test_plateau_state_is_validated():
    state = Plateau(0.1, period=4).get_state()
    with pytest.raises(ValueError, match="period_count"):
        Plateau(0.1, period=4).set_state({**state, "period_count": 4})


# Building from config values


def test_as_schedule_wraps_numbers_and_passes_schedulers_through():
    assert isinstance(as_schedule(0.1), Constant) and as_schedule(0.1).learning_rate == 0.1
    assert as_schedule(1).learning_rate == 1.0
    assert as_schedule(np.float32(0.5)).learning_rate == 0.5
    schedule = InverseScaling(0.1)
    assert as_schedule(schedule) is schedule
    river_schedule = optim.schedulers.Constant(0.1)
    assert as_schedule(river_schedule) is river_schedule


def test_as_schedule_builds_flat_and_nested_config_dicts():
    schedule = as_schedule({"type": "InverseScaling", "learning_rate": 0.1, "power": 0.25})
    assert isinstance(schedule, InverseScaling) and schedule.power == 0.25
    warmup = as_schedule(
        {
            "type": "Warmup",
            "warmup_steps": 10,
            "schedule": {"type": "cosine", "learning_rate": 0.1, "period": 100},
        }
    )
    assert isinstance(warmup.schedule, Cosine) and warmup.schedule.period == 100
    optimal = as_schedule({"type": "Optimal", "alpha": 1e-3, "loss": "Squared"})
    assert isinstance(optimal.loss, optim.losses.Squared)
    river_schedule = as_schedule({"type": "river.InverseScaling", "learning_rate": 0.1})
    assert isinstance(river_schedule, optim.schedulers.InverseScaling)


def test_as_schedule_accepts_saved_dicts_with_state():
    schedule = Plateau(0.1, period=10)
    schedule.observe(1.0, 4)
    restored = as_schedule(schedule_to_dict(schedule))
    assert restored.get_state() == schedule.get_state()


@pytest.mark.parametrize("value", ["0.1", [0.1], None, True, object()])
def test_as_schedule_rejects_other_types(value):
    with pytest.raises(TypeError, match="learning rate must be"):
        as_schedule(value)


def test_as_schedule_names_the_field_in_type_errors():
    with pytest.raises(TypeError, match="^schedule must be"):
        Warmup("fast")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"learning_rate": 0.1}, "needs a 'type'"),
        ({"type": 3}, "needs a 'type'"),
        ({"type": "Linear", "learning_rate": 0.1}, "unknown schedule type 'Linear'"),
        ({"type": "InverseScaling", "learning_rate": 0.1, "powr": 1}, "'powr'"),
        ({"type": "InverseScaling", "power": 1}, "'learning_rate'"),
        ({"type": "InverseScaling", "learning_rate": -0.1}, "learning_rate"),
        ({"type": "InverseScaling", "learning_rate": "1e-3"}, "learning_rate.*1.0e-3"),
        ({"type": "Step", "learning_rate": 0.1, "step_size": 2.5}, "step_size"),
        ({"type": "Warmup", "schedule": {"type": "Constant"}}, "'learning_rate'"),
        ({"type": "Optimal", "loss": "Hinge"}, "loss"),
    ],
)
def test_as_schedule_rejects_bad_config_dicts(config, message):
    with pytest.raises(ValueError, match=message):
        as_schedule(config)


# Argument validation


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: Constant(-0.1), "learning_rate"),
        (lambda: Constant(math.inf), "learning_rate"),
        (lambda: Constant(math.nan), "learning_rate"),
        (lambda: Constant(True), "learning_rate"),
        (lambda: InverseScaling(0.1, power=-1), "power"),
        (lambda: Optimal(alpha=0), "alpha"),
        (lambda: Exponential(0.1, decay=0.0), "decay"),
        (lambda: Exponential(0.1, decay=1.5), "decay"),
        (lambda: Exponential(0.1, min_learning_rate=0.2), "min_learning_rate"),
        (lambda: Step(0.1, step_size=0), "step_size"),
        (lambda: Step(0.1, gamma=2.0), "gamma"),
        (lambda: Cosine(0.1, period=0), "period"),
        (lambda: Cosine(0.1, min_learning_rate=-1.0), "min_learning_rate"),
        (lambda: Cosine(0.1, restarts="yes"), "restarts"),
        (lambda: Warmup(Constant(0.1), warmup_steps=-1), "warmup_steps"),
        (lambda: Warmup(Constant(0.1), start_factor=1.5), "start_factor"),
        (lambda: Plateau(0.1, factor=1.0), "factor"),
        (lambda: Plateau(0.1, patience=0), "patience"),
        (lambda: Plateau(0.1, period=0), "period"),
        (lambda: Plateau(0.1, min_delta=1.0), "min_delta"),
        (lambda: Plateau(0.1, min_learning_rate=0.5), "min_learning_rate"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(build, field):
    with pytest.raises(ValueError, match=f"^{field} "):
        build()


# Plateau


def feed_plateau(schedule, squared_errors) -> list[float]:
    """Run `squared_errors` through the schedule in blocks, as a learner would.

    Returns the rate used for each error.
    """
    rates = []
    position = 0
    while position < len(squared_errors):
        block = squared_errors[position : position + min(7, schedule.steps_left_in_period())]
        rates.extend(schedule.get_many(np.arange(position, position + len(block))).tolist())
        schedule.observe(float(np.sum(block)), len(block))
        position += len(block)
    return rates


def period_errors(period_mses, period) -> np.ndarray:
    return np.repeat(np.asarray(period_mses, dtype=float), period)


def test_plateau_keeps_its_rate_while_improving():
    schedule = Plateau(0.1, patience=2, period=5)
    rates = feed_plateau(schedule, period_errors([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], 5))
    assert set(rates) == {0.1}
    assert schedule.best_mse == pytest.approx(0.5)


def test_plateau_cuts_after_patience_bad_periods():
    schedule = Plateau(0.1, factor=0.5, patience=3, period=4)
    rates = feed_plateau(schedule, period_errors([1.0, 1.0, 1.2, 0.9995, 2.0, 2.0, 2.0], 4))
    # Period 0 sets the best; 1, 2, 3 (not better by min_delta) are bad: cut after period 3.
    # Periods 4, 5, 6 are bad again: a second cut after period 6.
    assert rates == [0.1] * 16 + [0.05] * 12
    assert schedule.current_learning_rate == 0.025
    assert schedule.best_mse == 1.0


def test_plateau_counts_only_consecutive_bad_periods():
    schedule = Plateau(0.1, patience=2, period=3)
    feed_plateau(schedule, period_errors([1.0, 1.5, 0.5, 0.7, 0.4, 0.6], 3))
    assert schedule.current_learning_rate == 0.1


def test_plateau_stops_at_its_floor():
    schedule = Plateau(0.1, factor=0.1, patience=1, period=2, min_learning_rate=0.002)
    feed_plateau(schedule, period_errors([1.0] * 6, 2))
    assert schedule.current_learning_rate == 0.002


def test_plateau_treats_a_non_finite_period_as_bad():
    schedule = Plateau(0.1, patience=1, period=2)
    feed_plateau(schedule, period_errors([math.nan, 1.0, math.inf, 0.5], 2))
    assert schedule.current_learning_rate == 0.025
    assert schedule.best_mse == 0.5


def test_plateau_rate_is_constant_within_a_period_whatever_the_blocks():
    errors = np.random.default_rng(2).random(400) * np.linspace(1, 3, 400)
    one_by_one = Plateau(0.1, patience=1, period=20)
    for error in errors:
        one_by_one.observe(error, 1)
    in_blocks = Plateau(0.1, patience=1, period=20)
    feed_plateau(in_blocks, errors)
    assert in_blocks.get_state()["current_learning_rate"] < 0.1
    assert in_blocks.get_state() == pytest.approx(one_by_one.get_state())


def test_plateau_refuses_blocks_that_cross_a_period():
    schedule = Plateau(0.1, period=5)
    schedule.observe(1.0, 3)
    with pytest.raises(ValueError, match="count must be in"):
        schedule.observe(1.0, 3)


def test_only_plateaus_are_adaptive():
    for schedule in make_schedules():
        expected = isinstance(getattr(schedule, "schedule", schedule), Plateau)
        assert schedule.is_adaptive is expected


def test_warmup_passes_observations_to_its_plateau():
    schedule = Warmup(Plateau(0.1, patience=1, period=2), warmup_steps=2)
    schedule.observe(1.0, 1)
    assert schedule.steps_left_in_period() == 1
    with pytest.raises(TypeError, match="not adaptive"):
        Warmup(Constant(0.1)).observe(1.0, 1)
