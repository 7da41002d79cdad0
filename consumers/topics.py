"""Topic creation, on either Kafka client: the one `ensure_topic` of ``online-lr``.

Used for the input topic of ``online-lr produce``, the output topics of ``consume`` and the
compacted model topic (`consumers.model_topic`). With confluent-kafka as the client
(`consumers.clients.uses_confluent`) it is `consumers.confluent_producer.ensure_topic`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from consumers.errors import BrokerUnavailableError

__all__ = ["ensure_topic"]

logger = logging.getLogger(__name__)


def ensure_topic(client_kwargs: Mapping[str, Any], topic: str, partitions: int = 1,
                 replication_factor: int | None = None, timeout: float = 30.0,
                 config: Mapping[str, str] | None = None) -> bool:
    """Create ``topic`` unless it exists; True if created.

    Parameters
    ----------
    client_kwargs
        Connection and security settings (`consumers.config.KafkaSettings.client_kwargs`).
    partitions, replication_factor
        Of a new topic; ``None`` replication: the broker's default.
    timeout
        Seconds to reach the broker and create the topic.
    config
        Topic configs of a new topic, e.g. ``{"cleanup.policy": "compact"}``.
    """
    from consumers.clients import uses_confluent

    if uses_confluent(client_kwargs):
        from consumers import confluent_producer

        return confluent_producer.ensure_topic(client_kwargs, topic, partitions,
                                               replication_factor, timeout, config=config)
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from consumers.kafka_source import client_config

    admin_config = client_config(KafkaAdminClient, client_kwargs)
    admin_config.setdefault("bootstrap_timeout_ms", int(timeout * 1000))
    try:
        admin = KafkaAdminClient(**admin_config)
    except KafkaError as exc:
        raise BrokerUnavailableError(
            f"cannot reach Kafka at {admin_config.get('bootstrap_servers')!r} to create topic "
            f"{topic!r}: {exc}"
        ) from None
    try:
        if topic in admin.list_topics():
            return False
        admin.create_topics(
            [NewTopic(topic, partitions, replication_factor or -1,
                      topic_configs=dict(config or {}))],
            timeout_ms=int(timeout * 1000), wait_for_metadata=True,
        )
        logger.info("created topic %r with %d partition(s)%s", topic, partitions,
                    f", {dict(config)}" if config else "")
        return True
    except TopicAlreadyExistsError:
        return False
    finally:
        admin.close()
