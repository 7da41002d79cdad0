"""Exceptions of the stream side, and the process exit codes the CLI maps them to.

Every error names what went wrong in terms a user can act on: the config field, the checkpoint
file, the broker address. None of them ever carries a secret (passwords are resolved from the
environment only when a Kafka client is built, see `consumers.config`).
"""

from __future__ import annotations

__all__ = [
    "EXIT_BROKER",
    "EXIT_CHECKPOINT",
    "EXIT_CONFIG",
    "EXIT_NOTHING_LEARNED",
    "EXIT_KAFKA_NON_RETRIABLE",
    "EXIT_OK",
    "BrokerUnavailableError",
    "CheckpointError",
    "ConfigError",
    "ConsumersError",
    "NonRetriableKafkaError",
    "SinkError",
]

#: Clean end: the stream was exhausted, went idle, hit ``max_messages`` or was stopped by a signal.
EXIT_OK = 0
#: Bad command line or config (argparse also exits with 2 on usage errors).
EXIT_CONFIG = 2
#: The checkpoint is corrupt, truncated, of another format, or in use by another process.
EXIT_CHECKPOINT = 3
#: The broker stayed unreachable past ``broker_timeout`` (the last good checkpoint is kept).
EXIT_BROKER = 4
#: The run learned (or, for ``predict``, scored) nothing usable: none of the rows read, no row
#: at all for a new model, no feature, or (``replay``) nothing better than a constant.
EXIT_NOTHING_LEARNED = 5
#: The Kafka client failed in a way waiting cannot fix: a compression codec is not installed, a
#: record batch is corrupt, access is denied (the last good checkpoint is kept).
EXIT_KAFKA_NON_RETRIABLE = 6


class ConsumersError(Exception):
    """Base class of the errors the CLI reports as one line instead of a traceback."""

    exit_code = 1


class ConfigError(ConsumersError, ValueError):
    """A config file or flag is refused. ``field`` is the dotted name, e.g. ``"kafka.topic"``."""

    exit_code = EXIT_CONFIG

    def __init__(self, field: str, message: str):
        super().__init__(f"config field {field!r}: {message}")
        self.field = field


class CheckpointError(ConsumersError):
    """A checkpoint cannot be read or written; an existing file is never overwritten after this."""

    exit_code = EXIT_CHECKPOINT


class BrokerUnavailableError(ConsumersError):
    """The broker was unreachable for longer than the configured deadline."""

    exit_code = EXIT_BROKER


class NonRetriableKafkaError(ConsumersError):
    """The Kafka client raised an error that no retry can fix; the message says what to do."""

    exit_code = EXIT_KAFKA_NON_RETRIABLE


class SinkError(ConsumersError):
    """Predictions or dead letters could not be delivered, so no checkpoint may claim them."""
