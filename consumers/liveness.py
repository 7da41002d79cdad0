"""When a Kafka source that receives nothing is idle, waiting out an outage, or gives up.

One state machine for every Kafka source (`consumers.kafka_source.KafkaSource` and
`consumers.confluent_source.ConfluentSource` feed it the same events). Its states
(`LivenessState`), each with the time it began (`Liveness.since`):

* ``JOINING``: no partition assigned (joining, rejoining). Past ``broker_timeout`` seconds:
  give up (`BrokerUnavailableError`).
* ``RECEIVING``: partitions assigned, the broker answers; ``since`` is the last message (or
  the assignment, or the recovery). The source probes the broker at most once a second (its
  own bounded request) while nothing arrives, and at the idle deadline.
* ``OUTAGE``: a probe failed; ``since`` is the broker's last answer. Past ``broker_timeout``
  seconds of it: give up. An outage is not idleness: the broker's next answer goes back to
  ``RECEIVING`` and restarts the idle clock. A broker that restarts often takes the group's
  partitions away: the outage then goes on through ``JOINING`` (its clock still running from
  the last answer) and ends at the new assignment, logged as the recovery either way.
* ``IDLE``: ``idle_timeout`` seconds in ``RECEIVING`` without a message: the source is done
  (a message would go back to ``RECEIVING``).

Events: `received` (messages), `nothing_assigned`, `probe_due` (nothing received, partitions
assigned), `probed` (a probe's outcome), `idle` (the idle deadline checked). A source feeds
them through `nothing_received` after a poll that returned nothing, and `received`.

>>> t = [0.0]
>>> live = Liveness("t", "g", idle_timeout=5.0, broker_timeout=10.0, clock=lambda: t[0])
>>> live.nothing_assigned(); live.state.name
'JOINING'
>>> t[0] = 1.0; live.probe_due(), live.state.name
(True, 'RECEIVING')
>>> live.probed("connection refused"); live.state.name, live.idle()
('OUTAGE', False)
>>> live.probed(None); t[0] = 6.0; live.probe_due(), live.idle(), live.state.name
(True, True, 'IDLE')
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

from consumers.errors import BrokerUnavailableError

__all__ = ["Liveness", "LivenessState"]

logger = logging.getLogger(__name__)

PROBE_EVERY_S = 1.0


class LivenessState(enum.Enum):
    """The states of a Kafka source's `Liveness` (see module)."""

    JOINING = "joining"
    RECEIVING = "receiving"
    OUTAGE = "outage"
    IDLE = "idle"


class Liveness:
    """The liveness state of one source, moved by the source's events (see module)."""

    def __init__(self, topic: str, group: str, *, idle_timeout: float | None,
                 broker_timeout: float, clock: Callable[[], float] = time.monotonic):
        self.topic = topic
        self.group = group
        self.idle_timeout = idle_timeout
        self.broker_timeout = broker_timeout
        self._clock = clock
        now = clock()
        self.state = LivenessState.JOINING
        #: When `state` began (see module: its meaning per state).
        self.since = now
        self._last_ok = now  # the broker's last answer (a message, a probe): an outage's start
        self._outage_since: float | None = None  # until the broker answers again
        self._last_probe = -float("inf")

    def _enter(self, state: LivenessState, since: float) -> None:
        if state is not self.state:  # not once a batch: an enum's ``name`` is slow to read
            logger.debug("liveness of %r: %s -> %s", self.topic, self.state.name, state.name)
        self.state, self.since = state, since

    def received(self) -> None:
        """Messages arrived: the broker answers and the source is not idle."""
        now = self._clock()
        self._answered(now)
        self._enter(LivenessState.RECEIVING, now)

    def nothing_assigned(self) -> None:
        """Nothing received and no partition assigned; raises after ``broker_timeout``."""
        now = self._clock()
        if self.state is not LivenessState.JOINING:
            self._enter(LivenessState.JOINING, now)
        if now - min(self.since, self._outage_since or now) > self.broker_timeout:
            raise BrokerUnavailableError(
                f"no partition of topic {self.topic!r} was assigned to group {self.group!r} "
                f"within {self.broker_timeout:g}s (broker_timeout): is the broker reachable "
                "and does the topic exist?"
            )

    def probe_due(self) -> bool:
        """Nothing received, partitions assigned: is a probe of the broker due now?"""
        now = self._clock()
        if self.state is LivenessState.JOINING:  # assigned again: an outage is over
            self._recovered(now)
            self._enter(LivenessState.RECEIVING, now)
        return self._idle_due(now) or now - self._last_probe >= PROBE_EVERY_S

    def probed(self, error: str | None) -> None:
        """The outcome of a probe: ``None`` if the broker answered, else why not."""
        now = self._clock()
        self._last_probe = now
        if error is None:
            self._answered(now)
            if self.state is LivenessState.OUTAGE:
                self._enter(LivenessState.RECEIVING, now)
            return
        if self.state is not LivenessState.OUTAGE:
            logger.warning("broker unreachable (%s); waiting up to %gs", error,
                           self.broker_timeout)
            if self._outage_since is None:
                self._outage_since = self._last_ok
            self._enter(LivenessState.OUTAGE, self._outage_since)
        if now - self.since > self.broker_timeout:
            raise BrokerUnavailableError(
                f"Kafka broker unreachable for {now - self.since:.0f}s "
                f"(broker_timeout {self.broker_timeout:g}s): {error}"
            )

    def _answered(self, now: float) -> None:
        """The broker answered (a message, a probe)."""
        self._last_ok = now
        self._recovered(now)

    def _recovered(self, now: float) -> None:
        if self._outage_since is not None:
            logger.warning("broker reachable again after %.1fs", now - self._outage_since)
            self._outage_since = None

    def idle(self) -> bool:
        """Idle: ``idle_timeout`` seconds without messages, the broker answering."""
        if self.state is LivenessState.RECEIVING and self._idle_due(self._clock()):
            self._enter(LivenessState.IDLE, self._clock())
        return self.state is LivenessState.IDLE

    def nothing_received(self, assigned: bool, probe: Callable[[], None],
                         at_end: Callable[[], bool] | None = None) -> str | None:
        """A poll returned nothing: ``None`` to poll again, else why the source is done.

        ``probe`` asks the broker (and reports through `probed`) when a probe is due;
        ``at_end`` (``stop_at_end``), whether every assigned partition is read to its end.
        """
        if not assigned:  # joining the group, or rejoining after a rebalance / an outage
            self.nothing_assigned()
            return None
        if self.probe_due():
            probe()
        if at_end is not None and self.state is not LivenessState.OUTAGE and at_end():
            return "end of partitions"
        return "idle" if self.idle() else None

    def _idle_due(self, now: float) -> bool:
        return (self.state is LivenessState.RECEIVING and self.idle_timeout is not None
                and now - self.since >= self.idle_timeout)
