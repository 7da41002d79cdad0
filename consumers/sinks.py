"""Outputs: predictions and dead letters, produced to Kafka, flushed before each checkpoint.

Both go through one `KafkaProducer` (``acks="all"``). `KafkaOutputs.flush` is the checkpoint's
first step: a checkpoint may claim that a message was processed only once its prediction (or its
dead letter) has been acknowledged by the broker, so a flush that times out (broker unreachable)
raises `SinkError` and the runner keeps the previous checkpoint. Outputs are therefore
at-least-once: a restart after a crash re-publishes the predictions of the messages after the
last checkpoint. A record the broker *refuses* (too large, not authorized) would be refused
again on retry: it is logged and counted in ``errors`` instead of blocking checkpoints forever.

A prediction is the JSON object ``{"prediction": p, "topic": t, "partition": k, "offset": o}``
keyed like its input. A dead letter carries the input's original value bytes, key and headers,
plus the headers ``reason`` (``"code: detail"``), ``reason_code``, ``source_topic``,
``source_partition`` and ``source_offset``. Two things Kafka accepts but a producer cannot send
back are adapted: a header with a null value gets ``b""``, and a null value with a null key (a
tombstone from another client) gets the key ``b""`` and the header ``null_key``. A dead letter
the producer still rejects is counted in ``errors`` like a refused record: message content never
stops the consumer.

`LoggedDeadLetters` is the fallback without a dead-letter topic: refused messages are logged
(the first few, then one in a thousand) and counted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from consumers.errors import BrokerUnavailableError, SinkError
from consumers.records import BadRecord, Message

__all__ = [
    "DEAD_LETTER_VALUE_LIMIT",
    "KafkaOutputs",
    "LoggedDeadLetters",
    "dead_letter_headers",
    "make_producer",
]

logger = logging.getLogger(__name__)


def make_producer(client_kwargs: Mapping[str, Any], *, bootstrap_timeout: float = 30.0, **extra):
    """A `KafkaProducer` with this project's delivery settings (acks=all, bounded blocking).

    With ``kafka.client: confluent``, a `consumers.confluent_producer.ConfluentProducer` (the
    same interface and settings); ``extra`` then holds librdkafka properties.
    """
    from consumers.clients import uses_confluent

    if uses_confluent(client_kwargs):
        from consumers.confluent_producer import ConfluentProducer

        return ConfluentProducer(client_kwargs, bootstrap_timeout=bootstrap_timeout, config=extra)
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from consumers.kafka_source import client_config

    config = client_config(KafkaProducer, client_kwargs)
    config.setdefault("acks", "all")
    config.setdefault("linger_ms", 5)
    config.setdefault("max_block_ms", 10_000)
    config.setdefault("bootstrap_timeout_ms", int(bootstrap_timeout * 1000))
    config.update(extra)
    try:
        return KafkaProducer(**config)
    except KafkaError as exc:
        raise BrokerUnavailableError(
            f"cannot reach Kafka at {config.get('bootstrap_servers')!r} to produce: {exc}"
        ) from None


def dead_letter_headers(message: Message, reason: BadRecord) -> list[tuple[str, bytes]]:
    """The input's headers followed by the reason and the input's coordinates."""
    own = [(k, b"" if v is None else v) for k, v in message.headers]
    return own + [
        ("reason", str(reason).encode("utf-8", "replace")),
        ("reason_code", reason.reason.encode()),
        ("source_topic", message.topic.encode("utf-8", "replace")),
        ("source_partition", str(message.partition).encode()),
        ("source_offset", str(message.offset).encode()),
    ]


#: Dead-letter values longer than this are cut (header ``value_truncated`` = original size), so
#: that an oversize poison message can still be dead-lettered under the producer's request limit.
DEAD_LETTER_VALUE_LIMIT = 512 * 1024


def value_bytes(value: object) -> bytes | None:
    """Original bytes of a value (a file's parsed CSV row is re-encoded as JSON)."""
    if value is None or isinstance(value, (bytes, bytearray)):
        return None if value is None else bytes(value)
    return orjson.dumps(dict(value))  # type: ignore[call-overload]


class LoggedDeadLetters:
    """Dead letters without a topic: log a line (rate-limited) and count."""

    def __init__(self, first: int = 20, every: int = 1000):
        self.first = first
        self.every = every
        self.count = 0

    def add(self, items: Sequence[tuple[Message, BadRecord]]) -> None:
        for message, reason in items:
            self.count += 1
            if self.count <= self.first or self.count % self.every == 0:
                logger.warning(
                    "bad message %s[%d]@%d: %s (%d so far)",
                    message.topic, message.partition, message.offset, reason, self.count,
                )

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class KafkaOutputs:
    """Predictions and/or dead letters produced to Kafka through one producer.

    Parameters
    ----------
    producer
        A `KafkaProducer` (see `make_producer`); closed by `close`.
    predictions_topic, dead_letter_topic
        Either may be ``None`` (that output is off).
    flush_timeout
        Seconds `flush` may wait for acknowledgements before raising `SinkError`.
    """

    def __init__(
        self,
        producer,
        *,
        predictions_topic: str | None = None,
        dead_letter_topic: str | None = None,
        flush_timeout: float = 30.0,
    ):
        self.producer = producer
        self.predictions_topic = predictions_topic
        self.dead_letter_topic = dead_letter_topic
        self.flush_timeout = flush_timeout
        self.errors = 0
        self._failures: list[BaseException] = []

    def _failed(self, exc: BaseException) -> None:
        self._failures.append(exc)

    def _send(self, topic: str, value: bytes | None, key: bytes | None, headers=None) -> None:
        from kafka.errors import KafkaError

        try:
            future = self.producer.send(topic, value=value, key=key, headers=headers)
        except (KafkaError, TypeError, ValueError) as exc:  # the last two: the record's content
            self._failures.append(exc)
            return
        future.add_errback(self._failed)

    def add_predictions(self, messages: Sequence[Message], predictions: Sequence[float]) -> None:
        if self.predictions_topic is None:
            return
        for m, p in zip(messages, predictions):
            value = orjson.dumps(
                {"prediction": float(p), "topic": m.topic, "partition": m.partition,
                 "offset": m.offset}
            )
            self._send(self.predictions_topic, value, m.key)

    def add(self, items: Sequence[tuple[Message, BadRecord]]) -> None:
        """Dead-letter ``items`` (the runner's dead-letter interface)."""
        if self.dead_letter_topic is None:
            return
        for message, reason in items:
            value = value_bytes(message.value)
            headers = dead_letter_headers(message, reason)
            if value is not None and len(value) > DEAD_LETTER_VALUE_LIMIT:
                headers.append(("value_truncated", str(len(value)).encode()))
                value = value[:DEAD_LETTER_VALUE_LIMIT]
            key = message.key
            if value is None and key is None:  # kafka-python refuses to send a keyless null
                key = b""
                headers.append(("null_key", b"true"))
            self._send(self.dead_letter_topic, value, key, headers)

    def flush(self) -> None:
        """Wait until everything sent is acknowledged; raise `SinkError` otherwise."""
        from kafka.errors import KafkaError

        try:
            self.producer.flush(timeout=self.flush_timeout)
        except KafkaError as exc:
            raise SinkError(
                f"outputs not acknowledged within {self.flush_timeout:g}s: {exc}"
            ) from None
        if self._failures:  # refused records (too large, not authorized): retrying won't help
            failures, self._failures = self._failures, []
            self.errors += len(failures)
            logger.error(
                "%d output message(s) were refused by Kafka (%d so far); first error: %s",
                len(failures), self.errors, failures[0],
            )

    def close(self) -> None:
        try:
            self.producer.close(timeout=5)
        except Exception as exc:  # closing must not mask the run's outcome
            logger.warning("closing the producer failed: %s", exc)
