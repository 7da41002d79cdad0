"""consumers.decode: every kind of bad value, schema inference, and batch == one-by-one."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from decode_helpers import Row, decode_one

from consumers.decode import decode_batch, parse_value
from consumers.records import BadRecord, Reason
from consumers.schema import Schema


def fixed(*features: str, target: str = "y") -> Schema:
    return Schema(target=target, features=features)


@pytest.mark.parametrize(
    ("value", "reason", "detail"),
    [
        (None, Reason.EMPTY, "no value"),
        (b"", Reason.EMPTY, "zero bytes"),
        (b"\xff\xfe{}", Reason.INVALID_UTF8, ""),
        (b'{"a": "\xed\xa0\x80"}', Reason.INVALID_UTF8, ""),
        (b"{not json", Reason.INVALID_JSON, ""),
        (b'{"a": 1,}', Reason.INVALID_JSON, ""),
        (b"   ", Reason.INVALID_JSON, ""),
        (b"\xef\xbb\xbf{}", Reason.INVALID_JSON, ""),
        (b"[1, 2]", Reason.NOT_OBJECT, "got list"),
        (b"3.5", Reason.NOT_OBJECT, "got number"),
        (b'"a"', Reason.NOT_OBJECT, "got string"),
        (b"null", Reason.NOT_OBJECT, "got null"),
        (b'{"b": 1, "y": 2}', Reason.MISSING_FEATURE, "'a' is absent"),
        (b'{"a": null, "y": 2}', Reason.MISSING_FEATURE, "'a' is null"),
        (b'{"a": "1.5", "y": 2}', Reason.NON_NUMERIC_FEATURE, "'a' is string"),
        (b'{"a": true, "y": 2}', Reason.NON_NUMERIC_FEATURE, "'a' is bool"),
        (b'{"a": [1], "y": 2}', Reason.NON_NUMERIC_FEATURE, "'a' is list"),
        (b'{"a": {"v": 1}, "y": 2}', Reason.NON_NUMERIC_FEATURE, "'a' is dict"),
        (b'{"a": NaN, "y": 2}', Reason.NONFINITE_FEATURE, "'a' is nan"),
        (b'{"a": Infinity, "y": 2}', Reason.NONFINITE_FEATURE, "'a' is inf"),
        (b'{"a": -1e999, "y": 2}', Reason.NONFINITE_FEATURE, "'a' is -inf"),
        (b'{"a": 1, "y": "3"}', Reason.NON_NUMERIC_TARGET, "'y' is string"),
        (b'{"a": 1, "y": false}', Reason.NON_NUMERIC_TARGET, "'y' is bool"),
        (b'{"a": 1, "y": NaN}', Reason.NONFINITE_TARGET, "'y' is nan"),
        (b'{"a": 1, "y": 1e400}', Reason.NONFINITE_TARGET, "'y' is inf"),
    ],
)
def test_every_bad_kind_is_named(value, reason, detail):
    out = decode_one(value, fixed("a"))
    assert isinstance(out, BadRecord), out
    assert out.reason == reason
    assert detail in out.detail
    assert str(out).startswith(reason)


def test_oversize_is_checked_before_parsing():
    value = b'{"a": 1, "y": 2, "pad": "' + b"x" * 100 + b'"}'
    out = decode_one(value, fixed("a"), max_bytes=50)
    assert out == BadRecord(Reason.OVERSIZE, f"{len(value)} bytes > max 50")
    assert isinstance(decode_one(value, fixed("a"), max_bytes=None), Row)


def test_bad_values_in_a_parsed_mapping():
    """CSV rows arrive as mappings whose cells the file source converted with float()."""
    s = fixed("a", "b")
    assert decode_one({"a": float("nan"), "b": 1.0}, s).reason == Reason.NONFINITE_FEATURE
    assert decode_one({"a": 1.0, "b": "n/a"}, s).reason == Reason.NON_NUMERIC_FEATURE
    out = decode_one({"a": 1.0, "b": 2.0, "y": float("-inf")}, s)
    assert out.reason == Reason.NONFINITE_TARGET
    assert decode_one({"a": 1.0, "b": 2.0, "y": np.float32(1.5)}, s) == Row(
        {"a": 1.0, "b": 2.0}, 1.5
    )


def test_huge_int_is_nonfinite_not_a_crash():
    out = decode_one(b'{"a": ' + b"9" * 400 + b', "y": 1}', fixed("a"))
    assert isinstance(out, BadRecord)
    assert out.reason in (Reason.NONFINITE_FEATURE, Reason.INVALID_JSON)


def test_valid_records_and_prediction_only():
    s = fixed("a", "b")
    assert decode_one(b'{"a": 1, "b": -2.5, "y": 3, "extra": "x"}', s) == Row(
        {"a": 1.0, "b": -2.5}, 3.0
    )
    r = decode_one(b'{"b": 0, "a": 7}', s)
    assert r == Row({"a": 7.0, "b": 0.0}, None) and not r.labelled
    assert decode_one(b'{"a": 1, "b": 2, "y": null}', s).y is None  # null target = absent
    assert type(decode_one(b'{"a": 1, "b": 2, "y": 3}', s).x["a"]) is float


def test_schema_is_fixed_by_the_first_valid_message():
    s = Schema(target="y", ignore=("id",))
    assert decode_one(b'{"id": 1, "name": "x"}', s).reason == Reason.NO_FEATURES
    assert not s.fixed
    # A bad message does not fix the schema, even though it has numeric fields.
    out = decode_one(b'{"id": 1, "a": 1, "b": true, "y": "?"}', s)
    assert out.reason == Reason.NON_NUMERIC_TARGET
    assert not s.fixed
    r = decode_one(b'{"id": 2, "a": 1, "flag": false, "name": "n", "b": 2, "y": 3}', s)
    assert r == Row({"a": 1.0, "b": 2.0}, 3.0)
    assert s.features == ("a", "b")
    # Later: unknown numeric fields are ignored, a missing schema feature is invalid.
    assert decode_one(b'{"a": 1, "b": 2, "c": 9, "y": 0}', s) == Row({"a": 1.0, "b": 2.0}, 0.0)
    assert decode_one(b'{"a": 1, "c": 9, "y": 0}', s).reason == Reason.MISSING_FEATURE


def test_explaining_a_refusal_never_fixes_the_schema():
    s = Schema(target="y")
    assert decode_one(b'{"a": 1, "b": NaN, "y": 0}', s).reason == Reason.NONFINITE_FEATURE
    assert not s.fixed


def test_nan_in_a_field_outside_the_schema_is_still_invalid_json():
    out = decode_one(b'{"a": 1, "junk": NaN, "y": 0}', fixed("a"))
    assert out.reason == Reason.INVALID_JSON  # orjson is strict; the reason stays honest


def test_parse_value_passes_mappings_through():
    row = {"a": 1.0}
    assert parse_value(row) is row
    assert parse_value(b'{"a": 1}') == {"a": 1}


VALUES = [
    b'{"a": 1, "b": 2, "y": 3}',
    b"garbage",
    b'{"a": 4, "b": 5}',
    None,
    b'{"a": 6, "b": true, "y": 1}',
    {"a": 7.0, "b": 8.0, "y": 9.0},
    b'{"a": 1e999, "b": 1, "y": 1}',
    b'{"b": 1, "a": 2, "y": 0.5, "z": 1}',
]


def test_batch_matches_one_by_one():
    one_schema, batch_schema = Schema(), Schema()
    singles = [decode_one(v, one_schema) for v in VALUES]
    batch = decode_batch(VALUES, batch_schema)
    assert one_schema == batch_schema
    good = [(i, r) for i, r in enumerate(singles) if isinstance(r, Row)]
    assert batch.rows.tolist() == [i for i, _ in good]
    assert batch.bad == [(i, r) for i, r in enumerate(singles) if isinstance(r, BadRecord)]
    assert batch.columns == ("a", "b")
    assert batch.X.dtype == np.float64 and batch.X.shape == (len(good), 2)
    for k, (_, r) in enumerate(good):
        assert dict(zip(batch.columns, batch.X[k])) == r.x
        assert batch.learn[k] == r.labelled
        assert batch.y[k] == (r.y if r.labelled else 0.0)
    assert [r.reason for _, r in batch.bad] == [
        Reason.INVALID_JSON, Reason.EMPTY, Reason.NON_NUMERIC_FEATURE, Reason.NONFINITE_FEATURE,
    ]


def test_batch_of_only_bad_values_has_empty_arrays():
    batch = decode_batch([b"", b"[]", None], Schema())
    assert len(batch) == 0 and batch.X.shape == (0, 0) and batch.y.shape == (0,)
    assert batch.learn.dtype == bool and len(batch.bad) == 3


def test_batch_arrays_are_finite():
    batch = decode_batch(VALUES, Schema())
    assert np.isfinite(batch.X).all() and np.isfinite(batch.y).all()
    assert all(math.isfinite(v) for v in batch.y)


def test_decode_never_imports_kafka():
    code = (
        "import sys, consumers.decode, consumers.schema, consumers.records; "
        "bad = [m for m in sys.modules if m == 'kafka' or m.startswith('kafka.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
