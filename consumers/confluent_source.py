"""Kafka input through confluent-kafka (librdkafka): `KafkaSource`'s contract at librdkafka's speed.

The same contract as `consumers.kafka_source.KafkaSource` (read its module docstring first); what
differs is how librdkafka gets there:

* Rebalance callbacks (``on_assign``, ``on_revoke``, ``on_lost``) run on the calling thread,
  inside `poll`'s ``consume()``, between two batches: model and positions agree there, and
  blocking client calls are allowed in them. So:

  - on assignment, the partitions the checkpoint holds are assigned at the checkpoint's offset,
    or at the group's committed offset where that is further (a peer advanced them since a
    ``kill -9``: the reconciliation is done before the first fetch, never by seeking back);
    the others at the group's committed offset, else ``start_from``;
  - on revocation, the runner checkpoints (``on_revoke``), the revoked partitions' checkpointed
    offsets are committed synchronously, and once the broker has acknowledged them they are
    forgotten (the hand-over);
  - librdkafka drops the records it fetched for a partition before a (re)assignment, so a batch
    never holds a record behind a partition's position (no filter is needed, unlike
    kafka-python's).

* A partition's position after a batch is ``last offset + 1``; when a poll returns nothing it
  becomes the consumer's position, which also moves past transaction markers, so a fully read
  transactional topic is committed (and its lag reported) at its end, lag 0. Nothing was
  learned from those offsets. (Asking librdkafka for the positions costs about a millisecond:
  too slow once a batch.)

* Errors: librdkafka retries what can be retried by itself. A record-level error that cannot
  be (a corrupt record, a codec this librdkafka lacks), an authentication or authorization
  failure and any fatal client error end the run with `NonRetriableKafkaError` (exit 6), naming
  the partition, offset and librdkafka's reason; ``_PARTITION_EOF`` is not an error (and is not enabled).

* Liveness as `KafkaSource` (`consumers.liveness`): the broker must answer a metadata request
  within ``broker_timeout`` at start (else `BrokerUnavailableError`, "cannot reach Kafka");
  while nothing arrives, a bounded watermark request probes it at most once a second, and
  `BrokerUnavailableError` ends the run once it has been unreachable, or no partition was
  assigned, for ``broker_timeout``.

What does not depend on the client (positions, the checkpoint before revocation, lag, the
liveness events) is `consumers.kafka_base.KafkaSourceBase`'s. Batches come from
``consume(num_messages=...)`` as a `consumers.kafka_base.MessageBatch`. librdkafka's fetch
settings are `FETCH_DEFAULTS`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from consumers.confluent_client import (
    describe_error,
    librdkafka_config,
    require_confluent,
)
from consumers.errors import BrokerUnavailableError, NonRetriableKafkaError
from consumers.kafka_base import KafkaSourceBase, MessageBatch, new_message, partition_key
from consumers.records import Message

__all__ = ["ConfluentSource"]

logger = logging.getLogger(__name__)


def _to_message(m, value) -> Message:
    return new_message(m.topic(), m.partition(), m.offset(), value, m.key(), m.headers() or (),
                       None)


class ConfluentSource(KafkaSourceBase):
    """Messages of one topic, for one consumer group, resumed from checkpointed offsets.

    The parameters are `consumers.kafka_base.KafkaSourceBase`'s (``client_kwargs`` are mapped
    by `consumers.confluent_client.librdkafka_config`); ``max_poll_records`` is unused (the
    runner asks each poll for its batch size).
    """

    def _open(self, client_kwargs: Mapping[str, Any], max_poll_records: int,
              group_instance_id: str | None):
        ck = require_confluent()
        topic, group = self.topic, self.group
        start_from, broker_timeout = self.start_from, self.broker_timeout
        self._ck = ck
        # The assignment as the callbacks set it: Consumer.assignment() waits for librdkafka's
        # main thread (about a millisecond), too slow to ask once a batch.
        self._assigned: list = []
        config = librdkafka_config(client_kwargs, "consumer")
        self._servers = config.get("bootstrap.servers")
        config.update({
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": start_from,
            "allow.auto.create.topics": False,
            "error_cb": self._on_client_error,
            "on_commit": self._on_commit,
            # librdkafka's own log lines go through Python logging, shown like kafka-python's
            # (the CLI shows the "kafka" loggers only with -v).
            "logger": logging.getLogger("kafka.librdkafka"),
        })
        config.setdefault("session.timeout.ms", 10_000)  # a dead member is noticed in 10 s
        # Messages of aborted transactions never happened: they must not be learned.
        config.setdefault("isolation.level", "read_committed")
        for name, value in FETCH_DEFAULTS.items():
            config.setdefault(name, value)
        if group_instance_id is not None:
            config["group.instance.id"] = group_instance_id
        consumer = ck.Consumer(config)
        try:
            consumer.list_topics(topic, timeout=broker_timeout)
        except ck.KafkaException as exc:
            consumer.poll(0)  # serves error_cb: an authentication failure says so
            consumer.close()
            self._raise_pending()
            raise BrokerUnavailableError(
                f"cannot reach Kafka at {self._servers!r} within {broker_timeout:g}s "
                f"(broker_timeout): {describe_error(exc)}"
            ) from None
        consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)
        return consumer

    # -- callbacks (calling thread, inside consume) --------------------------------------------

    def _on_client_error(self, error) -> None:
        code = self._ck.KafkaError
        refused = (code._AUTHENTICATION, code.SASL_AUTHENTICATION_FAILED,
                   code.TOPIC_AUTHORIZATION_FAILED, code.GROUP_AUTHORIZATION_FAILED,
                   code.CLUSTER_AUTHORIZATION_FAILED)
        if error.fatal() or error.code() in refused:
            self._fail(NonRetriableKafkaError(
                f"Kafka refused the consumer: {describe_error(error)}"))
        else:  # transport errors, all brokers down: librdkafka retries; the probes decide
            logger.debug("client error (retried by librdkafka): %s", describe_error(error))

    def _on_assign(self, consumer, partitions) -> None:
        """Assign each partition at its checkpointed offset, or the group's where that is
        further (reconciled before the first fetch, never by seeking back)."""
        try:
            with self.lock:
                held = [tp for tp in partitions
                        if partition_key(tp.topic, tp.partition) in self._offsets]
            group_offsets = self._committed(consumer, held) if held else {}
            with self.lock:
                for tp in partitions:
                    key = partition_key(tp.topic, tp.partition)
                    if not self._resume_from_group(key, group_offsets.get(key)):
                        self._log_assigned(key)
                    if key in self._offsets:
                        tp.offset = self._offsets[key]
            consumer.assign(partitions)
            self._assigned = [self._ck.TopicPartition(tp.topic, tp.partition)
                              for tp in partitions]
        except BaseException as exc:  # raised by the next poll, on this thread
            self._fail(exc)

    def _committed(self, consumer, partitions) -> dict[str, int]:
        """The group's committed offsets of ``partitions`` (``{}`` entries when none)."""
        try:
            found = consumer.committed(partitions, timeout=self.broker_timeout)
        except self._ck.KafkaException as exc:
            raise BrokerUnavailableError(
                f"the group's committed offsets of {self.topic!r} could not be read within "
                f"{self.broker_timeout:g}s (broker_timeout): {describe_error(exc)}"
            ) from None
        return {partition_key(tp.topic, tp.partition): tp.offset for tp in found
                if tp.error is None and tp.offset >= 0}

    def _on_commit(self, error, partitions) -> None:
        if error is not None:
            logger.warning("group offset commit failed (the checkpoint is unaffected): %s",
                           describe_error(error))

    def _on_revoke(self, consumer, partitions) -> None:
        self._assigned = []
        written = self._checkpoint_before_losing(partitions)
        todo = self._handed_over(partitions, written) if written else {}
        if not todo:
            return
        try:
            consumer.commit(offsets=self._topic_partitions(todo), asynchronous=False)
        except self._ck.KafkaException as exc:  # kept: resumed here if they come back
            logger.warning("hand-over commit of %s failed: %s",
                           [f"{tp.topic}:{tp.partition}" for tp in todo], describe_error(exc))
            return
        self._forget(todo)

    def _on_lost(self, consumer, partitions) -> None:
        self._assigned = []
        self._checkpoint_before_losing(partitions)  # the group is gone: nothing to commit

    # -- the Source protocol ------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float = 1.0) -> Sequence[Message] | None:
        """Up to ``max_records`` messages (a `MessageBatch`); ``[]`` if none yet; ``None`` once
        idle."""
        self._raise_pending()
        try:
            raw = self.consumer.consume(max_records, timeout)
        except self._ck.KafkaException as exc:  # fatal client errors only
            raise NonRetriableKafkaError(
                f"the Kafka consumer failed: {describe_error(exc)}") from None
        self._raise_pending()
        if not raw:
            return self._nothing()
        message = self._ck.Message
        good = raw
        if set(map(message.error, raw)) != {None}:
            self._check_errors(raw)
            good = [m for m in raw if m.error() is None]
            if not good:
                return self._nothing()
        self._live.received()
        ends = dict(zip(map(message.partition, good), map(message.offset, good)))
        return MessageBatch(list(map(message.value, good)), good, _to_message,
                            {(self.topic, partition): end for partition, end in ends.items()})

    def _check_errors(self, raw: list) -> None:
        """Log the error events of ``raw`` that librdkafka retries; raise on the others."""
        code = self._ck.KafkaError
        wait = (code.UNKNOWN_TOPIC_OR_PART, code._UNKNOWN_TOPIC, code._UNKNOWN_PARTITION)
        for m in raw:
            error = m.error()
            if error is None or error.code() == code._PARTITION_EOF:
                continue
            if error.code() in wait or (error.retriable() and not error.fatal()):
                logger.warning("%s (retried)", describe_error(error))
                continue
            where = f"{m.topic()}[{m.partition()}]@{m.offset()}"
            raise NonRetriableKafkaError(f"cannot read {where}: {describe_error(error)}; the run "
                                   "stops here (the last checkpoint is kept)")

    def _nothing(self) -> list[Message] | None:
        self._take_positions(self._assigned)
        return super()._nothing()

    def _take_positions(self, partitions) -> None:
        """Move ``partitions`` to the consumer's positions (where those are valid and further).

        Called only when every message handed out has been learned: the consumer's position
        is then one past the last of them, or past the transaction markers after it.
        """
        if not partitions:
            return
        try:
            positions = self.consumer.position(partitions)
        except self._ck.KafkaException as exc:
            logger.warning("reading the consumer's positions failed: %s", describe_error(exc))
            return
        with self.lock:
            for tp in positions:
                key = partition_key(tp.topic, tp.partition)
                if tp.offset >= 0 and tp.offset > self._offsets.get(key, -1):
                    self._offsets[key] = tp.offset

    def _assignment(self):
        return self._assigned

    def _watermarks(self, tp) -> tuple[int, int] | None:
        """``(low, high)`` of ``tp`` as of the last fetch, ``None`` if unknown."""
        try:
            low, high = self.consumer.get_watermark_offsets(tp, cached=True)
        except (self._ck.KafkaException, RuntimeError):  # RuntimeError: closed
            return None
        return None if high is None or high < 0 else (low, high)

    def _high_water(self, tp) -> int | None:
        marks = self._watermarks(tp)
        return None if marks is None else marks[1]

    def _at_end(self, assigned) -> bool:
        """Whether every partition of ``assigned`` has been read up to its high-water mark
        (an empty partition, low = high, is at its end before any read)."""
        for tp in assigned:
            marks = self._watermarks(tp)
            if marks is None:
                return False
            low, high = marks
            position = self._offsets.get(partition_key(tp.topic, tp.partition))
            if high > low and (position is None or position < high):
                return False
        return True

    def _probe(self, assigned) -> None:
        """Is the broker there? A bounded watermark request (see `consumers.liveness`)."""
        try:
            self.consumer.get_watermark_offsets(
                assigned[0], timeout=min(2.0, self.broker_timeout), cached=False)
        except self._ck.KafkaException as exc:
            self._live.probed(describe_error(exc))
            return
        self._live.probed(None)

    def _topic_partitions(self, todo: Mapping[Any, int]) -> list:
        return [self._ck.TopicPartition(tp.topic, tp.partition, offset)
                for tp, offset in todo.items()]

    def _commit_now(self, todo: Mapping[Any, int]) -> None:
        """Asynchronous: the outcome arrives in a later poll (``on_commit``), and `close` waits
        for the commits in flight. The hand-over before a revocation is synchronous."""
        try:
            self.consumer.commit(offsets=self._topic_partitions(todo), asynchronous=True)
        except self._ck.KafkaException as exc:
            logger.warning("group offset commit failed (the checkpoint is unaffected): %s",
                           describe_error(exc))

    def _close_client(self) -> None:
        self.consumer.close()


#: librdkafka fetch settings (``kafka.extra`` overrides them). Its defaults wait 1 s
#: (``fetch.queue.backoff.ms``) whenever 100,000 messages (``queued.min.messages``) are
#: queued, and fetch 1 MiB per partition: a consumer that keeps up then waits for the broker
#: most of the time (bench/bench_consume.py: 1M messages in 9 s instead of 3 s). A backoff of 0
#: spins a core while the queue is full; 10 ms does not. The queue stays bounded by
#: ``queued.max.messages.kbytes``: librdkafka's default (64 MiB) is mostly idle memory when
#: the consumer keeps up; 16 MiB is still tens of thousands of small messages.
FETCH_DEFAULTS = {
    "queued.max.messages.kbytes": 16 * 1024,
    "queued.min.messages": 1_000_000,
    "fetch.queue.backoff.ms": 10,
    "max.partition.fetch.bytes": 4 << 20,
}
