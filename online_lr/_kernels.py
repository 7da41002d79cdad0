"""Numeric kernels of `SGDRegressor`: one SGD step, and a loop of steps over the rows of a block.

The functions are written as plain loops over numpy arrays so that they read as the maths they
implement, and compiled with numba (cached on disk). This module imports numba, so `sgd.py` imports
it only when a compiled path first runs: `import online_lr` and the dict fast path stay light.
Set ``NUMBA_DISABLE_JIT=1`` to step through them as Python.

State layout. Per-feature state lives in a ``(5, d)`` array ``F`` whose rows are named by the
``F_*`` constants below; scalar state lives in a length-7 array ``S`` named by the ``S_*``
constants. Keeping state in two arrays lets a step write its result into scratch copies and
commit them only when every value is finite (the divergence guard), without a dozen arguments.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Reassociation lets LLVM vectorise the dot products; the flags that assume no NaN or infinity
# are left out, because the divergence guard must see them.
jit = numba.njit(cache=True, fastmath={"reassoc", "contract", "nsz", "arcp"})

# Rows of the per-feature state array F.
F_WEIGHT = 0  # current weights
F_AVERAGE = 1  # Polyak average of the weights (averaged=True)
F_SCALE = 2  # largest |x_j| seen (update="normalized")
F_GRAD_SQ = 3  # sum of squared gradients (update="normalized")
F_CUM_L1 = 4  # L1 penalty already applied to each weight (cumulative L1)
N_FEATURE_STATE = 5

# Slots of the scalar state array S.
S_INTERCEPT = 0
S_INTERCEPT_AVERAGE = 1
S_INTERCEPT_GRAD_SQ = 2
S_NORMALIZER = 3  # sum over samples of sum_j (x_j / s_j)^2, the intercept counting as x=1, s=1
S_MAX_CUM_L1 = 4  # total L1 penalty a weight may have received so far
S_STEPS = 5  # number of updates made (the schedules' t)
S_INTERCEPT_STARTED = 6  # 1.0 once intercept_init="auto" has taken its first target
N_SCALAR_STATE = 7

FLOAT_MAX = 1.7976931348623157e308


@jit
def is_finite(value: float) -> bool:
    """``math.isfinite`` that survives fast-math: numba's own is ``x - x == x - x``, which
    reassociation may fold to True. A comparison is never rewritten, and NaN fails it."""
    return abs(value) <= FLOAT_MAX


# Loss codes: the regression losses of river.optim.losses the kernels know.
LOSS_SQUARED = 0
LOSS_ABSOLUTE = 1
LOSS_HUBER = 2
LOSS_QUANTILE = 3
LOSS_EPSILON_INSENSITIVE = 4
LOSS_CAUCHY = 5

# Update rules.
RULE_SGD = 0
RULE_NORMALIZED = 1

# Outcome of a kernel: every row learned; a step refused by the divergence guard; a NaN or an
# infinity in the input (the caller then names it: the kernels only notice it).
DONE = 0
DIVERGED = 1
NOT_FINITE = 2


@jit
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


@jit
def step(
    F: np.ndarray,
    S: np.ndarray,
    grad_w: np.ndarray,
    grad_b: float,
    sq_norm_increment: float,
    lr: float,
    intercept_lr: float,
    lr_next: float,
    rule: int,
    l1: float,
    averaged: bool,
    out_F: np.ndarray,
    out_S: np.ndarray,
) -> bool:
    """Write the state after one gradient step into ``out_F``/``out_S``; True if all finite.

    ``grad_w`` already holds the L2 term. ``sq_norm_increment`` is what this step adds to the
    normalizer of the normalized rule (ignored by plain SGD). ``lr_next`` is the rate at the
    next step, which River's cumulative L1 penalty uses. ``F`` and ``S`` are left untouched, so
    the caller commits the step only when it returns True.
    """
    d = F.shape[1]
    t = S[S_STEPS] + 1.0
    for k in range(N_FEATURE_STATE):
        for j in range(d):
            out_F[k, j] = F[k, j]
    for k in range(N_SCALAR_STATE):
        out_S[k] = S[k]
    out_S[S_STEPS] = t

    if rule == RULE_SGD:
        for j in range(d):
            out_F[F_WEIGHT, j] = F[F_WEIGHT, j] - lr * grad_w[j]
        out_S[S_INTERCEPT] = S[S_INTERCEPT] - intercept_lr * grad_b
    else:
        normalizer = S[S_NORMALIZER] + sq_norm_increment
        out_S[S_NORMALIZER] = normalizer
        rate_scale = math.sqrt(t / normalizer)
        for j in range(d):
            g = grad_w[j]
            grad_sq = F[F_GRAD_SQ, j] + g * g
            out_F[F_GRAD_SQ, j] = grad_sq
            scale = F[F_SCALE, j]
            if grad_sq > 0.0 and scale > 0.0:
                out_F[F_WEIGHT, j] = F[F_WEIGHT, j] - lr * rate_scale * g / (
                    scale * math.sqrt(grad_sq)
                )
        grad_sq_b = S[S_INTERCEPT_GRAD_SQ] + grad_b * grad_b
        out_S[S_INTERCEPT_GRAD_SQ] = grad_sq_b
        if grad_sq_b > 0.0:
            out_S[S_INTERCEPT] = S[S_INTERCEPT] - intercept_lr * rate_scale * grad_b / math.sqrt(
                grad_sq_b
            )

    if l1 != 0.0:
        # Cumulative L1 penalty (Tsuruoka et al., 2009), exactly as River's GLM applies it.
        max_cum = S[S_MAX_CUM_L1] + l1 * lr_next
        out_S[S_MAX_CUM_L1] = max_cum
        for j in range(d):
            w = out_F[F_WEIGHT, j]
            cum = F[F_CUM_L1, j]
            if w > 0.0:
                new_w = max(0.0, w - (max_cum + cum))
            elif w < 0.0:
                new_w = min(0.0, w + (max_cum - cum))
            else:
                new_w = w
            out_F[F_WEIGHT, j] = new_w
            out_F[F_CUM_L1, j] = cum + (new_w - w)

    if averaged:
        for j in range(d):
            avg = F[F_AVERAGE, j]
            out_F[F_AVERAGE, j] = avg + (out_F[F_WEIGHT, j] - avg) / t
        avg_b = S[S_INTERCEPT_AVERAGE]
        out_S[S_INTERCEPT_AVERAGE] = avg_b + (out_S[S_INTERCEPT] - avg_b) / t

    total = out_S[S_INTERCEPT] + out_S[S_INTERCEPT_AVERAGE]
    for j in range(d):
        total += out_F[F_WEIGHT, j] + out_F[F_AVERAGE, j]
    if is_finite(total):
        return True
    # A non-finite sum can also come from finite values adding up past the float range.
    if not (is_finite(out_S[S_INTERCEPT]) and is_finite(out_S[S_INTERCEPT_AVERAGE])):
        return False
    for j in range(d):
        if not (is_finite(out_F[F_WEIGHT, j]) and is_finite(out_F[F_AVERAGE, j])):
            return False
    return True


@jit
def rescale(F: np.ndarray, abs_x: np.ndarray) -> None:
    """Normalized rule: grow each feature's scale to ``abs_x`` and shrink its weight to match.

    When a feature shows a larger magnitude than seen so far, the weight is multiplied by
    ``(old_scale / new_scale)^2``, as in the NAG algorithm of Ross, Mineiro and Langford (2013).
    """
    for j in range(F.shape[1]):
        a = abs_x[j]
        scale = F[F_SCALE, j]
        if a > scale:
            if scale > 0.0:
                shrink = (scale / a) ** 2
                F[F_WEIGHT, j] *= shrink
            F[F_SCALE, j] = a


@jit
def sq_norm(F: np.ndarray, x: np.ndarray) -> float:
    """Sum of ``(x_j / s_j)^2`` plus one for the intercept: the normalizer's increment."""
    total = 1.0
    for j in range(x.shape[0]):
        scale = F[F_SCALE, j]
        if scale > 0.0:
            total += (x[j] / scale) ** 2
    return total


@jit
def finite_row(x: np.ndarray, y: float, labelled: bool) -> bool:
    """True when the features, and the target if the row is learned, are all finite."""
    check = y * 0.0 if labelled else 0.0
    for j in range(x.shape[0]):
        check += x[j] * 0.0
    return check == 0.0


@jit
def predict_row(F: np.ndarray, S: np.ndarray, x: np.ndarray, averaged: bool) -> float:
    """Prediction for one row: the averaged weights once an average exists, else the weights."""
    if averaged and S[S_STEPS] > 0.0:
        row, b = F_AVERAGE, S[S_INTERCEPT_AVERAGE]
    else:
        row, b = F_WEIGHT, S[S_INTERCEPT]
    total = b
    for j in range(x.shape[0]):
        total += F[row, j] * x[j]
    return total


@jit
def learn_rows(
    X: np.ndarray,
    y: np.ndarray,
    learn: np.ndarray,
    sample_weight: np.ndarray,
    weight_stride: int,
    lrs: np.ndarray,
    intercept_lrs: np.ndarray,
    rate_stride: int,
    F: np.ndarray,
    S: np.ndarray,
    loss_code: int,
    loss_param: float,
    rule: int,
    l2: float,
    l1: float,
    clip: float,
    averaged: bool,
    auto_intercept: bool,
    predictions: np.ndarray,
    squared_errors: np.ndarray,
) -> tuple[int, int]:
    """Predict then learn each row of ``X`` in order, one SGD step per row where ``learn`` is set.

    ``lrs[k * rate_stride]`` and ``intercept_lrs[k * rate_stride]`` are the rates of the k-th
    learned row, ``sample_weight[i * weight_stride]`` the weight of row i (a stride of 0 passes
    a constant as one value); ``lrs`` has one more entry, the rate after the last step (River's
    L1 penalty reads it). ``predictions[i]``
    receives the prediction made just before row i's update, ``squared_errors[k]`` the squared
    error of the k-th learned row's prediction.

    Returns ``(DONE, n)``, or ``(DIVERGED, i)`` / ``(NOT_FINITE, i)`` for the first row i whose
    update would make the state non-finite / whose features or (learned) target are not all
    finite: that row and the following ones are then neither learned nor predicted, and
    ``F``/``S`` hold the state after the rows before it.
    """
    n, d = X.shape
    grad_w = np.empty(d)
    abs_x = np.empty(d)
    out_F = np.empty_like(F)
    out_S = np.empty_like(S)
    trial_F = np.empty_like(F)
    trial_S = np.empty_like(S)
    k = 0
    for i in range(n):
        x = X[i]
        if not finite_row(x, y[i], learn[i]):
            return NOT_FINITE, i
        predictions[i] = predict_row(F, S, x, averaged)
        if not learn[i]:
            continue
        squared_errors[k] = (predictions[i] - y[i]) ** 2
        # Work on a trial copy: rescaling and auto intercept must vanish with a refused step.
        trial_F[:, :] = F
        trial_S[:] = S
        if auto_intercept and trial_S[S_INTERCEPT_STARTED] == 0.0:
            trial_S[S_INTERCEPT] = y[i]
            trial_S[S_INTERCEPT_STARTED] = 1.0
        norm_increment = 0.0
        if rule == RULE_NORMALIZED:
            for j in range(d):
                abs_x[j] = abs(x[j])
            rescale(trial_F, abs_x)
            norm_increment = sq_norm(trial_F, x)
        raw = trial_S[S_INTERCEPT]
        for j in range(d):
            raw += trial_F[F_WEIGHT, j] * x[j]
        g = loss_gradient(loss_code, loss_param, raw, y[i]) * sample_weight[i * weight_stride]
        g = min(max(g, -clip), clip)
        for j in range(d):
            grad_w[j] = g * x[j] + l2 * trial_F[F_WEIGHT, j]
        r = k * rate_stride
        ok = step(
            trial_F, trial_S, grad_w, g, norm_increment, lrs[r], intercept_lrs[r],
            lrs[r + rate_stride], rule, l1, averaged, out_F, out_S,
        )
        if not ok:
            return DIVERGED, i
        F[:, :] = out_F
        S[:] = out_S
        k += 1
    return DONE, n


@jit
def learn_rows_sgd(
    X: np.ndarray,
    y: np.ndarray,
    learn: np.ndarray,
    sample_weight: np.ndarray,
    weight_stride: int,
    lrs: np.ndarray,
    intercept_lrs: np.ndarray,
    rate_stride: int,
    F: np.ndarray,
    S: np.ndarray,
    loss_code: int,
    loss_param: float,
    l2: float,
    clip: float,
    auto_intercept: bool,
    predictions: np.ndarray,
    squared_errors: np.ndarray,
) -> tuple[int, int]:
    """`learn_rows` for plain SGD without L1 or averaging: the default, kept lean.

    Same contract and the same arithmetic as `learn_rows`, without the state the plain rule
    does not use, so that a row costs little more than its two passes over the features (the
    input check rides along the first).
    """
    n, d = X.shape
    w = F[F_WEIGHT]
    new_w = np.empty(d)
    b = S[S_INTERCEPT]
    started = S[S_INTERCEPT_STARTED]
    k = 0
    outcome, last = DONE, n
    for i in range(n):
        dot = 0.0
        for j in range(d):
            dot += w[j] * X[i, j]
        # A NaN or an infinity in x makes the dot product non-finite (0 * inf is NaN), so the
        # row needs a closer look only then (it may also just overflow).
        if not (is_finite(dot) and (is_finite(y[i]) or not learn[i])):
            if not finite_row(X[i], y[i], learn[i]):
                outcome, last = NOT_FINITE, i
                break
        predictions[i] = b + dot
        if not learn[i]:
            continue
        squared_errors[k] = (predictions[i] - y[i]) ** 2
        start_b = b
        if auto_intercept and started == 0.0:
            start_b = y[i]
        raw = start_b + dot
        g = loss_gradient(loss_code, loss_param, raw, y[i]) * sample_weight[i * weight_stride]
        g = min(max(g, -clip), clip)
        lr = lrs[k * rate_stride]
        new_b = start_b - intercept_lrs[k * rate_stride] * g
        total = new_b
        for j in range(d):
            new_w[j] = w[j] - lr * (g * X[i, j] + l2 * w[j])
            total += new_w[j]
        if not is_finite(total):
            finite = is_finite(new_b)
            for j in range(d):
                finite = finite and is_finite(new_w[j])
            if not finite:
                outcome, last = DIVERGED, i
                break
        for j in range(d):
            w[j] = new_w[j]
        b = new_b
        started = 1.0
        k += 1
    S[S_INTERCEPT] = b
    S[S_INTERCEPT_STARTED] = started
    S[S_STEPS] += k
    return outcome, last


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


@jit
def learn_batch(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray,
    weight_stride: int,
    F: np.ndarray,
    S: np.ndarray,
    lr: float,
    intercept_lr: float,
    lr_next: float,
    loss_code: int,
    loss_param: float,
    rule: int,
    l2: float,
    l1: float,
    clip: float,
    averaged: bool,
    auto_intercept: bool,
    squared_errors: np.ndarray,
) -> int:
    """One step on the mean gradient of a mini-batch, River's `learn_many` semantics.

    ``squared_errors`` receives the squared errors of the predictions made before the step, and
    ``F``/``S`` the new state: pass scratch copies, since after `DIVERGED` (the new state is not
    finite, see `step`) they hold part of the refused state. `NOT_FINITE` (``X`` or ``y`` holds
    a NaN or an infinity) leaves them untouched. The row
    weights are ``sample_weight[i * weight_stride]``. With ``intercept_init="auto"``, the first
    batch starts the intercept at its mean target.
    """
    n, d = X.shape
    if averaged and S[S_STEPS] > 0.0:
        row, b = F_AVERAGE, S[S_INTERCEPT_AVERAGE]
    else:
        row, b = F_WEIGHT, S[S_INTERCEPT]
    predictions = np.empty(n)
    predict_block(X, F[row], b, predictions)
    check = 0.0
    for i in range(n):
        squared_errors[i] = (predictions[i] - y[i]) ** 2
        check += squared_errors[i] * 0.0
    # A NaN or an infinity in X or y makes its error non-finite (0 * inf is NaN), so the input
    # needs a closer look only then (the predictions may also just overflow).
    if check != 0.0:
        for i in range(n):
            if not finite_row(X[i], y[i], True):
                return NOT_FINITE

    starts_intercept = auto_intercept and S[S_INTERCEPT_STARTED] == 0.0
    trial_F = F.copy()
    trial_S = S.copy()
    if starts_intercept:
        trial_S[S_INTERCEPT] = y.mean()
        trial_S[S_INTERCEPT_STARTED] = 1.0
    norm_increment = 0.0
    if rule == RULE_NORMALIZED:
        abs_max = np.zeros(d)
        for i in range(n):
            for j in range(d):
                abs_max[j] = max(abs_max[j], abs(X[i, j]))
        rescale(trial_F, abs_max)
        for i in range(n):
            norm_increment += sq_norm(trial_F, X[i])
        norm_increment /= n

    # The gradient is taken at the predictions unless averaging, rescaling or the first
    # intercept changed the weights it is taken with.
    if not (row == F_WEIGHT and rule == RULE_SGD and not starts_intercept):
        predict_block(X, trial_F[F_WEIGHT], trial_S[S_INTERCEPT], predictions)
    loss_grads = np.empty(n)
    grad_b = 0.0
    for i in range(n):
        g = loss_gradient(loss_code, loss_param, predictions[i], y[i])
        g = min(max(g * sample_weight[i * weight_stride], -clip), clip)
        loss_grads[i] = g
        grad_b += g
    grad_w = np.empty(d)
    gradient_block(X, loss_grads, grad_w)
    for j in range(d):
        grad_w[j] = grad_w[j] / n + l2 * trial_F[F_WEIGHT, j]
    if step(
        trial_F, trial_S, grad_w, grad_b / n, norm_increment, lr, intercept_lr, lr_next, rule,
        l1, averaged, F, S,
    ):
        return DONE
    return DIVERGED


@jit
def all_finite(values: np.ndarray) -> bool:
    """True when no entry of ``values`` (any shape) is NaN or infinite.

    ``v * 0.0`` is 0 for a finite ``v`` and NaN otherwise, so the sum of these products is 0
    exactly when every entry is finite; unlike ``np.isfinite(values).all()`` this allocates
    nothing, and with reassociation it runs in SIMD lanes, as fast as memory delivers.
    """
    flat = values.reshape(-1)
    total = 0.0
    for i in range(flat.shape[0]):
        total += flat[i] * 0.0
    return total == 0.0
