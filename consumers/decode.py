"""Message values -> encoded rows, without ever importing kafka.

A value is a UTF-8 JSON object (or a mapping a file source already parsed: a CSV row of string
cells). `decode_batch` parses a batch of values and hands the objects, in one call, to the
run's `online_lr.encoding.FeatureEncoder`, which turns them into a CSR matrix over its columns
(its rules: numbers, booleans 0/1, strings one-hot or hashed, nested objects as dotted paths,
string arrays as bags, ``"1.5"`` as 1.5, a missing feature is 0, new fields join as they come).
Each refused value gets a `BadRecord` naming the reason.

Fast paths (each gives exactly what the value-by-value path gives; tests/consumers/
test_fast_paths.py and the fuzz tests check it): a batch of flat objects of numbers with the
same fields in the same order is read straight into a table by the C extension
`consumers._number_table` (when built) and encoded in bulk; otherwise a batch whose values all
parse is parsed at C speed, in a single orjson call when its braces prove that the values cannot run into each other
(`_join_objects`); a batch of flat objects of numbers with the same fields is then encoded in
bulk (`FeatureEncoder.encode_numbers`), without a Python step per message. Any other batch, or
one with a value that may be refused, goes value by value.

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
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING

import numpy as np
import orjson

from consumers.records import BadRecord, Message, Reason, Value

try:
    from consumers._number_table import number_table
except ImportError:  # the C extension is not built: orjson parses every batch
    number_table = None

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


def _parse_all(values: Sequence[Value], max_bytes: int | None
               ) -> tuple[list, bytes | None] | None:
    """Every value parsed at C speed, or ``None`` if one may be refused.

    Returns the objects and, when they were parsed in one call as a JSON array, the values
    joined by commas (see `_join_objects`).
    """
    kinds = set(map(type, values))
    if kinds == {dict}:
        return list(values), None  # rows a file source already parsed
    if kinds != {bytes}:
        return None
    sizes = list(map(len, values))
    if min(sizes) == 0 or (max_bytes is not None and max(sizes) > max_bytes):
        return None
    joined = _join_objects(values, sizes)
    try:
        objs = orjson.loads(b"[" + joined + b"]") if joined is not None else \
            list(map(orjson.loads, values))
    except orjson.JSONDecodeError:
        return None
    if len(objs) != len(values) or set(map(type, objs)) != {dict}:
        return None
    return objs, joined


def _join_objects(values: Sequence[bytes], sizes: list[int]) -> bytes | None:
    """The values joined by commas, when parsing ``[joined]`` can only give them one by one.

    That is when each value begins with ``{`` and ends with ``}`` and the whole holds no other
    brace. If ``[joined]`` then parses as n objects, its n braces ``{`` are their openings
    (none is left for a string or a nested object), so they are the values' first bytes, and
    likewise the closings their last bytes: object ``i`` is value ``i`` exactly. Otherwise
    the batch goes the one-by-one way, where a bad message fails alone. Nested objects, or
    braces in strings, fail the test.
    """
    if values[0].count(b"{") != 1:  # the first value nests an object: no need to join
        return None
    n = len(values)
    joined = b",".join(values)
    if _count(joined, b"{") != n or _count(joined, b"}") != n:
        return None
    ends = np.cumsum(sizes) + np.arange(n)  # past each value; the commas come between
    view = np.frombuffer(joined, dtype=np.uint8)
    if (view[ends - np.asarray(sizes)] != ord("{")).any() or (view[ends - 1] != ord("}")).any():
        return None
    return joined


def _count(data: bytes, byte: bytes) -> int:
    """``data.count(byte)``, at numpy's speed (bytes.count is 7x slower for one byte)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == ord(byte)))


def _encode_numbers(objs: list, encoder: FeatureEncoder, joined: bytes | None
                    ) -> EncodedBatch | None:
    """`FeatureEncoder.encode_numbers` of flat objects of numbers with the same fields; ``None``
    (nothing done) for any other batch, or one the encoder must see event by event.

    ``joined`` (the values, see `_join_objects`) tells that no value is a string: it holds two
    quotes per field name and no other. A boolean feature is 0 or 1 either way; a boolean
    target (refused by the encoder) sends the batch the event-by-event way.
    """
    if joined is None or encoder.transform is not None:
        return None
    n, names = len(objs), list(objs[0])
    k = len(names)
    if k < 2 or set(map(len, objs)) != {k} or _count(joined, b'"') != 2 * k * n:
        return None
    try:  # a missing field raises; null is NaN, refused by encode_numbers
        table = np.fromiter(chain.from_iterable(map(itemgetter(*names), objs)), np.float64,
                            count=n * k).reshape(n, k)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    target = encoder.target
    if target in names and not set(map(type, map(itemgetter(target), objs))) <= \
            {int, float, type(None)}:
        return None
    return _encode_table(names, table, encoder)


def _encode_table(names: list[str], table: np.ndarray, encoder: FeatureEncoder
                  ) -> EncodedBatch | None:
    """`FeatureEncoder.encode_numbers` of the events ``{names[j]: table[r, j]}``, the target's
    column (if among ``names``) split off as the targets."""
    target = encoder.target
    if target not in names:
        return encoder.encode_numbers(names, table, None)
    t = names.index(target)
    return encoder.encode_numbers(names[:t] + names[t + 1:], np.delete(table, t, axis=1),
                                  table[:, t])


def decode_batch(
    values: Sequence[Value], encoder: FeatureEncoder, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> DecodedBatch:
    """Parse a batch and encode its objects in one call (`FeatureEncoder.encode_numbers` for
    flat objects of numbers, else `FeatureEncoder.encode_many`)."""
    if number_table is not None and values and encoder.transform is None:
        found = number_table(values, max_bytes)
        encoded = _encode_table(*found, encoder) if found and len(found[0]) >= 2 else None
        if encoded is not None:
            return DecodedBatch(encoded=encoded, rows=np.arange(len(values), dtype=np.intp))
    bad: list[tuple[int, BadRecord]] = []
    parsed = _parse_all(values, max_bytes) if values else ([], None)
    if parsed is not None:
        objs, joined = parsed
        kept = np.arange(len(objs), dtype=np.intp)
        encoded = _encode_numbers(objs, encoder, joined) if objs else None
        if encoded is not None:
            return DecodedBatch(encoded=encoded, rows=kept)
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
