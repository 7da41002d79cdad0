"""consumers.decode: every kind of bad value, raw events through the encoder, batch ==
one-by-one."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from decode_helpers import Row, decode_one, row_features

from consumers.decode import decode_batch, parse_value
from consumers.records import BadRecord, Reason
from online_lr.encoding import FeatureEncoder


def encoder(**kw) -> FeatureEncoder:
    return FeatureEncoder(target="y", **kw)


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
        (b'{"a": NaN, "y": 2}', Reason.NONFINITE_FEATURE, "'a' is nan"),
        (b'{"a": Infinity, "y": 2}', Reason.NONFINITE_FEATURE, "'a' is inf"),
        (b'{"a": -1e999, "y": 2}', Reason.NONFINITE_FEATURE, "'a' is -inf"),
        (b'{"u": {"v": [1, NaN]}, "y": 2}', Reason.NONFINITE_FEATURE, "'u.v[1]' is nan"),
        (b'{"a": 1, "y": "three"}', Reason.NON_NUMERIC_TARGET, "'y'"),
        (b'{"a": 1, "y": false}', Reason.NON_NUMERIC_TARGET, "'y'"),
        (b'{"a": 1, "y": NaN}', Reason.NONFINITE_TARGET, "'y' is nan"),
        (b'{"a": 1, "y": 1e400}', Reason.NONFINITE_TARGET, "'y' is inf"),
        (b'{"a": {1, 2}}', Reason.INVALID_JSON, ""),
    ],
)
def test_every_bad_kind_is_named(value, reason, detail):
    out = decode_one(value, encoder())
    assert isinstance(out, BadRecord), out
    assert out.reason == reason
    assert detail in out.detail
    assert str(out).startswith(reason)


def test_oversize_is_checked_before_parsing():
    value = b'{"a": 1, "y": 2, "pad": "' + b"x" * 100 + b'"}'
    out = decode_one(value, encoder(), max_bytes=50)
    assert out == BadRecord(Reason.OVERSIZE, f"{len(value)} bytes > max 50")
    assert isinstance(decode_one(value, encoder(), max_bytes=None), Row)


@pytest.mark.parametrize(
    ("value", "x"),
    [
        (b'{"city": "paris", "y": 1}', {"city=paris": 1.0}),  # string: one-hot
        (b'{"flag": true, "off": false, "y": 1}', {"flag": 1.0, "off": 0.0}),  # boolean: 0/1
        (b'{"a": "1.5", "y": 1}', {"a": 1.5}),  # a number in a string
        (b'{"user": {"age": 31, "geo": {"zip": "75001"}}, "y": 1}',
         {"user.age": 31.0, "user.geo.zip": 75001.0}),  # nested
        (b'{"tags": ["a", "b", "a"], "y": 1}', {"tags=a": 2.0, "tags=b": 1.0}),  # bag
        (b'{"a": null, "b": "", "c": [], "y": 1}', {}),  # missing
    ],
)
def test_raw_events_are_encoded(value, x):
    assert decode_one(value, encoder()) == Row(x, 1.0)


def test_timestamp_and_label_columns_are_never_features():
    enc = encoder(timestamp="ts", ignore=["label_*"])
    out = decode_one(b'{"a": 1, "ts": 1700000000, "label_old": 3, "y": 2}', enc)
    assert out == Row({"a": 1.0}, 2.0)
    batch = decode_batch([b'{"a": 1, "ts": "2023-11-14T22:13:20Z", "y": 2}'], enc)
    assert batch.encoded.timestamps.tolist() == [1700000000.0]


def test_csv_cells_and_json_numbers_encode_alike():
    """A file source hands CSV rows over as string cells; the encoder's number rule reads them."""
    from_csv, from_json = encoder(), encoder()
    csv_rows = [{"a": "1.5", "b": "x", "y": "2"}, {"a": "-3e2", "y": "0.25"}]
    json_rows = [b'{"a": 1.5, "b": "x", "y": 2}', b'{"a": -300, "y": 0.25}']
    for c, j in zip(csv_rows, json_rows):
        assert decode_one(c, from_csv) == decode_one(j, from_json)
    assert from_csv.feature_names == from_json.feature_names


def test_bad_values_in_a_parsed_mapping():
    enc = encoder()
    assert decode_one({"a": float("nan")}, enc).reason == Reason.NONFINITE_FEATURE
    assert decode_one({"a": 1.0, "y": float("-inf")}, enc).reason == Reason.NONFINITE_TARGET
    assert decode_one({"a": b"raw"}, enc).reason == Reason.UNSUPPORTED_VALUE
    assert decode_one({"a": 1.0, "y": np.float32(1.5)}, enc) == Row({"a": 1.0}, 1.5)


def test_huge_int_is_nonfinite_not_a_crash():
    out = decode_one(b'{"a": ' + b"9" * 400 + b', "y": 1}', encoder())
    assert isinstance(out, BadRecord)
    assert out.reason in (Reason.NONFINITE_FEATURE, Reason.INVALID_JSON)


def test_valid_records_and_prediction_only():
    enc = encoder()
    assert decode_one(b'{"a": 1, "b": -2.5, "y": 3}', enc) == Row({"a": 1.0, "b": -2.5}, 3.0)
    r = decode_one(b'{"b": 0, "a": 7}', enc)
    assert r == Row({"a": 7.0, "b": 0.0}, None) and not r.labelled
    assert decode_one(b'{"a": 1, "y": null}', enc).y is None  # null target = absent


def test_transform_exceptions_are_refusals():
    enc = encoder(transform="consumers.schema:unknown_target")  # takes 2 args: raises
    out = decode_one(b'{"a": 1, "y": 2}', enc)
    assert out.reason == Reason.TRANSFORM_FAILED


def test_reason_codes_are_the_encoders():
    from online_lr import encoding

    for name, code in vars(encoding.Reason).items():
        if name.isupper():
            assert getattr(Reason, name) == code
    assert BadRecord is encoding.Refusal


def test_parse_value_passes_mappings_through():
    row = {"a": 1.0}
    assert parse_value(row) is row
    assert parse_value(b'{"a": 1}') == {"a": 1}


VALUES = [
    b'{"a": 1, "b": 2, "y": 3}',
    b"garbage",
    b'{"a": 4, "c": "x"}',
    None,
    b'{"a": 6, "b": true, "y": 1}',
    {"a": "7.0", "b": 8.0, "y": 9.0},
    b'{"a": 1e999, "b": 1, "y": 1}',
    b'{"b": 1, "a": 2, "y": 0.5, "z": {"w": [1, 2]}}',
]


def test_batch_matches_one_by_one():
    one, batched = encoder(), encoder()
    singles = [decode_one(v, one) for v in VALUES]
    batch = decode_batch(VALUES, batched)
    assert one.to_dict() == batched.to_dict()
    good = [(i, r) for i, r in enumerate(singles) if isinstance(r, Row)]
    assert batch.rows.tolist() == [i for i, _ in good]
    assert batch.bad == [(i, r) for i, r in enumerate(singles) if isinstance(r, BadRecord)]
    for k, (_, r) in enumerate(good):
        assert row_features(batch, k, batched) == r.x
        assert batch.learn[k] == r.labelled
        assert batch.y[k] == (r.y if r.labelled else 0.0)
    assert [r.reason for _, r in batch.bad] == [
        Reason.INVALID_JSON, Reason.EMPTY, Reason.NONFINITE_FEATURE,
    ]


def test_batch_of_only_bad_values_is_empty():
    batch = decode_batch([b"", b"[]", None], encoder())
    assert len(batch) == 0 and batch.y.shape == (0,) and batch.encoded.indptr.tolist() == [0]
    assert batch.learn.dtype == bool and len(batch.bad) == 3


def test_decode_never_imports_kafka():
    code = (
        "import sys, consumers.decode, consumers.schema, consumers.records; "
        "bad = [m for m in sys.modules if m == 'kafka' or m.startswith('kafka.')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
