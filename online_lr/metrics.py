"""Streaming (prequential) squared-error metrics.

Each metric follows River's regression-metric protocol (``update``, ``revert``, ``get``), so
it works in `river.evaluate.progressive_val_score`. On top of that, each has a fast path for
the regressor, which already knows the squared error of each prediction:

- ``add(squared_error)`` records one error with weight 1, in a few float operations;
- ``add_many(squared_errors)`` records an array of errors in order, at numpy speed, and
  agrees with calling ``add`` on each element to about 1e-12 relative.

``to_dict()`` and ``from_dict(d)`` give an exact, JSON-safe round trip for checkpoints;
`metric_from_dict` rebuilds any metric of this module from its dict.

The metrics implement River's protocol rather than inherit ``river.metrics.base``: importing
that package loads scipy.stats (about 0.8 s), which every `SGDRegressor` would pay for.

"""

from __future__ import annotations

import abc
import functools
import math
import numbers
import operator

import numpy as np
from river import base

__all__ = ["EWMSE", "MSE", "RollingMSE", "SquaredErrorMetric", "metric_from_dict"]


@functools.lru_cache(maxsize=16)
def _chunk_weights(gain: float, decay: float, size: int) -> np.ndarray:
    """EWMSE's ``gain * decay^(size-1-j)`` for j < size: computed once per smoothing factor."""
    weights = gain * np.power(decay, np.arange(size - 1, -1, -1.0))
    weights.flags.writeable = False
    return weights


def _as_errors(squared_errors: np.ndarray) -> np.ndarray:
    errors = np.asarray(squared_errors, dtype=np.float64)
    if errors.ndim != 1:
        raise ValueError(f"squared_errors must be 1-D, got shape {errors.shape}")
    return errors


class SquaredErrorMetric(base.Base, abc.ABC):
    """Base class of this module's metrics: a River regression metric of squared errors.

    Subclasses implement River's ``update``/``revert``/``get``, the fast path ``add`` and
    ``add_many``, and ``_get_state``/``_set_state`` for `to_dict`/`from_dict`. The rest of
    River's ``RegressionMetric`` interface is here, with the same behaviour.

    Attributes
    ----------
    n
        The number of errors recorded (updates minus reverts).

    """

    n: int

    @abc.abstractmethod
    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        """Record the squared error of one prediction."""

    @abc.abstractmethod
    def revert(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        """Undo an `update` made with the same arguments."""

    @abc.abstractmethod
    def get(self) -> float:
        """The current value of the metric."""

    @abc.abstractmethod
    def add(self, squared_error: float) -> None:
        """Record one squared error, with weight 1."""

    @abc.abstractmethod
    def add_many(self, squared_errors: np.ndarray) -> None:
        """Record an array of squared errors, in order, each with weight 1."""

    @abc.abstractmethod
    def _get_state(self) -> dict:
        """Return the state as a JSON-safe dict."""

    @abc.abstractmethod
    def _set_state(self, state: dict) -> None:
        """Restore a state returned by `_get_state`."""

    @property
    def bigger_is_better(self) -> bool:
        return False

    @property
    def works_with_weights(self) -> bool:
        return True

    def works_with(self, model: base.Estimator) -> bool:
        return isinstance(model, base.Regressor)

    def is_better_than(self, other: SquaredErrorMetric) -> bool:
        op = operator.gt if self.bigger_is_better else operator.lt
        return op(self.get(), other.get())

    def __gt__(self, other: SquaredErrorMetric) -> bool:
        return self.is_better_than(other)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}: {self.get():,.6f}".rstrip("0")

    def __str__(self) -> str:
        return repr(self)

    def to_dict(self) -> dict:
        """Return ``{"type", "params", "state"}``: JSON-safe, and exact through `from_dict`."""
        params = self._get_params()
        return {"type": type(self).__name__, "params": params, "state": self._get_state()}

    @classmethod
    def from_dict(cls, data: dict) -> SquaredErrorMetric:
        """Rebuild a metric from the output of `to_dict`."""
        if data.get("type") != cls.__name__:
            raise ValueError(f"expected a {cls.__name__} dict, got type {data.get('type')!r}")
        metric = cls(**data["params"])
        metric._set_state(data["state"])
        return metric


class MSE(SquaredErrorMetric):
    r"""Mean squared error, weighted by the sample weights.

    $$\text{MSE} = \frac{\sum_i w_i (y_i - \hat{y}_i)^2}{\sum_i w_i}$$

    It keeps the weighted sum of squared errors and the sum of weights, and is 0.0 before the
    first update (like `river.metrics.MSE`, which it equals up to rounding).

    Attributes
    ----------
    n
        The number of errors recorded.
    weight
        The sum of their weights.

    Examples
    --------

    >>> from online_lr.metrics import MSE

    >>> y_true = [3, -0.5, 2, 7]
    >>> y_pred = [2.5, 0.0, 2, 8]

    >>> metric = MSE()
    >>> for yt, yp in zip(y_true, y_pred):
    ...     metric.update(yt, yp)
    ...     print(metric.get())
    0.25
    0.25
    0.1666
    0.375

    The regressor's fast path takes squared errors directly:

    >>> metric.add_many([1.0, 0.5])
    >>> metric.n, metric.get()
    (6, 0.5)

    """

    def __init__(self):
        self.n = 0
        self._weight = 0.0
        self._total = 0.0

    @property
    def weight(self) -> float:
        return self._weight

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        self.n += 1
        self._weight += w
        self._total += w * (y_true - y_pred) ** 2

    def revert(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        if self.n == 0:
            raise ValueError("cannot revert an MSE that holds no errors")
        self.n -= 1
        if self.n == 0:  # drop the rounding residue instead of dividing it by ~0
            self._weight = self._total = 0.0
            return
        self._weight -= w
        self._total -= w * (y_true - y_pred) ** 2

    def add(self, squared_error: float) -> None:
        self.n += 1
        self._weight += 1.0
        self._total += squared_error

    def add_many(self, squared_errors: np.ndarray) -> None:
        errors = _as_errors(squared_errors)
        self.n += len(errors)
        self._weight += len(errors)
        self._total += float(errors.sum())

    def get(self) -> float:
        return self._total / self._weight if self._weight > 0 else 0.0

    def _get_state(self) -> dict:
        return {"n": self.n, "weight": self._weight, "total": self._total}

    def _set_state(self, state: dict) -> None:
        self.n = int(state["n"])
        self._weight = float(state["weight"])
        self._total = float(state["total"])


class RollingMSE(SquaredErrorMetric):
    r"""Mean squared error over the last `window_size` errors.

    The errors sit in a preallocated ring buffer with room for one more than the window, so
    that `revert` can bring back the error its update pushed out. The buffer is a Python list
    rather than a numpy array: reading a numpy element allocates a numpy scalar, which would
    make `add` several times slower.

    The window's running sum is recomputed exactly (`math.fsum`) each time the ring wraps
    round, every `window_size` + 1 errors, so rounding drift cannot accumulate. It is also
    recomputed when the error leaving the window is larger than what remains, since the
    subtraction may then have cancelled most of the remaining digits (say after a burst of
    huge errors from a model that diverged and then recovered).

    The metric is unweighted: ``update`` and ``revert`` raise ValueError if ``w != 1``.
    `revert` only undoes the most recent update still in the window (it checks that the
    error matches to 1e-9 relative, then removes the stored one), unlike `MSE.revert`, which
    removes any error. One revert restores the window exactly; further reverts in a row
    shrink it, since older errors are gone.

    Parameters
    ----------
    window_size
        The number of most recent errors averaged, an integer >= 1.

    Attributes
    ----------
    n
        The number of errors recorded, including those that have left the window.

    Examples
    --------

    >>> from online_lr.metrics import RollingMSE

    >>> y_true = [3, -0.5, 2, 7]
    >>> y_pred = [2.5, 0.0, 2, 8]

    >>> metric = RollingMSE(window_size=2)
    >>> for yt, yp in zip(y_true, y_pred):
    ...     metric.update(yt, yp)
    ...     print(metric.get())
    0.25
    0.25
    0.125
    0.5
    >>> metric.revert(7, 8)
    >>> metric.get()
    0.125

    """

    def __init__(self, window_size: int = 1000):
        is_integer = isinstance(window_size, numbers.Integral) and not isinstance(window_size, bool)
        if not is_integer or window_size < 1:
            raise ValueError(f"window_size must be an integer >= 1, got {window_size!r}")
        self.window_size = int(window_size)
        self.n = 0
        self._errors = [0.0] * (window_size + 1)
        self._next = 0  # slot of the next error
        self._stored = 0  # errors held: the window, plus the last one pushed out if any
        self._total = 0.0  # sum of the errors in the window, recomputed when `_next` wraps

    @property
    def works_with_weights(self) -> bool:
        return False

    @property
    def _size(self) -> int:
        return min(self._stored, self.window_size)

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        _check_unweighted(w)
        self.add((y_true - y_pred) ** 2)

    def revert(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        _check_unweighted(w)
        newest = self._next - 1  # -1 wraps round to the last slot
        squared_error = self._errors[newest]
        if self._stored == 0 or not math.isclose(squared_error, (y_true - y_pred) ** 2):
            raise ValueError("RollingMSE.revert can only undo the most recent update")
        had_pushed_out = self._stored > self.window_size
        self._next = newest % len(self._errors)
        self._stored -= 1
        self.n -= 1
        self._total -= squared_error
        if had_pushed_out:
            self._total += self._errors[self._next - self.window_size]
        if squared_error > self._total:
            self._refresh()

    def add(self, squared_error: float) -> None:
        errors = self._errors
        slot = self._next
        oldest = 0.0
        if self._stored >= self.window_size:
            oldest = errors[slot - self.window_size]
            self._total += squared_error - oldest
            self._stored = len(errors)
        else:
            self._total += squared_error
            self._stored += 1
        errors[slot] = squared_error
        self.n += 1
        self._next = slot + 1 if slot < self.window_size else 0
        if self._next == 0 or oldest > self._total:  # wrapped round, or cancellation
            self._refresh()

    def add_many(self, squared_errors: np.ndarray) -> None:
        errors = _as_errors(squared_errors)
        capacity = len(self._errors)
        self.n += len(errors)
        if len(errors) >= capacity:  # only the last `capacity` errors matter
            self._errors[:] = errors[-capacity:].tolist()
            self._next = 0
            self._stored = capacity
            self._refresh()
            return
        values = errors.tolist()
        size_before = self._size
        self._stored = min(self._stored + len(values), capacity)
        leaving = self._ring_slice(self._next - size_before, size_before + len(values) - self._size)
        self._ring_write(self._next, values)
        wraps = self._next + len(values) >= capacity
        self._next = (self._next + len(values)) % capacity
        removed = math.fsum(leaving)
        self._total += math.fsum(values) - removed
        if wraps or removed > self._total:
            self._refresh()

    def get(self) -> float:
        return self._total / self._size if self._stored else 0.0

    def _refresh(self) -> None:
        self._total = math.fsum(self._ring_slice(self._next - self._size, self._size))

    def _ring_slice(self, start: int, count: int) -> list[float]:
        """Return `count` errors from ring slot `start` on (taken modulo the capacity)."""
        capacity = len(self._errors)
        start %= capacity
        end = start + count
        if end <= capacity:
            return self._errors[start:end]
        return self._errors[start:] + self._errors[: end - capacity]

    def _ring_write(self, start: int, values: list[float]) -> None:
        """Write at most `capacity` values from ring slot `start` on, wrapping round."""
        first = min(len(values), len(self._errors) - start)
        self._errors[start : start + first] = values[:first]
        self._errors[: len(values) - first] = values[first:]

    def _get_state(self) -> dict:
        return {
            "n": self.n,
            "errors": list(self._errors),
            "next": self._next,
            "stored": self._stored,
            "total": self._total,
        }

    def _set_state(self, state: dict) -> None:
        if len(state["errors"]) != self.window_size + 1:
            raise ValueError(
                f"errors must hold window_size + 1 = {self.window_size + 1} values, "
                f"got {len(state['errors'])}"
            )
        self.n = int(state["n"])
        self._errors = [float(e) for e in state["errors"]]
        self._next = int(state["next"])
        self._stored = int(state["stored"])
        self._total = float(state["total"])


def _check_unweighted(w: float) -> None:
    if w != 1.0:
        raise ValueError(f"RollingMSE is unweighted: w must be 1, got {w!r}")


class EWMSE(SquaredErrorMetric):
    r"""Exponentially weighted mean squared error, bias-corrected like Adam's moments.

    With $e_i$ the $i$-th squared error and $\beta = 1 - \alpha$:

    $$m_t = \beta m_{t-1} + \alpha e_t, \quad m_0 = 0, \qquad
    \text{EWMSE}_t = \frac{m_t}{1 - \beta^t}$$

    Without the correction, the first values would be pulled towards $m_0 = 0$. With it, the
    first value is $e_1$, and every value is a weighted mean of the errors seen so far, with
    weights proportional to $\beta^{t-i}$. It is 0.0 before the first update.

    A sample weight $w$ counts as $w$ repetitions of the error: the update is
    $m \leftarrow \beta^w m + (1 - \beta^w) e$, and $t$ becomes the sum of the weights.
    `revert` undoes the most recent update (the average is ordered, so removing an older error
    has no meaning).

    The correction $1 - \beta^t$ is computed in closed form from $t$, not by recursion: a
    recursion drifts by about 1e-12 relative over a million updates when $\alpha$ is small.
    So that the weights of $m_t$ sum to exactly that, the code multiplies $e_t$ by
    $1 - \beta$ computed from the rounded $\beta$, rather than by $\alpha$ itself; the two
    differ by one rounding of $\beta$ (relatively 1e-16 / $\alpha$).

    Parameters
    ----------
    alpha
        $\alpha$, the weight of the newest error, in $(0, 1)$. The memory is about
        $1 / \alpha$ errors.

    Attributes
    ----------
    n
        The number of errors recorded.
    weight
        $t$, the sum of their weights.

    Examples
    --------

    >>> from online_lr.metrics import EWMSE

    >>> y_true = [3, -0.5, 2, 7]
    >>> y_pred = [2.5, 0.0, 2, 8]

    >>> metric = EWMSE(alpha=0.5)
    >>> for yt, yp in zip(y_true, y_pred):
    ...     metric.update(yt, yp)
    ...     print(metric.get())
    0.25
    0.25
    0.1071
    0.5833

    """

    _CHUNK = 4096  # add_many works in chunks so that its temporary arrays stay small

    def __init__(self, alpha: float = 0.01):
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
            raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}")
        self.alpha = float(alpha)
        self._decay = 1.0 - self.alpha
        self._gain = 1.0 - self._decay
        self._log_decay = math.log(self._decay)
        self.n = 0
        self._weight = 0.0
        self._numerator = 0.0  # m_t

    @property
    def weight(self) -> float:
        return self._weight

    def update(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        squared_error = (y_true - y_pred) ** 2
        if w == 1.0:
            self.add(squared_error)
            return
        decay = math.exp(w * self._log_decay)
        gain = -math.expm1(w * self._log_decay)
        self._numerator = decay * self._numerator + gain * squared_error
        self._weight += w
        self.n += 1

    def revert(self, y_true: float, y_pred: float, w: float = 1.0) -> None:
        if self.n == 0:
            raise ValueError("cannot revert an EWMSE that holds no errors")
        self.n -= 1
        if self.n == 0:  # drop the rounding residue
            self._numerator = self._weight = 0.0
            return
        decay = self._decay if w == 1.0 else math.exp(w * self._log_decay)
        gain = self._gain if w == 1.0 else -math.expm1(w * self._log_decay)
        self._numerator = (self._numerator - gain * (y_true - y_pred) ** 2) / decay
        self._weight -= w

    def add(self, squared_error: float) -> None:
        self._numerator = self._decay * self._numerator + self._gain * squared_error
        self._weight += 1.0
        self.n += 1

    def add_many(self, squared_errors: np.ndarray) -> None:
        # Over a chunk e_1..e_k: m <- beta^k m + sum_j (1 - beta) beta^(k-j) e_j. The powers are
        # computed directly, never by division, so long arrays are safe: old errors' weights
        # underflow to 0, as they do in the add loop.
        errors = _as_errors(squared_errors)
        if len(errors) == 0:
            return
        chunk = min(len(errors), self._CHUNK)
        weights = _chunk_weights(self._gain, self._decay, self._CHUNK)[self._CHUNK - chunk :]
        for start in range(0, len(errors), chunk):
            block = errors[start : start + chunk]
            carry = math.pow(self._decay, len(block))
            self._numerator = carry * self._numerator + float(weights[chunk - len(block) :] @ block)
        self._weight += len(errors)
        self.n += len(errors)

    def get(self) -> float:
        if self._weight <= 0:
            return 0.0
        return self._numerator / -math.expm1(self._weight * self._log_decay)

    def _get_state(self) -> dict:
        return {"n": self.n, "weight": self._weight, "numerator": self._numerator}

    def _set_state(self, state: dict) -> None:
        self.n = int(state["n"])
        self._weight = float(state["weight"])
        self._numerator = float(state["numerator"])


_METRICS: dict[str, type[SquaredErrorMetric]] = {
    cls.__name__: cls for cls in (MSE, RollingMSE, EWMSE)
}


def metric_from_dict(data: dict) -> SquaredErrorMetric:
    """Rebuild any metric of this module from the output of its `to_dict`.

    Examples
    --------

    >>> import json
    >>> from online_lr.metrics import RollingMSE, metric_from_dict

    >>> metric = RollingMSE(window_size=3)
    >>> metric.add_many([1.0, 2.0, 3.0, 4.0])
    >>> restored = metric_from_dict(json.loads(json.dumps(metric.to_dict())))
    >>> restored.get(), restored.n
    (3.0, 4)

    """
    cls = _METRICS.get(data.get("type"))
    if cls is None:
        raise ValueError(
            f"unknown metric type {data.get('type')!r}; expected one of {sorted(_METRICS)}"
        )
    return cls.from_dict(data)
