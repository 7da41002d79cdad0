"""The throughput fast paths give exactly what the reference paths give.

Bulk parsing of a clean batch.
"""

from __future__ import annotations

import numpy as np
import pytest

from decode_helpers import decode_one, row_features

from consumers.decode import decode_batch
from online_lr.encoding import FeatureEncoder


@pytest.mark.parametrize("kind", ["bytes", "mappings"])
def test_clean_batches_parse_in_bulk_and_match_one_by_one(kind):
    """A batch of only valid objects is parsed in one pass: same rows as value by value."""
    import orjson

    rng = np.random.default_rng(3)
    rows = [{"a": float(rng.normal()), "c": ["x", "y", "z"][i % 3], "u": {"v": i % 2 == 0},
             "y": float(i)} for i in range(50)]
    values = [orjson.dumps(r) for r in rows] if kind == "bytes" else rows
    one, bulk = FeatureEncoder(target="y"), FeatureEncoder(target="y")
    singles = [decode_one(v, one) for v in values]
    batch = decode_batch(values, bulk)
    assert batch.rows.tolist() == list(range(50)) and not batch.bad
    assert [row_features(batch, k, bulk) for k in range(50)] == [r.x for r in singles]
    assert one.to_dict() == bulk.to_dict()
