"""Message values -> encoded rows, without ever importing kafka.

A value is a UTF-8 JSON object (or a mapping a file source already parsed: a CSV row of string
cells). `decode_batch` parses a batch of values and hands the objects, in one call, to the
run's `online_lr.encoding.FeatureEncoder`, which turns them into a CSR matrix over its columns
(its rules: numbers, booleans 0/1, strings one-hot or hashed, nested objects as dotted paths,
string arrays as bags, ``"1.5"`` as 1.5, a missing feature is 0, new fields join as they come).
Each refused value gets a `BadRecord` naming the reason.

Rules of the bytes
------------------
* ``None`` and ``b""`` are `Reason.EMPTY`; more than ``max_bytes`` bytes is `Reason.OVERSIZE`
  (checked before parsing).
* Parsing is orjson's (strict RFC 8259). When orjson refuses a value, the stdlib parser is tried
  only to *explain* the refusal: bytes that are not UTF-8 give `Reason.INVALID_UTF8`, and a
  ``NaN``/``Infinity``/``1e999`` number (which Python's ``json.dumps`` writes) gives
  `Reason.NONFINITE_FEATURE`/`Reason.NONFINITE_TARGET` naming the field.
* The value must be an object (`Reason.NOT_OBJECT`); everything else is the encoder's.

>>> from online_lr.encoding import FeatureEncoder
>>> enc = FeatureEncoder(target="y")
>>> b = decode_batch([b'{"a": 1, "b": true, "y": 0}', b'[1]', b'{"a": NaN, "y": 0}',
...                   b'{"city": "lyon", "user": {"age": 31}}'], enc)
>>> b.rows.tolist(), b.learn.tolist(), [(i, str(r)) for i, r in b.bad]
([0, 3], [True, False], [(1, 'not_object: got list'), (2, "nonfinite_feature: 'a' is nan")])
>>> enc.feature_names, b.encoded.indices.tolist(), b.encoded.values.tolist()
(['a', 'b', 'city=lyon', 'user.age'], [0, 1, 2, 3], [1.0, 1.0, 1.0, 31.0])
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import orjson

from consumers.records import BadRecord, Message, Reason, Value

if TYPE_CHECKING:
    from online_lr.encoding import EncodedBatch, FeatureEncoder

__all__ = ["DEFAULT_MAX_BYTES", "DecodedBatch", "MessageList", "decode_batch", "parse_value"]

#: Default size limit of one message value (1 MiB, Kafka's default ``message.max.bytes``).
DEFAULT_MAX_BYTES = 1 << 20


@dataclass
class DecodedBatch:
    """The encoded rows of a batch, plus the refused values.

    Row ``k`` of ``encoded`` (a CSR matrix over the encoder's columns) comes from input value
    ``rows[k]``; ``bad`` lists ``(index, reason)`` of the others, in input order.
    """

    encoded: EncodedBatch
    rows: np.ndarray
    bad: list[tuple[int, BadRecord]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def y(self) -> np.ndarray:
        """Targets (0.0 where ``learn`` is False)."""
        return self.encoded.y

    @property
    def learn(self) -> np.ndarray:
        """False for a prediction-only row (no target)."""
        return self.encoded.learn_mask


def parse_value(
    value: Value, max_bytes: int | None = DEFAULT_MAX_BYTES, target: str | None = None
) -> Mapping | BadRecord:
    """Bytes -> the JSON object they hold, or why not. A mapping is returned as is.

    ``target`` only sharpens the reason given for a non-finite number (see `_explain`).
    """
    if isinstance(value, Mapping):
        return value
    if value is None or len(value) == 0:
        return BadRecord(Reason.EMPTY, "no value" if value is None else "zero bytes")
    if max_bytes is not None and len(value) > max_bytes:
        return BadRecord(Reason.OVERSIZE, f"{len(value)} bytes > max {max_bytes}")
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return _explain(bytes(value), exc, target)
    if not isinstance(obj, dict):
        return BadRecord(Reason.NOT_OBJECT, f"got {_json_type(obj)}")
    return obj


def _explain(value: bytes, exc: Exception, target: str | None) -> BadRecord:
    """Name the reason orjson refused ``value`` (slow path, only for refused values).

    Python's json accepts ``NaN``, ``Infinity`` and overflowing numbers, so it can say which
    field was non-finite. The value stays refused either way: only the reason is sharpened.
    """
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as uexc:
        return BadRecord(Reason.INVALID_UTF8, str(uexc))
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict):
        found = _first_nonfinite(obj, "")
        if found is not None:
            path, number = found
            reason = Reason.NONFINITE_TARGET if path == target else Reason.NONFINITE_FEATURE
            return BadRecord(reason, f"{path!r} is {number!r}")
    return BadRecord(Reason.INVALID_JSON, str(exc))


def _first_nonfinite(obj: object, path: str) -> tuple[str, float] | None:
    """Dotted path and value of the first NaN or infinity in a parsed object, if any."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (path, obj)
    if isinstance(obj, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in obj.items())
    elif isinstance(obj, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for sub, v in items:
        found = _first_nonfinite(v, sub)
        if found is not None:
            return found
    return None


def _json_type(v: object) -> str:
    if v is None:
        return "null"
    return {bool: "bool", int: "number", float: "number", str: "string", list: "list"}.get(
        type(v), type(v).__name__
    )


def _parse_all(values: Sequence[Value], max_bytes: int | None) -> list | None:
    """Every value parsed in one C-level pass, or ``None`` if one may be refused."""
    kinds = set(map(type, values))
    if kinds == {dict}:
        return list(values)  # rows a file source already parsed
    if kinds != {bytes}:
        return None
    sizes = list(map(len, values))
    if min(sizes) == 0 or (max_bytes is not None and max(sizes) > max_bytes):
        return None
    try:
        objs = list(map(orjson.loads, values))
    except orjson.JSONDecodeError:
        return None
    return objs if set(map(type, objs)) == {dict} else None


def decode_batch(
    values: Sequence[Value], encoder: FeatureEncoder, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> DecodedBatch:
    """Parse a batch and encode its objects in one `FeatureEncoder.encode_many` call."""
    bad: list[tuple[int, BadRecord]] = []
    objs = _parse_all(values, max_bytes) if values else []
    if objs is not None:
        kept = np.arange(len(objs), dtype=np.intp)
    else:
        objs, index = [], []
        for i, value in enumerate(values):
            obj = parse_value(value, max_bytes, encoder.target)
            if isinstance(obj, BadRecord):
                bad.append((i, obj))
            else:
                objs.append(obj)
                index.append(i)
        kept = np.array(index, dtype=np.intp)
    encoded = encoder.encode_many(objs)
    if encoded.refusals:
        bad.extend((int(kept[i]), refusal) for i, refusal in encoded.refusals)
        bad.sort(key=lambda item: item[0])
    return DecodedBatch(encoded=encoded, rows=kept[encoded.rows], bad=bad)


class MessageList(list[Message]):
    """A batch of messages built whole (kafka-python's poll, tests): the runner's `Batch`.

    >>> from online_lr.encoding import FeatureEncoder
    >>> batch = MessageList([Message("t", 0, 7, b'{"a": 1, "y": 2}')])
    >>> batch.decode(FeatureEncoder(target="y"), DEFAULT_MAX_BYTES).rows.tolist()
    [0]
    """

    def decode(self, encoder: FeatureEncoder, max_bytes: int | None) -> DecodedBatch:
        """The messages' values decoded in one `decode_batch` call."""
        return decode_batch([m.value for m in self], encoder, max_bytes)
