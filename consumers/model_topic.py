"""The model topic: where the workers of a group publish their models for each other.

A compacted topic (``cleanup.policy=compact``, created if absent) keyed by worker id: Kafka keeps
at least the latest record of each worker, so a reader that starts from the beginning sees every
worker's latest model after at most one record per worker per retained segment. Values are
`consumers.mixing.ModelSnapshot` documents in JSON.

`ModelPublisher` sends snapshots without waiting for them (the learning loop does not block on
the model topic); `ModelReader` is a group-less consumer assigned every partition of the topic,
read from the beginning, whose `fetch` never blocks. `read_models` reads the whole topic once,
for ``online-lr model``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from consumers.errors import BrokerUnavailableError
from consumers.mixing import ModelSnapshot, PeerTable

__all__ = ["ModelPublisher", "ModelReader", "ensure_model_topic", "read_models"]

logger = logging.getLogger(__name__)


def ensure_model_topic(client_kwargs: Mapping[str, Any], topic: str,
                       timeout: float = 30.0) -> bool:
    """Create ``topic`` (1 partition, compacted) unless it exists; True if created."""
    from consumers.topics import ensure_topic

    return ensure_topic(client_kwargs, topic, 1, None, timeout,
                        config={"cleanup.policy": "compact"})


def _decode(value: bytes | None) -> ModelSnapshot | None:
    if not value:
        return None
    try:
        return ModelSnapshot.from_dict(orjson.loads(value))
    except (orjson.JSONDecodeError, ValueError) as exc:
        logger.warning("ignoring a malformed record of the model topic: %s", exc)
        return None


class ModelPublisher:
    """Sends snapshots to the model topic, keyed by worker id (fire and forget)."""

    def __init__(self, producer: Any, topic: str):
        self.producer = producer
        self.topic = topic

    def __call__(self, snapshot: ModelSnapshot) -> None:
        future = self.producer.send(self.topic, key=snapshot.worker.encode("utf-8"),
                                    value=orjson.dumps(snapshot.to_dict()))
        future.add_errback(self._failed)

    def _failed(self, exc: BaseException) -> None:
        logger.warning("a model snapshot was not published (peers keep the previous): %s", exc)

    def close(self, timeout: float = 5.0) -> None:
        from kafka.errors import KafkaError

        try:
            self.producer.flush(timeout=timeout)
        except KafkaError as exc:
            logger.warning("the last model snapshot may not be published: %s", exc)
        self.producer.close(timeout=timeout)


class ModelReader:
    """Every partition of the model topic from the beginning, without a group; never blocks."""

    def __init__(self, client_kwargs: Mapping[str, Any], topic: str, timeout: float = 30.0):
        from kafka import KafkaConsumer, TopicPartition
        from kafka.errors import KafkaError

        from consumers.kafka_source import client_config

        config = client_config(KafkaConsumer, client_kwargs)
        config.update(group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                      bootstrap_timeout_ms=int(timeout * 1000))
        try:
            self.consumer = KafkaConsumer(**config)
            parts = self.consumer.partitions_for_topic(topic) or {0}
        except KafkaError as exc:
            raise BrokerUnavailableError(f"cannot read the model topic {topic!r}: {exc}") from None
        self.partitions = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_beginning(*self.partitions)

    def fetch(self, timeout: float = 0.0) -> list[ModelSnapshot]:
        """The snapshots that arrived since the last call (``timeout=0``: whatever is there)."""
        from kafka.errors import KafkaError

        try:
            batches = self.consumer.poll(timeout_ms=int(timeout * 1000), max_records=10_000)
        except KafkaError as exc:
            logger.warning("reading the model topic failed (mixing with what is known): %s", exc)
            return []
        snaps = (_decode(r.value) for records in batches.values() for r in records)
        return [s for s in snaps if s is not None]

    def at_end(self) -> bool:
        ends = self.consumer.end_offsets(self.partitions)
        return all(self.consumer.position(tp) >= ends[tp] for tp in self.partitions)

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def read_models(client_kwargs: Mapping[str, Any], topic: str,
                timeout: float = 30.0) -> PeerTable:
    """Every worker's latest snapshot on ``topic`` (read to its end, within ``timeout``)."""
    reader = ModelReader(client_kwargs, topic, timeout)
    table = PeerTable()
    deadline = time.monotonic() + timeout
    try:
        while True:
            for snap in reader.fetch(timeout=0.2):
                table.offer(snap)
            if reader.at_end():
                return table
            if time.monotonic() > deadline:
                raise BrokerUnavailableError(f"model topic {topic!r} not read within {timeout}s")
    finally:
        reader.close()
