"""Optional parts attached to an ``online-lr consume`` run: parameter mixing and metrics.

`attach` wires them to a built `consumers.runner.Runner` for the duration of a ``with`` block:

* ``stream.mix_every > 0`` (needs ``stream.model_topic``): a `ParameterMixer` becomes the
  runner's after-batch hook, publishing to and reading from the compacted model topic;
* ``run.metrics_port`` set: a `MetricsServer` serves the runner's metrics on
  ``run.metrics_host`` (prometheus-client is imported only then).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from consumers.errors import ConfigError

__all__ = ["attach"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def attach(runner: Any, settings: Any, client_kwargs: Mapping[str, Any],
           worker_id: str) -> Iterator[None]:
    """Start mixing and/or the metrics server for ``runner``; stop them on exit."""
    with contextlib.ExitStack() as stack:
        mixer = None
        if settings.stream.mix_every:
            mixer = stack.enter_context(_mixing(runner, settings.stream, client_kwargs, worker_id))
        if settings.run.metrics_port is not None:
            stack.enter_context(_metrics(runner, settings.run, mixer))
        yield


@contextlib.contextmanager
def _mixing(runner: Any, stream: Any, client_kwargs: Mapping[str, Any],
            worker_id: str) -> Iterator[Any]:
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
    runner.after_batch = mixer
    logger.info("worker %s: mixing with its peers every %d updates via %r", worker_id,
                stream.mix_every, stream.model_topic)
    try:
        yield mixer
    finally:
        runner.after_batch = None
        publisher.close()
        reader.close()


@contextlib.contextmanager
def _metrics(runner: Any, run: Any, mixer: Any) -> Iterator[Any]:
    from consumers.metrics_server import MetricsServer, RunnerCollector

    server = MetricsServer(RunnerCollector(runner, mixer), run.metrics_port, run.metrics_host)
    logger.info("metrics on http://%s:%d/metrics", server.host, server.port)
    try:
        yield server
    finally:
        server.close()
