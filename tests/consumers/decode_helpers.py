"""One value through the decoder's reference (row-by-row) rules, for the decode tests."""

from __future__ import annotations

from typing import NamedTuple

from consumers.decode import DEFAULT_MAX_BYTES, _decode_batch_by_row
from consumers.records import BadRecord, Value
from consumers.schema import Schema


class Row(NamedTuple):
    """A valid value: feature values by name, and the target (``None`` = prediction only)."""

    x: dict[str, float]
    y: float | None

    @property
    def labelled(self) -> bool:
        return self.y is not None


def decode_one(value: Value, schema: Schema,
               max_bytes: int | None = DEFAULT_MAX_BYTES) -> Row | BadRecord:
    """``value`` decoded alone by the reference rules (fixing ``schema`` if it is valid)."""
    batch = _decode_batch_by_row([value], schema, max_bytes)
    if batch.bad:
        return batch.bad[0][1]
    y = float(batch.y[0]) if batch.learn[0] else None
    return Row(dict(zip(batch.columns, batch.X[0].tolist())), y)
