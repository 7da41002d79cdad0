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

* A partition's position after a batch is the consumer's position, not ``last offset + 1``: it
  also moves past transaction markers, so a fully read transactional topic is committed (and
  its lag reported) at its end, lag 0. When a poll returns nothing, positions that moved past
  markers are taken over too; nothing was learned from those offsets.

* Errors: librdkafka retries what can be retried by itself. A record-level error that cannot
  be (a corrupt record, a codec this librdkafka lacks), an authentication or authorization
  failure and any fatal client error end the run with `NonRetriableKafkaError` (exit 6), naming
  the partition, offset and librdkafka's reason; ``_PARTITION_EOF`` is not an error (and is not enabled).

* Liveness as `KafkaSource` (`consumers.liveness`): the broker must answer a metadata request
  within ``broker_timeout`` at start (else `BrokerUnavailableError`, "cannot reach Kafka");
  while nothing arrives, a bounded watermark request probes it at most once a second, and
  `BrokerUnavailableError` ends the run once it has been unreachable, or no partition was
  assigned, for ``broker_timeout``.

Batches come from ``consume(num_messages=...)`` as a `MessageBatch`: the values in one list for
the runner's bulk decoder, a `consumers.records.Message` built only for the few messages that
are published or dead-lettered; the partitions' positions are read once a batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from consumers.confluent_client import (
    describe_error,
    librdkafka_config,
    require_confluent,
)
from consumers.decode import DecodedBatch, decode_batch
from consumers.errors import BrokerUnavailableError, NonRetriableKafkaError
from consumers.kafka_source import partition_key, total_lag
from consumers.liveness import Liveness
from consumers.records import Message

__all__ = ["ConfluentSource", "MessageBatch"]

logger = logging.getLogger(__name__)

_new_message = tuple.__new__  # Message(...) without NamedTuple's Python-level __new__


class MessageBatch(Sequence):
    """The messages of one poll: their values as a list, each `Message` built on demand.

    `decode` decodes ``values`` in bulk; only the messages the runner publishes a prediction
    for or dead-letters become `Message` tuples (building one costs 10x taking its value).
    """

    __slots__ = ("_raw", "topic", "values")

    def __init__(self, topic: str, raw: list):
        self.topic = topic
        self._raw = raw
        self.values = [m.value() for m in raw]

    def __len__(self) -> int:
        return len(self._raw)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._raw)))]
        m = self._raw[index]
        return _new_message(Message, (self.topic, m.partition(), m.offset(), self.values[index],
                                      m.key(), m.headers() or (), None))

    def decode(self, encoder: Any, max_bytes: int | None) -> DecodedBatch:
        """The values decoded in bulk (`consumers.decode.decode_batch`): the runner's `Batch`."""
        return decode_batch(self.values, encoder, max_bytes)


class ConfluentSource:
    """Messages of one topic, for one consumer group, resumed from checkpointed offsets.

    The parameters are `consumers.kafka_source.KafkaSource`'s (``client_kwargs`` are mapped by
    `consumers.confluent_client.librdkafka_config`); ``max_poll_records`` is unused (the
    runner asks each poll for its batch size).
    """

    kind = "kafka"  # the same checkpoints as KafkaSource: either client resumes the other's

    def __init__(
        self,
        topic: str,
        group: str,
        client_kwargs: Mapping[str, Any],
        *,
        offsets: Mapping[str, int] | None = None,
        start_from: str = "earliest",
        idle_timeout: float | None = None,
        stop_at_end: bool = False,
        broker_timeout: float = 60.0,
        max_poll_records: int = 500,
        group_instance_id: str | None = None,
        on_revoke: Callable[[], Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        ck = require_confluent()
        if start_from not in ("earliest", "latest"):
            raise ValueError(f"start_from must be 'earliest' or 'latest', got {start_from!r}")
        self.topic = topic
        self.group = group
        self.start_from = start_from
        self.idle_timeout = idle_timeout
        self.stop_at_end = stop_at_end
        self.broker_timeout = broker_timeout
        self.on_revoke = on_revoke
        self.end_reason: str | None = None
        #: Guards the positions; the runner shares it for the model (see `Runner.lock`).
        self.lock = threading.RLock()
        self._ck = ck
        self._offsets: dict[str, int] = dict(offsets or {})
        self._live = Liveness(topic, group, idle_timeout=idle_timeout,
                              broker_timeout=broker_timeout, clock=clock)
        self._pending_error: BaseException | None = None
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
        # The consumer's pre-fetch queue: librdkafka's default (64 MiB) is mostly idle memory
        # when the consumer keeps up; 16 MiB is still tens of thousands of small messages.
        config.setdefault("queued.max.messages.kbytes", 16 * 1024)
        if group_instance_id is not None:
            config["group.instance.id"] = group_instance_id
        self.consumer = ck.Consumer(config)
        try:
            self.consumer.list_topics(topic, timeout=broker_timeout)
        except ck.KafkaException as exc:
            self.consumer.poll(0)  # serves error_cb: an authentication failure says so
            self.consumer.close()
            self._raise_pending()
            raise BrokerUnavailableError(
                f"cannot reach Kafka at {self._servers!r} within {broker_timeout:g}s "
                f"(broker_timeout): {describe_error(exc)}"
            ) from None
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_lost)

    # -- callbacks (calling thread, inside consume) --------------------------------------------

    def _on_client_error(self, error) -> None:
        code = self._ck.KafkaError
        refused = (code._AUTHENTICATION, code.SASL_AUTHENTICATION_FAILED,
                   code.TOPIC_AUTHORIZATION_FAILED, code.GROUP_AUTHORIZATION_FAILED,
                   code.CLUSTER_AUTHORIZATION_FAILED)
        if error.fatal() or error.code() in refused:
            self._fail(NonRetriableKafkaError(f"Kafka refused the consumer: {describe_error(error)}"))
        else:  # transport errors, all brokers down: librdkafka retries; the probes decide
            logger.debug("client error (retried by librdkafka): %s", describe_error(error))

    def _fail(self, exc: BaseException) -> None:
        if self._pending_error is None:
            self._pending_error = exc

    def _on_assign(self, consumer, partitions) -> None:
        try:
            with self.lock:
                held = [tp for tp in partitions
                        if partition_key(tp.topic, tp.partition) in self._offsets]
            group_offsets = self._committed(consumer, held) if held else {}
            with self.lock:
                for tp in partitions:
                    self._place(tp, group_offsets)
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

    def _place(self, tp, group_offsets: Mapping[str, int]) -> None:
        """Set where ``tp`` starts (the checkpoint's offset, unless the group is further)."""
        key = partition_key(tp.topic, tp.partition)
        mine = self._offsets.get(key)
        if mine is None:
            logger.info("partition %s assigned: not in the checkpoint, from the group's "
                        "committed offset (else %s)", key, self.start_from)
            return
        theirs = group_offsets.get(key)
        if theirs is not None and theirs > mine:
            logger.info("partition %s: the group has advanced it to offset %d since this "
                        "worker's checkpoint (%d): resuming there", key, theirs, mine)
            self._offsets[key] = mine = theirs
        else:
            logger.info("partition %s assigned: resuming at offset %d", key, mine)
        tp.offset = mine

    def _on_commit(self, error, partitions) -> None:
        if error is not None:
            logger.warning("group offset commit failed (the checkpoint is unaffected): %s",
                           describe_error(error))

    def _on_revoke(self, consumer, partitions) -> None:
        self._assigned = []
        written = self._checkpoint_before_losing(partitions)
        if not written:
            return
        todo = []
        for tp in partitions:
            key = partition_key(tp.topic, tp.partition)
            if key in written:
                todo.append(self._ck.TopicPartition(tp.topic, tp.partition, written[key]))
        if not todo:
            return
        try:
            consumer.commit(offsets=todo, asynchronous=False)
        except self._ck.KafkaException as exc:  # kept: resumed here if they come back
            logger.warning("hand-over commit of %s failed: %s",
                           [f"{tp.topic}:{tp.partition}" for tp in todo], describe_error(exc))
            return
        with self.lock:
            for tp in todo:
                key = partition_key(tp.topic, tp.partition)
                if self._offsets.get(key) == tp.offset:
                    del self._offsets[key]

    def _on_lost(self, consumer, partitions) -> None:
        self._assigned = []
        self._checkpoint_before_losing(partitions)  # the group is gone: nothing to commit

    def _checkpoint_before_losing(self, partitions) -> dict[str, int] | None:
        """Checkpoint before ``partitions`` go; the offsets written, None if none was."""
        if not partitions or self.on_revoke is None:
            return None
        try:
            with self.lock:
                if self.on_revoke() is False:
                    return None
                return self.offsets()
        except BaseException as exc:
            logger.error("checkpoint before revocation failed: %s", exc)
            self._fail(exc)
            return None

    # -- the Source protocol ------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float = 1.0) -> Sequence[Message] | None:
        """Up to ``max_records`` messages (a `MessageBatch`); ``[]`` if none yet; ``None`` once
        idle."""
        self._raise_pending()
        try:
            raw = self.consumer.consume(max_records, timeout)
        except self._ck.KafkaException as exc:  # fatal client errors only
            raise NonRetriableKafkaError(f"the Kafka consumer failed: {describe_error(exc)}") from None
        self._raise_pending()
        if not raw:
            return self._nothing()
        good = [m for m in raw if m.error() is None]
        if len(good) < len(raw):
            self._check_errors(raw)
        if good:
            self._live.received()
            return MessageBatch(self.topic, good)  # type: ignore[return-value]
        return self._nothing()

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

    def _raise_pending(self) -> None:
        if self._pending_error is not None:
            exc, self._pending_error = self._pending_error, None
            raise exc

    def _nothing(self) -> list[Message] | None:
        assigned = self._assigned
        self._take_positions(assigned)
        self.end_reason = self._live.nothing_received(
            bool(assigned), lambda: self._probe(assigned),
            (lambda: self._at_end(assigned)) if self.stop_at_end else None)
        return None if self.end_reason else []

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

    def _at_end(self, assigned) -> bool:
        """Whether every partition of ``assigned`` has been read up to its high-water mark
        (an empty partition, low = high, is at its end before any read)."""
        for tp in assigned:
            try:
                low, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except (self._ck.KafkaException, RuntimeError):
                return False
            if high is None or high < 0:
                return False
            position = self._offsets.get(partition_key(tp.topic, tp.partition))
            if high > low and (position is None or position < high):
                return False
        return True

    def _probe(self, assigned) -> None:
        """Is the broker there? A bounded watermark request (see `consumers.liveness`)."""
        try:
            self.consumer.get_watermark_offsets(assigned[0], timeout=min(2.0, self.broker_timeout),
                                                cached=False)
        except self._ck.KafkaException as exc:
            self._live.probed(describe_error(exc))
            return
        self._live.probed(None)

    def advance(self, messages: Sequence[Message]) -> None:
        """Mark the last poll's ``messages`` as processed: each assigned partition moves to the
        consumer's position (past them, and past any transaction marker after them)."""
        self._take_positions(self._assigned)

    def offsets(self) -> dict[str, int]:
        with self.lock:
            return dict(self._offsets)

    def describe(self) -> dict:
        return {"kind": self.kind, "topic": self.topic, "group": self.group}

    def partition_lags(self) -> dict[tuple[str, int], int]:
        """Messages behind the high-water mark (as of the last fetch) of each assigned
        partition whose position and high-water mark are known."""
        lags = {}
        for tp in self._assigned:
            key = partition_key(tp.topic, tp.partition)
            try:
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except (self._ck.KafkaException, RuntimeError):  # RuntimeError: closed
                continue
            if high is not None and high >= 0 and key in self._offsets:
                lags[(tp.topic, tp.partition)] = max(0, high - self._offsets[key])
        return lags

    def lag(self) -> int | None:
        """The sum of `partition_lags`; ``None`` if none is known."""
        return total_lag(self.partition_lags())

    def commit(self, offsets: Mapping[str, int]) -> None:
        """Commit ``offsets`` to the group (for lag tools); failures are logged, not raised.

        Asynchronous: the outcome arrives in a later poll (``on_commit``), and `close` waits
        for the commits in flight. The hand-over before a revocation is synchronous.
        """
        owned = {partition_key(tp.topic, tp.partition): tp for tp in self._assigned}
        todo = [self._ck.TopicPartition(owned[k].topic, owned[k].partition, v)
                for k, v in offsets.items() if k in owned]
        if not todo:
            return
        try:
            self.consumer.commit(offsets=todo, asynchronous=True)
        except self._ck.KafkaException as exc:
            logger.warning("group offset commit failed (the checkpoint is unaffected): %s",
                           describe_error(exc))

    def close(self) -> None:
        """Leave the group (the revocation callback runs once more) and close the client."""
        try:
            self.consumer.close()
        except Exception as exc:  # noqa: BLE001 - closing must not mask the run's outcome
            logger.warning("closing the consumer failed: %s", exc)
