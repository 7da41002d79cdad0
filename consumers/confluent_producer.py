"""Producing with confluent-kafka: kafka-python's producer interface, and topic creation.

`ConfluentProducer` gives a ``confluent_kafka.Producer`` the small part of ``KafkaProducer``'s
interface that `consumers.sinks.KafkaOutputs`, `consumers.model_topic.ModelPublisher` and
``online-lr produce`` use, so the predictions, the dead letters and the model topic keep one
implementation and the same guarantees on either client:

* ``send(topic, value=, key=, headers=, partition=)`` returns a delivery handle whose
  ``add_errback(fn)`` is called with the error of a refused record;
* ``flush(timeout)`` waits for every acknowledgement and raises
  ``kafka.errors.KafkaTimeoutError`` when some are missing (the checkpoint then waits);
* ``close(timeout)`` flushes what it can.

Errors are kafka-python's (``kafka.errors.KafkaError``; kafka-python is always installed), the
ones those callers catch. Delivery settings are the kafka-python producer's: ``acks=all``,
5 ms linger, keyed records partitioned by murmur2 like the Java and kafka-python clients (a
topic filled by either client keeps a key's partition), and a full queue blocks ``send`` for
at most 10 s. Delivery callbacks run in `send` (every 1,000 records) and in `flush`.

`ensure_topic` creates a topic with confluent's ``AdminClient`` (what ``online-lr produce`` and
``consume`` do with kafka-python's ``KafkaAdminClient`` when ``kafka.client`` is kafka-python).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from consumers.confluent_client import describe_error, librdkafka_config, require_confluent
from consumers.errors import BrokerUnavailableError

__all__ = ["ConfluentProducer", "ensure_topic"]

logger = logging.getLogger(__name__)

_SERVE_EVERY = 1000


class _Delivery:
    """The handle `ConfluentProducer.send` returns; librdkafka calls it with the outcome."""

    __slots__ = ("errbacks",)

    def __init__(self):
        self.errbacks: list = []

    def add_errback(self, fn) -> _Delivery:
        self.errbacks.append(fn)
        return self

    def __call__(self, error, message) -> None:
        if error is not None and self.errbacks:
            from kafka.errors import KafkaError

            exc = KafkaError(describe_error(error))
            for fn in self.errbacks:
                fn(exc)


class ConfluentProducer:
    """A ``confluent_kafka.Producer`` behind kafka-python's ``send``/``flush``/``close``.

    Parameters
    ----------
    client_kwargs
        Connection and security settings (`consumers.config.KafkaSettings.client_kwargs`).
    bootstrap_timeout
        Seconds the broker has to answer a metadata request at construction, else
        `BrokerUnavailableError`.
    config
        librdkafka properties that override the defaults above.
    """

    def __init__(self, client_kwargs: Mapping[str, Any], *, bootstrap_timeout: float = 30.0,
                 config: Mapping[str, Any] | None = None):
        ck = require_confluent()
        self._ck = ck
        props = librdkafka_config(client_kwargs, "producer")
        props.update({"acks": "all", "linger.ms": 5, "partitioner": "murmur2_random",
                      "logger": logging.getLogger("kafka.librdkafka")})
        props.update(config or {})
        self.max_block = 10.0
        self.producer = ck.Producer(props)
        self._since_serve = 0
        try:
            self.producer.list_topics(timeout=bootstrap_timeout)
        except ck.KafkaException as exc:
            raise BrokerUnavailableError(
                f"cannot reach Kafka at {props.get('bootstrap.servers')!r} to produce: "
                f"{describe_error(exc)}"
            ) from None

    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None,
             headers: list | None = None, partition: int | None = None) -> _Delivery:
        """Queue one record; the handle's errbacks get a refusal (see module)."""
        from kafka.errors import KafkaError, KafkaTimeoutError

        delivery = _Delivery()
        kw: dict[str, Any] = {"on_delivery": delivery}
        if headers:
            kw["headers"] = headers
        if partition is not None:
            kw["partition"] = partition
        deadline = None
        while True:
            try:
                self.producer.produce(topic, value, key, **kw)
                break
            except BufferError:  # the local queue is full: serve deliveries until it is not
                deadline = deadline or time.monotonic() + self.max_block
                if time.monotonic() > deadline:
                    raise KafkaTimeoutError(
                        f"the producer's queue stayed full for {self.max_block:g}s") from None
                self.producer.poll(0.05)
            except self._ck.KafkaException as exc:
                raise KafkaError(describe_error(exc)) from None
        self._since_serve += 1
        if self._since_serve >= _SERVE_EVERY:
            self._since_serve = 0
            self.producer.poll(0)
        return delivery

    def flush(self, timeout: float | None = None) -> None:
        """Wait for every record's acknowledgement (or refusal); raise if some are missing."""
        from kafka.errors import KafkaTimeoutError

        left = self.producer.flush(-1 if timeout is None else timeout)
        if left:
            raise KafkaTimeoutError(f"{left} record(s) not acknowledged within {timeout:g}s")

    def close(self, timeout: float | None = None) -> None:
        """Flush for at most ``timeout`` seconds (5 by default); unsent records are logged."""
        left = self.producer.flush(5.0 if timeout is None else timeout)
        if left:
            logger.warning("%d record(s) were not delivered before the producer closed", left)


def ensure_topic(client_kwargs: Mapping[str, Any], topic: str, partitions: int = 1,
                 replication_factor: int | None = None, timeout: float = 30.0,
                 config: Mapping[str, str] | None = None) -> bool:
    """Create ``topic`` unless it exists; True if created. ``config``: topic configs."""
    ck = require_confluent()
    from confluent_kafka.admin import AdminClient, NewTopic

    props = librdkafka_config(client_kwargs, "admin")
    props["logger"] = logging.getLogger("kafka.librdkafka")
    admin = AdminClient(props)
    try:
        existing = admin.list_topics(timeout=timeout).topics
    except ck.KafkaException as exc:
        raise BrokerUnavailableError(
            f"cannot reach Kafka at {props.get('bootstrap.servers')!r}: {describe_error(exc)}"
        ) from None
    if topic in existing and existing[topic].error is None:
        return False
    new = NewTopic(topic, num_partitions=partitions,
                   replication_factor=replication_factor or -1, config=dict(config or {}))
    future = admin.create_topics([new], operation_timeout=timeout, request_timeout=timeout)[topic]
    try:
        future.result(timeout=timeout)
    except ck.KafkaException as exc:
        if exc.args[0].code() == ck.KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise BrokerUnavailableError(f"cannot create topic {topic!r}: {describe_error(exc)}") \
            from None
    _await_metadata(admin, topic, partitions, timeout)
    logger.info("created topic %r with %d partition(s)", topic, partitions)
    return True


def _await_metadata(admin, topic: str, partitions: int, timeout: float) -> None:
    """Until the new topic's partitions show in the metadata (producers can then use it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is not None and meta.error is None and len(meta.partitions) >= partitions:
            return
        time.sleep(0.05)
