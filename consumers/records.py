"""Plain value types shared by sources, the decoder, the runner and the sinks.

`Message` is what a source hands to the runner: a Kafka record or a file row, with the
coordinates needed to resume (``offset`` is the Kafka offset or the file's row index) and to
dead-letter it (the original ``value`` bytes, ``key`` and ``headers``). A `BadRecord` is why a
value was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from online_lr import encoding

__all__ = ["BadRecord", "Message", "Reason", "Value"]

#: A message value as a source delivers it: raw bytes (Kafka, JSON Lines), ``None`` (a Kafka
#: tombstone) or an already parsed mapping (a CSV row: its cells as strings).
Value = bytes | None | Mapping[str, object]


class Message(NamedTuple):
    """One input message; ``offset`` is the position to resume *after* it, minus one."""

    topic: str
    partition: int
    offset: int
    value: Value
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int | None = None


class Reason(encoding.Reason):
    """Why a message was refused: the encoder's codes (`online_lr.encoding.Reason`, e.g.
    ``nonfinite_feature``, ``transform_failed``) plus those of the bytes and of the model."""

    EMPTY = "empty"
    OVERSIZE = "oversize"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    #: the model refused the update (`online_lr.DivergenceError`): it would have left a weight
    #: non-finite.
    DIVERGED = "diverged"
    #: the model refused the row for another reason (a ``ValueError`` from ``learn_sequential``).
    MODEL_REFUSED = "model_refused"


#: A refused record: a `Reason` code plus a human detail naming the field. The encoder's
#: `online_lr.encoding.Refusal`, so its refusals need no translation.
BadRecord = encoding.Refusal
