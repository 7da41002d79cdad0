"""The Kafka client library a run uses: ``kafka.client``, ``kafka-python`` (default) or ``confluent``.

The choice travels with the client settings (``client`` in
`consumers.config.KafkaSettings.client_kwargs`), so every factory that takes them picks the same
library: `make_source` here, `consumers.sinks.make_producer` (predictions, dead letters, the
model topic) and the topic creation of ``online-lr produce``/``consume``. Reading the model
topic (parameter mixing, ``online-lr model``) stays on kafka-python with either choice: a few
records per worker, read without a group.

Both sources keep the same contract and write the same checkpoints
(`consumers.kafka_source`, `consumers.confluent_source`). confluent-kafka is an optional
extra: ``pip install 'online-lr[confluent]'``.

>>> uses_confluent({"client": "confluent"}), uses_confluent({"bootstrap_servers": "h:1"})
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CLIENTS", "make_source", "uses_confluent"]

#: The values of ``kafka.client``; the first is the default.
CLIENTS = ("kafka-python", "confluent")


def uses_confluent(client_kwargs: Mapping[str, Any]) -> bool:
    """Whether these client settings ask for confluent-kafka (else kafka-python)."""
    return client_kwargs.get("client") == "confluent"


def make_source(topic: str, group: str, client_kwargs: Mapping[str, Any], **options: Any):
    """A `KafkaSource` or a `ConfluentSource` (same parameters), as ``kafka.client`` says."""
    if uses_confluent(client_kwargs):
        from consumers.confluent_source import ConfluentSource

        return ConfluentSource(topic, group, client_kwargs, **options)
    from consumers.kafka_source import KafkaSource

    return KafkaSource(topic, group, client_kwargs, **options)
