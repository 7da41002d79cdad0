"""The throughput fast paths give exactly what the reference paths give.

Bulk parsing of a clean batch; flat numeric batches encoded in bulk.
"""

from __future__ import annotations

import numpy as np
import pytest

from decode_helpers import decode_one, row_features

from consumers.decode import decode_batch
from consumers.records import BadRecord
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


def _same_as_one_by_one(batches: list[list[bytes]], **settings) -> FeatureEncoder:
    """Decode ``batches`` in bulk, and value by value through `parse_value` and
    `FeatureEncoder.encode` (no batch path at all); assert the same verdicts, rows and encoder
    state. Returns the bulk encoder."""
    from consumers.decode import parse_value

    one, bulk = FeatureEncoder(**settings), FeatureEncoder(**settings)
    for values in batches:
        singles = []
        for v in values:
            obj = parse_value(v)
            singles.append(obj if isinstance(obj, BadRecord) else one.encode(obj))
        batch = decode_batch(values, bulk)
        assert [(i, str(r)) for i, r in batch.bad] == \
            [(i, str(r)) for i, r in enumerate(singles) if isinstance(r, BadRecord)]
        good = [(i, r) for i, r in enumerate(singles) if not isinstance(r, BadRecord)]
        assert batch.rows.tolist() == [i for i, _ in good]
        for k, (_, r) in enumerate(good):
            assert row_features(batch, k, bulk) == r.x
            assert (float(batch.y[k]) if batch.learn[k] else None) == r.y
    assert one.to_dict() == bulk.to_dict()
    return bulk


def test_flat_numeric_batches_are_encoded_in_bulk_as_one_by_one(monkeypatch):
    """Flat objects of numbers take `FeatureEncoder.encode_numbers`: same rows, same state."""
    import orjson

    rng = np.random.default_rng(5)
    clean = [[orjson.dumps({"a": float(rng.normal()), "b": int(rng.integers(-9, 9)),
                            "flag": bool(rng.random() < 0.5), "y": float(i)})
              for i in range(40)] for _ in range(3)]
    bulk_calls = []
    original = FeatureEncoder.encode_numbers

    def spy(self, *args):
        result = original(self, *args)
        bulk_calls.append((self, result is not None))
        return result

    monkeypatch.setattr(FeatureEncoder, "encode_numbers", spy)
    bulk = _same_as_one_by_one(clean, target="y")
    # the first batch creates the columns
    assert [done for enc, done in bulk_calls if enc is bulk] == [False, True, True]
    odd = [
        [b'{"y": 1, "a": 2.5, "b": 3}', b'{"a": 1, "b": 2, "y": 3}'],  # fields in other orders
        [b'{"a": 1, "b": 2, "y": null}', b'{"a": 1, "b": 2, "y": 2}'],  # no target: predicted
        [b'{"a": null, "b": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],  # null feature: missing
        [b'{"a": 1, "b": 2, "y": true}', b'{"a": 1, "b": 2, "y": 2}'],  # a boolean target
        [b'{"a": 1, "c": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],  # other fields
        [b'{"a": 1, "a": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],  # a duplicate key
        [b'{"a": 1e400, "b": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],  # not finite
        [b'{"a": ' + b"9" * 400 + b', "b": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],
        [b'{"a": "1.5", "b": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],  # a number in a string
        [b'{"a": "1_0", "b": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],  # float() reads it
        [b'{"a": [1], "b": 2, "y": 1}', b'{"a": 1, "b": 2, "y": 2}'],  # an array
        [b'{"a": 1, "b": 2, "y": 1} ', b'{"a": 1, "b": 2, "y": 2}'],  # blanks around
    ]
    _same_as_one_by_one(clean[:1] + odd, target="y")
    _same_as_one_by_one(clean[:1] + odd, target="y", ignore=["b", "flag", "a"])


def test_joined_parsing_never_shifts_a_value_into_its_neighbour():
    """Values that are not JSON alone but whose concatenation is: each is refused alone."""
    shifted = [
        [b'{"a":"}', b'{"}', b'{"b":1},{"c":2}'],  # a string across two values, one split
        [b'{"a":1},{"b":2}', b'{"c":[3', b'4]}'],
        [b'{"a":{"b":1', b'}}', b'{"c":2}'],
        [b'{"a":1,"x}', b'{y":2}', b'{"a":1,"x},{y":2},{"a":1,"x},{y":2}'],
    ]
    _same_as_one_by_one([[b'{"a": 1, "y": 1}']] + shifted, target="y")
