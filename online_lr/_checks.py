"""Input checks of `SGDRegressor`: clear errors that name the bad feature, before any update.

A float is checked by arithmetic (``v - v == 0`` is False for NaN and infinities) and a block by
a compiled scan; the exact (slower) checks run only to name the culprit of a failed scan.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

__all__ = [
    "check_block_finite", "check_finite_matrix",
    "check_finite_targets", "check_sample_weight", "check_target", "is_real",
    "raise_for_bad_features",
]


def is_real(value) -> bool:
    return isinstance(value, numbers.Real)


def check_target(y) -> float:
    if y is None:
        raise ValueError("the target is None: a sample without a label can only be predicted")
    if not is_real(y):
        raise TypeError(f"the target must be a number, got {type(y).__name__} {y!r}")
    y = float(y)
    if not math.isfinite(y):
        raise ValueError(f"the target must be finite, got {y!r}")
    return y


def check_sample_weight(w) -> float:
    if not is_real(w) or not math.isfinite(w) or w < 0:
        raise ValueError(f"the sample weight must be a finite number >= 0, got {w!r}")
    return float(w)


def raise_for_bad_features(x) -> None:
    if not isinstance(x, Mapping):
        raise TypeError(f"x must be a dict of features, got {type(x).__name__}")
    for name, value in x.items():
        if not is_real(value):
            raise TypeError(
                f"feature {name!r} must be a number, got {type(value).__name__} {value!r}"
            )
        if not math.isfinite(value):
            raise ValueError(f"feature {name!r} must be finite, got {value!r}")


def check_block_finite(
    X: np.ndarray, y: np.ndarray, learn: np.ndarray | None, names: list
) -> None:
    """`check_finite_matrix` and `check_finite_targets` for large blocks, in compiled code.

    The compiled scan allocates nothing; only when it finds a bad value do the exact numpy
    checks run, to name the feature and the row.
    """
    from online_lr._kernels import all_finite

    if not all_finite(np.ascontiguousarray(X)):  # the scan reads rows; a no-op for them
        check_finite_matrix(X, names)
    labelled = y if learn is None or learn.all() else y[learn]
    if not all_finite(np.ascontiguousarray(labelled)):
        check_finite_targets(y, learn)


def check_finite_matrix(X: np.ndarray, names: list) -> None:
    if np.isfinite(X).all():
        return
    row, col = np.argwhere(~np.isfinite(X))[0]
    value = float(X[row, col])
    raise ValueError(f"feature {names[col]!r} must be finite, got {value!r} in row {row}")


def check_finite_targets(y: np.ndarray, learn: np.ndarray | None) -> None:
    finite = np.isfinite(y)
    if learn is not None:
        finite |= ~learn
    if finite.all():
        return
    row = int(np.flatnonzero(~finite)[0])
    raise ValueError(f"the target must be finite, got {float(y[row])!r} in row {row}")
