"""End-to-end checks of the real local Kafka broker started by scripts/kafka-local.

Everything talks to 127.0.0.1 only, and every loop is bounded in time.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterable

import pytest

kafka = pytest.importorskip("kafka")
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

PARTITIONS = 3
SEND_TIMEOUT_S = 30
CONSUME_DEADLINE_S = 60


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_topic(bootstrap: str, name: str, partitions: int = PARTITIONS) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-admin",
                             request_timeout_ms=30_000)
    try:
        admin.create_topics([NewTopic(name=name, num_partitions=partitions,
                                      replication_factor=1)])
        deadline = time.monotonic() + 30
        while name not in admin.list_topics():
            assert time.monotonic() < deadline, f"topic {name} did not appear"
            time.sleep(0.2)
    finally:
        admin.close()


def new_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, client_id="test-producer", acks="all",
                         request_timeout_ms=15_000, max_block_ms=30_000)


def produce(producer: KafkaProducer, topic: str, messages: Iterable[bytes]) -> None:
    """Send messages keyed by themselves (spreads them over partitions); wait for each ack."""
    futures = [producer.send(topic, key=message, value=message) for message in messages]
    producer.flush(timeout=SEND_TIMEOUT_S)
    for future in futures:
        future.get(timeout=SEND_TIMEOUT_S)


def consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[int, bytes]]:
    """Read the topic from the start until `expected` records arrived (bounded in time), then on
    to the partitions' end offsets, to catch any surplus. Returns (partition, value) pairs."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=unique_topic("test-group"),
        client_id="test-consumer", auto_offset_reset="earliest", enable_auto_commit=False,
        consumer_timeout_ms=2_000)
    records: list[tuple[int, bytes]] = []
    try:
        deadline = time.monotonic() + CONSUME_DEADLINE_S
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend((record.partition, record.value) for record in batch)
        assigned = consumer.assignment()
        ends = consumer.end_offsets(list(assigned))
        while (any(consumer.position(tp) < ends[tp] for tp in assigned)
               and time.monotonic() < deadline):
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend((record.partition, record.value) for record in batch)
    finally:
        consumer.close()
    return records


def port_open(bootstrap: str) -> bool:
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def test_fixture_gives_a_loopback_address(kafka_bootstrap: str) -> None:
    host, _, port = kafka_bootstrap.rpartition(":")
    assert host == "127.0.0.1"
    assert 0 < int(port) < 65536


def test_produce_and_consume_roundtrip(kafka_bootstrap: str) -> None:
    topic = unique_topic("roundtrip")
    create_topic(kafka_bootstrap, topic)
    messages = [f"message-{i:03d}".encode() for i in range(100)]

    producer = new_producer(kafka_bootstrap)
    try:
        produce(producer, topic, messages)
        assert len(producer.partitions_for(topic)) == PARTITIONS
    finally:
        producer.close(timeout=10)

    records = consume_all(kafka_bootstrap, topic, expected=len(messages))
    assert len(records) == len(messages)
    assert sorted(value for _, value in records) == messages
    assert len({partition for partition, _ in records}) > 1, "keys should spread over partitions"


def test_data_survives_pause_and_resume(kafka_broker) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = unique_topic("outage")
    create_topic(bootstrap, topic)
    before = [f"before-{i:03d}".encode() for i in range(50)]
    after = [f"after-{i:03d}".encode() for i in range(50)]

    producer = new_producer(bootstrap)
    try:
        produce(producer, topic, before)
        with kafka_broker.outage():
            assert not port_open(bootstrap), "the broker should be down during the outage"
        assert port_open(bootstrap)  # back on the same port, with the same data
        produce(producer, topic, after)  # the same producer reconnects by itself
    finally:
        producer.close(timeout=10)

    records = consume_all(bootstrap, topic, expected=len(before) + len(after))
    assert sorted(value for _, value in records) == sorted(before + after)
