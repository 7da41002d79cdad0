"""Optional parts of an ``online-lr consume`` run: parameter mixing and metrics.

Each is a ``with`` block that yields nothing when its setting is off:

* `mixing`: with ``stream.mix_every > 0`` (needs ``stream.model_topic``), a `ParameterMixer`
  publishing to and reading from the compacted model topic: given to the runner's constructor
  as its after-batch hook;
* `serving_metrics`: with ``run.metrics_port`` set, a `MetricsServer` serving the built
  runner's metrics on ``run.metrics_host`` (prometheus-client is imported only then).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from consumers.errors import ConfigError

__all__ = ["mixing", "serving_metrics"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def mixing(stream: Any, client_kwargs: Mapping[str, Any], worker_id: str) -> Iterator[Any]:
    """The `ParameterMixer` of this worker, or None when ``stream.mix_every`` is 0."""
    if not stream.mix_every:
        yield None
        return
    from consumers.mixing import ParameterMixer
    from consumers.model_topic import ModelPublisher, ModelReader, ensure_model_topic
    from consumers.sinks import make_producer

    if stream.model_topic is None:
        raise ConfigError("stream.model_topic",
                          "required when stream.mix_every > 0 (pass --model-topic)")
    ensure_model_topic(client_kwargs, stream.model_topic, timeout=stream.broker_timeout)
    publisher = ModelPublisher(
        make_producer(client_kwargs, bootstrap_timeout=stream.broker_timeout),
        stream.model_topic,
    )
    try:
        reader = ModelReader(client_kwargs, stream.model_topic, timeout=stream.broker_timeout)
    except BaseException:
        publisher.close()
        raise
    mixer = ParameterMixer(worker_id, stream.mix_every, publisher, reader.fetch)
    logger.info("worker %s: mixing with its peers every %d updates via %r", worker_id,
                stream.mix_every, stream.model_topic)
    try:
        yield mixer
    finally:
        publisher.close()
        reader.close()


@contextlib.contextmanager
def serving_metrics(runner: Any, run: Any, mixer: Any) -> Iterator[Any]:
    """The `MetricsServer` of ``runner`` (and ``mixer``), or None without ``run.metrics_port``."""
    if run.metrics_port is None:
        yield None
        return
    from consumers.metrics_server import MetricsServer, RunnerCollector

    server = MetricsServer(RunnerCollector(runner, mixer), run.metrics_port, run.metrics_host)
    logger.info("metrics on http://%s:%d/metrics", server.host, server.port)
    try:
        yield server
    finally:
        server.close()
