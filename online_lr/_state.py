"""The learned state of `SGDRegressor`, named: the one place that knows its layout.

The compiled kernels (`online_lr._kernels`) read and write the state as two float64 arrays, so
that a step can be tried in scratch space and committed only when it is accepted:

- ``features``, shape ``(len(FEATURE_FIELDS), capacity)``: one row per per-feature quantity,
  one column per feature index (the model maps feature names to indices; the arrays grow by
  doubling);
- ``scalars``, shape ``(len(SCALAR_FIELDS),)``.

`State` packs both with the feature names and is what `to_dict`/`from_dict` turn into the
named JSON of the model format. This module imports numpy only: the dict path and persistence
never load numba.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FEATURE_FIELDS", "SCALAR_FIELDS", "State"]

#: Per-feature quantities, in the order of the rows of ``State.features``.
FEATURE_FIELDS = (
    "weight",  # current weight (of the standardized feature when standardize=True)
    "average",  # Polyak average of the weight (averaged=True)
    "scale",  # largest |x| seen (update="normalized")
    "grad_sq",  # sum of squared gradients (update="normalized")
    "cum_l1",  # L1 penalty already applied to the weight (cumulative L1)
    "count",  # rows the feature was present in (standardize=True)
    "mean",  # running mean of the feature over those rows (standardize=True)
    "m2",  # running sum of squared deviations from the mean, Welford (standardize=True)
)

#: Scalar quantities, in the order of ``State.scalars``.
SCALAR_FIELDS = (
    "intercept",
    "intercept_average",
    "intercept_grad_sq",
    "normalizer",  # sum over samples of sum_j (x_j / s_j)^2 (update="normalized")
    "max_cum_l1",  # total L1 penalty a weight may have received so far
    "steps",  # updates made: the schedules' t
    "intercept_started",  # 1.0 once intercept_init="auto" has taken its first target
    "y_count",  # targets learned: the running-mean baseline and the target's standardization
    "y_mean",
    "y_m2",
)

#: Rows of the kernels' scratch space: the trial per-feature state (one row per field), the
#: row's (standardized) values, its gradient, and the trial scalars.
SCRATCH_ROWS = len(FEATURE_FIELDS) + 3

F = {name: row for row, name in enumerate(FEATURE_FIELDS)}
S = {name: slot for slot, name in enumerate(SCALAR_FIELDS)}

_INITIAL_CAPACITY = 16


@dataclass
class State:
    """Feature names, their indices, and the state arrays the kernels work on."""

    names: list = field(default_factory=list)
    index: dict = field(default_factory=dict)
    features: np.ndarray = field(
        default_factory=lambda: np.zeros((len(FEATURE_FIELDS), _INITIAL_CAPACITY))
    )
    scalars: np.ndarray = field(default_factory=lambda: np.zeros(len(SCALAR_FIELDS)))
    _last_names: list | None = field(default=None, repr=False, compare=False)
    _last_indices: np.ndarray | None = field(default=None, repr=False, compare=False)
    _last_columns: np.ndarray | tuple[int] | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.names)

    def column(self, name: str) -> np.ndarray:
        """The named per-feature row, over the features known so far (a view)."""
        return self.features[F[name], : self.size]

    def scalar(self, name: str) -> float:
        return float(self.scalars[S[name]])

    def set_scalar(self, name: str, value: float) -> None:
        self.scalars[S[name]] = value

    def indices(self, names: list) -> np.ndarray:
        """The feature indices of ``names``, adding the new ones (with zero state).

        The last answer is kept: a stream's blocks mostly have the same columns.
        """
        if names == self._last_names:
            return self._last_indices
        index = self.index
        new = [k for k in names if k not in index]
        if new:
            self.add(new)
        indices = np.array([index[k] for k in names], dtype=np.int64)
        self._last_names, self._last_indices = list(names), indices
        first = indices.shape[0] == 0 or (indices == np.arange(indices.shape[0])).all()
        self._last_columns = (indices.shape[0],) if first else indices
        return indices

    def columns(self, names: list) -> np.ndarray | tuple[int]:
        """`indices` as the kernels take them (`online_lr._kernels.column`): ``(d,)`` when
        ``names`` are the first ``d`` features in order, else the array of indices.

        >>> state = State()
        >>> state.columns(["a", "b"]), state.columns(["b"])
        ((2,), array([1]))
        """
        self.indices(names)
        return self._last_columns

    def add(self, new_names: list) -> None:
        """Give each new name the next index, growing the arrays by doubling when full."""
        for name in new_names:
            if not isinstance(name, Hashable):
                raise TypeError(f"feature name {name!r} is not hashable")
            self.index[name] = len(self.names)
            self.names.append(name)
        capacity = self.features.shape[1]
        if self.size > capacity:
            while capacity < self.size:
                capacity *= 2
            grown = np.zeros((self.features.shape[0], capacity))
            grown[:, : self.features.shape[1]] = self.features
            self.features = grown

    def forget(self, count: int) -> None:
        """Drop the last ``count`` names added, when the row that brought them was refused
        (their state was never written)."""
        for name in self.names[len(self.names) - count :]:
            del self.index[name]
        del self.names[len(self.names) - count :]
        self._last_names = None

    def snapshot(self, columns: np.ndarray | tuple[int]) -> tuple:
        """A copy of the state of the features at ``columns`` (as `columns` gives them) and
        of the scalars, for `restore`."""
        positions = slice(0, columns[0]) if isinstance(columns, tuple) else columns
        return positions, self.features[:, positions].copy(), self.scalars.copy()

    def restore(self, snapshot: tuple, size: int) -> None:
        """Put back a `snapshot`'s state and drop the names added after the first ``size``
        (their columns go back to the zeros a new feature starts from)."""
        positions, features, scalars = snapshot
        self.features[:, positions] = features
        self.scalars[:] = scalars
        self.forget(self.size - size)

    def to_dict(self) -> dict:
        """The state as JSON-safe data, every quantity under its name."""
        for name in self.names:
            if not isinstance(name, (str, int)) or isinstance(name, bool):
                raise TypeError(f"feature name {name!r} cannot be saved: use str or int names")
        return {
            "features": list(self.names),
            "feature_state": {
                field_name: self.column(field_name).tolist() for field_name in FEATURE_FIELDS
            },
            "scalars": {name: float(self.scalars[slot]) for name, slot in S.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> State:
        """Rebuild from `to_dict`'s data; a missing quantity (an older file) starts at 0."""
        state = cls()
        names = list(data["features"])
        state.add(names)
        for field_name, values in data["feature_state"].items():
            if field_name not in F:
                raise ValueError(f"unknown feature_state field {field_name!r}")
            if len(values) != len(names):
                raise ValueError(f"feature_state.{field_name} has {len(values)} values")
            state.features[F[field_name], : len(names)] = np.asarray(values, dtype=np.float64)
        for name, value in data["scalars"].items():
            if name not in S:
                raise ValueError(f"unknown scalar {name!r}")
            state.scalars[S[name]] = float(value)
        return state

#: The learner's options and current rates, as the kernels read them (``Params`` array).
PARAM_FIELDS = (
    "loss",  # code of a built-in loss (see `online_lr._kernels.LOSSES`)
    "loss_param",  # its one parameter (Huber's epsilon, Quantile's alpha, ...)
    "rule",  # 0: plain SGD, 1: normalized
    "l2",
    "l1",
    "clip",
    "averaged",
    "auto_intercept",  # intercept_init="auto"
    "standardize",
    "lr",  # the rates of the next step (rewritten before each step under a schedule)
    "intercept_lr",
    "lr_next",  # the rate of the step after it (River's cumulative L1 reads it)
)
P = {name: slot for slot, name in enumerate(PARAM_FIELDS)}

#: What became of a row given to the kernels: its code is the index in this tuple.
ROW_OUTCOMES = ("learned", "non_finite_feature", "non_finite_target", "diverged")
#: The dtype of the kernels' arrays of those codes (small: a fresh array of a large block
#: stays out of new pages of memory, whose first touch costs more than the row's update).
OUTCOME_DTYPE = np.int8
