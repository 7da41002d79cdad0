"""Plain value types shared by sources, the decoder, the runner and the sinks.

`Message` is what a source hands to the runner: a Kafka record or a file row, with the
coordinates needed to resume (``offset`` is the Kafka offset or the file's row index) and to
dead-letter it (the original ``value`` bytes, ``key`` and ``headers``). A `BadRecord` is why a
value was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

__all__ = ["BadRecord", "Message", "Reason", "Value"]

#: A message value as a source delivers it: raw bytes (Kafka, JSON Lines), ``None`` (a Kafka
#: tombstone) or an already parsed mapping (a CSV row whose cells were converted by the source).
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


class Reason:
    """Why a message was refused; the code is the stable part, the detail names the field."""

    EMPTY = "empty"
    OVERSIZE = "oversize"
    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_OBJECT = "not_object"
    NO_FEATURES = "no_features"
    MISSING_FEATURE = "missing_feature"
    NON_NUMERIC_FEATURE = "non_numeric_feature"
    NONFINITE_FEATURE = "nonfinite_feature"
    NON_NUMERIC_TARGET = "non_numeric_target"
    NONFINITE_TARGET = "nonfinite_target"
    #: the model refused the update (`online_lr.DivergenceError`): it would have left a weight
    #: non-finite.
    DIVERGED = "diverged"
    #: the model refused the row for another reason (a ``ValueError`` from ``learn_sequential``).
    MODEL_REFUSED = "model_refused"


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A refused record: a `Reason` code plus a human detail (field name, parser message)."""

    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason
