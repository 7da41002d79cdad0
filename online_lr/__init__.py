"""online_lr: streaming linear regression learned by stochastic gradient descent.

The public names are loaded on first use (PEP 562), so ``import online_lr`` costs almost
nothing; ``online_lr.SGDRegressor`` pulls in numpy and River's base classes, and the compiled
kernels (numba) load only when a compiled path first runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "SGDRegressor": "online_lr.sgd",
    "DivergenceError": "online_lr.exceptions",
    "FeatureEncoder": "online_lr.encoding",
    "encoding": "online_lr.encoding",
    "schedules": "online_lr.schedules",
    "metrics": "online_lr.metrics",
}

__all__ = [
    "DivergenceError", "FeatureEncoder", "SGDRegressor", "encoding", "metrics", "schedules",
]

if TYPE_CHECKING:
    from online_lr import encoding, metrics, schedules
    from online_lr.encoding import FeatureEncoder
    from online_lr.exceptions import DivergenceError
    from online_lr.sgd import SGDRegressor


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'online_lr' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if module.__name__ == f"online_lr.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
