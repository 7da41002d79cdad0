"""Kafka input: a `KafkaConsumer` wrapper whose positions come from the checkpoint.

Contract (what makes ``kill -9`` + restart learn exactly what an uninterrupted run learns):

* ``enable_auto_commit=False`` and no deserializer: values arrive as bytes and are decoded by
  `consumers.decode`, after `poll`.
* The positions live here, in memory, next to the model the runner updates: `advance` moves a
  partition to ``last processed offset + 1`` once its messages have been learned, and
  `offsets` is what the runner writes into the checkpoint *together with* the model.
* On every assignment the rebalance listener seeks each partition to that in-memory offset (at
  start: the checkpoint's). A partition it does not know starts at the offset committed to the
  consumer group, or at ``start_from`` if there is none: that is how a partition moves between
  the workers of a group, each with its own checkpoint.
* Offsets are committed to the group after each checkpoint (`commit`, main thread), and before
  partitions are revoked (rebalance, close): the listener asks the runner for a checkpoint,
  commits the revoked partitions' checkpointed offsets and, once the broker has acknowledged
  them, forgets those partitions (the hand-over): whoever gets a partition next, this worker
  included, resumes at the committed offset, so nothing is learned twice or skipped across
  workers. Listener callbacks run on kafka-python's IO thread while `poll` blocks the main
  thread, so model and positions are consistent there; blocking consumer calls are not allowed
  in them, so the listener is asynchronous and awaits the commit.
* A worker that died without handing over (``kill -9``) still holds its partitions in its
  checkpoint; a peer may have advanced them since. So when a partition the checkpoint holds is
  assigned, the group's committed offset is read (`_reconcile`, main thread, before any of its
  records is learned): this worker commits only offsets it has checkpointed, so a committed
  offset past the checkpoint's was learned by a peer, and the partition resumes there.

Liveness (the state machine of `consumers.liveness`): `poll` returns ``[]`` while nothing is
available, ``None`` once ``idle_timeout`` seconds passed without a message *while the broker
answered* (or, with ``stop_at_end``, once every assigned partition is read to its high-water
mark), and raises `BrokerUnavailableError` once the broker has been unreachable (or no
partition was assigned) for ``broker_timeout`` seconds. Reachability is probed with a bounded
``end_offsets`` request at most once a second while idle; the same answer gives the lag.

Client errors are classified (`is_connection_error`): only those kafka-python marks retriable
(connections, timeouts, leader moves) are waited out. Any other - a batch compressed with a
codec that is not installed, a corrupt batch, a denied access - raises
`NonRetriableKafkaError` at once, naming the partition, the offset and what to do. It must not
be retried: after a failed fetch kafka-python 3.0's fetcher loops forever in the next `poll`.

The steps that do not depend on the client (positions, the checkpoint before revocation, the
hand-over, lag, the liveness events) are `consumers.kafka_base.KafkaSourceBase`'s; a batch is a
`consumers.kafka_base.MessageBatch` (the values in one list, a `Message` built on demand).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from consumers.errors import BrokerUnavailableError, ConfigError, NonRetriableKafkaError
from consumers.kafka_base import KafkaSourceBase, MessageBatch, new_message, partition_key
from consumers.records import Message

__all__ = [
    "CODEC_PACKAGES",
    "KafkaSource",
    "client_config",
    "instance_id_for",
    "is_connection_error",
    "what_to_do",
]

logger = logging.getLogger(__name__)


def instance_id_for(checkpoint_path: str) -> str:
    """A static group-membership id tied to this host and checkpoint file.

    One checkpoint is advanced by one process at a time (it is locked), so host + checkpoint
    identifies the consumer across restarts.
    """
    import hashlib
    import os
    import socket

    where = f"{socket.gethostname()}:{os.path.abspath(checkpoint_path)}"
    return "online-lr-" + hashlib.sha256(where.encode()).hexdigest()[:16]


def client_config(client_cls: type, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``kwargs`` that ``client_cls`` (consumer, producer, admin) accepts.

    ``kwargs["extra"]`` (``kafka.extra``) is merged in; a name there that no kafka-python
    client accepts is refused.
    """
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

    extra = kwargs.get("extra") or {}
    known = set().union(*(c.DEFAULT_CONFIG for c in (KafkaConsumer, KafkaProducer,
                                                      KafkaAdminClient)))
    for key in extra:
        if key not in known:
            raise ConfigError(f"kafka.extra.{key}", "is not a kafka-python setting (a keyword "
                                                    "of KafkaConsumer, KafkaProducer or "
                                                    "KafkaAdminClient)")
    accepted = client_cls.DEFAULT_CONFIG
    return {k: v for k, v in {**kwargs, **extra}.items() if k in accepted}


#: The package behind each codec kafka-python may lack (gzip is in the standard library); each
#: is a dependency of online-lr, through kafka-python's extras.
CODEC_PACKAGES = {"snappy": "python-snappy", "lz4": "lz4", "zstd": "zstandard"}


def is_connection_error(exc: BaseException) -> bool:
    """Whether waiting may cure ``exc``: a client error kafka-python marks retriable.

    >>> from kafka.errors import KafkaConnectionError, UnsupportedCodecError
    >>> is_connection_error(KafkaConnectionError()), is_connection_error(UnsupportedCodecError())
    (True, False)
    """
    from kafka.errors import KafkaError

    return isinstance(exc, KafkaError) and exc.retriable


def what_to_do(exc: BaseException) -> str:
    """The user's next step after ``exc``, a client error that is not a connection error.

    >>> from kafka.errors import UnsupportedCodecError
    >>> print(what_to_do(UnsupportedCodecError("Libraries for zstd compression codec not found")))
    The batch is zstd-compressed and the zstd codec is not installed: pip install zstandard ...
    """
    from kafka.errors import CorruptRecordError, UnsupportedCodecError

    if isinstance(exc, UnsupportedCodecError):
        for codec, package in CODEC_PACKAGES.items():
            if codec in str(exc):
                return (f"The batch is {codec}-compressed and the {codec} codec is not installed: "
                        f"pip install {package} (online-lr depends on it: reinstall online-lr).")
        return ("The batch uses a compression codec kafka-python does not know: have the "
                "producer use gzip, snappy, lz4, zstd or none.")
    if isinstance(exc, CorruptRecordError):
        return ("The record batch is corrupt (a failed CRC check or a malformed batch): check the "
                "producer and the broker's disks. To skip it, move the group's committed offset "
                "past it (kafka-consumer-groups.sh --reset-offsets); a restart resumes there.")
    return "Retrying cannot fix this error; the last checkpoint is kept."


def _make_listener(source: KafkaSource):
    from kafka import AsyncConsumerRebalanceListener

    class Listener(AsyncConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            written = source._checkpoint_before_losing(revoked)
            if written is not None:
                await source._hand_over(revoked, written)

        async def on_partitions_assigned(self, assigned):
            source._on_assigned(assigned)

        async def on_partitions_lost(self, lost):
            source._checkpoint_before_losing(lost)  # the group is gone: nothing to commit

    return Listener()


def _to_message(record, value) -> Message:
    return new_message(record.topic, record.partition, record.offset, value, record.key,
                       tuple(record.headers or ()), record.timestamp)


class KafkaSource(KafkaSourceBase):
    """Messages of one topic, for one consumer group, resumed from checkpointed offsets.

    The parameters are `consumers.kafka_base.KafkaSourceBase`'s; ``on_revoke`` is called on
    kafka-python's IO thread.
    """

    def _open(self, client_kwargs: Mapping[str, Any], max_poll_records: int,
              group_instance_id: str | None):
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        topic, group = self.topic, self.group
        start_from, broker_timeout = self.start_from, self.broker_timeout
        self._to_reconcile: set = set()  # assigned partitions held by the checkpoint
        self._end_offsets: dict[str, int] = {}
        config = client_config(KafkaConsumer, client_kwargs)
        config.update(
            group_id=group,
            enable_auto_commit=False,
            value_deserializer=None,
            key_deserializer=None,
            auto_offset_reset=start_from,
            allow_auto_create_topics=False,
            max_poll_records=max_poll_records,
            bootstrap_timeout_ms=int(broker_timeout * 1000),
        )
        config.setdefault("session_timeout_ms", 10_000)  # a dead member is noticed in 10 s
        # Bigger fetches than kafka-python's 1 MiB per partition: fewer round trips at full
        # speed (measured in bench/bench_consume.py), and still a bounded buffer.
        config.setdefault("max_partition_fetch_bytes", 4 << 20)
        # Messages of aborted transactions never happened: they must not be learned.
        config.setdefault("isolation_level", "read_committed")
        if group_instance_id is not None:
            config["group_instance_id"] = group_instance_id
        try:
            consumer = KafkaConsumer(**config)
        except KafkaError as exc:
            raise BrokerUnavailableError(
                f"cannot reach Kafka at {config.get('bootstrap_servers')!r} within "
                f"{broker_timeout:g}s (broker_timeout): {exc}"
            ) from None
        consumer.subscribe([topic], listener=_make_listener(self))
        return consumer

    # -- rebalance callbacks (IO thread) ------------------------------------------------------

    async def _hand_over(self, revoked, written: Mapping[str, int]) -> None:
        """Commit the checkpointed offsets of ``revoked``, then forget them (see module)."""
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        todo = self._handed_over(revoked, written)
        if not todo:
            return
        try:
            await self.consumer.commit_async(
                {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in todo.items()})
        except KafkaError as exc:  # keep them: this worker resumes them if they come back
            logger.warning("hand-over commit of %s failed: %s", sorted(todo), exc)
            return
        self._forget(todo)

    def _on_assigned(self, assigned) -> None:
        with self.lock:
            for tp in sorted(assigned):
                key = partition_key(tp.topic, tp.partition)
                self._log_assigned(key)
                if key in self._offsets:  # else the group's committed offset, or start_from
                    self.consumer.seek(tp, self._offsets[key])
                    self._to_reconcile.add(tp)

    # -- the Source protocol ------------------------------------------------------------------

    def poll(self, max_records: int, timeout: float = 1.0) -> Sequence[Message] | None:
        """Up to ``max_records`` messages (a `MessageBatch`); ``[]`` if none yet; ``None`` once
        idle (see module)."""
        self._raise_pending()
        try:
            batches = self.consumer.poll(timeout_ms=int(timeout * 1000), max_records=max_records)
        except Exception as exc:  # noqa: BLE001 - a codec's own error is not a KafkaError
            if not is_connection_error(exc):
                raise self._non_retriable(exc, self._where_fetching()) from exc
            logger.warning("poll failed: %s", exc)
            batches = {}
            self._live.probed(str(exc))
        self._raise_pending()
        if self._to_reconcile:
            self._reconcile()
        batches = self._unseen(batches)
        if not batches:
            return self._nothing()
        self._live.received()
        records = [r for rs in batches.values() for r in rs] if len(batches) > 1 else \
            next(iter(batches.values()))
        return MessageBatch([r.value for r in records], records, _to_message,
                            {(tp.topic, tp.partition): rs[-1].offset for tp, rs in batches.items()})

    def _reconcile(self) -> None:
        """Move assigned partitions to the group's committed offset where a peer advanced them.

        A failed lookup is retried at the next poll; until then, the records polled for that
        partition are not learned.
        """
        from kafka.errors import KafkaError

        with self.lock:
            todo = sorted(self._to_reconcile & self.consumer.assignment())
            self._to_reconcile.clear()
        for tp in todo:
            key = partition_key(tp.topic, tp.partition)
            try:
                committed = self.consumer.committed(
                    tp, timeout_ms=int(min(5.0, self.broker_timeout) * 1000))
            except KafkaError as exc:  # its polled records are dropped by `_unseen`
                logger.warning("reading the group's offset of %s failed: %s", key, exc)
                with self.lock:
                    self._to_reconcile.add(tp)
                    self.consumer.seek(tp, self._offsets[key])
                continue
            with self.lock:
                if self._resume_from_group(key, committed):
                    self.consumer.seek(tp, committed)

    def _unseen(self, batches: dict) -> dict:
        """``batches`` without records before a partition's position (already learned), and
        without empty record lists.

        A rebalance can seek a partition back while the batch polled before it is still being
        learned (its position then moves past the seek): those records come back, and are
        dropped here, so no offset is ever learned twice.
        """
        with self.lock:
            starts = {tp: self._offsets.get(partition_key(tp.topic, tp.partition))
                      for tp in batches}
            unreconciled = set(self._to_reconcile)
        out = {}
        for tp, records in batches.items():
            if tp in unreconciled:  # not yet known where it resumes: polled again later
                continue
            start = starts[tp]
            if start is not None and records and records[0].offset < start:
                records = [r for r in records if r.offset >= start]
                logger.info("%s: skipped records before offset %d (already learned)",
                            partition_key(tp.topic, tp.partition), start)
            if records:
                out[tp] = records
        return out

    def _assignment(self):
        return self.consumer.assignment()

    def _at_end(self, assigned) -> bool:
        """Whether every partition of ``assigned`` has been read up to its high-water mark."""
        from kafka.errors import KafkaError

        for tp in assigned:
            high = self._high_water(tp)
            try:
                if high is None or self.consumer.position(tp, timeout_ms=1000) < high:
                    return False
            except KafkaError:
                return False
        return True

    def _probe(self, assigned) -> None:
        """Is the broker there? A bounded ``end_offsets`` request (see `consumers.liveness`)."""
        from kafka.errors import KafkaError

        timeout_ms = int(min(2.0, self.broker_timeout) * 1000)
        try:
            ends = self.consumer.end_offsets(list(assigned), timeout_ms=timeout_ms)
        except KafkaError as exc:
            if not is_connection_error(exc):
                raise self._non_retriable(exc, f"the end offsets of topic {self.topic!r}") from exc
            self._live.probed(str(exc))
            return
        self._end_offsets = {partition_key(tp.topic, tp.partition): off for tp, off in ends.items()}
        self._live.probed(None)

    def _non_retriable(self, exc: BaseException, where: str) -> NonRetriableKafkaError:
        from kafka.errors import KafkaError  # its str() names the class already

        cause = str(exc) if isinstance(exc, KafkaError) else f"{type(exc).__name__}: {exc}"
        return NonRetriableKafkaError(f"cannot read {where}: {cause}. {what_to_do(exc)}")

    def _where_fetching(self) -> str:
        """The assigned partitions not read to their end, with their positions: one of them
        holds the batch the last fetch could not read."""
        from kafka.errors import KafkaError

        unread = []
        for tp in sorted(self.consumer.assignment()):
            try:
                position = self.consumer.position(tp, timeout_ms=1000)
            except KafkaError:
                position = None
            high = self.consumer.highwater(tp)
            if position is not None and high is not None and position >= high:
                continue
            unread.append(f"partition {tp.partition} at offset "
                          f"{'?' if position is None else position}")
        if len(unread) == 1:
            return f"topic {self.topic!r} {unread[0]}"
        if unread:
            return f"topic {self.topic!r} (one of: {', '.join(unread)})"
        return f"topic {self.topic!r}"

    def _high_water(self, tp) -> int | None:
        """The high-water mark of ``tp`` from the last fetch, else from the last probe."""
        high = self.consumer.highwater(tp)
        if high is None:
            high = self._end_offsets.get(partition_key(tp.topic, tp.partition))
        return high

    def _commit_now(self, todo: Mapping[Any, int]) -> None:
        from kafka.errors import KafkaError
        from kafka.structs import OffsetAndMetadata

        try:
            self.consumer.commit({tp: OffsetAndMetadata(v, "", -1) for tp, v in todo.items()},
                                 timeout_ms=int(min(5.0, self.broker_timeout) * 1000))
        except KafkaError as exc:
            logger.warning("group offset commit failed (the checkpoint is unaffected): %s", exc)

    def _close_client(self) -> None:
        self.consumer.close(autocommit=False, timeout_ms=5000)
