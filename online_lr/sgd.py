"""`SGDRegressor`: linear regression learned one sample (or one mini-batch) at a time."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
from river import base, optim

from online_lr import _checks, _frames, metrics, schedules
from online_lr.exceptions import DivergenceError

try:
    from online_lr import _dictpath as _dict_path
except ImportError:  # the C extension was not built: same results, slower
    from online_lr import _dictpath_py as _dict_path

__all__ = ["SGDRegressor"]

MODEL_FORMAT = "online-lr-model"
MODEL_FORMAT_VERSION = 1

# Mirrors of online_lr._kernels' state layout, so that the dict fast path never imports numba.
_F_WEIGHT, _F_AVERAGE, _F_SCALE, _F_GRAD_SQ, _F_CUM_L1 = range(5)
_N_FEATURE_STATE = 5
_SCALAR_NAMES = (
    "_intercept", "_intercept_average", "_intercept_grad_sq", "_normalizer", "_max_cum_l1",
    "_steps", "_intercept_started",
)
_UPDATE_RULES = ("sgd", "normalized")
_LOSS_CODES = {  # river loss class name -> (kernel code, name of its one parameter)
    "Squared": (0, None), "Absolute": (1, None), "Huber": (2, "epsilon"),
    "Quantile": (3, "alpha"), "EpsilonInsensitiveHinge": (4, "eps"), "Cauchy": (5, "C"),
}
_ERRORS_PER_FLUSH = 16384
_UNIT_WEIGHT = np.ones(1)
_ONE_TRUE = np.ones(1, dtype=np.bool_)
_DIVERGENCE_HINT = (
    "lower the learning rate, scale the features (e.g. river.preprocessing.StandardScaler) "
    "or use update='normalized'"
)


class SGDRegressor(base.MiniBatchRegressor):
    """Linear regression trained online by stochastic gradient descent.

    Each `learn_one` call makes one gradient step on the sample's loss (by default the squared
    error, whose gradient is ``2 (ŷ - y) x``); `learn_many` makes one step on the mean gradient of
    a mini-batch, as River does; `learn_sequential` makes one step per row of an array, exactly as
    a `learn_one` loop would, in compiled code. The model tracks its prequential error: the error
    of the prediction made just before each update (`running_mse`, `rolling_mse`, `ewm_mse`).

    With ``update="sgd"``, ``intercept_init=0.0`` and the same rates, this model takes the same
    steps as ``river.linear_model.LinearRegression(optimizer=optim.SGD(lr), intercept_lr=lr)``.

    Parameters
    ----------
    learning_rate
        Rate of the weights: a float or a schedule from `online_lr.schedules` (any
        `river.optim.base.Scheduler` works).
    intercept_lr
        Rate of the intercept, a float or a schedule. 0 freezes the intercept.
    intercept_init
        Initial intercept, or ``"auto"`` to start it at the first target learned (the mean
        target of the first batch for `learn_many`), which spares the weights a long warm-up.
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
        `EpsilonInsensitiveHinge` or `Cauchy`.
    update
        ``"sgd"``: plain steps ``w -= lr * g``. ``"normalized"``: the scale-free normalized
        adaptive rule of Vowpal Wabbit (NAG, Ross et al., 2013): per-feature steps divided by
        the largest magnitude seen and by the root of the summed squared gradients, so raw
        features of any scale learn without a scaler. Good rates are then near 0.1–1.
    averaged
        Predict with the running (Polyak–Ruppert) average of the weights, which smooths the
        noise of constant-rate SGD.
    mse_window
        Window of `rolling_mse`.
    mse_alpha
        Smoothing factor of `ewm_mse`.

    Attributes
    ----------
    weights : dict
        Feature name -> weight.
    intercept : float
    running_mse : float
        Prequential mean squared error over every learned sample.
    rolling_mse : float
        Prequential MSE over the last `mse_window` learned samples.
    ewm_mse : float
        Exponentially weighted prequential MSE.
    n_updates : int
        Number of gradient steps made (the schedules' ``t``).

    Examples
    --------
    >>> from river import datasets, evaluate, metrics, preprocessing
    >>> from online_lr import SGDRegressor

    >>> model = preprocessing.StandardScaler() | SGDRegressor()
    >>> evaluate.progressive_val_score(datasets.TrumpApproval(), model, metrics.MSE())
    MSE: 2.150305

    Raw features, no scaler, with the scale-free update:

    >>> model = SGDRegressor(update="normalized", learning_rate=0.5)
    >>> for x, y in datasets.TrumpApproval():
    ...     model.learn_one(x, y)
    >>> print(f"prequential MSE: {model.running_mse:.2f} over {model.n_updates} updates")
    prequential MSE: ... over 1001 updates

    Full-batch gradient descent on the MSE is `learn_many` on the whole data set:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X @ np.array([1.0, -2.0, 0.5]) + 3.0
    >>> gd = SGDRegressor(learning_rate=0.1, intercept_lr=0.1, intercept_init=0.0)
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
        self.mse_window = mse_window
        self.mse_alpha = mse_alpha
        self._validate_params()

        self._loss = optim.losses.Squared() if loss is None else loss
        self._loss_code, param_name = _LOSS_CODES[type(self._loss).__name__]
        self._loss_param = float(getattr(self._loss, param_name)) if param_name else 0.0
        self._refresh_derived()

        # Learned state. Per-feature state: one dict per row of the kernels' state array.
        self._features = [{} for _ in range(_N_FEATURE_STATE)]
        self._intercept = 0.0 if intercept_init == "auto" else float(intercept_init)
        self._intercept_average = self._intercept
        self._intercept_grad_sq = 0.0
        self._normalizer = 0.0
        self._max_cum_l1 = 0.0
        self._steps = 0
        self._intercept_started = intercept_init != "auto"
        self._y_name = None

        self._running = metrics.MSE()
        self._rolling = metrics.RollingMSE(window_size=mse_window)
        self._ewm = metrics.EWMSE(alpha=mse_alpha)
        self._pending_errors: list[float] = []
        self._pending_blocks: list[np.ndarray] = []
        self._pending_count = 0
        self._shim_baseline_init()

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
        if self.loss is not None and type(self.loss).__name__ not in _LOSS_CODES:
            raise ValueError(
                f"loss must be one of river.optim.losses.{{{', '.join(_LOSS_CODES)}}}, "
                f"got {self.loss!r}"
            )
        if not isinstance(self.averaged, bool):
            raise TypeError(f"averaged must be a bool, got {self.averaged!r}")
        if not isinstance(self.mse_window, int) or self.mse_window < 1:
            raise ValueError(f"mse_window must be an int >= 1, got {self.mse_window!r}")
        if not _checks.is_real(self.mse_alpha) or not 0 < self.mse_alpha < 1:
            raise ValueError(f"mse_alpha must be in (0, 1), got {self.mse_alpha!r}")

    def _refresh_derived(self) -> None:
        """Derive the schedules and the choice of hot path from the parameters."""
        self._lr = schedules.as_schedule(self.learning_rate, "learning_rate")
        self._intercept_lr_schedule = schedules.as_schedule(self.intercept_lr, "intercept_lr")
        adaptive = [s for s in (self._lr, self._intercept_lr_schedule) if _is_adaptive(s)]
        self._adaptive = list({id(s): s for s in adaptive}.values())
        self._plain_sgd = (
            self.update == "sgd" and self._loss_code == 0 and not self.averaged
            and not self._adaptive
        )
        self._rule = _UPDATE_RULES.index(self.update)
        # The kernels are compiled per argument type: hand them floats, never ints.
        self._l1, self._l2, self._clip = float(self.l1), float(self.l2), float(self.clip_gradient)
        self._state_rows = self._feature_state_rows()

    def mutate(self, new_attrs: dict) -> None:
        super().mutate(new_attrs)
        self._validate_params()
        self._refresh_derived()

    @property
    def _mutable_attributes(self) -> set[str]:
        return {"learning_rate", "intercept_lr", "l2", "l1", "clip_gradient"}

    @classmethod
    def _unit_test_params(cls):
        # River's checks stream raw TrumpApproval (ordinal_date ~ 7e5): the scale-free rule
        # learns it as is; plain SGD needs a rate small enough for that scale.
        yield {"update": "normalized", "learning_rate": 0.5}
        yield {"learning_rate": 1e-12, "intercept_lr": 0.1}
        yield {"update": "normalized", "averaged": True, "l1": 0.001}

    def _unit_test_skips(self) -> set[str]:
        # learn_many takes one mean-gradient step per batch, as River's linear models do: it is
        # deliberately not a learn_one loop (that is learn_sequential's job).
        return {"check_learn_many_matches_learn_one"}

    # Learned state

    @property
    def weights(self) -> dict:
        return dict(self._features[_F_WEIGHT])

    @property
    def intercept(self) -> float:
        return self._intercept

    @property
    def n_updates(self) -> int:
        return self._steps

    def set_parameters(self, weights: Mapping, intercept: float) -> None:
        """Replace the weights and the intercept, e.g. by an average over several models.

        Features absent from ``weights`` keep their weight. The rest of the state (step count,
        optimizer and averaging state, metrics) is kept: learning continues from the new
        parameters as if it had reached them itself.
        """
        values = {k: float(v) for k, v in weights.items()}
        if not all(math.isfinite(v) for v in values.values()) or not math.isfinite(intercept):
            raise ValueError("weights and intercept must be finite")
        self._features[_F_WEIGHT].update(values)
        self._intercept = float(intercept)
        self._intercept_started = True

    @property
    def learning_rate_now(self) -> float:
        """The rate the next weight update will use."""
        return float(self._lr.get(self._steps))

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

    # SHIM (dropped at merge: the learner branch defines these): the prequential MSE of
    # predicting the running mean of the targets learned so far (0 before the first).

    def _shim_baseline_init(self) -> None:
        self._baseline_count = 0
        self._baseline_sum = 0.0
        self._baseline_running = metrics.MSE()
        self._baseline_rolling = metrics.RollingMSE(window_size=self.mse_window)

    def _shim_baseline_add(self, targets: np.ndarray) -> None:
        targets = np.asarray(targets, dtype=float)
        if targets.size == 0:
            return
        sums = self._baseline_sum + np.concatenate(([0.0], np.cumsum(targets)[:-1]))
        counts = self._baseline_count + np.arange(targets.size)
        means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        errors = (targets - means) ** 2
        self._baseline_running.add_many(errors)
        self._baseline_rolling.add_many(errors)
        self._baseline_count += targets.size
        self._baseline_sum += float(targets.sum())

    @property
    def baseline_running_mse(self) -> float:
        return self._baseline_running.get()

    @property
    def baseline_rolling_mse(self) -> float:
        return self._baseline_rolling.get()

    # The prequential errors are buffered and folded into the metrics in large blocks, when a
    # metric is read or the buffer is full: tracking them costs a list append per update.

    def _record_errors(self, squared_errors: np.ndarray) -> None:
        if self._pending_errors:  # keep the order of single and block updates
            self._pending_blocks.append(np.array(self._pending_errors))
            self._pending_errors = []
        self._pending_blocks.append(squared_errors)
        self._pending_count += squared_errors.shape[0]
        if self._pending_count >= _ERRORS_PER_FLUSH:
            self._flush_errors()

    def _flush_errors(self) -> None:
        blocks = self._pending_blocks
        if self._pending_errors:
            blocks.append(np.array(self._pending_errors))
        if blocks:
            errors = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
            for tracker in (self._running, self._rolling, self._ewm):
                tracker.add_many(errors)
        self._pending_errors, self._pending_blocks, self._pending_count = [], [], 0

    # Single instance methods

    def predict_one(self, x: dict) -> float:
        if self.averaged and self._steps:
            weights, intercept = self._features[_F_AVERAGE], self._intercept_average
        else:
            weights, intercept = self._features[_F_WEIGHT], self._intercept
        try:
            y_pred = _dict_path.dot(weights, x, intercept)
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
        if not (self._plain_sgd and self.l1 == 0):
            self._learn_one_compiled(x, y, w)
            return
        # The default configuration, on the compiled dict path: one plain SGD step.
        t = self._steps
        start_intercept = self._intercept if self._intercept_started else y
        try:
            y_pred, new_intercept = _dict_path.sgd_learn_one(
                self._features[_F_WEIGHT], x, y, w, self._intercept, start_intercept,
                self._lr.get(t), self._intercept_lr_schedule.get(t), self.l2, self.clip_gradient,
            )
        except TypeError:
            y_pred = math.nan
        if not y_pred - y_pred == 0.0:
            self.predict_one(x)  # raises the error that names the bad feature
        if new_intercept != new_intercept:
            raise DivergenceError(_divergence_message(), row=0, predictions=np.empty(0))
        self._intercept_started = True
        self._intercept = new_intercept
        self._steps = t + 1
        self._shim_baseline_add(np.array([y]))
        pending = self._pending_errors
        pending.append((y_pred - y) * (y_pred - y))
        if len(pending) >= _ERRORS_PER_FLUSH:
            self._flush_errors()

    def _learn_one_compiled(self, x: dict, y: float, w: float) -> None:
        """Every other configuration: the compiled kernel on a one-row block."""
        self.predict_one(x)  # validates x
        names = list(x)
        X = np.array([[float(x[k]) for k in names]])
        self._learn_block(names, X, np.array([y]), _ONE_TRUE, np.array([w]))
        self._shim_baseline_add(np.array([y]))

    # Blocks of rows: the compiled kernel

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
        cost: this is the method for replaying logged data and for batches polled from a stream.

        Parameters
        ----------
        X
            A 2-D array, or a pandas, polars or pyarrow frame.
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
            If a row's update would make the state non-finite. The rows before it are learned,
            that row and the rest are not; ``err.row`` and ``err.predictions`` tell which.

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
        names, X = _frames.to_matrix(X, columns)
        y = _frames.as_vector(y)
        n = X.shape[0]
        if y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y.shape[0]}")
        learn = np.ones(n, dtype=np.bool_) if learn is None else np.asarray(learn, dtype=np.bool_)
        if learn.shape != (n,):
            raise ValueError(f"learn must have one entry per row ({n})")
        X = np.ascontiguousarray(X)
        if self._adaptive:
            # A Plateau splits the rows into blocks, each committed as it ends: check them all
            # first. A single block is checked by the kernel as it goes, and not committed.
            _checks.check_block_finite(X, y, learn, names)
        if sample_weight is None:
            weights = None
        else:
            weights = _frames.as_vector(sample_weight, "sample_weight")
            if weights.shape != (n,):
                raise ValueError(f"sample_weight must have one entry per row ({n})")
            if not np.isfinite(weights).all() or (weights < 0).any():
                raise ValueError("sample_weight must be finite and >= 0")
        predictions = np.empty(n)
        start = 0
        while start < n:
            stop = self._block_end(learn, start)
            try:
                self._learn_block(
                    names, X[start:stop], y[start:stop], learn[start:stop],
                    None if weights is None else weights[start:stop], predictions[start:stop],
                )
            except DivergenceError as err:
                err.row += start
                err.predictions = predictions[: err.row].copy()
                self._shim_baseline_add(y[: err.row][learn[: err.row]])
                raise
            start = stop
        self._shim_baseline_add(y[learn])
        return predictions

    def _block_end(self, learn: np.ndarray, start: int) -> int:
        """End of the block starting at ``start``: the next period boundary of a Plateau."""
        if not self._adaptive:
            return learn.shape[0]
        budget = min(s.steps_left_in_period() for s in self._adaptive)
        learned = np.cumsum(learn[start:])
        over = np.flatnonzero(learned >= budget)
        return learn.shape[0] if over.size == 0 else start + int(over[0]) + 1

    def _learn_block(self, names, X, y, learn, sample_weight, predictions=None) -> None:
        _kernels = _compiled_kernels()

        n_learn = int(np.count_nonzero(learn))
        lrs, stride = _rates(self._lr, self._steps, n_learn + 1)
        intercept_lrs, intercept_stride = _rates(self._intercept_lr_schedule, self._steps, n_learn)
        if stride != intercept_stride:  # one constant, one not: spell the constant out
            lrs, intercept_lrs = (np.resize(r, n_learn + 1) for r in (lrs, intercept_lrs))
            stride = 1
        if sample_weight is None:
            sample_weight, weight_stride = _UNIT_WEIGHT, 0
        else:
            weight_stride = 1
        F = self._gather(names)
        S = self._scalar_state()
        if predictions is None:
            predictions = np.empty(X.shape[0])
        squared_errors = np.empty(n_learn)
        if self.update == "sgd" and not self.averaged and self.l1 == 0:
            outcome, stopped_at = _kernels.learn_rows_sgd(
                X, y, learn, sample_weight, weight_stride, lrs, intercept_lrs, stride, F, S,
                self._loss_code, self._loss_param, self._l2, self._clip,
                not self._intercept_started, predictions, squared_errors,
            )
        else:
            outcome, stopped_at = _kernels.learn_rows(
                X, y, learn, sample_weight, weight_stride, lrs, intercept_lrs, stride, F, S,
                self._loss_code, self._loss_param, self._rule, self._l2, self._l1, self._clip,
                self.averaged, not self._intercept_started, predictions, squared_errors,
            )
        if outcome == _kernels.NOT_FINITE:
            _checks.check_block_finite(X, y, learn, names)  # raises, naming the feature and row
            raise ValueError(f"row {stopped_at} holds a NaN or an infinity")
        learned = int(S[_kernels.S_STEPS]) - self._steps
        self._scatter(names, F)
        self._set_scalar_state(S)
        errors = squared_errors[:learned]
        self._record_errors(errors)
        for schedule in self._adaptive:
            schedule.observe(float(errors.sum()), int(errors.shape[0]))
        if outcome == _kernels.DIVERGED:
            raise DivergenceError(_divergence_message(), row=stopped_at)

    def _gather(self, names: list) -> np.ndarray:
        """The per-feature state of ``names`` as a ``(5, len(names))`` array (0 when unseen)."""
        F = np.zeros((_N_FEATURE_STATE, len(names)))
        _dict_path.gather(self._features, self._state_rows, names, F)
        return F

    def _scatter(self, names: list, F: np.ndarray) -> None:
        _dict_path.scatter(self._features, self._state_rows, names, F)

    def _feature_state_rows(self) -> tuple[int, ...]:
        """The rows of per-feature state the options use (the weights, plus ...)."""
        rows = [_F_WEIGHT]
        if self.averaged:
            rows.append(_F_AVERAGE)
        if self.update == "normalized":
            rows += [_F_SCALE, _F_GRAD_SQ]
        if self.l1:
            rows.append(_F_CUM_L1)
        return tuple(rows)

    def _scalar_state(self) -> np.ndarray:
        """The scalar state in the kernels' layout (see `_kernels.S_*`)."""
        return np.array([
            self._intercept, self._intercept_average, self._intercept_grad_sq, self._normalizer,
            self._max_cum_l1, self._steps, self._intercept_started,
        ], dtype=np.float64)

    def _set_scalar_state(self, S: np.ndarray) -> None:
        (
            self._intercept, self._intercept_average, self._intercept_grad_sq, self._normalizer,
            self._max_cum_l1, steps, started,
        ) = S.tolist()
        self._steps = int(steps)
        self._intercept_started = bool(started)

    # Mini-batch methods

    def predict_many(self, X):
        names, matrix = _frames.to_matrix(X, None)
        _checks.check_finite_matrix(matrix, names)
        return _frames.like_input(X, self._dot_many(names, matrix), self._y_name)

    def _dot_many(self, names: list, X: np.ndarray) -> np.ndarray:
        if self.averaged and self._steps:
            state, intercept = self._features[_F_AVERAGE], self._intercept_average
        else:
            state, intercept = self._features[_F_WEIGHT], self._intercept
        w = np.array([state.get(k, 0.0) for k in names])
        return X @ w + intercept

    def learn_many(self, X, y, w: float | Any = 1.0) -> None:
        """One step on the mean gradient of the mini-batch (River's mini-batch semantics)."""
        _kernels = _compiled_kernels()
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

        F = self._gather(names)
        S = self._scalar_state()
        errors = np.empty(n)
        t = self._steps
        outcome = _kernels.learn_batch(
            X, y, weights, weight_stride, F, S, float(self._lr.get(t)),
            float(self._intercept_lr_schedule.get(t)), float(self._lr.get(t + 1)), self._loss_code,
            self._loss_param, self._rule, self._l2, self._l1, self._clip, self.averaged,
            not self._intercept_started, errors,
        )
        if outcome == _kernels.NOT_FINITE:
            _checks.check_block_finite(X, y, None, names)  # raises, naming the feature and row
            raise ValueError("the batch holds a NaN or an infinity")
        if outcome == _kernels.DIVERGED:
            raise DivergenceError(_divergence_message())
        self._scatter(names, F)
        self._set_scalar_state(S)
        self._record_errors(errors)
        for schedule in self._adaptive:
            schedule.observe(float(errors.sum()), n)

    # Persistence

    def to_dict(self) -> dict:
        """The whole model as JSON-safe data: hyperparameters, schedules, state, metrics."""
        self._flush_errors()
        names = list(self._features[_F_WEIGHT])
        for row in self._state_rows:
            names += [k for k in self._features[row] if k not in self._features[_F_WEIGHT]]
        for name in names:
            if not isinstance(name, (str, int)) or isinstance(name, bool):
                raise TypeError(f"feature name {name!r} cannot be saved: use str or int names")
        return {
            "format": MODEL_FORMAT,
            "version": MODEL_FORMAT_VERSION,
            "params": self._params_to_dict(),
            "features": names,
            "feature_state": {
                str(row): [self._features[row].get(k, 0.0) for k in names]
                for row in self._state_rows
            },
            "scalars": {name.lstrip("_"): getattr(self, name) for name in _SCALAR_NAMES},
            "y_name": self._y_name if isinstance(self._y_name, (str, int)) else None,
            "metrics": {
                "running": self._running.to_dict(),
                "rolling": self._rolling.to_dict(),
                "ewm": self._ewm.to_dict(),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> SGDRegressor:
        """Rebuild a model saved by `to_dict`; it continues exactly where the saved one stopped."""
        if not isinstance(data, Mapping) or data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not an {MODEL_FORMAT} document")
        if data.get("version") != MODEL_FORMAT_VERSION:
            raise ValueError(f"unsupported model format version {data.get('version')!r}")
        try:
            model = cls(**_params_from_dict(data["params"]))
            names = list(data["features"])
            for row, values in data["feature_state"].items():
                if len(values) != len(names):
                    raise ValueError(f"feature_state[{row}] has {len(values)} values")
                model._features[int(row)] = dict(zip(names, map(float, values)))
            scalars = data["scalars"]
            for name in _SCALAR_NAMES:
                setattr(model, name, scalars[name.lstrip("_")])
            model._steps = int(model._steps)
            model._intercept_started = bool(model._intercept_started)
            model._y_name = data.get("y_name")
            model._running = metrics.MSE.from_dict(data["metrics"]["running"])
            model._rolling = metrics.RollingMSE.from_dict(data["metrics"]["rolling"])
            model._ewm = metrics.EWMSE.from_dict(data["metrics"]["ewm"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"malformed {MODEL_FORMAT} document: {err!r}") from err
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
        """Read a model written by `save`."""
        with open(path, "rb") as f:
            raw = f.read()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{os.fspath(path)} is not a valid model file: {err}") from err
        return cls.from_dict(data)

    def _params_to_dict(self) -> dict:
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


def _loss_to_dict(loss) -> dict:
    return {"type": type(loss).__name__, **loss._get_params()}


def _loss_from_config(value) -> optim.losses.RegressionLoss:
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, Mapping) or value.get("type") not in _LOSS_CODES:
        raise ValueError(f"loss must be one of {', '.join(_LOSS_CODES)}, got {value!r}")
    params = {k: v for k, v in value.items() if k != "type"}
    return getattr(optim.losses, value["type"])(**params)


def _compiled_kernels():
    """`online_lr._kernels`, imported on first use: it brings numba."""
    global _kernels_module
    if _kernels_module is None:
        from online_lr import _kernels as _kernels_module
    return _kernels_module


_kernels_module = None


def _is_adaptive(schedule) -> bool:
    return bool(getattr(schedule, "is_adaptive", False))


def _divergence_message() -> str:
    return f"update refused: it would make the model's weights non-finite; {_DIVERGENCE_HINT}"


def _rates(schedule, first_step: int, count: int) -> tuple[np.ndarray, int]:
    """Rates of steps ``first_step...`` for the kernels: (array, stride); stride 0 = constant."""
    if isinstance(schedule, (schedules.Constant, optim.schedulers.Constant)):
        rate = float(schedule.learning_rate)
        return np.array([rate, rate]), 0
    steps = first_step + np.arange(max(count, 1))
    return np.ascontiguousarray(schedules.learning_rates(schedule, steps), dtype=np.float64), 1
