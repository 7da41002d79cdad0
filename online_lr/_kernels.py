"""The one update rule of `SGDRegressor`, and the thin loops that apply it.

Everything the learner computes is written once here, as plain loops over numpy arrays
compiled with numba (cached on disk):

- `feature_transform` / `target_transform`: the online standardization (Welford statistics);
- `predict_row`: the prediction for one row, in the target's units;
- `learn_row`: one row's update: input check, prequential and baseline errors, statistics,
  loss gradient, clipping, L2, then `apply_step` (plain or normalized rule, River's cumulative
  L1, averaging), with a damped step where it would overshoot, then the divergence guard, then
  `commit`;
- `learn_rows`: `learn_row` over the rows of a block (``learn_sequential``, ``learn_rows``);
  `learn_rows_sparse`: the same over the rows of a CSR matrix (``learn_rows_sparse``);
- `learn_batch`: one `apply_step` on the mean gradient of a mini-batch (``learn_many``);
- `rule_for`: those loops compiled for one set of `Options` (loss, rule, standardize, ...),
  each option a compile-time constant, so that the branches of the options that are off
  vanish: the one definition, specialised lazily per option set used (cached on disk);
- `learn_row_c` / `predict_row_c`: C entry points to `learn_row`/`predict_row` for the
  Cython dict path (``learn_one``), which passes raw pointers: no Python call in between.

A row is given as feature indices and values (``idx``, ``vals``): dense blocks pass the same
indices for every row (``(d,)`` for the first d features in order, see `column`), dict samples
their own. The first argument of the rule's functions is the `Options`. State layout: `online_lr._state`. A step is
computed in ``scratch`` (one row per per-feature quantity, one column per feature of the row,
plus the trial scalars) and committed only when accepted, so a refused row changes nothing.
Set ``NUMBA_DISABLE_JIT=1`` to step through them as Python.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from online_lr import _state

# Reassociation lets LLVM vectorise the dot products; the flags that assume no NaN or infinity
# are left out, because the guards must see them.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
jit = numba.njit(cache=True, error_model="numpy", fastmath=_FASTMATH)
# The pieces of the rule are inlined into their callers, so that LLVM sees one loop body and
# drops the branches of the options that are off.
jit_inline = numba.njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline="always")

F_WEIGHT, F_AVERAGE, F_SCALE, F_GRAD_SQ, F_CUM_L1, F_COUNT, F_MEAN, F_M2 = (
    _state.F[name] for name in _state.FEATURE_FIELDS
)
N_FEATURE_STATE = len(_state.FEATURE_FIELDS)
(
    S_INTERCEPT, S_INTERCEPT_AVERAGE, S_INTERCEPT_GRAD_SQ, S_NORMALIZER, S_MAX_CUM_L1, S_STEPS,
    S_INTERCEPT_STARTED, S_Y_COUNT, S_Y_MEAN, S_Y_M2,
) = (_state.S[name] for name in _state.SCALAR_FIELDS)
N_SCALAR_STATE = len(_state.SCALAR_FIELDS)
(
    P_LOSS, P_LOSS_PARAM, P_RULE, P_L2, P_L1, P_CLIP, P_AVERAGED, P_AUTO_INTERCEPT,
    P_STANDARDIZE, P_LR, P_INTERCEPT_LR, P_LR_NEXT,
) = (_state.P[name] for name in _state.PARAM_FIELDS)
N_PARAMS = len(_state.PARAM_FIELDS)

# Rows of the scratch array: the row's (standardized) values, then the trial per-feature state,
# then the gradient; the last row holds the trial scalars.
SC_Z, SC_GRAD = N_FEATURE_STATE, N_FEATURE_STATE + 1
SC_SCALARS = N_FEATURE_STATE + 2
N_SCRATCH = _state.SCRATCH_ROWS

LEARNED, NON_FINITE_FEATURE, NON_FINITE_TARGET, DIVERGED = range(
    len(_state.ROW_OUTCOMES)
)

# The built-in losses: type of river.optim.losses -> (code, name of its parameter).
LOSS_SQUARED, LOSS_ABSOLUTE, LOSS_HUBER, LOSS_QUANTILE, LOSS_EPSILON_INSENSITIVE, LOSS_CAUCHY = (
    range(6)
)
RULE_SGD, RULE_NORMALIZED = 0, 1


class Options(NamedTuple):
    """The options of the rule, as `rule_for` compiles it: each a compile-time constant there,
    so that the branches of the options that are off vanish from the loops."""

    loss: int  # LOSS_SQUARED ...
    rule: int  # RULE_SGD or RULE_NORMALIZED
    standardize: int  # 0 or 1, as the other flags
    averaged: int
    auto_intercept: int
    l1: int  # an L1 penalty is set
    l2: int  # an L2 penalty is set


@intrinsic
def unmanaged(typingctx, array):
    """The same array without its memory manager: passing it to the rule's helpers then costs
    no reference counting (numba counts every array argument of every call, two atomic
    operations each: 36 per row, most of a row's time). Only for arrays the caller keeps
    alive for the duration of the loop. Anything else is returned as it is."""

    def codegen(context, builder, signature, args):
        if not isinstance(array, types.Array):
            return args[0]
        source = context.make_array(array)(context, builder, value=args[0])
        view = context.make_array(array)(context, builder)
        cgutils.copy_struct(view, source)
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()

    return array(array), codegen


@jit_inline
def unmanaged_all(F, S, P, y, learn, sample_weight, lrs, intercept_lrs, predictions, outcomes,
                  squared_errors, baseline_errors):
    """`unmanaged` over the arrays both row loops hand to `step_row`."""
    return (unmanaged(F), unmanaged(S), unmanaged(P), unmanaged(y), unmanaged(learn),
            unmanaged(sample_weight), unmanaged(lrs), unmanaged(intercept_lrs),
            unmanaged(predictions), unmanaged(outcomes), unmanaged(squared_errors),
            unmanaged(baseline_errors))


FLOAT_MAX = 1.7976931348623157e308


@jit
def scratch_for(width: int) -> np.ndarray:
    """A scratch array for rows of up to ``width`` features."""
    return np.empty((N_SCRATCH, max(width, N_SCALAR_STATE)))


@jit_inline
def options_of(P: np.ndarray) -> Options:
    """The `Options` a parameter array sets."""
    return Options(
        int(P[P_LOSS]), int(P[P_RULE]), int(P[P_STANDARDIZE] != 0.0), int(P[P_AVERAGED] != 0.0),
        int(P[P_AUTO_INTERCEPT] != 0.0), int(P[P_L1] != 0.0), int(P[P_L2] != 0.0),
    )


def column(idx, k: int) -> int:
    """The feature index of a row's k-th value. ``idx`` is an array of feature indices, or
    ``(d,)`` when the row's values are the first ``d`` features in order (a stream of frames
    with the same columns): that case compiles to contiguous loads and stores, which
    vectorise, instead of gathers through an index array."""
    return k if isinstance(idx, tuple) else idx[k]


def width(idx) -> int:
    """How many values a row has (see `column`)."""
    return idx[0] if isinstance(idx, tuple) else idx.shape[0]


@overload(column, inline="always")
def _column(idx, k):
    if isinstance(idx, types.UniTuple):
        return lambda idx, k: k
    return lambda idx, k: idx[k]


@overload(width, inline="always")
def _width(idx):
    if isinstance(idx, types.UniTuple):
        return lambda idx: idx[0]
    return lambda idx: idx.shape[0]


@jit_inline
def is_finite(value: float) -> bool:
    """``math.isfinite`` that survives fast-math: numba's own is ``x - x == x - x``, which
    reassociation may fold to True. A comparison is never rewritten, and NaN fails it."""
    return abs(value) <= FLOAT_MAX


@jit_inline
def loss_gradient(code: int, param: float, y_pred: float, y_true: float) -> float:
    """Derivative of the loss with respect to the prediction, as River defines it."""
    r = y_pred - y_true
    if code == LOSS_SQUARED:
        return 2.0 * r
    if code == LOSS_ABSOLUTE:
        return 1.0 if y_pred > y_true else -1.0
    if code == LOSS_HUBER:
        if abs(r) <= param:
            return r
        return param if r > 0.0 else -param
    if code == LOSS_QUANTILE:
        return (1.0 if y_true < y_pred else 0.0) - param
    if code == LOSS_EPSILON_INSENSITIVE:
        y_true = 2.0 * y_true - 1.0  # River's EpsilonInsensitiveHinge maps [0, 1] to [-1, 1]
        if y_pred > y_true + param:
            return 1.0
        if y_pred + param < y_true:
            return -1.0
        return 0.0
    return r / ((r / param) ** 2 + 1.0)  # LOSS_CAUCHY


@jit_inline
def welford(count: float, mean: float, m2: float, value: float) -> tuple[float, float, float]:
    """Running count, mean and sum of squared deviations after one more value."""
    count += 1.0
    delta = value - mean
    mean += delta / count
    return count, mean, m2 + delta * (value - mean)


@jit_inline
def merge_statistics(
    count: float, mean: float, m2: float, values: np.ndarray
) -> tuple[float, float, float]:
    """`welford` over all of ``values`` at once (Chan et al.'s merge of two summaries): the
    batch's own mean and squared deviations in two passes that vectorise, then one merge."""
    n = values.shape[0]
    if n == 0:
        return count, mean, m2
    batch_mean = 0.0
    for i in range(n):
        batch_mean += values[i]
    batch_mean /= n
    batch_m2 = 0.0
    for i in range(n):
        batch_m2 += (values[i] - batch_mean) ** 2
    total = count + n
    delta = batch_mean - mean
    return total, mean + delta * (n / total), m2 + batch_m2 + delta * delta * (count * n / total)


@jit_inline
def feature_transform(count: float, mean: float, m2: float) -> tuple[float, float]:
    """``(center, gain)`` of a feature: its standardized value is ``(x - center) * gain``.

    A feature that has varied is centred and divided by its standard deviation. One that has
    shown a single value so far (an indicator such as one-hot ``city=paris: 1``, or a constant)
    is divided by that value's magnitude and not centred, so it enters as 1 where present and
    learns, instead of standardizing to 0 forever. An absent feature contributes 0. (A gain
    rather than a scale: one division fewer per feature and row, in the hottest loop.)
    """
    if m2 > 0.0:
        return mean, math.sqrt(count / m2)
    if mean != 0.0:
        return 0.0, 1.0 / abs(mean)
    return 0.0, 1.0


@jit_inline
def target_transform(count: float, mean: float, m2: float) -> tuple[float, float]:
    """``(center, scale)`` of the target: its running mean and standard deviation (1 until it
    has varied)."""
    if m2 > 0.0:
        return mean, math.sqrt(m2 / count)
    return mean, 1.0


@jit_inline
def predicting_weights(options: Options, S: np.ndarray) -> tuple[int, float]:
    """The row of the weights that predict, and their intercept: the averages once an average
    exists (averaged=True), else the weights."""
    if options.averaged and S[S_STEPS] > 0.0:
        return F_AVERAGE, S[S_INTERCEPT_AVERAGE]
    return F_WEIGHT, S[S_INTERCEPT]


@jit_inline
def predict_row(
    options: Options, F: np.ndarray, S: np.ndarray, idx: np.ndarray, X: np.ndarray, i: int
) -> float:
    """Prediction for one row, in the target's units: the averaged weights once an average
    exists, else the weights."""
    row, total = predicting_weights(options, S)
    if not options.standardize:
        for k in range(width(idx)):
            total += F[row, column(idx, k)] * X[i, k]
        return total
    for k in range(width(idx)):
        j = column(idx, k)
        center, gain = feature_transform(F[F_COUNT, j], F[F_MEAN, j], F[F_M2, j])
        total += F[row, j] * ((X[i, k] - center) * gain)
    center_y, scale_y = target_transform(S[S_Y_COUNT], S[S_Y_MEAN], S[S_Y_M2])
    return center_y + scale_y * total


@jit
def effective_weights(
    options: Options, F: np.ndarray, S: np.ndarray, idx: np.ndarray, out: np.ndarray
) -> float:
    """The linear function `predict_row` computes, in the features' and target's own units.

    Writes the weight of the row's k-th feature into ``out[k]`` and returns the intercept, so
    that ``intercept + out @ x == predict_row(x)`` for a row holding every feature of ``idx``.
    """
    row, intercept = predicting_weights(options, S)
    if not options.standardize:
        for k in range(width(idx)):
            out[k] = F[row, column(idx, k)]
        return intercept
    center_y, scale_y = target_transform(S[S_Y_COUNT], S[S_Y_MEAN], S[S_Y_M2])
    for k in range(width(idx)):
        j = column(idx, k)
        center, gain = feature_transform(F[F_COUNT, j], F[F_MEAN, j], F[F_M2, j])
        w = F[row, j] * gain
        out[k] = scale_y * w
        intercept -= w * center
    return center_y + scale_y * intercept


@jit_inline
def apply_step(
    options: Options,
    F: np.ndarray,
    P: np.ndarray,
    idx: np.ndarray,
    grad_b: float,
    sq_norm_increment: float,
    lr: float,
    intercept_lr: float,
    lr_next: float,
    scratch: np.ndarray,
) -> bool:
    """One gradient step, written into ``scratch``; True if the new state is finite.

    ``scratch[F_WEIGHT, k]`` holds the weight of the row's k-th feature the step starts from (after
    the normalized rule's rescaling) and receives the new one; ``scratch[SC_GRAD, k]`` holds its
    gradient, L2 included; ``scratch[SC_SCALARS]`` holds the trial scalars, updated in place.
    ``sq_norm_increment`` is what this step adds to the normalized rule's normalizer; ``lr_next``
    is the rate at the next step, which River's cumulative L1 penalty uses.
    """
    n = width(idx)
    t = scratch[SC_SCALARS, S_STEPS] + 1.0
    scratch[SC_SCALARS, S_STEPS] = t
    if options.rule == RULE_SGD:
        for k in range(n):
            scratch[F_WEIGHT, k] -= lr * scratch[SC_GRAD, k]
        scratch[SC_SCALARS, S_INTERCEPT] -= intercept_lr * grad_b
    else:
        normalizer = scratch[SC_SCALARS, S_NORMALIZER] + sq_norm_increment
        scratch[SC_SCALARS, S_NORMALIZER] = normalizer
        rate_scale = math.sqrt(t / normalizer)
        for k in range(n):
            g = scratch[SC_GRAD, k]
            grad_sq = F[F_GRAD_SQ, column(idx, k)] + g * g
            scratch[F_GRAD_SQ, k] = grad_sq
            scale = scratch[F_SCALE, k]
            if grad_sq > 0.0 and scale > 0.0:
                scratch[F_WEIGHT, k] -= lr * rate_scale * g / (scale * math.sqrt(grad_sq))
        grad_sq_b = scratch[SC_SCALARS, S_INTERCEPT_GRAD_SQ] + grad_b * grad_b
        scratch[SC_SCALARS, S_INTERCEPT_GRAD_SQ] = grad_sq_b
        if grad_sq_b > 0.0:
            scratch[SC_SCALARS, S_INTERCEPT] -= (
                intercept_lr * rate_scale * grad_b / math.sqrt(grad_sq_b)
            )

    if options.l1:
        l1 = P[P_L1]
        # Cumulative L1 penalty (Tsuruoka et al., 2009), exactly as River's GLM applies it.
        max_cum = scratch[SC_SCALARS, S_MAX_CUM_L1] + l1 * lr_next
        scratch[SC_SCALARS, S_MAX_CUM_L1] = max_cum
        for k in range(n):
            w = scratch[F_WEIGHT, k]
            cum = F[F_CUM_L1, column(idx, k)]
            if w > 0.0:
                new_w = max(0.0, w - (max_cum + cum))
            elif w < 0.0:
                new_w = min(0.0, w + (max_cum - cum))
            else:
                new_w = w
            scratch[F_WEIGHT, k] = new_w
            scratch[F_CUM_L1, k] = cum + (new_w - w)

    total = scratch[SC_SCALARS, S_INTERCEPT]
    if options.averaged:
        for k in range(n):
            avg = F[F_AVERAGE, column(idx, k)]
            scratch[F_AVERAGE, k] = avg + (scratch[F_WEIGHT, k] - avg) / t
            total += scratch[F_AVERAGE, k]
        average_b = scratch[SC_SCALARS, S_INTERCEPT_AVERAGE]
        scratch[SC_SCALARS, S_INTERCEPT_AVERAGE] += (
            scratch[SC_SCALARS, S_INTERCEPT] - average_b
        ) / t
        total += scratch[SC_SCALARS, S_INTERCEPT_AVERAGE]
    for k in range(n):
        total += scratch[F_WEIGHT, k]
    if is_finite(total):
        return True
    # A non-finite sum can also come from finite values adding up past the float range.
    if not (is_finite(scratch[SC_SCALARS, S_INTERCEPT])
            and is_finite(scratch[SC_SCALARS, S_INTERCEPT_AVERAGE])):
        return False
    for k in range(n):
        average = scratch[F_AVERAGE, k] if options.averaged else 0.0
        if not (is_finite(scratch[F_WEIGHT, k]) and is_finite(average)):
            return False
    return True


@jit_inline
def commit(
    options: Options, F: np.ndarray, S: np.ndarray, idx: np.ndarray, scratch: np.ndarray
) -> None:
    """Write an accepted step from ``scratch`` into the state (only the quantities in use)."""
    n = width(idx)
    for k in range(n):
        F[F_WEIGHT, column(idx, k)] = scratch[F_WEIGHT, k]
    if options.averaged:
        for k in range(n):
            F[F_AVERAGE, column(idx, k)] = scratch[F_AVERAGE, k]
    if options.rule == RULE_NORMALIZED:
        for k in range(n):
            F[F_SCALE, column(idx, k)] = scratch[F_SCALE, k]
            F[F_GRAD_SQ, column(idx, k)] = scratch[F_GRAD_SQ, k]
    if options.l1:
        for k in range(n):
            F[F_CUM_L1, column(idx, k)] = scratch[F_CUM_L1, k]
    if options.standardize:
        for k in range(n):
            F[F_COUNT, column(idx, k)] = scratch[F_COUNT, k]
            F[F_MEAN, column(idx, k)] = scratch[F_MEAN, k]
            F[F_M2, column(idx, k)] = scratch[F_M2, k]
    for s in range(N_SCALAR_STATE):
        S[s] = scratch[SC_SCALARS, s]


@jit_inline
def add_l2(options: Options, P: np.ndarray, n: int, scratch: np.ndarray) -> None:
    """Add the L2 penalty's gradient to the row's gradients in ``scratch``, if one is set."""
    if options.l2:
        l2 = P[P_L2]
        for k in range(n):
            scratch[SC_GRAD, k] += l2 * scratch[F_WEIGHT, k]


@jit_inline
def statistics_finite(n: int, scratch: np.ndarray) -> bool:
    """True when the trial statistics of the standardization are finite (a value near the
    float range overflows a variance before any weight)."""
    total = scratch[SC_SCALARS, S_Y_MEAN] + scratch[SC_SCALARS, S_Y_M2]
    for k in range(n):
        total += scratch[F_MEAN, k] + scratch[F_M2, k]
    return is_finite(total)


@jit_inline
def start_step(F: np.ndarray, S: np.ndarray, idx: np.ndarray, scratch) -> None:
    """Copy the state a step starts from into ``scratch``: the row's weights and the scalars."""
    for s in range(N_SCALAR_STATE):
        scratch[SC_SCALARS, s] = S[s]
    for k in range(width(idx)):
        scratch[F_WEIGHT, k] = F[F_WEIGHT, column(idx, k)]


@jit_inline
def rescale(F: np.ndarray, idx: np.ndarray, k: int, magnitude: float, scratch) -> None:
    """Normalized rule: grow feature ``column(idx, k)``'s scale to ``magnitude``, shrink its weight.

    When a feature shows a larger magnitude than seen so far, the weight is multiplied by
    ``(old_scale / new_scale)^2``, as in the NAG algorithm of Ross, Mineiro and Langford (2013).
    """
    scale = F[F_SCALE, column(idx, k)]
    scratch[F_SCALE, k] = scale
    if magnitude > scale:
        if scale > 0.0:
            scratch[F_WEIGHT, k] *= (scale / magnitude) ** 2
        scratch[F_SCALE, k] = magnitude


@jit_inline
def learn_row(
    options: Options,
    F: np.ndarray,
    S: np.ndarray,
    P: np.ndarray,
    idx: np.ndarray,
    X: np.ndarray, i: int,
    y: float,
    sample_weight: float,
    lr: float,
    intercept_lr: float,
    lr_next: float,
    scratch: np.ndarray,
    out: np.ndarray,
) -> int:
    """Predict one row, then learn it: the per-row update rule. Returns a `ROW_OUTCOMES` code.

    ``out[0]`` receives the prediction made before the update (NaN if a feature is not
    finite), ``out[1]`` its squared error and ``out[2]`` the squared error of the running-mean
    baseline (the mean of the targets learned before this row; 0 before the first). The state
    changes only when the row is learned (code `LEARNED`): a non-finite feature or target, or
    a step that would make the state non-finite (`DIVERGED`), leave it as it was.

    Damping: with standardization, plain SGD on the squared loss never carries the prediction
    past the target. A step whose rate would (rate times |z|^2 above 1/2: many features, or a
    large rate) is shortened to land on the target: the longest step along the gradient that
    leaves the row's error no larger, as normalized LMS does. Otherwise such steps overshoot
    more and more, a runaway that stays finite for a long time. Without standardization the
    model takes River's `LinearRegression` steps exactly, overshoots included (River's own
    tests follow such trajectories), and only a non-finite state is refused. Steps that do not
    grow with the residual (bounded-gradient losses, the normalized rule) cannot run away.
    """
    n = width(idx)
    prediction = predict_row(options, F, S, idx, X, i)
    out[0] = prediction
    if not is_finite(prediction):
        # A NaN or an infinity in the row makes the prediction non-finite (0 * inf is NaN),
        # so the row needs a closer look only then; else the weights overflow it.
        check = 0.0
        for k in range(n):
            check += X[i, k] * 0.0
        if check != 0.0:
            out[0] = math.nan
            return NON_FINITE_FEATURE
        return DIVERGED
    if not is_finite(y):
        return NON_FINITE_TARGET
    out[1] = (prediction - y) ** 2
    out[2] = (y - S[S_Y_MEAN]) ** 2

    start_step(F, S, idx, scratch)
    scratch[SC_SCALARS, S_Y_COUNT], scratch[SC_SCALARS, S_Y_MEAN], scratch[SC_SCALARS, S_Y_M2] = (
        welford(S[S_Y_COUNT], S[S_Y_MEAN], S[S_Y_M2], y)
    )
    if options.standardize:
        Z = scratch[SC_Z]
        for k in range(n):
            j = column(idx, k)
            count, mean, m2 = welford(F[F_COUNT, j], F[F_MEAN, j], F[F_M2, j], X[i, k])
            scratch[F_COUNT, k], scratch[F_MEAN, k], scratch[F_M2, k] = count, mean, m2
            center, gain = feature_transform(count, mean, m2)
            Z[k] = (X[i, k] - center) * gain
        center_y, scale_y = target_transform(
            scratch[SC_SCALARS, S_Y_COUNT], scratch[SC_SCALARS, S_Y_MEAN],
            scratch[SC_SCALARS, S_Y_M2],
        )
        target = (y - center_y) / scale_y
        if not statistics_finite(n, scratch):
            return DIVERGED
    else:
        Z = X[i]
        target = y
        if options.auto_intercept and S[S_INTERCEPT_STARTED] == 0.0:
            scratch[SC_SCALARS, S_INTERCEPT] = y
    scratch[SC_SCALARS, S_INTERCEPT_STARTED] = 1.0

    sq_norm_increment = 0.0
    if options.rule == RULE_NORMALIZED:
        sq_norm_increment = 1.0
        for k in range(n):
            rescale(F, idx, k, abs(Z[k]), scratch)
            if scratch[F_SCALE, k] > 0.0:
                sq_norm_increment += (Z[k] / scratch[F_SCALE, k]) ** 2
    if (not options.standardize and not options.averaged and options.rule == RULE_SGD
            and scratch[SC_SCALARS, S_INTERCEPT] == S[S_INTERCEPT]):
        raw = prediction  # the step starts from the weights that predicted
    else:
        raw = scratch[SC_SCALARS, S_INTERCEPT]
        for k in range(n):
            raw += scratch[F_WEIGHT, k] * Z[k]
    g = loss_gradient(options.loss, P[P_LOSS_PARAM], raw, target) * sample_weight
    g = min(max(g, -P[P_CLIP]), P[P_CLIP])
    for k in range(n):
        scratch[SC_GRAD, k] = g * Z[k]
    add_l2(options, P, n, scratch)
    if options.standardize and options.loss == LOSS_SQUARED and options.rule == RULE_SGD:
        # The fraction of the residual the loss's step removes (L1/L2 pulls aside): above 1,
        # the step would carry the prediction past the target.
        sq_norm = 0.0
        for k in range(n):
            sq_norm += Z[k] * Z[k]
        residual = raw - target
        removed = g * (lr * sq_norm + intercept_lr) / residual if residual != 0.0 else 0.0
        if removed > 1.0:
            lr, intercept_lr = lr / removed, intercept_lr / removed
    if not apply_step(options, F, P, idx, g, sq_norm_increment, lr, intercept_lr, lr_next, scratch):
        return DIVERGED
    commit(options, F, S, idx, scratch)
    return LEARNED


@jit_inline
def step_row(
    options: Options, F: np.ndarray, S: np.ndarray, P: np.ndarray, idx: np.ndarray, X: np.ndarray, i: int,
    row: int, learn: np.ndarray, y: np.ndarray, sample_weight: np.ndarray, weight_stride: int,
    lrs: np.ndarray, intercept_lrs: np.ndarray, rate_stride: int, k: int, scratch: np.ndarray,
    out: np.ndarray, predictions: np.ndarray, outcomes: np.ndarray,
    squared_errors: np.ndarray, baseline_errors: np.ndarray,
) -> int:
    """Block row ``row`` (``X[i]``, features ``idx``): `learn_row` as the k-th learned row if
    ``learn[row]``, else `predict_row`; records its prediction, outcome and errors (see
    `learn_rows`) and returns its `ROW_OUTCOMES` code."""
    if not learn[row]:
        check = 0.0
        for c in range(width(idx)):
            check += X[i, c] * 0.0
        if check == 0.0:
            predictions[row] = predict_row(options, F, S, idx, X, i)
            outcomes[row] = LEARNED
        else:
            predictions[row] = math.nan
            outcomes[row] = NON_FINITE_FEATURE
        return outcomes[row]
    r = k * rate_stride
    code = learn_row(
        options, F, S, P, idx, X, i, y[row], sample_weight[row * weight_stride], lrs[r],
        intercept_lrs[r], lrs[r + rate_stride], scratch, out,
    )
    predictions[row] = out[0]
    outcomes[row] = code
    if code == LEARNED:
        squared_errors[k] = out[1]
        baseline_errors[k] = out[2]
    return code


@jit_inline
def learn_rows(
    options: Options,
    X: np.ndarray,
    y: np.ndarray,
    learn: np.ndarray,
    sample_weight: np.ndarray,
    weight_stride: int,
    lrs: np.ndarray,
    intercept_lrs: np.ndarray,
    rate_stride: int,
    idx: np.ndarray,
    F: np.ndarray,
    S: np.ndarray,
    P: np.ndarray,
    stop_at_refusal: bool,
    predictions: np.ndarray,
    outcomes: np.ndarray,
    squared_errors: np.ndarray,
    baseline_errors: np.ndarray,
) -> int:
    """`learn_row` on each row of ``X`` in order (columns: features ``idx``) where ``learn``
    is set; `predict_row` on the others. Returns how many rows were learned.

    ``lrs[k * rate_stride]`` and ``intercept_lrs[k * rate_stride]`` are the rates of the k-th
    learned row (a stride of 0 passes a constant as one value), and ``lrs`` has one more entry,
    the rate after the last step; ``sample_weight[i * weight_stride]`` is row i's weight.
    ``predictions[i]`` receives row i's prediction made before its update, ``outcomes[i]`` its
    `ROW_OUTCOMES` code, ``squared_errors[k]``/``baseline_errors[k]`` the errors of the k-th
    learned row. A refused row is skipped; with ``stop_at_refusal`` the loop stops there
    (``outcomes`` past it are left as they were).
    """
    n, d = X.shape
    scratch_owner, out_owner = scratch_for(d), np.empty(3)
    scratch, out = unmanaged(scratch_owner), unmanaged(out_owner)
    idx, X = unmanaged(idx), unmanaged(X)
    (F, S, P, y, learn, sample_weight, lrs, intercept_lrs, predictions, outcomes, squared_errors,
     baseline_errors) = unmanaged_all(F, S, P, y, learn, sample_weight, lrs, intercept_lrs,
                                      predictions, outcomes, squared_errors, baseline_errors)
    k = 0
    for i in range(n):
        code = step_row(options, F, S, P, idx, X, i, i, learn, y, sample_weight, weight_stride, lrs,
                        intercept_lrs, rate_stride, k, scratch, out, predictions, outcomes,
                        squared_errors, baseline_errors)
        if code != LEARNED:
            if stop_at_refusal:
                return k
        elif learn[i]:
            k += 1
    return k


@jit_inline
def learn_rows_sparse(
    options: Options,
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    y: np.ndarray,
    learn: np.ndarray,
    sample_weight: np.ndarray,
    weight_stride: int,
    lrs: np.ndarray,
    intercept_lrs: np.ndarray,
    rate_stride: int,
    F: np.ndarray,
    S: np.ndarray,
    P: np.ndarray,
    stop_at_refusal: bool,
    predictions: np.ndarray,
    outcomes: np.ndarray,
    squared_errors: np.ndarray,
    baseline_errors: np.ndarray,
) -> int:
    """`learn_rows` over the rows of a CSR matrix: row i holds the features (state indices)
    ``indices[indptr[i]:indptr[i + 1]]`` with the ``values`` at the same positions. A feature
    absent from a row is not part of it: 0 in standardized space, its state left alone.
    Arguments and result otherwise as in `learn_rows`."""
    n = indptr.shape[0] - 1
    width = 1
    for i in range(n):
        width = max(width, indptr[i + 1] - indptr[i])
    scratch_owner, out_owner = scratch_for(width), np.empty(3)
    scratch, out = unmanaged(scratch_owner), unmanaged(out_owner)
    indices, values = unmanaged(indices), unmanaged(values)
    (F, S, P, y, learn, sample_weight, lrs, intercept_lrs, predictions, outcomes, squared_errors,
     baseline_errors) = unmanaged_all(F, S, P, y, learn, sample_weight, lrs, intercept_lrs,
                                      predictions, outcomes, squared_errors, baseline_errors)
    k = 0
    for i in range(n):
        start, end = indptr[i], indptr[i + 1]
        X = values[start:end].reshape((1, end - start))
        code = step_row(options, F, S, P, indices[start:end], X, 0, i, learn, y, sample_weight,
                        weight_stride, lrs, intercept_lrs, rate_stride, k, scratch, out,
                        predictions, outcomes, squared_errors, baseline_errors)
        if code != LEARNED:
            if stop_at_refusal:
                return k
        elif learn[i]:
            k += 1
    return k


@jit
def predict_block(X: np.ndarray, w: np.ndarray, b: float, out: np.ndarray) -> None:
    """``out[i] = b + w · X[i]`` for every row.

    The loops follow ``X``'s memory order: a DataFrame hands over a column-major array, which
    is then read column by column, so that the inner loop runs contiguously and vectorises.
    """
    n, d = X.shape
    if X.strides[0] < X.strides[1]:
        for i in range(n):
            out[i] = b
        for j in range(d):
            w_j = w[j]
            for i in range(n):
                out[i] += w_j * X[i, j]
    else:
        for i in range(n):
            total = b
            for j in range(d):
                total += w[j] * X[i, j]
            out[i] = total


@jit
def gradient_block(X: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
    """``out[j] = sum_i g[i] X[i, j]``, looping in ``X``'s memory order (see `predict_block`)."""
    n, d = X.shape
    if X.strides[0] < X.strides[1]:
        for j in range(d):
            total = 0.0
            for i in range(n):
                total += g[i] * X[i, j]
            out[j] = total
    else:
        out[:] = 0.0
        for i in range(n):
            g_i = g[i]
            for j in range(d):
                out[j] += g_i * X[i, j]


@jit_inline
def predict_rows(options, F, S, idx, X, out) -> None:
    """`predict_row` for every row of ``X``, through `effective_weights` and `predict_block`."""
    w = np.empty(width(idx))
    b = effective_weights(options, F, S, idx, w)
    predict_block(X, w, b, out)


@jit_inline
def batch_statistics(options, F, S, idx, X, y, scratch, predictions, baseline_errors) -> None:
    """Predict the mini-batch, then take its targets and features into the trial statistics.

    The baseline of row i predicts the mean of the targets before it, the batch's earlier
    rows included.
    """
    n, d = X.shape
    predict_rows(options, F, S, idx, X, predictions)
    start_step(F, S, idx, scratch)
    count, total = S[S_Y_COUNT], S[S_Y_COUNT] * S[S_Y_MEAN]
    for i in range(n):
        baseline_errors[i] = (y[i] - (total / count if count > 0.0 else 0.0)) ** 2
        total += y[i]
        count += 1.0
    scratch[SC_SCALARS, S_Y_COUNT], scratch[SC_SCALARS, S_Y_MEAN], scratch[SC_SCALARS, S_Y_M2] = (
        merge_statistics(S[S_Y_COUNT], S[S_Y_MEAN], S[S_Y_M2], y)
    )
    if options.standardize:
        for k in range(d):
            j = column(idx, k)
            scratch[F_COUNT, k], scratch[F_MEAN, k], scratch[F_M2, k] = merge_statistics(
                F[F_COUNT, j], F[F_MEAN, j], F[F_M2, j], X[:, k]
            )
    elif options.auto_intercept and S[S_INTERCEPT_STARTED] == 0.0:
        scratch[SC_SCALARS, S_INTERCEPT] = y.mean()
    scratch[SC_SCALARS, S_INTERCEPT_STARTED] = 1.0


@jit_inline
def batch_prepare(options, F, S, idx, X, y, scratch, squared_errors, baseline_errors):
    """The first half of `learn_batch`, up to the loss: returns ``(Z, targets, raw,
    sq_norm_increment)``, the batch in the units the weights learn in and the predictions the
    step's gradient is taken at. A loss the kernels do not know gets its gradients at ``raw``
    from Python, then `batch_finish` completes the step."""
    n = X.shape[0]
    predictions = np.empty(n)
    batch_statistics(options, F, S, idx, X, y, scratch, predictions, baseline_errors)
    for i in range(n):
        squared_errors[i] = (predictions[i] - y[i]) ** 2
    Z, targets = standardized_block(options, X, y, scratch)
    if (not options.standardize and not options.averaged and options.rule == RULE_SGD
            and scratch[SC_SCALARS, S_INTERCEPT] == S[S_INTERCEPT]):
        return Z, targets, predictions, 0.0  # the step starts from the weights that predicted
    raw = np.empty(n)
    sq_norm_increment = batch_start(options, F, idx, Z, scratch, raw)
    return Z, targets, raw, sq_norm_increment


@jit_inline
def standardized_block(options, X, y, scratch) -> tuple[np.ndarray, np.ndarray]:
    """``X`` and ``y`` in the units the weights learn in, after the batch's statistics."""
    if not options.standardize:
        return X, y
    n, d = X.shape
    Z = np.empty((n, d))
    for k in range(d):
        center, gain = feature_transform(scratch[F_COUNT, k], scratch[F_MEAN, k], scratch[F_M2, k])
        for i in range(n):
            Z[i, k] = (X[i, k] - center) * gain
    center_y, scale_y = target_transform(
        scratch[SC_SCALARS, S_Y_COUNT], scratch[SC_SCALARS, S_Y_MEAN], scratch[SC_SCALARS, S_Y_M2]
    )
    targets = np.empty(n)
    for i in range(n):
        targets[i] = (y[i] - center_y) / scale_y
    return Z, targets


@jit_inline
def batch_start(options, F, idx, Z, scratch, raw) -> float:
    """Rescale for the normalized rule and predict ``raw`` from the weights the step starts at;
    returns the normalizer's increment."""
    n, d = Z.shape
    sq_norm_increment = 0.0
    if options.rule == RULE_NORMALIZED:
        for k in range(d):
            magnitude = 0.0
            for i in range(n):
                magnitude = max(magnitude, abs(Z[i, k]))
            rescale(F, idx, k, magnitude, scratch)
        for i in range(n):
            sq_norm_increment += 1.0
            for k in range(d):
                if scratch[F_SCALE, k] > 0.0:
                    sq_norm_increment += (Z[i, k] / scratch[F_SCALE, k]) ** 2
        sq_norm_increment /= n
    predict_block(Z, scratch[F_WEIGHT, :d], scratch[SC_SCALARS, S_INTERCEPT], raw)
    return sq_norm_increment


@jit_inline
def batch_finish(options, F, S, P, idx, Z, loss_gradients, sq_norm_increment, lr, intercept_lr,
                 lr_next, scratch) -> int:
    """The second half of `learn_batch`: the mean gradient, `apply_step`, and the commit."""
    n, d = Z.shape
    gradient_block(Z, loss_gradients, scratch[SC_GRAD, :d])
    grad_b = 0.0
    for i in range(n):
        grad_b += loss_gradients[i]
    for k in range(d):
        scratch[SC_GRAD, k] = scratch[SC_GRAD, k] / n
    add_l2(options, P, d, scratch)
    if not apply_step(options, F, P, idx, grad_b / n, sq_norm_increment, lr, intercept_lr, lr_next,
                      scratch):
        return DIVERGED
    commit(options, F, S, idx, scratch)
    return LEARNED


@jit_inline
def learn_batch(
    options: Options,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    weight_stride: int,
    idx: np.ndarray,
    F: np.ndarray,
    S: np.ndarray,
    P: np.ndarray,
    lr: float,
    intercept_lr: float,
    lr_next: float,
    squared_errors: np.ndarray,
    baseline_errors: np.ndarray,
) -> int:
    """One step on the mean gradient of a mini-batch, River's `learn_many` semantics.

    The statistics of the standardization take in the whole batch first; the predictions
    behind ``squared_errors`` are those made before. Returns a `ROW_OUTCOMES` code for the
    batch: `LEARNED`, a non-finite feature or target (nothing checked further), or `DIVERGED`;
    the state changes only on `LEARNED`. With ``intercept_init="auto"``, the first batch starts
    the intercept at its mean target.
    """
    n, d = X.shape
    scratch_owner = scratch_for(d)
    scratch = unmanaged(scratch_owner)
    F, S, P, idx = unmanaged(F), unmanaged(S), unmanaged(P), unmanaged(idx)
    Z, targets, raw, sq_norm_increment = batch_prepare(
        options, F, S, idx, X, y, scratch, squared_errors, baseline_errors
    )
    # A NaN or an infinity in X or y makes an error non-finite (0 * inf is NaN), so the input
    # needs a closer look only then (else the predictions overflowed).
    if not (all_finite(squared_errors) and all_finite(baseline_errors)):
        if not matrix_finite(X):
            return NON_FINITE_FEATURE
        if not all_finite(y):
            return NON_FINITE_TARGET
        return DIVERGED
    if options.standardize and not statistics_finite(d, scratch):
        return DIVERGED
    code, param, clip = options.loss, P[P_LOSS_PARAM], P[P_CLIP]
    for i in range(n):
        g = loss_gradient(code, param, raw[i], targets[i]) * sample_weight[i * weight_stride]
        raw[i] = min(max(g, -clip), clip)
    return batch_finish(options, F, S, P, idx, Z, raw, sq_norm_increment, lr, intercept_lr, lr_next,
                        scratch)


@jit
def all_finite(values: np.ndarray) -> bool:
    """True when no entry of ``values`` (any shape, contiguous) is NaN or infinite.

    ``v * 0.0`` is 0 for a finite ``v`` and NaN otherwise, so the sum of these products is 0
    exactly when every entry is finite; unlike ``np.isfinite(values).all()`` this allocates
    nothing, and with reassociation it runs in SIMD lanes, as fast as memory delivers.
    """
    flat = values.reshape(-1)
    total = 0.0
    for i in range(flat.shape[0]):
        total += flat[i] * 0.0
    return total == 0.0


@jit
def matrix_finite(X: np.ndarray) -> bool:
    """`all_finite` for a 2-D array of any memory layout."""
    n, d = X.shape
    total = 0.0
    if X.strides[0] < X.strides[1]:
        for j in range(d):
            for i in range(n):
                total += X[i, j] * 0.0
    else:
        for i in range(n):
            for j in range(d):
                total += X[i, j] * 0.0
    return total == 0.0


class Compiled(NamedTuple):
    """The loops of the rule for one `Options`: `learn_rows`, `learn_rows_sparse`, `learn_batch`
    and `predict_rows` without their ``options`` argument."""

    options: Options
    learn_rows: Callable
    learn_rows_sparse: Callable
    learn_batch: Callable
    predict_rows: Callable


def kernel_matrix(X: np.ndarray) -> np.ndarray:
    """``X`` as the block loops take it: C or F order, read-only. Each array type a loop
    meets is compiled anew (seconds, once per machine): this keeps it to two per loop, at the
    cost of a copy of a strided array only.

    >>> X = np.arange(6.0).reshape(2, 3)
    >>> [(m.flags.c_contiguous, m.flags.writeable) for m in map(kernel_matrix, (X, X[:, ::2]))]
    [(True, False), (True, False)]
    """
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    if X.flags.writeable:
        X = X.view()
        X.flags.writeable = False
    return X


@jit_inline
def options_from(codes: np.ndarray) -> Options:
    """The `Options` an array of their values holds (see `rule_for`)."""
    return Options(codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[6])


@jit
def _learn_rows_any(codes, X, y, learn, sample_weight, weight_stride, lrs, intercept_lrs,
                    rate_stride, idx, F, S, P, stop_at_refusal, predictions, outcomes,
                    squared_errors, baseline_errors):
    return learn_rows(options_from(codes), X, y, learn, sample_weight, weight_stride, lrs,
                      intercept_lrs, rate_stride, idx, F, S, P, stop_at_refusal, predictions,
                      outcomes, squared_errors, baseline_errors)


@jit
def _learn_rows_sparse_any(codes, indptr, indices, values, y, learn, sample_weight,
                           weight_stride, lrs, intercept_lrs, rate_stride, F, S, P,
                           stop_at_refusal, predictions, outcomes, squared_errors,
                           baseline_errors):
    return learn_rows_sparse(options_from(codes), indptr, indices, values, y, learn,
                             sample_weight, weight_stride, lrs, intercept_lrs, rate_stride, F, S,
                             P, stop_at_refusal, predictions, outcomes, squared_errors,
                             baseline_errors)


@jit
def _learn_batch_any(codes, X, y, sample_weight, weight_stride, idx, F, S, P, lr, intercept_lr,
                     lr_next, squared_errors, baseline_errors):
    return learn_batch(options_from(codes), X, y, sample_weight, weight_stride, idx, F, S, P, lr,
                       intercept_lr, lr_next, squared_errors, baseline_errors)


@jit
def _predict_rows_any(codes, F, S, idx, X, out):
    predict_rows(options_from(codes), F, S, idx, X, out)


# The option sets whose row loops are compiled with each option a constant: ``SGDRegressor()``
# and River's ``LinearRegression()`` (``standardize=False, intercept_init=0.0``). Specialising
# costs a compile of its own (seconds, once per machine, for each array layout used), so the
# other sets, and the mini-batch loops of every set (which test the options once a batch, not
# once a row), share one compile that reads the options at run time.
SPECIALISED = frozenset({
    Options(LOSS_SQUARED, RULE_SGD, standardize=1, averaged=0, auto_intercept=1, l1=0, l2=0),
    Options(LOSS_SQUARED, RULE_SGD, standardize=0, averaged=0, auto_intercept=0, l1=0, l2=0),
})


@functools.cache
def rule_for(options: Options) -> Compiled:
    """The loops for ``options``: for a set in `SPECIALISED`, the row loops inlined with
    ``options`` a constant, so that LLVM drops the branches of the options that are off and
    vectorises what remains; otherwise the same loops reading ``options`` at run time. Each is
    compiled (or loaded from numba's cache) on its first call.

    >>> import numpy as np
    >>> P = np.zeros(len(_state.PARAM_FIELDS))
    >>> rule = rule_for(options_of(P))
    >>> rule.options, rule.options in SPECIALISED
    (Options(loss=0, rule=0, standardize=0, averaged=0, auto_intercept=0, l1=0, l2=0), True)
    """
    # The generic loops take the options as an array: numba types a NamedTuple argument field
    # by field at every call, which cost a mini-batch several microseconds.
    codes = np.array(options, dtype=np.int64)
    batch_loops = (functools.partial(_learn_batch_any, codes),
                   functools.partial(_predict_rows_any, codes))
    if options not in SPECIALISED:
        return Compiled(options, functools.partial(_learn_rows_any, codes),
                        functools.partial(_learn_rows_sparse_any, codes), *batch_loops)

    @jit
    def learn_rows_for(X, y, learn, sample_weight, weight_stride, lrs, intercept_lrs,
                       rate_stride, idx, F, S, P, stop_at_refusal, predictions, outcomes,
                       squared_errors, baseline_errors):
        return learn_rows(options, X, y, learn, sample_weight, weight_stride, lrs,
                          intercept_lrs, rate_stride, idx, F, S, P, stop_at_refusal, predictions,
                          outcomes, squared_errors, baseline_errors)

    @jit
    def learn_rows_sparse_for(indptr, indices, values, y, learn, sample_weight, weight_stride,
                              lrs, intercept_lrs, rate_stride, F, S, P, stop_at_refusal,
                              predictions, outcomes, squared_errors, baseline_errors):
        return learn_rows_sparse(options, indptr, indices, values, y, learn, sample_weight,
                                 weight_stride, lrs, intercept_lrs, rate_stride, F, S, P,
                                 stop_at_refusal, predictions, outcomes, squared_errors,
                                 baseline_errors)

    return Compiled(options, learn_rows_for, learn_rows_sparse_for, *batch_loops)


# C entry points of the dict path (`online_lr._dictpath`): the same functions, behind raw
# pointers, so that Cython calls them without going through Python.

_double_p = types.CPointer(types.float64)
_int_p = types.CPointer(types.int64)


def _learn_row_c(F_p, capacity, S_p, P_p, idx_p, vals_p, n, y, w, scratch_p, width, out_p):
    F = numba.carray(F_p, (N_FEATURE_STATE, capacity))
    S = numba.carray(S_p, (N_SCALAR_STATE,))
    P = numba.carray(P_p, (N_PARAMS,))
    idx = numba.carray(idx_p, (n,))
    vals = numba.carray(vals_p, (1, n))
    scratch = numba.carray(scratch_p, (N_SCRATCH, width))
    out = numba.carray(out_p, (3,))
    return learn_row(
        options_of(P), F, S, P, idx, vals, 0, y, w, P[P_LR], P[P_INTERCEPT_LR], P[P_LR_NEXT],
        scratch, out,
    )


def _predict_row_c(F_p, capacity, S_p, P_p, idx_p, vals_p, n):
    F = numba.carray(F_p, (N_FEATURE_STATE, capacity))
    S = numba.carray(S_p, (N_SCALAR_STATE,))
    P = numba.carray(P_p, (N_PARAMS,))
    idx, vals = numba.carray(idx_p, (n,)), numba.carray(vals_p, (1, n))
    return predict_row(options_of(P), F, S, idx, vals, 0)


def c_entry_points() -> tuple[int, int]:
    """Addresses of the compiled C functions ``learn_row`` and ``predict_row`` (compiled, or
    loaded from numba's cache, on first call)."""
    global _c_entry_points
    if _c_entry_points is None:
        learn = numba.cfunc(
            types.int64(_double_p, types.int64, _double_p, _double_p, _int_p, _double_p,
                        types.int64, types.float64, types.float64, _double_p, types.int64,
                        _double_p),
            nopython=True, cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"},
        )(_learn_row_c)
        predict = numba.cfunc(
            types.float64(_double_p, types.int64, _double_p, _double_p, _int_p, _double_p,
                          types.int64),
            nopython=True, cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"},
        )(_predict_row_c)
        _c_entry_points = (learn.address, predict.address, learn, predict)
    return _c_entry_points[:2]


_c_entry_points = None
