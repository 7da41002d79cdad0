"""Helpers shared by the tests that talk to the real local broker (no fixtures here)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import numpy as np
import orjson

from consumers.checkpoint import read_checkpoint
from consumers.topics import ensure_topic
from online_lr import SGDRegressor

#: The client library ``online-lr consume`` runs with in the current test (set by the
#: ``kafka_client`` fixture of conftest.py: each Kafka test runs once per library).
CLIENT = "kafka-python"


def client_args() -> tuple[str, ...]:
    """The flags that make ``online-lr consume``/``produce`` use the current test's client."""
    return ("--client", CLIENT)


def name(prefix: str) -> str:
    """A topic or group name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def produce_values(bootstrap: str, topic: str, values: list, *, keys=None, headers=None,
                   partitions: int = 1) -> None:
    """Send raw values (bytes) to partition 0 of ``topic``, created with ``partitions``."""
    from kafka import KafkaProducer

    ensure_topic({"bootstrap_servers": bootstrap}, topic, partitions)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for i, value in enumerate(values):
            producer.send(topic, value=value, key=None if keys is None else keys[i],
                          headers=None if headers is None else headers[i], partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=5)


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list:
    """Every record of ``topic`` (all partitions), waiting for at least ``expected`` of them.

    Reading goes on up to the partitions' end offsets, so that a record beyond ``expected`` (a
    duplicate) shows up.
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out: list = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=300).values():
                out += records
        ends = consumer.end_offsets(parts)
        while (any(consumer.position(tp) < ends[tp] for tp in parts)
               and time.monotonic() < deadline):
            for records in consumer.poll(timeout_ms=300).values():
                out += records
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close(autocommit=False)


def write_jsonl(path: Path, n: int, *, seed: int = 1, unlabelled_every: int = 9) -> list[dict]:
    """``n`` rows of y = 3a - 0.2b + 0.5 + noise, every ``unlabelled_every``-th without y."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a, b = rng.normal(size=2).tolist()
        row = {"id": i, "a": a, "b": 10.0 * b}
        if i % unlabelled_every != 4:
            row["y"] = 3.0 * a - 0.2 * b + 0.5 + 0.05 * float(rng.normal())
        rows.append(row)
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return rows


def model_of(ckpt: Path) -> SGDRegressor:
    """The model saved in a checkpoint file."""
    return SGDRegressor.from_dict(read_checkpoint(ckpt).model)
