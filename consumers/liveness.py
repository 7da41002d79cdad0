"""When a Kafka source that receives nothing is idle, waiting out an outage, or gives up.

One clock for every Kafka source (`consumers.confluent_source.ConfluentSource` uses it;
`consumers.kafka_source.KafkaSource` has the same rules inline):

* no partition assigned (joining, rejoining) for ``broker_timeout`` seconds: give up;
* partitions assigned and nothing received: probe the broker at most once a second (the
  source's own bounded request), and at the idle deadline;
* a failed probe starts an outage at the last answer; past ``broker_timeout`` seconds of it,
  give up (`BrokerUnavailableError`); an outage is not idleness: the idle clock restarts once
  the broker answers again;
* ``idle_timeout`` seconds without messages while the broker answers: the source is idle.

>>> t = [0.0]
>>> live = Liveness("t", "g", idle_timeout=5.0, broker_timeout=10.0, clock=lambda: t[0])
>>> live.nothing_assigned()
>>> t[0] = 1.0; live.probe_due()
True
>>> live.probed(None); live.idle()
False
>>> t[0] = 6.0; live.probe_due(), live.idle()
(True, True)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from consumers.errors import BrokerUnavailableError

__all__ = ["Liveness"]

logger = logging.getLogger(__name__)

PROBE_EVERY_S = 1.0


class Liveness:
    """The idle, outage and assignment clocks of one source (see module)."""

    def __init__(self, topic: str, group: str, *, idle_timeout: float | None,
                 broker_timeout: float, clock: Callable[[], float] = time.monotonic):
        self.topic = topic
        self.group = group
        self.idle_timeout = idle_timeout
        self.broker_timeout = broker_timeout
        self._clock = clock
        now = clock()
        self._unassigned_since: float | None = now
        self._quiet_since: float | None = None  # idle clock: set once partitions are assigned
        self._outage_since: float | None = None
        self._last_ok = now  # last time the broker answered (a message, a probe)
        self._last_probe = -float("inf")

    def received(self) -> None:
        """Messages arrived: the broker answers and the source is not idle."""
        self._quiet_since = self._clock()
        self._recovered()

    def nothing_assigned(self) -> None:
        """Nothing received and no partition assigned; raises after ``broker_timeout``."""
        now = self._clock()
        self._quiet_since = None
        if self._unassigned_since is None:
            self._unassigned_since = now
        if now - self._unassigned_since > self.broker_timeout:
            raise BrokerUnavailableError(
                f"no partition of topic {self.topic!r} was assigned to group {self.group!r} "
                f"within {self.broker_timeout:g}s (broker_timeout): is the broker reachable "
                "and does the topic exist?"
            )

    def probe_due(self) -> bool:
        """Nothing received, partitions assigned: is a probe of the broker due now?"""
        now = self._clock()
        self._unassigned_since = None
        if self._quiet_since is None:
            self._quiet_since = now
        return self._idle_due(now) or now - self._last_probe >= PROBE_EVERY_S

    def probed(self, error: str | None) -> None:
        """The outcome of a probe: ``None`` if the broker answered, else why not."""
        now = self._clock()
        self._last_probe = now
        if error is None:
            self._recovered()
            return
        if self._outage_since is None:
            self._outage_since = self._last_ok  # the outage began after the last answer
            logger.warning("broker unreachable (%s); waiting up to %gs", error,
                           self.broker_timeout)
        self._quiet_since = None
        if now - self._outage_since > self.broker_timeout:
            raise BrokerUnavailableError(
                f"Kafka broker unreachable for {now - self._outage_since:.0f}s "
                f"(broker_timeout {self.broker_timeout:g}s): {error}"
            )

    def idle(self) -> bool:
        """Idle: ``idle_timeout`` seconds without messages, the broker answering."""
        return self._outage_since is None and self._idle_due(self._clock())

    def _idle_due(self, now: float) -> bool:
        return (self.idle_timeout is not None and self._quiet_since is not None
                and now - self._quiet_since >= self.idle_timeout)

    def _recovered(self) -> None:
        now = self._clock()
        self._last_ok = now
        if self._outage_since is not None:
            logger.warning("broker reachable again after %.1fs", now - self._outage_since)
            self._outage_since = None
            self._quiet_since = now
