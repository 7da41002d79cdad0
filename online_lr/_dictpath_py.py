"""Pure-Python twins of the compiled `online_lr._dictpath`, used when it is not built."""

from __future__ import annotations

import math


def dot(weights: dict, x: dict, intercept: float) -> float:
    """``intercept + sum(weights.get(k, 0) * v for k, v in x.items())``."""
    return intercept + sum([weights.get(k, 0.0) * v for k, v in x.items()])


def sgd_learn_one(
    weights: dict, x: dict, y: float, sample_weight: float, intercept: float,
    start_intercept: float, lr: float, intercept_lr: float, l2: float, clip: float,
) -> tuple[float, float]:
    """Predict ``x``, then make one plain SGD step on the squared loss (see the C version)."""
    dot_product = dot(weights, x, 0.0)
    y_pred = intercept + dot_product
    if not math.isfinite(y_pred):
        return y_pred, 0.0
    g = 2.0 * (start_intercept + dot_product - y) * sample_weight
    g = min(max(g, -clip), clip)
    new_intercept = start_intercept - intercept_lr * g
    new = {}
    for k, v in x.items():
        w = weights.get(k, 0.0)
        new[k] = w - lr * (g * v + l2 * w)
    if not math.isfinite(new_intercept + sum(new.values())):
        # A non-finite sum can also come from finite values adding up past the float range.
        if not (math.isfinite(new_intercept) and all(map(math.isfinite, new.values()))):
            return y_pred, math.nan
    weights.update(new)
    return y_pred, new_intercept


def gather(states: list, rows: tuple, names: list, F) -> None:
    """``F[r, j] = states[r].get(names[j], 0.0)`` for each r in ``rows`` (see the C version)."""
    for r in rows:
        state = states[r]
        F[r] = [state.get(k, 0.0) for k in names]


def scatter(states: list, rows: tuple, names: list, F) -> None:
    """``states[r][names[j]] = F[r, j]`` for each r in ``rows`` (see the C version)."""
    for r in rows:
        states[r].update(zip(names, F[r].tolist()))
