"""Prometheus metrics of a running consumer, served on ``host:port/metrics``.

prometheus-client is imported only when a server is started. The metrics live in a dedicated
`CollectorRegistry` (never the process-global default one) and are read from the runner when
Prometheus scrapes, under the runner's lock, so the hot loop pays nothing for them:

=====================================================  =======  ================================
``online_lr_messages_consumed_total``                  counter  messages read (this process)
``online_lr_messages_learned_total``                   counter  labelled rows learned
``online_lr_messages_predicted_total``                 counter  rows predicted, not learned
``online_lr_messages_dead_lettered_total{reason}``     counter  refused messages, by reason
``online_lr_running_mse``                              gauge    prequential MSE since the start
``online_lr_rolling_mse``                              gauge    prequential MSE, last window
``online_lr_baseline_running_mse``                     gauge    same, predicting the mean target
``online_lr_baseline_rolling_mse``                     gauge    same, last window (alert: below
                                                                ``online_lr_rolling_mse``)
``online_lr_learning_rate``                            gauge    rate of the next update
``online_lr_model_updates``                            gauge    the model's step count
``online_lr_partition_lag{topic,partition}``           gauge    messages behind the high-water
``online_lr_checkpoint_age_seconds``                   gauge    since the checkpoint was written
``online_lr_checkpoints_total``                        counter  checkpoints written
``online_lr_model_version``                            gauge    version of the last snapshot
``online_lr_model_mixes_total``                        counter  parameter mixes applied
``online_lr_field_missing_events{field}``              gauge    events without a value for the
                                                                field (encoder's life, resumes
                                                                included)
=====================================================  =======  ================================

and prometheus-client's standard collectors: ``process_*`` (CPU, memory, open files; Linux),
``python_info`` and ``python_gc_*``. ``host`` is ``127.0.0.1`` by default (``--metrics-host
0.0.0.0`` for a scraper in another container or pod).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["MetricsServer", "RunnerCollector"]

PREFIX = "online_lr"


class RunnerCollector:
    """A prometheus-client collector reading a `consumers.runner.Runner` at scrape time.

    Parameters
    ----------
    runner
        The running loop (model, counters, source, store); refused messages are counted by
        reason in its counters (``bad_by_reason``), lag by its source (``partition_lags``).
    mixer
        The `consumers.mixing.ParameterMixer`, if parameter mixing is on.
    """

    def __init__(self, runner: Any, mixer: Any = None):
        self.runner = runner
        self.mixer = mixer

    def describe(self) -> list:
        return []  # collected only on scrape, never at registration

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        r = self.runner
        with r.lock:
            c = r.this_run
            model = r.model
            gauges = {
                "running_mse": float(model.running_mse),
                "rolling_mse": float(model.rolling_mse),
                "baseline_running_mse": float(model.baseline_running_mse),
                "baseline_rolling_mse": float(model.baseline_rolling_mse),
                "learning_rate": float(model.learning_rate_now),
                "model_updates": float(model.n_updates),
            }
            reasons = {str(reason): n for reason, n in c.bad_by_reason.items()}
            missing = r.encoder.missing_counts()
        for name, value in (("messages_consumed", c.messages), ("messages_learned", c.learned),
                            ("messages_predicted", c.predicted_only),
                            ("checkpoints", r.checkpoints)):
            yield CounterMetricFamily(f"{PREFIX}_{name}", name.replace("_", " "), value=value)
        dead = CounterMetricFamily(f"{PREFIX}_messages_dead_lettered",
                                   "messages refused, by reason", labels=["reason"])
        for reason, n in sorted(reasons.items()):
            dead.add_metric([reason], n)
        yield dead
        absent = GaugeMetricFamily(f"{PREFIX}_field_missing_events",
                                   "events without a value for the field", labels=["field"])
        for name, n in sorted(missing.items()):
            absent.add_metric([name], n)
        yield absent
        for name, value in gauges.items():
            if math.isfinite(value):
                yield GaugeMetricFamily(f"{PREFIX}_{name}", name.replace("_", " "), value=value)
        yield self._lag()
        age = self._checkpoint_age()
        if age is not None:
            yield GaugeMetricFamily(f"{PREFIX}_checkpoint_age_seconds",
                                    "seconds since the checkpoint was written", value=age)
        if self.mixer is not None:
            yield GaugeMetricFamily(f"{PREFIX}_model_version", "version of the last snapshot",
                                    value=self.mixer.version)
            yield CounterMetricFamily(f"{PREFIX}_model_mixes", "parameter mixes applied",
                                      value=self.mixer.mixes)

    def _lag(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(f"{PREFIX}_partition_lag", "messages behind the high-water",
                                   labels=["topic", "partition"])
        partition_lags = getattr(self.runner.source, "partition_lags", None)  # Kafka sources
        if partition_lags is not None:
            for (topic, partition), lag in sorted(partition_lags().items()):
                family.add_metric([topic, str(partition)], lag)
        return family

    def _checkpoint_age(self) -> float | None:
        store = self.runner.checkpointing.store
        try:
            return max(0.0, time.time() - os.stat(store.path).st_mtime) if store else None
        except FileNotFoundError:
            return None


class MetricsServer:
    """An HTTP endpoint serving ``collector`` (and nothing else) on ``host:port``.

    ``port=0`` picks a free port (see `port`). `close` stops it.
    """

    def __init__(self, collector: RunnerCollector, port: int, host: str = "127.0.0.1"):
        from prometheus_client import (
            GC_COLLECTOR,
            PLATFORM_COLLECTOR,
            PROCESS_COLLECTOR,
            CollectorRegistry,
            start_http_server,
        )

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        # The standard process_* and python_* metrics every Prometheus client library serves.
        for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(standard)
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        self.host: str = self._server.server_address[0]

    @property
    def port(self) -> int:
        return self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
