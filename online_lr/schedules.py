"""Learning-rate schedules: the step size as a function of the update count.

Every schedule maps ``t``, the number of updates already made, to a learning rate. As in
River, ``t`` is 0 for the first update (River's ``optim.SGD`` calls ``get(n_iterations)``).
``get(t)`` returns one rate. ``get_many(t)`` returns the rates for an array of steps at numpy
speed, so that a compiled kernel can take a precomputed array of rates for a block of updates.
``get_many(t)`` agrees with ``[get(ti) for ti in t]`` to about one unit in the last place.

All schedules except `Plateau` are pure functions of ``t``. `Plateau` adapts to the
prequential error, which the learner feeds it through ``observe``. Its rate changes only at
period boundaries, so every block of updates that stays inside one period has a single rate.
The learner checks ``is_adaptive`` to know whether it must feed the schedule.

The schedules are River schedulers: River's optimizers take any object with ``get(t)``, so
``optim.SGD(lr=...)`` accepts them. They do not subclass `river.optim.base.Scheduler`, whose
import costs River's whole ``optim`` and SciPy behind it (~0.4 s at every start of a replay);
River's own schedulers are accepted wherever these are. `schedule_to_dict` and `schedule_from_dict` convert a schedule to a JSON-safe
dict and back, state included. `as_schedule` builds a schedule from a config value.

"""

from __future__ import annotations

import abc
import inspect
import math
import numbers
import sys
from typing import TYPE_CHECKING

import numpy as np
from river import base

if TYPE_CHECKING:
    from river import optim

__all__ = [
    "Constant",
    "Cosine",
    "Exponential",
    "InverseScaling",
    "Optimal",
    "Plateau",
    "Schedule",
    "Step",
    "Warmup",
    "as_schedule",
    "learning_rates",
    "schedule_from_dict",
    "schedule_to_dict",
]


# Argument validation


def _check_real(
    name: str, value: object, low: float = -math.inf, high: float = math.inf, closed: str = "both"
) -> float:
    """Return `value` as a float if it is a finite real number in the interval, else raise.

    `closed` says which ends of the interval are included: "both", "left", "right" or "neither".

    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = " (YAML 1.1 reads 1e-3 as a string: write 1.0e-3)" if isinstance(value, str) else ""
        raise ValueError(f"{name} must be a real number, got {value!r}{hint}")
    value = float(value)
    includes_low = closed in ("both", "left")
    includes_high = closed in ("both", "right")
    above = value >= low if includes_low else value > low
    below = value <= high if includes_high else value < high
    if not (math.isfinite(value) and above and below):
        interval = f"{'[' if includes_low else '('}{low:g}, {high:g}{']' if includes_high else ')'}"
        raise ValueError(f"{name} must be finite and in {interval}, got {value!r}")
    return value


def _check_int(name: str, value: object, low: int) -> int:
    """Return `value` as an int if it is an integer >= `low`, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def _check_floor(name: str, value: float, learning_rate: float) -> float:
    """Check that a minimum learning rate is in [0, learning_rate]."""
    return _check_real(name, value, 0.0, learning_rate)


def _steps(t: np.ndarray) -> np.ndarray:
    return np.asarray(t, dtype=np.float64)


# Schedules


class Schedule(base.Base, abc.ABC):
    """Base class of this module's schedules: River's `Scheduler` contract plus a vectorised
    `get_many`.

    Subclasses store every constructor argument as an attribute of the same name, so that
    River's `clone` and `schedule_to_dict` can rebuild them.

    Attributes
    ----------
    is_adaptive
        True when the learner must feed the schedule its errors through ``observe`` (only
        `Plateau`, or a `Warmup` wrapping one).

    """

    is_adaptive: bool = False

    @abc.abstractmethod
    def get(self, t: int) -> float:
        """Return the learning rate for update number `t` (0 for the first update)."""

    @abc.abstractmethod
    def get_many(self, t: np.ndarray) -> np.ndarray:
        """Return the learning rates for an array of update numbers, as float64."""

    def get_state(self) -> dict:
        """Return the mutable state as a JSON-safe dict (empty for pure functions of t)."""
        return {}

    def __repr__(self) -> str:  # as River's schedulers show themselves
        return f"{self.__class__.__name__}({vars(self)})"

    def set_state(self, state: dict) -> None:
        """Restore a state returned by `get_state`."""
        if state:
            raise ValueError(f"{type(self).__name__} has no state, got keys {sorted(state)}")


class Constant(Schedule):
    r"""The same learning rate at every step.

    $$\eta_t = \eta$$

    Parameters
    ----------
    learning_rate
        $\eta$, in $[0, \infty)$: 0 freezes what the rate drives (e.g. the intercept).

    Examples
    --------

    >>> from online_lr.schedules import Constant

    >>> schedule = Constant(0.01)
    >>> schedule.get(0), schedule.get(1000)
    (0.01, 0.01)
    >>> schedule.get_many([0, 1, 2])
    array([0.01, 0.01, 0.01])

    """

    def __init__(self, learning_rate: float):
        self.learning_rate = _check_real("learning_rate", learning_rate, 0.0)

    def get(self, t: int) -> float:
        return self.learning_rate

    def get_many(self, t: np.ndarray) -> np.ndarray:
        return np.full(np.shape(t), self.learning_rate)


class InverseScaling(Schedule):
    r"""A power decay, with River's indexing.

    $$\eta_t = \frac{\eta}{(t + 1)^p}$$

    This is exactly `river.optim.schedulers.InverseScaling`, so the two agree step for step.
    scikit-learn's ``invscaling`` is the same sequence, indexed from 1 instead of 0.

    Parameters
    ----------
    learning_rate
        $\eta$, the rate of the first update, in $(0, \infty)$.
    power
        $p$, in $[0, \infty)$. 0 gives a constant rate.

    Examples
    --------

    >>> from online_lr.schedules import InverseScaling

    >>> schedule = InverseScaling(0.1, power=0.5)
    >>> for t in range(4):
    ...     print(t, schedule.get(t))
    0 0.1
    1 0.0707
    2 0.0577
    3 0.05

    """

    def __init__(self, learning_rate: float, power: float = 0.5):
        self.learning_rate = _check_real("learning_rate", learning_rate, 0.0, closed="right")
        self.power = _check_real("power", power, 0.0)

    def get(self, t: int) -> float:
        return self.learning_rate / math.pow(t + 1, self.power)

    def get_many(self, t: np.ndarray) -> np.ndarray:
        return self.learning_rate / np.power(_steps(t) + 1.0, self.power)


class Optimal(Schedule):
    r"""Léon Bottou's "optimal" schedule, as in River and scikit-learn.

    $$\eta_t = \frac{1}{\alpha (t_0 + t)}$$

    $t_0$ is set so that the first rate is a typical weight size divided by the loss gradient:
    with $w = \alpha^{-1/4}$, $\eta_0 = w / \max(1, \ell'(1, -w))$ and $t_0 = 1 / (\eta_0 \alpha)$.
    This is River's computation, so for the squared loss the rates equal those of
    ``river.optim.schedulers.Optimal(optim.losses.Squared(), alpha)``. With the squared loss
    $\ell'(1, -w) < 0$, so $\eta_0 = w$ and $t_0 = \alpha^{-3/4}$.

    Parameters
    ----------
    alpha
        $\alpha$, the L2 regularisation strength the schedule is tuned for, in $(0, \infty)$.
    loss
        The loss whose gradient sets $t_0$: a River loss, the name of one (only ``"Squared"``
        for now), or None for the squared loss. A name is stored as the loss object.

    Attributes
    ----------
    t0
        $t_0$, derived from `alpha` and `loss`.

    Examples
    --------

    >>> from online_lr.schedules import Optimal

    >>> schedule = Optimal(alpha=1e-4)
    >>> schedule.t0
    1000.0
    >>> for t in (0, 1, 1000):
    ...     print(t, schedule.get(t))
    0 10.0
    1 9.99
    1000 5.0

    References
    ----------
    [^1]: Bottou, L., 2012. Stochastic gradient descent tricks. In Neural networks: Tricks of
    the trade (pp. 421-436). Springer.
    https://cilvr.cs.nyu.edu/diglib/lsml/bottou-sgd-tricks-2012.pdf

    """

    def __init__(self, alpha: float = 1e-4, loss: optim.base.Loss | str | None = None):
        self.alpha = _check_real("alpha", alpha, 0.0, closed="right")
        self.loss = _as_loss(loss)
        self.t0 = _bottou_t0(self.alpha, self.loss or _river_optim().losses.Squared())

    def get(self, t: int) -> float:
        return 1.0 / (self.alpha * (self.t0 + t))

    def get_many(self, t: np.ndarray) -> np.ndarray:
        return 1.0 / (self.alpha * (self.t0 + _steps(t)))


_LOSSES = ("Squared",)  # the losses of `Optimal` that `schedule_to_dict` saves by name


def _as_loss(loss: optim.base.Loss | str | None) -> optim.base.Loss | None:
    if loss is None or _is_river(loss, "Loss"):
        return loss
    if isinstance(loss, str):
        for name in _LOSSES:
            if name.lower() == loss.lower():
                return getattr(_river_optim().losses, name)()
    raise ValueError(f"loss must be None, a River loss or one of {sorted(_LOSSES)}, got {loss!r}")


def _bottou_t0(alpha: float, loss: optim.base.Loss) -> float:
    """River's t0 for `Optimal` (river/optim/schedulers.py), kept operation for operation."""
    typical_weight = math.sqrt(1.0 / math.sqrt(alpha))
    initial_eta0 = typical_weight / max(1.0, float(loss.gradient(True, -typical_weight)))
    return 1.0 / (initial_eta0 * alpha)


class Exponential(Schedule):
    r"""An exponential decay with a floor.

    $$\eta_t = \max(\eta \, \gamma^t, \eta_{\min})$$

    Parameters
    ----------
    learning_rate
        $\eta$, the rate of the first update, in $(0, \infty)$.
    decay
        $\gamma$, the factor applied at every update, in $(0, 1]$.
    min_learning_rate
        $\eta_{\min}$, in $[0, \eta]$.

    Examples
    --------

    >>> from online_lr.schedules import Exponential

    >>> schedule = Exponential(0.1, decay=0.5, min_learning_rate=0.01)
    >>> for t in range(5):
    ...     print(t, schedule.get(t))
    0 0.1
    1 0.05
    2 0.025
    3 0.0125
    4 0.01

    """

    def __init__(self, learning_rate: float, decay: float = 0.999, min_learning_rate: float = 0.0):
        self.learning_rate = _check_real("learning_rate", learning_rate, 0.0, closed="right")
        self.decay = _check_real("decay", decay, 0.0, 1.0, closed="right")
        self.min_learning_rate = _check_floor(
            "min_learning_rate", min_learning_rate, self.learning_rate
        )

    def get(self, t: int) -> float:
        return max(self.learning_rate * math.pow(self.decay, t), self.min_learning_rate)

    def get_many(self, t: np.ndarray) -> np.ndarray:
        decayed = self.learning_rate * np.power(self.decay, _steps(t))
        return np.maximum(decayed, self.min_learning_rate)


class Step(Schedule):
    r"""A staircase: the rate is multiplied by `gamma` every `step_size` updates.

    $$\eta_t = \eta \, \gamma^{\lfloor t / s \rfloor}$$

    Parameters
    ----------
    learning_rate
        $\eta$, the rate of the first `step_size` updates, in $(0, \infty)$.
    step_size
        $s$, the number of updates between two cuts, an integer >= 1.
    gamma
        $\gamma$, the factor applied at each cut, in $(0, 1]$.

    Examples
    --------

    >>> from online_lr.schedules import Step

    >>> schedule = Step(0.1, step_size=2, gamma=0.5)
    >>> for t in range(5):
    ...     print(t, schedule.get(t))
    0 0.1
    1 0.1
    2 0.05
    3 0.05
    4 0.025

    """

    def __init__(self, learning_rate: float, step_size: int = 1000, gamma: float = 0.5):
        self.learning_rate = _check_real("learning_rate", learning_rate, 0.0, closed="right")
        self.step_size = _check_int("step_size", step_size, 1)
        self.gamma = _check_real("gamma", gamma, 0.0, 1.0, closed="right")

    def get(self, t: int) -> float:
        return self.learning_rate * math.pow(self.gamma, t // self.step_size)

    def get_many(self, t: np.ndarray) -> np.ndarray:
        return self.learning_rate * np.power(self.gamma, _steps(t) // self.step_size)


class Cosine(Schedule):
    r"""Cosine annealing from `learning_rate` down to `min_learning_rate` over `period` updates.

    $$\eta_t = \eta_{\min} + (\eta - \eta_{\min}) \frac{1 + \cos(\pi \tau / T)}{2}$$

    where $T$ is the period. Without restarts $\tau = \min(t, T)$: the rate reaches
    $\eta_{\min}$ at $t = T$ and stays there. With restarts, $\tau = t \bmod T$: the rate jumps
    back to $\eta$ every $T$ updates (SGDR's warm restarts with a fixed period), so it never
    quite reaches $\eta_{\min}$. The code uses the equal form
    $(\eta - \eta_{\min}) \sin^2(\frac{\pi}{2} \frac{T - \tau}{T})$, which stays accurate when
    the rate is close to $\eta_{\min}$.

    Parameters
    ----------
    learning_rate
        $\eta$, the rate at the start of each period, in $(0, \infty)$.
    period
        $T$, an integer >= 1.
    min_learning_rate
        $\eta_{\min}$, in $[0, \eta]$.
    restarts
        Whether to restart at $\eta$ after each period.

    Examples
    --------

    >>> from online_lr.schedules import Cosine

    >>> annealed = Cosine(0.1, period=4)
    >>> restarted = Cosine(0.1, period=4, restarts=True)
    >>> for t in range(6):
    ...     print(t, annealed.get(t), restarted.get(t))
    0 0.1 0.1
    1 0.0853 0.0853
    2 0.05 0.05
    3 0.0146 0.0146
    4 0.0 0.1
    5 0.0 0.0853

    References
    ----------
    [^1]: [Loshchilov, I. and Hutter, F., 2017. SGDR: Stochastic gradient descent with warm
    restarts. ICLR.](https://arxiv.org/abs/1608.03983)

    """

    def __init__(
        self,
        learning_rate: float,
        period: int = 1000,
        min_learning_rate: float = 0.0,
        restarts: bool = False,
    ):
        self.learning_rate = _check_real("learning_rate", learning_rate, 0.0, closed="right")
        self.period = _check_int("period", period, 1)
        self.min_learning_rate = _check_floor(
            "min_learning_rate", min_learning_rate, self.learning_rate
        )
        if not isinstance(restarts, bool):
            raise ValueError(f"restarts must be a bool, got {restarts!r}")
        self.restarts = restarts

    def get(self, t: int) -> float:
        tau = t % self.period if self.restarts else min(t, self.period)
        s = math.sin(0.5 * math.pi * (self.period - tau) / self.period)
        return self.min_learning_rate + (self.learning_rate - self.min_learning_rate) * (s * s)

    def get_many(self, t: np.ndarray) -> np.ndarray:
        t = _steps(t)
        tau = t % self.period if self.restarts else np.minimum(t, self.period)
        s = np.sin(0.5 * math.pi * (self.period - tau) / self.period)
        return self.min_learning_rate + (self.learning_rate - self.min_learning_rate) * (s * s)


class Warmup(Schedule):
    r"""A linear warm-up in front of another schedule.

    With $W$ warm-up steps, start factor $f$ and wrapped schedule $\eta'$:

    $$\eta_t = \begin{cases}
    \left(f + (1 - f) \frac{t}{W}\right) \eta'_0 & t < W \\
    \eta'_{t - W} & t \geq W
    \end{cases}$$

    The rate climbs linearly from $f \eta'_0$ at $t = 0$ towards $\eta'_0$, which it reaches at
    $t = W$, where the wrapped schedule takes over with its own clock starting at 0: the
    warm-up delays the wrapped schedule by $W$ steps rather than eating into it. With the
    default $f = 0$, the first update has rate 0 and so changes nothing.

    If the wrapped schedule is adaptive (a `Plateau`), so is the warm-up: `observe` and
    `steps_left_in_period` are passed through, and the ramp uses the plateau's current rate.

    Parameters
    ----------
    schedule
        $\eta'$: a schedule, or anything `as_schedule` accepts (a float, a config dict).
    warmup_steps
        $W$, an integer >= 0. 0 means no warm-up.
    start_factor
        $f$, in $[0, 1]$.

    Examples
    --------

    >>> from online_lr.schedules import InverseScaling, Warmup

    >>> schedule = Warmup(InverseScaling(0.1), warmup_steps=4)
    >>> for t in range(7):
    ...     print(t, schedule.get(t))
    0 0.0
    1 0.025
    2 0.05
    3 0.075
    4 0.1
    5 0.0707
    6 0.0577

    """

    def __init__(
        self,
        schedule: optim.base.Scheduler | float | dict,
        warmup_steps: int = 100,
        start_factor: float = 0.0,
    ):
        self.schedule = as_schedule(schedule, name="schedule")
        self.warmup_steps = _check_int("warmup_steps", warmup_steps, 0)
        self.start_factor = _check_real("start_factor", start_factor, 0.0, 1.0)

    @property
    def is_adaptive(self) -> bool:  # type: ignore[override]
        return getattr(self.schedule, "is_adaptive", False)

    def get(self, t: int) -> float:
        if t >= self.warmup_steps:
            return self.schedule.get(t - self.warmup_steps)
        ramp = self.start_factor + (1.0 - self.start_factor) * t / self.warmup_steps
        return ramp * self.schedule.get(0)

    def get_many(self, t: np.ndarray) -> np.ndarray:
        t = _steps(t)
        warming = t < self.warmup_steps
        rates = np.empty_like(t)
        ramp = self.start_factor + (1.0 - self.start_factor) * t[warming] / self.warmup_steps
        rates[warming] = ramp * self.schedule.get(0)
        rates[~warming] = learning_rates(self.schedule, t[~warming] - self.warmup_steps)
        return rates

    def observe(self, total_squared_error: float, count: int) -> None:
        """Pass the errors on to the wrapped adaptive schedule (see `Plateau.observe`)."""
        self._adaptive_schedule().observe(total_squared_error, count)

    def steps_left_in_period(self) -> int:
        """Ask the wrapped adaptive schedule (see `Plateau.steps_left_in_period`)."""
        return self._adaptive_schedule().steps_left_in_period()

    def _adaptive_schedule(self) -> Plateau:
        if not self.is_adaptive:
            raise TypeError(f"{type(self.schedule).__name__} is not adaptive")
        return self.schedule  # type: ignore[return-value]


class Plateau(Schedule):
    r"""Cut the learning rate when the prequential MSE stops improving.

    The rate is constant within a period of `period` updates, so that a compiled kernel can
    run a block of updates at one rate. The learner must, for each block:

    1. ask `steps_left_in_period()` and cut its block so that it does not cross a period
       boundary;
    2. run the block at rate ``get(t)``;
    3. call ``observe(total_squared_error, count)`` with the sum of the block's squared
       prediction errors (measured before each update, i.e. prequentially) and its length.

    When a period is complete, its mean squared error $m$ is compared with the best period MSE
    seen so far, $b$. The period is *bad* if $m \geq b (1 - \delta)$, or if $m$ is not finite;
    otherwise $b \leftarrow m$ and the bad-period counter resets. After `patience` bad periods
    in a row:

    $$\eta \leftarrow \max(\phi \, \eta, \eta_{\min})$$

    and the counter resets, while $b$ is kept. The first finite period sets $b$.

    The current rate, best MSE, bad-period counter and the partial period's sum and count are
    the schedule's state: `schedule_to_dict` saves them and `schedule_from_dict` restores them,
    so a reloaded learner continues exactly. `clone()` gives a fresh schedule.

    Parameters
    ----------
    learning_rate
        $\eta$ before the first cut, in $(0, \infty)$.
    factor
        $\phi$, in $(0, 1)$.
    patience
        The number of bad periods in a row that triggers a cut, an integer >= 1.
    period
        The number of updates per period, an integer >= 1.
    min_delta
        $\delta$, the relative improvement a period needs to count as better, in $[0, 1)$.
    min_learning_rate
        $\eta_{\min}$, in $[0, \eta]$.

    Examples
    --------

    >>> from online_lr.schedules import Plateau

    >>> schedule = Plateau(0.1, factor=0.5, patience=1, period=2)
    >>> schedule.steps_left_in_period()
    2
    >>> schedule.observe(1.5, 1)  # first update's squared error
    >>> schedule.steps_left_in_period()
    1
    >>> schedule.observe(0.5, 1)  # completes a period with MSE 1.0: the best so far
    >>> schedule.get(2)
    0.1
    >>> schedule.observe(1.0, 2)  # MSE 0.5: better
    >>> schedule.get(4)
    0.1
    >>> schedule.observe(1.2, 2)  # MSE 0.6: not better, patience exhausted
    >>> schedule.get(6)
    0.05
    >>> schedule.best_mse
    0.5

    """

    is_adaptive = True

    def __init__(
        self,
        learning_rate: float,
        factor: float = 0.5,
        patience: int = 3,
        period: int = 1000,
        min_delta: float = 1e-3,
        min_learning_rate: float = 1e-6,
    ):
        self.learning_rate = _check_real("learning_rate", learning_rate, 0.0, closed="right")
        self.factor = _check_real("factor", factor, 0.0, 1.0, closed="neither")
        self.patience = _check_int("patience", patience, 1)
        self.period = _check_int("period", period, 1)
        self.min_delta = _check_real("min_delta", min_delta, 0.0, 1.0, closed="left")
        self.min_learning_rate = _check_floor(
            "min_learning_rate", min_learning_rate, self.learning_rate
        )
        self._rate = self.learning_rate
        self._best_mse: float | None = None
        self._bad_periods = 0
        self._period_total = 0.0
        self._period_count = 0

    @property
    def current_learning_rate(self) -> float:
        """The rate the next update will use."""
        return self._rate

    @property
    def best_mse(self) -> float | None:
        """The lowest period MSE so far, or None before the first complete period."""
        return self._best_mse

    def get(self, t: int) -> float:
        return self._rate

    def get_many(self, t: np.ndarray) -> np.ndarray:
        return np.full(np.shape(t), self._rate)

    def steps_left_in_period(self) -> int:
        """Return how many updates remain before the current period ends (at least 1)."""
        return self.period - self._period_count

    def observe(self, total_squared_error: float, count: int) -> None:
        """Record the squared prediction errors of `count` updates.

        Parameters
        ----------
        total_squared_error
            The sum of the squared errors of those updates.
        count
            How many updates they are: at most `steps_left_in_period()`.

        """
        count = int(count)
        if not 0 <= count <= self.steps_left_in_period():
            raise ValueError(
                f"count must be in [0, {self.steps_left_in_period()}] (the steps left in the "
                f"period), got {count}"
            )
        self._period_total += float(total_squared_error)
        self._period_count += count
        if self._period_count == self.period:
            self._end_period()

    def _end_period(self) -> None:
        mse = self._period_total / self.period
        self._period_total = 0.0
        self._period_count = 0
        if math.isfinite(mse) and (
            self._best_mse is None or mse < self._best_mse * (1.0 - self.min_delta)
        ):
            self._best_mse = mse
            self._bad_periods = 0
            return
        self._bad_periods += 1
        if self._bad_periods >= self.patience:
            self._rate = max(self._rate * self.factor, self.min_learning_rate)
            self._bad_periods = 0

    def get_state(self) -> dict:
        return {
            "current_learning_rate": self._rate,
            "best_mse": self._best_mse,
            "bad_periods": self._bad_periods,
            "period_total": self._period_total,
            "period_count": self._period_count,
        }

    def set_state(self, state: dict) -> None:
        expected = set(self.get_state())
        if set(state) != expected:
            raise ValueError(
                f"Plateau state needs exactly the keys {sorted(expected)}, got {sorted(state)}"
            )
        self._rate = _check_real("current_learning_rate", state["current_learning_rate"], 0.0)
        best = state["best_mse"]
        self._best_mse = None if best is None else _check_real("best_mse", best, 0.0)
        self._bad_periods = _check_int("bad_periods", state["bad_periods"], 0)
        self._period_total = float(state["period_total"])
        count = _check_int("period_count", state["period_count"], 0)
        if count >= self.period:
            raise ValueError(f"period_count must be < period ({self.period}), got {count}")
        self._period_count = count


# River's schedulers, without importing River's optim


def _river_optim():
    """River's ``optim``, imported when first needed (it brings SciPy)."""
    from river import optim

    return optim


def _is_river(value: object, kind: str) -> bool:
    """True if ``value`` is a River ``optim.base`` ``kind`` ("Scheduler", "Loss"): such an
    object's class is defined, so River's ``optim`` is imported already if it is one."""
    module = sys.modules.get("river.optim.base")
    return module is not None and isinstance(value, getattr(module, kind))


def is_scheduler(value: object) -> bool:
    """True for a River scheduler: one of this module's, or any `river.optim.base.Scheduler`.

    >>> from river import optim
    >>> is_scheduler(Constant(0.1)), is_scheduler(optim.schedulers.Constant(0.1)), is_scheduler(0.1)
    (True, True, False)
    """
    return isinstance(value, Schedule) or _is_river(value, "Scheduler")


def constant_rate(schedule: object) -> float | None:
    """The rate of a constant schedule (this module's `Constant` or River's), else None.

    >>> constant_rate(Constant(0.1)), constant_rate(InverseScaling(0.1))
    (0.1, None)
    """
    river_schedulers = sys.modules.get("river.optim.schedulers")
    if isinstance(schedule, Constant) or (
        river_schedulers is not None and isinstance(schedule, river_schedulers.Constant)
    ):
        return float(schedule.learning_rate)
    return None


# Rates for any River scheduler


def learning_rates(schedule: optim.base.Scheduler, t: np.ndarray) -> np.ndarray:
    """Return the rates of any River scheduler for an array of update numbers.

    This module's schedules answer with their vectorised `get_many`; other River schedulers
    (such as ``optim.schedulers.InverseScaling``) are called once per step.

    Parameters
    ----------
    schedule
    t
        Update numbers, 0 for the first update.

    Examples
    --------

    >>> from river import optim
    >>> from online_lr.schedules import learning_rates

    >>> learning_rates(optim.schedulers.InverseScaling(0.1, power=1.0), [0, 1, 3])
    array([0.1  , 0.05 , 0.025])

    """
    if isinstance(schedule, Schedule):
        return schedule.get_many(t)
    t = np.asarray(t)
    rates = [schedule.get(int(step)) for step in t.ravel()]
    return np.asarray(rates, dtype=np.float64).reshape(t.shape)


# Serialisation and configuration

_SCHEDULES: dict[str, type[Schedule]] = {
    cls.__name__: cls
    for cls in (Constant, InverseScaling, Optimal, Exponential, Step, Cosine, Warmup, Plateau)
}
_RIVER_SCHEDULES = ("Constant", "InverseScaling")  # River's own, tagged "river.<name>"
_TAG_NAMES = sorted([*_SCHEDULES, *(f"river.{name}" for name in _RIVER_SCHEDULES)])
_DICT_KEYS = {"type", "params", "state"}


def schedule_to_dict(schedule: optim.base.Scheduler) -> dict:
    """Return a JSON-safe dict from which `schedule_from_dict` rebuilds `schedule`.

    The dict is ``{"type": ..., "params": {...}, "state": {...}}``. A wrapped schedule is
    nested as a dict of the same shape, and a loss is stored by name. River's own
    ``Constant`` and ``InverseScaling`` are tagged ``"river.Constant"`` and
    ``"river.InverseScaling"``.

    Parameters
    ----------
    schedule

    Raises
    ------
    TypeError
        If the schedule, or one of its parameters, has no JSON form.

    Examples
    --------

    >>> import json
    >>> from online_lr.schedules import InverseScaling, Warmup, schedule_to_dict

    >>> print(json.dumps(schedule_to_dict(Warmup(InverseScaling(0.1), warmup_steps=10))))
    {"type": "Warmup", "params": {"schedule": {"type": "InverseScaling",
    "params": {"learning_rate": 0.1, "power": 0.5}, "state": {}}, "warmup_steps": 10,
    "start_factor": 0.0}, "state": {}}

    """
    tag = _tag_of(type(schedule))
    if tag is None:
        raise TypeError(
            f"cannot serialise a {type(schedule).__qualname__}: not one of {_TAG_NAMES}"
        )
    params = {
        name: _param_to_json(tag, name, getattr(schedule, name))
        for name in _param_names(type(schedule))
    }
    state = schedule.get_state() if isinstance(schedule, Schedule) else {}
    return {"type": tag, "params": params, "state": state}


def _tag_of(cls: type) -> str | None:
    if _SCHEDULES.get(cls.__name__) is cls:
        return cls.__name__
    river_schedulers = sys.modules.get("river.optim.schedulers")
    if cls.__name__ in _RIVER_SCHEDULES and getattr(river_schedulers, cls.__name__, None) is cls:
        return f"river.{cls.__name__}"
    return None


def _param_to_json(tag: str, name: str, value: object) -> object:
    if is_scheduler(value):
        return schedule_to_dict(value)
    if _is_river(value, "Loss"):
        loss_name = type(value).__name__
        if loss_name in _LOSSES and getattr(_river_optim().losses, loss_name) is type(value):
            return loss_name
        raise TypeError(f"cannot serialise {tag}.{name}: only the losses {sorted(_LOSSES)} can be")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"cannot serialise {tag}.{name}: {type(value).__name__} has no JSON form")


def schedule_from_dict(data: dict) -> optim.base.Scheduler:
    """Rebuild a schedule, state included, from the output of `schedule_to_dict`.

    Parameters
    ----------
    data

    Raises
    ------
    ValueError
        If the type is unknown, or a parameter or the state is invalid.

    Examples
    --------

    >>> from online_lr.schedules import Plateau, schedule_from_dict, schedule_to_dict

    >>> schedule = Plateau(0.1, period=10)
    >>> schedule.observe(3.0, 4)
    >>> restored = schedule_from_dict(schedule_to_dict(schedule))
    >>> restored.steps_left_in_period()
    6

    """
    if not isinstance(data, dict):
        raise TypeError(f"a schedule dict must be a dict, got {type(data).__name__}")
    if unknown := sorted(set(data) - _DICT_KEYS):
        raise ValueError(f"unknown schedule dict key(s) {unknown}; expected {sorted(_DICT_KEYS)}")
    schedule = _build(_schedule_class(data.get("type")), dict(data.get("params") or {}))
    if state := data.get("state"):
        if not isinstance(schedule, Schedule):
            raise ValueError(f"{data['type']} has no state, got keys {sorted(state)}")
        schedule.set_state(state)
    return schedule


def as_schedule(
    value: optim.base.Scheduler | float | dict, name: str = "learning rate"
) -> optim.base.Scheduler:
    """Turn a config value into a schedule.

    - a number becomes `Constant(value)`;
    - a River scheduler is returned as is;
    - a dict is built: either a flat config dict, ``{"type": "InverseScaling",
      "learning_rate": 0.1, "power": 0.25}``, with a nested dict for `Warmup`'s ``schedule``,
      or the output of `schedule_to_dict`. Type names are case-insensitive.

    Parameters
    ----------
    value
    name
        What the value is, for error messages.

    Raises
    ------
    TypeError
        If `value` is none of the above.
    ValueError
        If a dict names an unknown type, lacks a required parameter or has a bad one.

    Examples
    --------

    >>> from online_lr.schedules import as_schedule

    >>> as_schedule(0.01).get(10)
    0.01
    >>> config = {
    ...     "type": "warmup",
    ...     "warmup_steps": 2,
    ...     "schedule": {"type": "InverseScaling", "learning_rate": 0.1, "power": 1.0},
    ... }
    >>> schedule = as_schedule(config)
    >>> [schedule.get(t) for t in range(4)]
    [0.0, 0.05, 0.1, 0.05]
    >>> as_schedule({"type": "InverseScaling", "learning_rate": 0.1, "powr": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: InverseScaling has no parameter 'powr'; it takes learning_rate, power

    """
    if is_scheduler(value):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return Constant(value)
    if isinstance(value, dict):
        if "params" in value and set(value) <= _DICT_KEYS:
            return schedule_from_dict(value)
        params = dict(value)
        return _build(_schedule_class(params.pop("type", None)), params)
    raise TypeError(
        f"{name} must be a number, a River Scheduler or a dict with a 'type' key, "
        f"got {type(value).__name__} {value!r}"
    )


def _schedule_class(tag: object) -> type[optim.base.Scheduler]:
    if not isinstance(tag, str):
        raise ValueError(f"a schedule needs a 'type' among {_TAG_NAMES}, got {tag!r}")
    for known, cls in _SCHEDULES.items():
        if known.lower() == tag.lower():
            return cls
    for name in _RIVER_SCHEDULES:
        if f"river.{name}".lower() == tag.lower():
            return getattr(_river_optim().schedulers, name)
    raise ValueError(f"unknown schedule type {tag!r}; expected one of {_TAG_NAMES}")


def _param_names(cls: type) -> list[str]:
    return list(inspect.signature(cls).parameters)


def _build(cls: type[optim.base.Scheduler], params: dict) -> optim.base.Scheduler:
    """Call `cls(**params)`, raising ValueError for unknown or missing parameters."""
    signature = inspect.signature(cls).parameters
    if unknown := [name for name in params if name not in signature]:
        raise ValueError(
            f"{cls.__name__} has no parameter {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(signature)}"
        )
    required = [name for name, p in signature.items() if p.default is inspect.Parameter.empty]
    if missing := [name for name in required if name not in params]:
        raise ValueError(f"{cls.__name__} needs the parameter {', '.join(map(repr, missing))}")
    return cls(**params)
