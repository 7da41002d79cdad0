"""What both Kafka sources share: positions, the checkpoint before revocation, lag, liveness.

`consumers.kafka_source.KafkaSource` (kafka-python) and `consumers.confluent_source.ConfluentSource`
(librdkafka) keep one contract (``kafka_source``'s module docstring states it); this base holds
every step of it that does not depend on the client:

* the positions (``{"topic:partition": next offset}``), guarded by `KafkaSourceBase.lock`, which
  the runner shares for the model; `offsets`, `partition_lags` and `lag` read them;
* `KafkaSourceBase._checkpoint_before_losing`: the runner's checkpoint before partitions go,
  returning the offsets it wrote; `KafkaSourceBase._forget`: the partitions handed over once the
  group has acknowledged those offsets;
* `KafkaSourceBase._resume_from_group`: a partition the group has advanced past this worker's
  checkpoint (a peer learned it after a ``kill -9``) resumes at the group's offset;
* the liveness events after an empty poll (`consumers.liveness`), the group commit of the
  owned partitions, closing.

A subclass says how its client does each thing: `_assignment`, `_high_water`, `_probe`,
`_at_end`, `_commit_now`, `_close_client`. An error raised where it cannot propagate (a
rebalance callback, a client error callback) is kept by `_fail` and raised by the next `poll`
(`_raise_pending`), on the main thread.

`MessageBatch` is the batch both sources hand to the runner: the values in one list for the
bulk decoder, a `consumers.records.Message` built only for the few messages the runner
publishes or dead-letters.

>>> total_lag({("t", 0): 3, ("t", 1): 0}), total_lag({}), partition_key("t", 2)
(3, None, 't:2')
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from consumers.decode import DecodedBatch, decode_batch
from consumers.liveness import Liveness
from consumers.records import Message

if TYPE_CHECKING:
    from online_lr.encoding import FeatureEncoder

__all__ = ["KafkaSourceBase", "MessageBatch", "last_offsets", "new_message", "partition_key",
           "total_lag"]

logger = logging.getLogger(__name__)


def partition_key(topic: str, partition: int) -> str:
    """The checkpoint's name of a partition: ``"topic:partition"``."""
    return f"{topic}:{partition}"


def total_lag(partition_lags: Mapping[tuple[str, int], int]) -> int | None:
    """The lag of a source: the sum of its partitions', ``None`` if none is known."""
    return sum(partition_lags.values()) if partition_lags else None


_new_message = tuple.__new__  # Message(...) without NamedTuple's Python-level __new__


class MessageBatch(Sequence):
    """The messages of one poll (the runner's `Batch`): their values as a list, each `Message`
    built on demand.

    ``records[i]`` is the client's record of ``values[i]``; ``to_message(record, value)``
    makes its `Message` (building one costs ten times taking its value, so the runner
    decodes ``values`` and asks only for the messages it publishes or dead-letters).
    ``last_offsets``, when the client knows it without a pass over the messages, maps
    ``(topic, partition)`` to the offset of its last message here.

    >>> batch = MessageBatch([b"{}", b"[]"], [5, 6], lambda r, v: Message("t", 0, r, v),
    ...                      {("t", 0): 6})
    >>> len(batch), batch.values, batch[1].offset, [m.offset for m in batch[:1]]
    (2, [b'{}', b'[]'], 6, [5])
    """

    __slots__ = ("values", "_records", "_to_message", "last_offsets")

    def __init__(self, values: list, records: Sequence, to_message: Callable[[Any, Any], Message],
                 last_offsets: Mapping[tuple[str, int], int] | None = None):
        self.values = values
        self._records = records
        self._to_message = to_message
        self.last_offsets = last_offsets

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.values)))]
        return self._to_message(self._records[index], self.values[index])

    def decode(self, encoder: FeatureEncoder, max_bytes: int | None) -> DecodedBatch:
        """The values decoded in bulk (`consumers.decode.decode_batch`): the runner's `Batch`."""
        return decode_batch(self.values, encoder, max_bytes)


def last_offsets(messages: Sequence[Message]) -> Mapping[tuple[str, int], int]:
    """``{(topic, partition): offset of its last message}`` of a batch (in offset order)."""
    if isinstance(messages, MessageBatch) and messages.last_offsets is not None:
        return messages.last_offsets
    return {(m.topic, m.partition): m.offset for m in messages}


def new_message(topic: str, partition: int, offset: int, value: Any, key: Any,
                headers: Iterable, timestamp: int | None) -> Message:
    """A `Message`, built at C speed (``Message(...)`` runs a Python-level ``__new__``)."""
    return _new_message(Message, (topic, partition, offset, value, key, headers, timestamp))


class KafkaSourceBase:
    """Positions, revocation, lag and liveness of a Kafka source (see module).

    Parameters
    ----------
    topic, group
        What to read and the consumer group (used for assignment and lag reporting).
    client_kwargs
        Connection and security settings (`consumers.config.KafkaSettings.client_kwargs`),
        in the client's terms by `_open`.
    offsets
        ``{"topic:partition": next_offset}`` from the checkpoint.
    start_from
        ``"earliest"`` or ``"latest"``: where a partition absent from ``offsets`` starts.
    idle_timeout
        Seconds without messages (broker reachable) after which `poll` returns ``None``;
        ``None`` never ends.
    stop_at_end
        `poll` returns ``None`` once every assigned partition has been read up to its
        high-water mark (``end_reason`` ``"end of partitions"``).
    broker_timeout
        Seconds the broker may stay unreachable before `poll` raises.
    max_poll_records
        The most records one fetch hands over, where the client has such a setting.
    group_instance_id
        Static membership id (KIP-345): a restart with the same id gets its partitions back
        without waiting for the old member's session to expire (after ``kill -9``).
    on_revoke
        Called before partitions are taken away: the runner's checkpoint; ``False`` means
        none was written.
    """

    kind = "kafka"  # one kind for both clients: either resumes the other's checkpoints

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
        self._offsets: dict[str, int] = dict(offsets or {})
        self._live = Liveness(topic, group, idle_timeout=idle_timeout,
                              broker_timeout=broker_timeout, clock=clock)
        self._pending_error: BaseException | None = None
        self.consumer = self._open(client_kwargs, max_poll_records, group_instance_id)

    # -- what each client does its own way ----------------------------------------------------

    def _open(self, client_kwargs: Mapping[str, Any], max_poll_records: int,
              group_instance_id: str | None) -> Any:
        """The client's consumer, subscribed to the topic (this client's own state is set up
        here too); `BrokerUnavailableError` if the broker cannot be reached."""
        raise NotImplementedError

    def _assignment(self) -> Iterable:
        """The assigned partitions (objects with ``topic`` and ``partition``)."""
        raise NotImplementedError

    def _high_water(self, tp) -> int | None:
        """The high-water mark of ``tp`` as last seen, ``None`` if unknown."""
        raise NotImplementedError

    def _probe(self, assigned) -> None:
        """A bounded request to the broker; its outcome goes to ``self._live.probed``."""
        raise NotImplementedError

    def _at_end(self, assigned) -> bool:
        """Whether every partition of ``assigned`` has been read up to its high-water mark."""
        raise NotImplementedError

    def _commit_now(self, todo: Mapping[Any, int]) -> None:
        """Commit ``{partition: offset}`` to the group; failures are logged, not raised."""
        raise NotImplementedError

    def _close_client(self) -> None:
        raise NotImplementedError

    # -- errors raised on the main thread -----------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        """Keep ``exc`` (raised where it cannot propagate) for the next `poll` to raise."""
        if self._pending_error is None:
            self._pending_error = exc

    def _raise_pending(self) -> None:
        if self._pending_error is not None:
            exc, self._pending_error = self._pending_error, None
            raise exc

    # -- revocation and assignment ------------------------------------------------------------

    def _checkpoint_before_losing(self, partitions) -> dict[str, int] | None:
        """Checkpoint before ``partitions`` go; the offsets written, None if none was."""
        if not partitions or self.on_revoke is None:
            return None
        try:
            with self.lock:
                if self.on_revoke() is False:
                    return None
                return self.offsets()
        except BaseException as exc:  # surfaced by the next poll(), on the main thread
            logger.error("checkpoint before revocation of %s failed: %s",
                         sorted(partition_key(tp.topic, tp.partition) for tp in partitions), exc)
            self._fail(exc)
            return None

    def _handed_over(self, partitions, written: Mapping[str, int]) -> dict:
        """``{partition: offset written}`` of the ``partitions`` the last checkpoint holds."""
        keys = {tp: partition_key(tp.topic, tp.partition) for tp in partitions}
        return {tp: written[key] for tp, key in keys.items() if key in written}

    def _forget(self, committed: Mapping[Any, int]) -> None:
        """Forget the partitions whose checkpointed offsets the group has acknowledged
        (unless learned past since): whoever gets one next resumes at the group's offset."""
        with self.lock:
            for tp, offset in committed.items():
                key = partition_key(tp.topic, tp.partition)
                if self._offsets.get(key) == offset:
                    del self._offsets[key]

    def _log_assigned(self, key: str) -> None:
        if key in self._offsets:
            logger.info("partition %s assigned: resuming at offset %d", key, self._offsets[key])
        else:  # the client fetches the group's committed offset, else ``start_from``
            logger.info("partition %s assigned: not in the checkpoint, from the group's "
                        "committed offset (else %s)", key, self.start_from)

    def _resume_from_group(self, key: str, committed: int | None) -> bool:
        """Whether the group's ``committed`` offset of ``key`` is past this worker's checkpoint
        (a peer learned it since): then ``key`` resumes there. Call under `lock`."""
        mine = self._offsets.get(key)
        if committed is None or mine is None or committed <= mine:
            return False
        logger.info("partition %s: the group has advanced it to offset %d since this worker's "
                    "checkpoint (%d): resuming there", key, committed, mine)
        self._offsets[key] = committed
        return True

    # -- liveness -----------------------------------------------------------------------------

    def _nothing(self) -> list[Message] | None:
        """After a poll that returned nothing: ``[]`` (wait), or ``None`` once done."""
        assigned = list(self._assignment())
        self.end_reason = self._live.nothing_received(
            bool(assigned), lambda: self._probe(assigned),
            (lambda: self._at_end(assigned)) if self.stop_at_end else None)
        return None if self.end_reason else []

    # -- the Source protocol ------------------------------------------------------------------

    def advance(self, messages: Sequence[Message]) -> None:
        """Mark ``messages`` (the last poll's) as processed: each partition moves past them."""
        with self.lock:
            for (topic, partition), offset in last_offsets(messages).items():
                self._offsets[partition_key(topic, partition)] = offset + 1

    def offsets(self) -> dict[str, int]:
        with self.lock:
            return dict(self._offsets)

    def describe(self) -> dict:
        return {"kind": self.kind, "topic": self.topic, "group": self.group}

    def partition_lags(self) -> dict[tuple[str, int], int]:
        """Messages behind the high-water mark (last fetch or probe) of each assigned partition
        whose position and high-water mark are known."""
        lags = {}
        for tp in self._assignment():
            key = partition_key(tp.topic, tp.partition)
            high = self._high_water(tp)
            if high is not None and key in self._offsets:
                lags[(tp.topic, tp.partition)] = max(0, high - self._offsets[key])
        return lags

    def lag(self) -> int | None:
        """The sum of `partition_lags`; ``None`` if none is known."""
        return total_lag(self.partition_lags())

    def commit(self, offsets: Mapping[str, int]) -> None:
        """Commit ``offsets`` of the owned partitions to the group (for lag tools); failures
        are logged, not raised."""
        owned = {partition_key(tp.topic, tp.partition): tp for tp in self._assignment()}
        todo = {owned[k]: v for k, v in offsets.items() if k in owned}
        if todo:
            self._commit_now(todo)

    def close(self) -> None:
        """Leave the group (the last revocation runs) and close the client."""
        try:
            self._close_client()
        except Exception as exc:  # noqa: BLE001 - closing must not mask the run's outcome
            logger.warning("closing the consumer failed: %s", exc)
