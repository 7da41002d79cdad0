"""Optional packages and the ``online-lr[...]`` extra that installs each.

A library that River pipelines import must stay light: plotting, metrics and the second Kafka
client are extras. A setting that needs one is refused at config time, before anything runs,
with the ``pip install`` line that fixes it (`check_extras`, exit 2 from the CLI).

>>> EXTRAS["matplotlib"]
('plot', 'matplotlib')
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from consumers.errors import ConfigError

__all__ = ["EXTRAS", "check_extras", "require"]

#: module -> (extra of online-lr, package on PyPI).
EXTRAS: dict[str, tuple[str, str]] = {
    "matplotlib": ("plot", "matplotlib"),
    "prometheus_client": ("metrics", "prometheus-client"),
    "confluent_kafka": ("confluent", "confluent-kafka"),
}


def require(module: str, field: str, what: str) -> ModuleType:
    """Import ``module``, or raise a `ConfigError` on ``field`` naming the extra to install.

    >>> require("json", "run.plot", "--plot").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        extra, package = EXTRAS[module]
        raise ConfigError(field, f"{what} needs the {package} package: "
                                 f"pip install 'online-lr[{extra}]'") from None


def check_extras(settings: Any) -> None:
    """Refuse settings whose optional package is not installed (see module)."""
    if settings.run.plot is not None:
        require("matplotlib", "run.plot", "--plot")
    if settings.run.metrics_port is not None:
        require("prometheus_client", "run.metrics_port", "--metrics-port")
