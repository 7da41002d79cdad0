"""The dict path of `SGDRegressor` in Python, used when the C extension is not built.

It maps a feature dict to feature indices and values and calls the compiled update rule
(`online_lr._kernels.learn_row`/`predict_row`) directly: the same interface and the same
numbers as `online_lr._dictpath.DictRows`, slower per call. No arithmetic of the model is
written here.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from online_lr import _kernels, _state

_LEARNED = _state.ROW_OUTCOMES.index("learned")
_NON_FINITE_FEATURE = _state.ROW_OUTCOMES.index("non_finite_feature")


class DictRows:
    """Learn and predict feature dicts with the model's state (see the C version)."""

    def __init__(self, entry_points, state, params, n_scratch, buffer, on_full):
        self.errors = np.empty(buffer)
        self.baseline_errors = np.empty(buffer)
        self.pending = 0
        self.on_full = on_full
        self.out = np.empty(3)
        self.bind(state, params)

    def bind(self, state, params) -> None:
        self.state, self.params, self.features = state, params, state.features

    def _known(self, x: dict) -> tuple[np.ndarray, np.ndarray] | None:
        index = self.state.index
        for name, v in x.items():
            if not isinstance(v, numbers.Real):
                raise TypeError(f"feature {name!r} must be a number, got {v!r}")
        vals = [float(v) for v in x.values()]
        if not all(map(math.isfinite, vals)):
            return None
        known = [(index[k], v) for k, v in zip(x, vals) if k in index]
        idx = np.array([j for j, _ in known], dtype=np.int64)
        return idx, np.array([[v for _, v in known]])  # one row

    def predict(self, x: dict) -> float:
        known = self._known(x)
        if known is None:
            return math.nan
        state = self.state
        options = _kernels.options_of(self.params)
        return _kernels.predict_row(options, state.features, state.scalars, *known, 0)

    def learn(self, x: dict, y: float, w: float) -> int:
        known = self._known(x)
        if known is None:
            return _NON_FINITE_FEATURE
        added = len(x) - known[0].shape[0]
        if added:
            self.state.add([k for k in x if k not in self.state.index])
            known = self._known(x)
        state, P, out = self.state, self.params, self.out
        code = _kernels.learn_row(
            _kernels.options_of(P), state.features, state.scalars, P, *known, 0, y, w,
            P[_state.P["lr"]], P[_state.P["intercept_lr"]], P[_state.P["lr_next"]],
            _kernels.scratch_for(known[0].shape[0]), out,
        )
        if code != _LEARNED and added:
            self.state.forget(added)
        if code == _LEARNED:
            self.errors[self.pending] = out[1]
            self.baseline_errors[self.pending] = out[2]
            self.pending += 1
            if self.pending == self.errors.shape[0]:
                self.on_full()
        return int(code)

    @property
    def last_prediction(self) -> float:
        return float(self.out[0])
