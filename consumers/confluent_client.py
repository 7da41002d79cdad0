"""confluent-kafka (librdkafka) as the Kafka client: the import, the settings, the errors.

The config keeps one spelling of the client settings, kafka-python's snake_case (the ``kafka:``
section, `consumers.config.KafkaSettings`). `librdkafka_config` is the one place that maps them
to librdkafka's dotted names, for a consumer, a producer or an admin client:

======================================  ==========================================
``kafka:`` setting                      librdkafka property
======================================  ==========================================
bootstrap_servers (str or list)         bootstrap.servers (comma-joined)
client_id                               client.id
security_protocol                       security.protocol
sasl_mechanism                          sasl.mechanisms
sasl_plain_username                     sasl.username
sasl_plain_password_env (its value)     sasl.password
sasl_kerberos_service_name              sasl.kerberos.service.name
ssl_cafile / ssl_certfile / ssl_keyfile ssl.ca.location / ssl.certificate.location /
                                        ssl.key.location
ssl_crlfile                             ssl.crl.location
ssl_password_env (its value)            ssl.key.password
ssl_check_hostname (true / false)       ssl.endpoint.identification.algorithm
                                        (https / none)
ssl_ciphers                             ssl.cipher.suites
request_timeout_ms                      socket.timeout.ms
session_timeout_ms                      session.timeout.ms (consumer)
heartbeat_interval_ms                   heartbeat.interval.ms (consumer)
max_poll_interval_ms                    max.poll.interval.ms (consumer)
isolation_level                         isolation.level (consumer)
======================================  ==========================================

``sasl_kerberos_domain_name`` has no librdkafka counterpart (librdkafka takes the host from the
broker address) and is refused with a message naming it; ``client`` (which client to use) is not
a client setting. Secrets stay `consumers.config.Secret` strings in the result, masked in any
repr; nothing here logs a config.

>>> from consumers.config import Secret
>>> cfg = librdkafka_config({"bootstrap_servers": ["a:1", "b:2"], "client": "confluent",
...                          "sasl_plain_password": Secret("hunter2"),
...                          "session_timeout_ms": 6000}, "producer")
>>> cfg
{'bootstrap.servers': 'a:1,b:2', 'sasl.password': '***'}
>>> librdkafka_config({"session_timeout_ms": 6000}, "consumer")
{'session.timeout.ms': 6000}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumers.errors import ConfigError

__all__ = [
    "LIBRDKAFKA_NAMES",
    "describe_error",
    "librdkafka_config",
    "require_confluent",
]

#: snake_case setting -> (librdkafka property, roles that take it).
LIBRDKAFKA_NAMES: dict[str, tuple[str, frozenset[str]]] = {}
_ALL = frozenset(("consumer", "producer", "admin"))
_CONSUMER = frozenset(("consumer",))
for _name, _prop, _roles in (
    ("bootstrap_servers", "bootstrap.servers", _ALL),
    ("client_id", "client.id", _ALL),
    ("security_protocol", "security.protocol", _ALL),
    ("sasl_mechanism", "sasl.mechanisms", _ALL),
    ("sasl_plain_username", "sasl.username", _ALL),
    ("sasl_plain_password", "sasl.password", _ALL),
    ("sasl_kerberos_service_name", "sasl.kerberos.service.name", _ALL),
    ("ssl_cafile", "ssl.ca.location", _ALL),
    ("ssl_certfile", "ssl.certificate.location", _ALL),
    ("ssl_keyfile", "ssl.key.location", _ALL),
    ("ssl_crlfile", "ssl.crl.location", _ALL),
    ("ssl_password", "ssl.key.password", _ALL),
    ("ssl_check_hostname", "ssl.endpoint.identification.algorithm", _ALL),
    ("ssl_ciphers", "ssl.cipher.suites", _ALL),
    ("request_timeout_ms", "socket.timeout.ms", _ALL),
    ("session_timeout_ms", "session.timeout.ms", _CONSUMER),
    ("heartbeat_interval_ms", "heartbeat.interval.ms", _CONSUMER),
    ("max_poll_interval_ms", "max.poll.interval.ms", _CONSUMER),
    ("isolation_level", "isolation.level", _CONSUMER),
):
    LIBRDKAFKA_NAMES[_name] = (_prop, _roles)

#: Settings of `KafkaSettings` that are not passed to librdkafka at all.
_NOT_CLIENT_SETTINGS = frozenset(("client",))




def require_confluent():
    """The ``confluent_kafka`` module, or a `ConfigError` naming the extra that installs it."""
    from consumers.extras import require

    return require("confluent_kafka", "kafka.client", "'confluent'")


def librdkafka_config(client_kwargs: Mapping[str, Any], role: str) -> dict[str, Any]:
    """librdkafka properties for a ``role`` client ("consumer", "producer" or "admin").

    ``client_kwargs`` is `consumers.config.KafkaSettings.client_kwargs` (secrets resolved, as
    masked `Secret` strings); settings of other roles are left out, so librdkafka does not
    warn about them.
    """
    if role not in _ALL:
        raise ValueError(f"role must be one of {sorted(_ALL)}, got {role!r}")
    config: dict[str, Any] = {}
    for name, value in client_kwargs.items():
        if name in _NOT_CLIENT_SETTINGS or value is None:
            continue
        if name == "extra":  # kafka.extra: librdkafka properties, passed through as they are
            config.update(value)
            continue
        if name not in LIBRDKAFKA_NAMES:
            raise ConfigError(f"kafka.{name}", "has no equivalent in confluent-kafka "
                                               "(librdkafka); remove it or use kafka.client: "
                                               "kafka-python")
        prop, roles = LIBRDKAFKA_NAMES[name]
        if role not in roles:
            continue
        if name == "bootstrap_servers" and not isinstance(value, str):
            value = ",".join(value)
        elif name == "ssl_check_hostname":
            value = "https" if value else "none"
        config[prop] = value
    return config


def describe_error(error: Any) -> str:
    """``"NAME: reason"`` of a ``confluent_kafka.KafkaError`` (or of a KafkaException)."""
    if hasattr(error, "args") and error.args and hasattr(error.args[0], "name"):
        error = error.args[0]
    if hasattr(error, "name") and hasattr(error, "str"):
        return f"{error.name()}: {error.str()}"
    return str(error)
