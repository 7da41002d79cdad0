"""`SGDRegressor`: linear regression learned one sample (or one mini-batch) at a time.

Every path is a thin layer over one update rule, `online_lr._kernels.learn_row` (a batch:
`learn_batch`, the same `apply_step` on a mean gradient):

- `learn_one`/`predict_one` map a dict to feature indices and values (`online_lr._dictpath`,
  in C) and call the rule through its C entry point;
- `learn_rows` runs it over the rows of an array and returns what became of each row;
  `learn_sequential` is `learn_rows` that raises at the first refused row;
- `learn_many` is `learn_batch`.

The loops are compiled for the model's options (`online_lr._kernels.rule_for`).

The state is `online_lr._state.State`, named there, saved by name.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from river import base

from online_lr import _checks, _frames, _state, metrics, schedules
from online_lr.exceptions import DivergenceError

if TYPE_CHECKING:
    from river import optim

try:
    from online_lr import _dictpath as _dict_path
except ImportError:  # the C extension was not built: same results, slower
    from online_lr import _dictpath_py as _dict_path

__all__ = ["LearnOutcome", "SGDRegressor", "refusal_message"]

MODEL_FORMAT = "online-lr-model"
MODEL_FORMAT_VERSION = 2
CHECKPOINT_FORMAT = "online-lr-checkpoint"

_UPDATE_RULES = ("sgd", "normalized")
_SQUARED = 0  # the kernels' code of the squared loss, the default (others: `_builtin_losses`)
_CUSTOM_LOSS = -1
_ERRORS_PER_FLUSH = 16384
# Blocks up to this many rows write their errors into the pending buffer, grown to fit once:
# fresh arrays would cost their pages' first touch, about as much as the updates of a block.
_MOST_ERRORS_BUFFERED = 1 << 18
_UNIT_WEIGHT = np.ones(1)
_LEARNED = _state.ROW_OUTCOMES.index("learned")
_NON_FINITE_FEATURE = _state.ROW_OUTCOMES.index("non_finite_feature")
_P = _state.P
_DIVERGENCE_HINT = (
    "lower the learning rate, keep standardize=True, scale the features "
    "(e.g. river.preprocessing.StandardScaler) or use update='normalized'"
)


@dataclass(frozen=True)
class LearnOutcome:
    """What `SGDRegressor.learn_rows` did with each row.

    Attributes
    ----------
    predictions
        Row i's prediction, made just before row i was learned (NaN if its features are not
        finite).
    codes
        Row i's outcome as an index into `REASONS`: 0 = learned (or only predicted, for a
        row not to be learned), else why it was refused.

    """

    REASONS = _state.ROW_OUTCOMES

    predictions: np.ndarray
    codes: np.ndarray

    @property
    def refused(self) -> np.ndarray:
        """Boolean mask of the refused rows."""
        return self.codes != _LEARNED

    def reasons(self) -> list[tuple[int, str]]:
        """``(row, reason)`` of every refused row, e.g. ``(3, "non_finite_feature")``."""
        return [(int(i), self.REASONS[self.codes[i]]) for i in np.flatnonzero(self.refused)]


_REFUSAL_MESSAGES = {
    "non_finite_feature": "a feature is NaN or infinite",
    "non_finite_target": "the target is NaN or infinite",
    "diverged": "update refused: it would make the model's weights non-finite; "
    + _DIVERGENCE_HINT,
}


def refusal_message(reason: str) -> str:
    """A human sentence for a `LearnOutcome` reason code."""
    return _REFUSAL_MESSAGES[reason]


class SGDRegressor(base.MiniBatchRegressor):
    """Linear regression trained online by stochastic gradient descent.

    Each `learn_one` call makes one gradient step on the sample's loss (by default the squared
    error, whose gradient is ``2 (ŷ - y) x``); `learn_many` makes one step on the mean gradient of
    a mini-batch, as River does; `learn_sequential` makes one step per row of an array, exactly as
    a `learn_one` loop would, in compiled code. The model tracks its prequential error (the error
    of the prediction made just before each update: `running_mse`, `rolling_mse`, `ewm_mse`) and
    that of the running-mean baseline (`baseline_running_mse`, `baseline_rolling_mse`), so that a
    model worse than a constant can be told.

    By default (``standardize=True``) raw data of any scale learns as is: the features and the
    target are standardized online inside the learner (running mean and variance, Welford), the
    weights learn in standardized units, and `weights`/`intercept` report them in the data's
    own units. Standardization follows River's `StandardScaler`: a feature's statistics cover
    the rows it appears in, and a feature absent from a sample contributes 0. A feature that has
    shown one value only (an indicator such as one-hot ``city=paris: 1``, or a constant) is
    divided by that value's magnitude instead, so it enters as 1 where present and learns.

    With ``standardize=False``, ``update="sgd"``, ``intercept_init=0.0`` and the same rates,
    this model takes the same steps as
    ``river.linear_model.LinearRegression(optimizer=optim.SGD(lr), intercept_lr=lr)``.

    Parameters
    ----------
    learning_rate
        Rate of the weights: a float or a schedule from `online_lr.schedules` (any
        `river.optim.base.Scheduler` works).
    intercept_lr
        Rate of the intercept, a float or a schedule. 0 (or ``Constant(0)``) freezes the
        intercept.
    intercept_init
        Initial intercept, or ``"auto"`` to start it at the first target learned (the mean
        target of the first batch for `learn_many`), which spares the weights a long warm-up.
        Without standardization only: a standardized model centres the target itself.
    l2
        Strength of the L2 penalty ``l2 * w`` added to the gradient of the weights of the
        features present in a sample.
    l1
        Strength of the L1 penalty, applied with the cumulative penalty of Tsuruoka et al.
        (2009) as River does.
    clip_gradient
        Bound on the absolute value of the loss gradient.
    loss
        A River regression loss: `Squared` (default), `Absolute`, `Huber`, `Quantile`,
        `EpsilonInsensitiveHinge` and `Cauchy` run compiled; any other object with a
        ``gradient(y_true, y_pred)`` method is called from Python. With standardization the
        loss sees the standardized target, so a parameter in the target's units (Huber's
        epsilon, ...) is in standard deviations.
    update
        ``"sgd"``: plain steps ``w -= lr * g``. ``"normalized"``: the scale-free normalized
        adaptive rule of Vowpal Wabbit (NAG, Ross et al., 2013): per-feature steps divided by
        the largest magnitude seen and by the root of the summed squared gradients. Good rates
        are then near 0.1–1.
    averaged
        Predict with the running (Polyak–Ruppert) average of the weights, which smooths the
        noise of constant-rate SGD.
    standardize
        Standardize the features and the target online (see above). ``False`` learns on the
        raw values, as River's `LinearRegression` does.
    mse_window
        Window of `rolling_mse` and `baseline_rolling_mse`.
    mse_alpha
        Smoothing factor of `ewm_mse`.

    Attributes
    ----------
    weights : dict
        Feature name -> weight, in the data's units: ``intercept + sum(w * x)`` is
        `predict_one` for a sample holding every feature learned so far.
    intercept : float
    running_mse : float
        Prequential mean squared error over every learned sample.
    rolling_mse : float
        Prequential MSE over the last `mse_window` learned samples.
    ewm_mse : float
        Exponentially weighted prequential MSE.
    baseline_running_mse, baseline_rolling_mse : float
        The same for the running-mean baseline: the error of predicting, for each sample, the
        mean of the targets learned before it.
    n_updates : int
        Number of gradient steps made (the schedules' ``t``).

    Examples
    --------
    >>> from river import datasets, evaluate, metrics, preprocessing
    >>> from online_lr import SGDRegressor

    Raw features of any scale (TrumpApproval's ordinal date is about 7e5), no scaler:

    >>> evaluate.progressive_val_score(datasets.TrumpApproval(), SGDRegressor(), metrics.MSE())
    MSE: 2.10739

    A scaler in front still works (it standardizes twice, harmlessly):

    >>> model = preprocessing.StandardScaler() | SGDRegressor()
    >>> evaluate.progressive_val_score(datasets.TrumpApproval(), model, metrics.MSE())
    MSE: 2.307169

    The weights are in the data's units:

    >>> model = SGDRegressor()
    >>> for x, y in datasets.TrumpApproval():
    ...     model.learn_one(x, y)
    >>> x = next(iter(datasets.TrumpApproval()))[0]
    >>> round(model.intercept + sum(model.weights[k] * v for k, v in x.items()), 9) == round(
    ...     model.predict_one(x), 9)
    True
    >>> model.running_mse < model.baseline_running_mse
    True

    Full-batch gradient descent on the MSE is `learn_many` on the whole data set:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    >>> gd = SGDRegressor(learning_rate=0.1, intercept_lr=0.1, intercept_init=0.0,
    ...                   standardize=False)
    >>> for _ in range(500):
    ...     gd.learn_many(X, y)
    >>> np.round([gd.weights[j] for j in range(3)] + [gd.intercept], 4)
    array([ 1. , -2. ,  0.5,  3. ])

    References
    ----------
    [^1]: Bottou, L., 2012. Stochastic gradient descent tricks. Neural Networks: Tricks of the
        Trade, pp. 421-436.
    [^2]: Ross, S., Mineiro, P. and Langford, J., 2013. Normalized online learning. UAI.
    [^3]: Tsuruoka, Y., Tsujii, J. and Ananiadou, S., 2009. Stochastic gradient descent training
        for L1-regularized log-linear models with cumulative penalty. ACL.

    """

    def __init__(
        self,
        learning_rate: float | optim.base.Scheduler = 0.01,
        intercept_lr: float | optim.base.Scheduler = 0.01,
        intercept_init: float | str = "auto",
        l2: float = 0.0,
        l1: float = 0.0,
        clip_gradient: float = 1e12,
        loss: optim.losses.RegressionLoss | None = None,
        update: str = "sgd",
        averaged: bool = False,
        standardize: bool = True,
        mse_window: int = 1000,
        mse_alpha: float = 0.01,
    ):
        self.learning_rate = learning_rate
        self.intercept_lr = intercept_lr
        self.intercept_init = intercept_init
        self.l2 = l2
        self.l1 = l1
        self.clip_gradient = clip_gradient
        self.loss = loss
        self.update = update
        self.averaged = averaged
        self.standardize = standardize
        self.mse_window = mse_window
        self.mse_alpha = mse_alpha
        self._validate_params()

        self._state = _state.State()
        if intercept_init != "auto" and not standardize:
            self._state.set_scalar("intercept", float(intercept_init))
            self._state.set_scalar("intercept_average", float(intercept_init))
            self._state.set_scalar("intercept_started", 1.0)
        self._params = np.zeros(len(_state.PARAM_FIELDS))
        self._rule = None  # the kernels compiled for the options, fetched on first use
        self._rows = None  # the dict path, made on first use (it loads the kernels)
        self._y_name = None
        self._refresh_derived()

        self._running = metrics.MSE()
        self._rolling = metrics.RollingMSE(window_size=mse_window)
        self._ewm = metrics.EWMSE(alpha=mse_alpha)
        self._baseline_running = metrics.MSE()
        self._baseline_rolling = metrics.RollingMSE(window_size=mse_window)
        # The errors of learned rows not yet in the metrics: squared, then baseline.
        self._pending = np.empty((2, _ERRORS_PER_FLUSH))
        self._pending_count = 0

    # Parameters

    def _validate_params(self) -> None:
        for name in ("l2", "l1"):
            value = getattr(self, name)
            if not _checks.is_real(value) or not value >= 0 or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not _checks.is_real(self.clip_gradient) or not self.clip_gradient > 0:
            raise ValueError(f"clip_gradient must be > 0, got {self.clip_gradient!r}")
        if self.intercept_init != "auto" and not (
            _checks.is_real(self.intercept_init) and math.isfinite(self.intercept_init)
        ):
            raise ValueError(
                f"intercept_init must be a finite number or 'auto', got {self.intercept_init!r}"
            )
        if self.update not in _UPDATE_RULES:
            raise ValueError(f"update must be one of {_UPDATE_RULES}, got {self.update!r}")
        if self.loss is not None and not callable(getattr(self.loss, "gradient", None)):
            raise TypeError(
                f"loss must be a River regression loss or any object with a "
                f"gradient(y_true, y_pred) method, got {self.loss!r}"
            )
        for name in ("averaged", "standardize"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.mse_window, int) or self.mse_window < 1:
            raise ValueError(f"mse_window must be an int >= 1, got {self.mse_window!r}")
        if not _checks.is_real(self.mse_alpha) or not 0 < self.mse_alpha < 1:
            raise ValueError(f"mse_alpha must be in (0, 1), got {self.mse_alpha!r}")

    def _refresh_derived(self) -> None:
        """Derive the schedules and the kernels' parameter array from the parameters."""
        self._lr = _as_rate(self.learning_rate, "learning_rate")
        self._intercept_lr_schedule = _as_rate(self.intercept_lr, "intercept_lr")
        adaptive = [s for s in (self._lr, self._intercept_lr_schedule) if _is_adaptive(s)]
        self._adaptive = list({id(s): s for s in adaptive}.values())
        self._constant_rates = all(
            schedules.constant_rate(s) is not None for s in (self._lr, self._intercept_lr_schedule)
        )
        code, param_name = (_SQUARED, None) if self.loss is None else _builtin_losses().get(
            type(self.loss), (_CUSTOM_LOSS, None))
        P = self._params
        P[_P["loss"]] = max(code, 0)
        P[_P["loss_param"]] = float(getattr(self.loss, param_name)) if param_name else 0.0
        self._custom_loss = code == _CUSTOM_LOSS
        P[_P["rule"]] = _UPDATE_RULES.index(self.update)
        P[_P["l2"]], P[_P["l1"]] = float(self.l2), float(self.l1)
        P[_P["clip"]] = float(self.clip_gradient)
        P[_P["averaged"]] = float(self.averaged)
        P[_P["auto_intercept"]] = float(self.intercept_init == "auto")
        P[_P["standardize"]] = float(self.standardize)
        self._rule = None
        self._set_rates()

    def _set_rates(self) -> None:
        """Write the rates of the next step into the kernels' parameters."""
        t = int(self._state.scalars[_state.S["steps"]])
        P = self._params
        lrs, stride = _rates(self._lr, t, 2)  # as the blocks compute them, to the bit
        P[_P["lr"]], P[_P["lr_next"]] = lrs[0], lrs[stride]
        P[_P["intercept_lr"]] = _rates(self._intercept_lr_schedule, t, 1)[0][0]

    def mutate(self, new_attrs: dict) -> None:
        super().mutate(new_attrs)
        self._validate_params()
        self._refresh_derived()

    @property
    def _mutable_attributes(self) -> set[str]:
        return {"learning_rate", "intercept_lr", "l2", "l1", "clip_gradient"}

    @classmethod
    def _unit_test_params(cls):
        # River's checks stream raw TrumpApproval (ordinal_date ~ 7e5): the default model
        # standardizes it, the scale-free rule learns it as is, plain SGD needs a tiny rate.
        yield {}
        yield {"update": "normalized", "learning_rate": 0.1, "standardize": False}
        yield {"learning_rate": 1e-12, "intercept_lr": 0.1, "standardize": False}
        yield {"update": "normalized", "averaged": True, "l1": 0.001}

    def _unit_test_skips(self) -> set[str]:
        # learn_many takes one mean-gradient step per batch, as River's linear models do: it is
        # deliberately not a learn_one loop (that is learn_sequential's job).
        return {"check_learn_many_matches_learn_one"}

    def __getstate__(self) -> dict:
        self._flush_errors()
        return {k: v for k, v in self.__dict__.items() if k not in ("_rows", "_pending")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._rows = None
        self._pending = np.empty((2, _ERRORS_PER_FLUSH))

    # Learned state

    @property
    def weights(self) -> dict:
        names = self._state.names
        w = np.empty(len(names))
        self._effective_weights(np.arange(len(names)), w)
        return dict(zip(names, w.tolist()))

    @property
    def intercept(self) -> float:
        out = np.empty(self._state.size)
        return self._effective_weights(np.arange(out.shape[0]), out)

    def _effective_weights(self, idx: np.ndarray, out: np.ndarray) -> float:
        state = self._state
        return float(_compiled_kernels().effective_weights(
            self._compiled_rule().options, state.features, state.scalars, idx, out
        ))

    @property
    def n_updates(self) -> int:
        return int(self._state.scalar("steps"))

    def load_kernels(self) -> None:
        """Import numba and make the kernels of this model's options now rather than at the
        first update (most of a second), e.g. in a thread while a consumer waits for its first
        messages; each kernel then reads its machine code from numba's cache at its first call
        (milliseconds). Learned state is left alone; an update meanwhile waits for the import."""
        self._compiled_rule()

    def _compiled_rule(self):
        """The kernels compiled for this model's options (`online_lr._kernels.rule_for`)."""
        if self._rule is None:
            kernels = _compiled_kernels()
            self._rule = kernels.rule_for(kernels.options_of(self._params))
        return self._rule

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._state.features, self._state.scalars, self._params

    def set_parameters(self, weights: Mapping, intercept: float) -> None:
        """Replace the weights and the intercept (in the data's units, as `weights` reports
        them), e.g. by an average over several models.

        Features absent from ``weights`` keep their weight. The rest of the state (step count,
        optimizer, averaging and standardization state, metrics) is kept: learning continues
        from the new parameters as if it had reached them itself.
        """
        values = {k: float(v) for k, v in weights.items()}
        if not all(math.isfinite(v) for v in values.values()) or not math.isfinite(intercept):
            raise ValueError("weights and intercept must be finite")
        state = self._state
        current = self.weights
        current.update(values)
        idx = state.indices(list(current))
        w = np.array(list(current.values()))
        b = float(intercept)
        if self.standardize:
            F = state.features
            center_y, scale_y = _compiled_kernels().target_transform(
                *(state.scalar(name) for name in ("y_count", "y_mean", "y_m2"))
            )
            for k, j in enumerate(idx):
                center, gain = _compiled_kernels().feature_transform(
                    F[_state.F["count"], j], F[_state.F["mean"], j], F[_state.F["m2"], j]
                )
                b += w[k] * center
                w[k] /= gain * scale_y
            b = (b - center_y) / scale_y
        for row in ("weight", "average") if self.averaged else ("weight",):
            state.features[_state.F[row], idx] = w
        state.set_scalar("intercept", b)
        state.set_scalar("intercept_average", b)
        state.set_scalar("intercept_started", 1.0)

    @property
    def learning_rate_now(self) -> float:
        """The rate the next weight update will use."""
        return float(self._lr.get(self.n_updates))

    @property
    def running_mse(self) -> float:
        self._flush_errors()
        return self._running.get()

    @property
    def rolling_mse(self) -> float:
        self._flush_errors()
        return self._rolling.get()

    @property
    def ewm_mse(self) -> float:
        self._flush_errors()
        return self._ewm.get()

    @property
    def baseline_running_mse(self) -> float:
        """Prequential MSE of the running-mean baseline over every learned sample."""
        self._flush_errors()
        return self._baseline_running.get()

    @property
    def baseline_rolling_mse(self) -> float:
        """Prequential MSE of the running-mean baseline over the last `mse_window` samples."""
        self._flush_errors()
        return self._baseline_rolling.get()

    # The prequential errors are folded into the metrics in large blocks, when a metric is
    # read or the pending buffer is full: the kernels write a block's errors straight into the
    # buffer (`_error_slots`), learn_one's are collected by the dict path, all kept in order.

    def _error_slots(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Arrays for the kernels to write the errors of up to ``n`` learned rows into: the
        next slots of the pending buffer, or arrays of their own for a block larger than it."""
        rows = self._rows
        if rows is not None and rows.pending:  # keep the order of single and block updates
            self._take_dict_path_errors(rows)
        if self._pending_count + n > self._pending.shape[1]:
            self._flush_errors()
            if n > _MOST_ERRORS_BUFFERED:
                return np.empty(n), np.empty(n)
            if n > self._pending.shape[1]:
                self._pending = np.empty((2, n))
        start = self._pending_count
        return self._pending[0, start:start + n], self._pending[1, start:start + n]

    def _record_errors(self, squared_errors: np.ndarray, baseline_errors: np.ndarray) -> None:
        """Count the first errors of slots from `_error_slots` as recorded."""
        if squared_errors.base is self._pending:
            self._pending_count += squared_errors.shape[0]
        else:
            self._add_to_metrics(squared_errors, baseline_errors)

    def _take_dict_path_errors(self, rows) -> None:
        n = rows.pending
        rows.pending = 0
        squared_errors, baseline_errors = self._error_slots(n)
        squared_errors[:] = rows.errors[:n]
        baseline_errors[:] = rows.baseline_errors[:n]
        self._record_errors(squared_errors, baseline_errors)

    def _flush_errors(self) -> None:
        rows = self._rows
        if rows is not None and rows.pending:
            self._take_dict_path_errors(rows)
        n, self._pending_count = self._pending_count, 0
        if n:
            self._add_to_metrics(self._pending[0, :n], self._pending[1, :n])

    def _add_to_metrics(self, squared_errors: np.ndarray, baseline_errors: np.ndarray) -> None:
        for tracker in (self._running, self._rolling, self._ewm):
            tracker.add_many(squared_errors)
        for tracker in (self._baseline_running, self._baseline_rolling):
            tracker.add_many(baseline_errors)

    def _after_block(self, squared_errors: np.ndarray) -> None:
        """Between blocks: feed the learned rows' errors to the adaptive schedules (`Plateau`),
        whose rate changes only here, then set the rates of the next step."""
        for schedule in self._adaptive:
            start = 0
            while start < squared_errors.shape[0]:
                stop = start + schedule.steps_left_in_period()
                block = squared_errors[start:stop]
                schedule.observe(float(block.sum()), int(block.shape[0]))
                start = stop
        if not self._constant_rates or self._adaptive:
            self._set_rates()

    # Single instance methods

    def _dict_rows(self):
        """The dict path over this model's state (made once: it loads the kernels), bound to
        the state's current arrays: a block with new features may have grown them since."""
        rows = self._rows
        if rows is not None and rows.features is self._state.features:
            return rows
        if rows is None:
            entry_points = _compiled_kernels().c_entry_points()
            self._rows = _dict_path.DictRows(
                entry_points, self._state, self._params, _state.SCRATCH_ROWS, _ERRORS_PER_FLUSH,
                self._flush_errors,
            )
        else:
            self._rows.bind(self._state, self._params)
        return self._rows

    def predict_one(self, x: dict) -> float:
        rows = self._dict_rows()
        try:
            y_pred = rows.predict(x)
        except TypeError:
            y_pred = math.nan
        if y_pred - y_pred == 0.0:  # finite
            return y_pred
        _checks.raise_for_bad_features(x)
        raise DivergenceError(
            f"the prediction overflows: the features are too large for the weights; "
            f"{_DIVERGENCE_HINT}"
        )

    def learn_one(self, x: dict, y: float, w: float = 1.0) -> None:
        if not (type(y) is float and y - y == 0.0):
            y = _checks.check_target(y)
        if w != 1.0:
            w = _checks.check_sample_weight(w)
        if self._custom_loss:
            self._learn_one_custom(x, y, w)
            return
        rows = self._dict_rows()
        try:
            code = rows.learn(x, y, w)
        except TypeError:
            code = _NON_FINITE_FEATURE
        if code:
            if code == _NON_FINITE_FEATURE:
                _checks.raise_for_bad_features(x)
            raise DivergenceError(
                refusal_message(_state.ROW_OUTCOMES[code]), row=0, predictions=np.empty(0)
            )
        if not self._constant_rates:
            if self._adaptive:
                self._flush_errors()
                self._after_block(np.array([(rows.last_prediction - y) ** 2]))
            else:
                self._set_rates()

    def _learn_one_custom(self, x: dict, y: float, w: float) -> None:
        """A loss the kernels do not know: the sample as a one-row batch (the same step)."""
        self.predict_one(x)  # validates x
        names = list(x)
        code = self._learn_batch(names, np.array([[float(x[k]) for k in names]]), np.array([y]),
                                 np.array([w]), 1)
        if code:
            raise DivergenceError(refusal_message(_state.ROW_OUTCOMES[code]), row=0,
                                  predictions=np.empty(0))

    # Blocks of rows

    def learn_rows(
        self,
        X,
        y,
        learn: np.ndarray | None = None,
        columns: Iterable[Hashable] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> LearnOutcome:
        """Learn the rows of ``X`` in order, one step per row, skipping the rows it refuses.

        The method for a stream: a refused row (a NaN or an infinity, or an update the
        divergence guard refuses) is reported in the outcome and skipped, and the
        rows after it are learned. Parameters as in `learn_sequential`.

        Examples
        --------
        >>> import numpy as np
        >>> from online_lr import SGDRegressor
        >>> X = np.array([[1.0], [np.nan], [3.0]])
        >>> outcome = SGDRegressor().learn_rows(X, np.array([1.0, 2.0, 3.0]))
        >>> outcome.reasons()
        [(1, 'non_finite_feature')]

        """
        names, X, y, learn, weights = self._block_arguments(X, y, columns, learn, sample_weight)
        return self._learn_block(names, X, y, learn, weights, stop_at_refusal=False)

    def learn_rows_sparse(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        values: np.ndarray,
        y,
        columns: Sequence[Hashable],
        learn: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> LearnOutcome:
        """`learn_rows` on the rows of a CSR matrix, e.g. `FeatureEncoder.encode_many`'s.

        Row i holds the features ``columns[indices[j]]`` with values ``values[j]`` for ``j`` in
        ``indptr[i]:indptr[i + 1]``; a feature absent from a row is not part of it (the same
        row as a dict without that key: 0 in standardized space, its statistics left alone).
        The same update rule as `learn_one`, one step per row.

        Examples
        --------
        >>> import numpy as np
        >>> from online_lr import SGDRegressor
        >>> a, b = SGDRegressor(), SGDRegressor()
        >>> rows = [{"u": 1.0}, {"v": 2.0}, {"u": 3.0, "v": 1.0}]
        >>> outcome = a.learn_rows_sparse(np.array([0, 1, 2, 4]), np.array([0, 1, 0, 1]),
        ...                               np.array([1.0, 2.0, 3.0, 1.0]), [1.0, 2.0, 3.0],
        ...                               columns=["u", "v"])
        >>> for x, target in zip(rows, [1.0, 2.0, 3.0]):
        ...     b.learn_one(x, target)
        >>> all(abs(a.weights[k] - b.weights[k]) < 1e-12 for k in ("u", "v"))
        True

        """
        indptr, indices, values, y, learn, weights = self._sparse_arguments(
            indptr, indices, values, y, columns, learn, sample_weight)
        n = len(y)
        predictions = np.empty(n)  # the kernel writes every row's
        codes = np.zeros(n, dtype=_state.OUTCOME_DTYPE)
        if self._custom_loss:
            predictions.fill(np.nan)
            for i in range(n):  # each row a block of its own features
                cols = indices[indptr[i]:indptr[i + 1]]
                self._learn_rows_custom(
                    [columns[c] for c in cols], values[indptr[i]:indptr[i + 1]][None, :],
                    y[i:i + 1], learn[i:i + 1], None if weights is None else weights[i:i + 1],
                    False, predictions[i:i + 1], codes[i:i + 1])
            return LearnOutcome(predictions, codes)
        state_indices = self._state.indices(list(columns))[indices]
        rates, n_learn = self._step_rates(learn, weights)
        squared_errors, baseline_errors = self._error_slots(n_learn)
        learned = self._compiled_rule().learn_rows_sparse(
            indptr, state_indices, values, y, learn, *rates, *self._arrays(), False,
            predictions, codes, squared_errors, baseline_errors,
        )
        self._record_errors(squared_errors[:learned], baseline_errors[:learned])
        self._after_block(squared_errors[:learned])
        return LearnOutcome(predictions, codes)

    @staticmethod
    def _sparse_arguments(indptr, indices, values, y, columns, learn, sample_weight):
        indptr = np.ascontiguousarray(indptr, dtype=np.int64)
        indices = np.ascontiguousarray(indices, dtype=np.int64)
        values = np.ascontiguousarray(values, dtype=np.float64)
        y = _frames.as_vector(y)
        n = len(y)
        if indptr.shape != (n + 1,) or indptr[0] != 0 or (np.diff(indptr) < 0).any():
            raise ValueError(f"indptr must be {n + 1} non-decreasing offsets from 0")
        if indices.shape != values.shape or indices.shape != (indptr[-1],):
            raise ValueError(f"indices and values must both have indptr[-1]={indptr[-1]} entries")
        if len(indices) and (indices.min() < 0 or indices.max() >= len(columns)):
            raise ValueError(f"indices must be column positions in 0..{len(columns) - 1}")
        learn = np.ones(n, dtype=np.bool_) if learn is None else np.asarray(learn, dtype=np.bool_)
        if learn.shape != (n,):
            raise ValueError(f"learn must have one entry per row ({n})")
        weights = None if sample_weight is None else _frames.as_vector(sample_weight,
                                                                         "sample_weight")
        if weights is not None and (weights.shape != (n,) or not np.isfinite(weights).all()
                                    or (weights < 0).any()):
            raise ValueError(f"sample_weight must be {n} finite weights >= 0")
        return indptr, indices, values, y, learn, weights

    def learn_sequential(
        self,
        X,
        y,
        columns: Iterable[Hashable] | None = None,
        learn: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> np.ndarray:
        """Learn the rows of ``X`` in order, one step per row, in compiled code.

        The result equals a `learn_one` loop over the rows (to rounding), at a fraction of the
        cost: this is the method for replaying logged data. A stream that must skip bad rows
        and go on uses `learn_rows`.

        Parameters
        ----------
        X
            A 2-D array or a DataFrame.
        y
            The targets. Entries of rows that are not learned are ignored (NaN is fine there).
        columns
            Feature names of the columns of ``X`` (default: the DataFrame's columns, or
            0..d-1 for an array).
        learn
            Boolean mask: rows where it is False are only predicted (their label is missing).
        sample_weight
            Per-row weights of the loss (default 1).

        Returns
        -------
        The prequential predictions: row i's prediction made just before row i was learned.

        Raises
        ------
        ValueError
            If ``X`` or a learned ``y`` holds a NaN, an infinity or a non-number; nothing is
            learned then.
        DivergenceError
            If a row's update is refused (it would make the state non-finite, or run away).
            The rows before it are learned, that row and the rest are not; ``err.row`` and
            ``err.predictions`` tell which.

        Examples
        --------
        >>> import numpy as np
        >>> from online_lr import SGDRegressor
        >>> X = np.array([[1.0, 2.0], [2.0, 0.5], [0.5, 1.5]])
        >>> y = np.array([3.0, 2.5, 2.0])
        >>> a, b = SGDRegressor(), SGDRegressor()
        >>> preds = a.learn_sequential(X, y, columns=["u", "v"])
        >>> for row, target in zip(X, y):
        ...     b.learn_one({"u": row[0], "v": row[1]}, target)
        >>> all(abs(a.weights[k] - b.weights[k]) < 1e-12 for k in ("u", "v"))
        True
        >>> preds.tolist()
        [0.0, 3.0, ...]

        """
        names, X, y, learn, weights = self._block_arguments(X, y, columns, learn, sample_weight)
        if self._custom_loss:
            _checks.check_block_finite(X, y, learn, names)  # names the feature and the row
        outcome = self._learn_block(names, X, y, learn, weights, stop_at_refusal=True)
        if outcome.codes.any():
            row, reason = outcome.reasons()[0]
            raise DivergenceError(
                refusal_message(reason), row=row, predictions=outcome.predictions[:row].copy()
            )
        return outcome.predictions

    def _block_arguments(self, X, y, columns, learn, sample_weight):
        names, X = _frames.to_matrix(X, columns)
        y = _frames.as_vector(y)
        n = X.shape[0]
        if y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
        learn = np.ones(n, dtype=np.bool_) if learn is None else np.asarray(learn, dtype=np.bool_)
        if learn.shape != (n,):
            raise ValueError(f"learn must have one entry per row ({n})")
        if sample_weight is None:
            weights = None
        else:
            weights = _frames.as_vector(sample_weight, "sample_weight")
            if weights.shape != (n,):
                raise ValueError(f"sample_weight must have one entry per row ({n})")
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError("sample_weight must be finite and >= 0")
        return names, np.ascontiguousarray(X), y, learn, weights

    def _learn_block(self, names, X, y, learn, sample_weight, stop_at_refusal) -> LearnOutcome:
        """The row loop over a dense block. With ``stop_at_refusal`` (`learn_sequential`) it
        stops at the first refused row, and a block holding a non-finite value is not learned
        at all: `ValueError`, the state as it was."""
        n = X.shape[0]
        predictions = np.empty(n)  # the kernel writes every row's up to where it stops
        codes = np.zeros(n, dtype=_state.OUTCOME_DTYPE)
        if self._custom_loss:
            predictions.fill(np.nan)
            self._learn_rows_custom(names, X, y, learn, sample_weight, stop_at_refusal,
                                    predictions, codes)
            return LearnOutcome(predictions, codes)
        (sample_weight, weight_stride, lrs, intercept_lrs, stride), n_learn = self._step_rates(
            learn, sample_weight)
        state = self._state
        known = state.size
        idx = state.columns(names)
        before = state.snapshot(idx) if stop_at_refusal else None
        squared_errors, baseline_errors = self._error_slots(n_learn)
        learned = self._compiled_rule().learn_rows(
            _compiled_kernels().kernel_matrix(X), y, learn, sample_weight, weight_stride, lrs,
            intercept_lrs, stride, idx, *self._arrays(), stop_at_refusal, predictions, codes,
            squared_errors, baseline_errors,
        )
        if before is not None and codes.any():
            predictions[np.argmax(codes != _LEARNED) + 1:] = np.nan  # rows past the stop
            # A NaN or an infinity anywhere in the block undoes it all: the kernel stopped at
            # the first refused row, the scan here names the bad value (it runs only then).
            try:
                _checks.check_block_finite(X, y, learn, names)
            except ValueError:
                state.restore(before, known)
                raise
        self._record_errors(squared_errors[:learned], baseline_errors[:learned])
        self._after_block(squared_errors[:learned])
        return LearnOutcome(predictions, codes)

    def _step_rates(self, learn: np.ndarray, sample_weight: np.ndarray | None):
        """``(sample_weight, weight_stride, lrs, intercept_lrs, rate_stride)`` as the kernels'
        row loops take them, and the number of rows to learn."""
        n_learn = int(np.count_nonzero(learn))
        steps = self.n_updates
        lrs, stride = _rates(self._lr, steps, n_learn + 1)
        intercept_lrs, intercept_stride = _rates(self._intercept_lr_schedule, steps, n_learn)
        if stride != intercept_stride:  # one constant, one not: spell the constant out
            lrs, intercept_lrs = (np.resize(r, n_learn + 1) for r in (lrs, intercept_lrs))
            stride = 1
        if sample_weight is None:
            return (_UNIT_WEIGHT, 0, lrs, intercept_lrs, stride), n_learn
        return (sample_weight, 1, lrs, intercept_lrs, stride), n_learn

    def _learn_rows_custom(self, names, X, y, learn, sample_weight, stop_at_refusal,
                           predictions, codes) -> None:
        """`learn_rows` for a loss the kernels do not know: each row a one-row batch."""
        for i in range(X.shape[0]):
            row = X[i : i + 1]
            if not np.isfinite(row).all():
                codes[i] = _NON_FINITE_FEATURE
            else:
                predictions[i] = self._predict_matrix(names, row)[0]
                if learn[i]:
                    w = 1.0 if sample_weight is None else sample_weight[i]
                    codes[i] = self._learn_batch(names, row, y[i : i + 1], np.array([w]), 1)
            if codes[i] and stop_at_refusal:
                return

    # Mini-batch methods

    def predict_many(self, X):
        names, matrix = _frames.to_matrix(X, None)
        _checks.check_finite_matrix(matrix, names)
        return _frames.like_input(X, self._predict_matrix(names, matrix), self._y_name)

    def _predict_matrix(self, names: list, X: np.ndarray) -> np.ndarray:
        """Predictions for the rows of ``X``; features the model has not seen count 0."""
        index = self._state.index
        known = [c for c, k in enumerate(names) if k in index]
        idx = np.array([index[names[c]] for c in known], dtype=np.int64)
        out = np.empty(X.shape[0])
        if len(known) < len(names):
            X = X[:, known]
        self._compiled_rule().predict_rows(self._state.features, self._state.scalars, idx,
                                           _compiled_kernels().kernel_matrix(X), out)
        return out

    def learn_many(self, X, y, w: float | Any = 1.0) -> None:
        """One step on the mean gradient of the mini-batch (River's mini-batch semantics)."""
        names, X = _frames.to_matrix(X, None)
        self._y_name = getattr(y, "name", None)
        y = _frames.as_vector(y)
        n = X.shape[0]
        if y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
        if n == 0:
            return
        if w == 1.0 and type(w) in (float, int):
            weights, weight_stride = _UNIT_WEIGHT, 0
        elif _checks.is_real(w):
            weights, weight_stride = np.array([_checks.check_sample_weight(w)]), 0
        else:
            weights, weight_stride = _frames.as_vector(w, "w"), 1
            if weights.shape != (n,):
                raise ValueError(f"w must be a number or hold one weight per row ({n})")
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError("the sample weights must be finite and >= 0")
        code = self._learn_batch(names, X, y, weights, weight_stride)
        if code == _NON_FINITE_FEATURE or code == _state.ROW_OUTCOMES.index("non_finite_target"):
            _checks.check_block_finite(X, y, None, names)  # raises, naming the feature and row
            raise ValueError("the batch holds a NaN or an infinity")
        if code:
            raise DivergenceError(refusal_message(_state.ROW_OUTCOMES[code]))

    def _learn_batch(self, names, X, y, weights, weight_stride) -> int:
        """One `learn_batch` step; returns its `ROW_OUTCOMES` code (the state changes only
        when it is 0)."""
        _kernels = _compiled_kernels()
        X = _kernels.kernel_matrix(X)
        n = X.shape[0]
        squared_errors, baseline_errors = self._error_slots(n)
        P = self._params
        lr, intercept_lr, lr_next = P[_P["lr"]], P[_P["intercept_lr"]], P[_P["lr_next"]]
        state = self._state
        known = state.size
        idx = state.columns(names)
        if not self._custom_loss:
            code = self._compiled_rule().learn_batch(
                X, y, weights, weight_stride, idx, *self._arrays(), lr, intercept_lr, lr_next,
                squared_errors, baseline_errors,
            )
        elif not (_kernels.matrix_finite(X) and _kernels.all_finite(y)):
            code = _NON_FINITE_FEATURE
        else:
            scratch = _kernels.scratch_for(X.shape[1])
            options = self._compiled_rule().options
            Z, targets, raw, sq_norm = _kernels.batch_prepare(
                options, *self._arrays()[:2], idx, X, y, scratch, squared_errors, baseline_errors
            )
            gradients = np.asarray(self.loss.gradient(targets, raw), dtype=np.float64)
            gradients = np.clip(gradients * weights[:: max(weight_stride, 1)] if weight_stride
                                else gradients * weights[0], -P[_P["clip"]], P[_P["clip"]])
            code = _kernels.batch_finish(
                options, *self._arrays(), idx, Z, np.ascontiguousarray(gradients), sq_norm, lr,
                intercept_lr, lr_next, scratch,
            )
        if code:
            state.forget(state.size - known)
            return int(code)
        self._record_errors(squared_errors, baseline_errors)
        self._after_block(squared_errors)
        return _LEARNED

    # Persistence

    def to_dict(self) -> dict:
        """The whole model as JSON-safe data: hyperparameters, schedules, state, metrics."""
        self._flush_errors()
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_FORMAT_VERSION,
            "params": self._params_to_dict(),
            **self._state.to_dict(),
            "y_name": self._y_name if isinstance(self._y_name, (str, int)) else None,
            "metrics": {
                "running": self._running.to_dict(),
                "rolling": self._rolling.to_dict(),
                "ewm": self._ewm.to_dict(),
                "baseline_running": self._baseline_running.to_dict(),
                "baseline_rolling": self._baseline_rolling.to_dict(),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> SGDRegressor:
        """Rebuild a model saved by `to_dict`; it continues exactly where the saved one stopped.

        A version-1 document (before standardization) loads as the raw model it was
        (``standardize=False``); its running-mean baseline starts afresh.
        """
        if not isinstance(data, Mapping) or data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not an {MODEL_FORMAT} document")
        version = data.get("version")
        if version not in (1, MODEL_FORMAT_VERSION):
            raise ValueError(
                f"unsupported {MODEL_FORMAT} version {version!r}: this online-lr reads versions "
                f"1 and {MODEL_FORMAT_VERSION}"
            )
        try:
            if version == 1:
                data = _upgrade_version_1(data)
            model = cls(**_params_from_dict(data["params"]))
            model._state = _state.State.from_dict(data)
            model._y_name = data.get("y_name")
            saved = data["metrics"]
            model._running = metrics.MSE.from_dict(saved["running"])
            model._rolling = metrics.RollingMSE.from_dict(saved["rolling"])
            model._ewm = metrics.EWMSE.from_dict(saved["ewm"])
            if "baseline_running" in saved:
                model._baseline_running = metrics.MSE.from_dict(saved["baseline_running"])
                model._baseline_rolling = metrics.RollingMSE.from_dict(saved["baseline_rolling"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"malformed {MODEL_FORMAT} document: {err!r}") from err
        model._set_rates()
        return model

    @classmethod
    def from_config(cls, config: Mapping) -> SGDRegressor:
        """Build a model from plain data (e.g. a YAML ``model:`` section).

        Rates may be numbers or schedule mappings such as
        ``{"type": "InverseScaling", "learning_rate": 0.1}``; the loss a name (``"Huber"``) or a
        mapping ``{"type": "Huber", "epsilon": 0.5}``.

        >>> SGDRegressor.from_config({"learning_rate": {"type": "Constant", "learning_rate": 0.1},
        ...                           "loss": "Huber"}).loss
        Huber({'epsilon': 0.1})
        >>> SGDRegressor.from_config({"learning_rat": 0.1})
        Traceback (most recent call last):
        ...
        online_lr.exceptions.UnknownParameterError: unknown model parameter 'learning_rat'; ...

        """
        if not isinstance(config, Mapping):
            raise TypeError(f"the model config must be a mapping, got {type(config).__name__}")
        known = list(cls._init_param_names())
        params = {}
        for key, value in config.items():
            if key not in known:
                from online_lr.exceptions import UnknownParameterError

                raise UnknownParameterError(key, known)
            if key in ("learning_rate", "intercept_lr"):
                value = schedules.as_schedule(value, key)
            elif key == "loss" and value is not None:
                value = _loss_from_config(value)
            params[key] = value
        return cls(**params)

    @classmethod
    def _init_param_names(cls) -> Iterable[str]:
        import inspect

        return inspect.signature(cls.__init__).parameters.keys() - {"self"}

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` as JSON, atomically (never a pickle)."""
        payload = json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> SGDRegressor:
        """Read a model written by `save`, or the model of a checkpoint of ``online-lr``'s
        stream runs (a JSON document with ``"format": "online-lr-checkpoint"``)."""
        with open(path, "rb") as f:
            raw = f.read()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{os.fspath(path)} is not a valid model file: {err}") from err
        kind = data.get("format") if isinstance(data, Mapping) else None
        if kind == CHECKPOINT_FORMAT:
            if not isinstance(data.get("model"), Mapping):
                raise ValueError(f"{os.fspath(path)}: a checkpoint without a model")
            data = data["model"]
        elif kind != MODEL_FORMAT:
            raise ValueError(
                f"{os.fspath(path)} is neither an {MODEL_FORMAT} file nor an "
                f"{CHECKPOINT_FORMAT} file (its format is {kind!r})"
            )
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"{os.fspath(path)}: {err}") from err

    def _params_to_dict(self) -> dict:
        if self._custom_loss:
            raise TypeError(f"a model with the loss {self.loss!r} cannot be saved: only River's "
                            f"built-in regression losses can")
        params = {}
        for name in self._init_param_names():
            value = getattr(self, name)
            if name in ("learning_rate", "intercept_lr") and not _checks.is_real(value):
                value = {"schedule": schedules.schedule_to_dict(value)}
            elif name == "loss" and value is not None:
                value = {"loss": _loss_to_dict(value)}
            params[name] = value
        return params


def _params_from_dict(params: Mapping) -> dict:
    out = dict(params)
    for name in ("learning_rate", "intercept_lr"):
        if isinstance(out.get(name), Mapping):
            out[name] = schedules.schedule_from_dict(out[name]["schedule"])
    if isinstance(out.get("loss"), Mapping):
        out["loss"] = _loss_from_config(out["loss"]["loss"])
    return out


@functools.cache
def _builtin_losses() -> dict[type, tuple[int, str | None]]:
    """The losses the kernels know, by type (a subclass may change the gradient: it is not one
    of them): type of ``river.optim.losses`` -> (kernel code, name of its one parameter).
    Imported when first asked: a model given a loss object has River's ``optim`` imported
    already, and the default (None, squared) never needs it, nor SciPy."""
    from river import optim

    return {
        optim.losses.Squared: (_SQUARED, None), optim.losses.Absolute: (1, None),
        optim.losses.Huber: (2, "epsilon"), optim.losses.Quantile: (3, "alpha"),
        optim.losses.EpsilonInsensitiveHinge: (4, "eps"), optim.losses.Cauchy: (5, "C"),
    }


def _loss_to_dict(loss) -> dict:
    return {"type": type(loss).__name__, **loss._get_params()}


def _loss_from_config(value) -> optim.losses.RegressionLoss:
    given = value
    if isinstance(value, str):
        value = {"type": value}
    by_name = {loss_type.__name__.lower(): loss_type for loss_type in _builtin_losses()}
    name = value.get("type") if isinstance(value, Mapping) else None
    if not isinstance(name, str) or name.lower() not in by_name:
        names = ", ".join(loss_type.__name__ for loss_type in by_name.values())
        raise ValueError(f"loss must be one of {names} (any case), got {given!r}")
    params = {k: v for k, v in value.items() if k != "type"}
    return by_name[name.lower()](**params)


def _compiled_kernels():
    """`online_lr._kernels`, imported on first use: it brings numba."""
    global _kernels_module
    if _kernels_module is None:
        from online_lr import _kernels as _kernels_module
    return _kernels_module


_kernels_module = None


def _is_adaptive(schedule) -> bool:
    return bool(getattr(schedule, "is_adaptive", False))


def _rates(schedule, first_step: int, count: int) -> tuple[np.ndarray, int]:
    """Rates of steps ``first_step...`` for the kernels: (array, stride); stride 0 = constant."""
    rate = schedules.constant_rate(schedule)
    if rate is not None:
        return np.array([rate, rate]), 0
    steps = first_step + np.arange(max(count, 1))
    return np.ascontiguousarray(schedules.learning_rates(schedule, steps), dtype=np.float64), 1


def _upgrade_version_1(data: Mapping) -> dict:
    """A version-1 document in version 2's terms: its state rows were numbered, its model raw."""
    v1_rows = ("weight", "average", "scale", "grad_sq", "cum_l1")
    upgraded = dict(data)
    upgraded["params"] = {**data["params"], "standardize": False}
    upgraded["feature_state"] = {
        v1_rows[int(row)]: values for row, values in data["feature_state"].items()
    }
    return upgraded


def _as_rate(value, name: str) -> optim.base.Scheduler:
    """A rate parameter as a schedule; a number must be finite and >= 0 (0 freezes)."""
    if _checks.is_real(value) and not isinstance(value, bool):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0 or a schedule, got {value!r}")
        return schedules.Constant(float(value))
    return schedules.as_schedule(value, name)
