"""One value through the decoder and an encoder, for the decode tests."""

from __future__ import annotations

from typing import NamedTuple

from consumers.decode import DEFAULT_MAX_BYTES, DecodedBatch, decode_batch
from consumers.records import BadRecord, Value
from online_lr.encoding import FeatureEncoder


class Row(NamedTuple):
    """A valid value: feature values by name, and the target (``None`` = prediction only)."""

    x: dict[str, float]
    y: float | None

    @property
    def labelled(self) -> bool:
        return self.y is not None


def row_features(batch: DecodedBatch, k: int, encoder: FeatureEncoder) -> dict[str, float]:
    """Features of row ``k`` of ``batch`` by name."""
    e, names = batch.encoded, encoder.feature_names
    start, end = e.indptr[k], e.indptr[k + 1]
    return {names[c]: v for c, v in zip(e.indices[start:end].tolist(),
                                        e.values[start:end].tolist())}


def decode_one(value: Value, encoder: FeatureEncoder,
               max_bytes: int | None = DEFAULT_MAX_BYTES) -> Row | BadRecord:
    """``value`` decoded alone (the encoder learns its new fields)."""
    batch = decode_batch([value], encoder, max_bytes)
    if batch.bad:
        return batch.bad[0][1]
    y = float(batch.y[0]) if batch.learn[0] else None
    return Row(row_features(batch, 0, encoder), y)
