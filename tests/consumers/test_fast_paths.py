"""The throughput fast paths give exactly what the reference paths give.

Bulk decode, all-numeric CSV rows, unpaced file polls.

`decode_batch` first tries `_decode_clean_batch` (every value valid: checked in bulk) and falls
back to `_decode_batch_by_row` (the reference rules) otherwise. Each test compares both paths
on the same input: equal arrays and reasons, and the bulk path declines whenever a value is
not clean, before touching the schema.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from consumers.decode import _decode_batch_by_row, _decode_clean_batch, decode_batch
from consumers.schema import Schema


def fixed(*features: str, target: str = "y") -> Schema:
    return Schema(target=target, features=features)


def assert_same(a, b) -> None:
    assert a.X.dtype == b.X.dtype == np.float64
    assert a.X.shape == b.X.shape
    assert np.array_equal(a.X, b.X)
    assert np.array_equal(a.y, b.y)
    assert np.array_equal(a.learn, b.learn)
    assert np.array_equal(a.rows, b.rows)
    assert a.columns == b.columns
    reasons = [[(i, r.reason, r.detail) for i, r in batch.bad] for batch in (a, b)]
    assert reasons[0] == reasons[1]


def clean_values(n: int, d: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        obj = {f"x{j}": float(v) for j, v in enumerate(rng.normal(size=d))}
        obj["x0"] = int(rng.integers(-1000, 1000))  # ints are numbers too
        obj["id"] = f"row-{i}"  # a non-feature string field is ignored
        if i % 7 == 3:
            obj["y"] = None  # null target: prediction only
        elif i % 7 != 5:  # absent target: prediction only
            obj["y"] = float(rng.normal())
        out.append(json.dumps(obj).encode())
    return out


@pytest.mark.parametrize("d", [1, 3, 10])
def test_clean_bytes_take_the_bulk_path_and_match(d):
    values = clean_values(200, d)
    s = fixed(*[f"x{j}" for j in range(d)])
    fast = _decode_clean_batch(values, s, 1 << 20)
    assert fast is not None
    assert_same(fast, _decode_batch_by_row(values, s, 1 << 20))
    assert not fast.learn.all() and fast.learn.any()
    assert (fast.y[~fast.learn] == 0.0).all()


def test_clean_parsed_mappings_take_the_bulk_path_and_match():
    rows = [{"a": 1.5, "b": 2.0, "y": 3.0, "note": "x"}, {"a": 4.0, "b": -1.0}]
    s = fixed("a", "b")
    fast = _decode_clean_batch(rows, s, 1 << 20)
    assert fast is not None
    assert_same(fast, _decode_batch_by_row(rows, s, 1 << 20))


@pytest.mark.parametrize("big", [2**53 + 1, 2**63 + 1, -(2**64) - 3, 10**30])
def test_large_ints_round_like_float(big):
    values = [json.dumps({"a": big, "y": big}).encode(), b'{"a": 1, "y": 2}']
    s = fixed("a")
    fast = _decode_clean_batch(values, s, None)
    assert fast is not None
    assert fast.X[0, 0] == float(big) and fast.y[0] == float(big)
    assert_same(fast, _decode_batch_by_row(values, s, None))


BAD = [
    None,
    b"",
    b"\xff\xfe{}",
    b"{not json",
    b"[1, 2]",
    b"3.5",
    b"null",
    b'{"b": 1, "y": 2}',
    b'{"a": null, "y": 2}',
    b'{"a": "1.5", "y": 2}',
    b'{"a": true, "y": 2}',
    b'{"a": [1], "y": 2}',
    b'{"a": {"v": 1}, "y": 2}',
    b'{"a": NaN, "y": 2}',
    b'{"a": -1e999, "y": 2}',
    b'{"a": 1e400, "y": 2}',
    b'{"a": ' + str(10**400).encode() + b', "y": 2}',
    b'{"a": 1, "y": "3"}',
    b'{"a": 1, "y": false}',
    b'{"a": 1, "y": 1e400}',
    b'{"a": 1, "y": ' + str(-(10**400)).encode() + b"}",
    b'{"a": 1, "y": 2, "pad": "' + b"x" * 200 + b'"}',  # oversize at max_bytes=100
    {"a": float("nan"), "y": 1.0},
    {"a": 1.0, "y": float("inf")},
    {"a": np.float64(1.0), "y": 1.0},
    bytearray(b'{"a": 1, "y": 2}'),
]


@pytest.mark.parametrize("bad", BAD, ids=[repr(b)[:40] for b in BAD])
@pytest.mark.parametrize("where", [0, 2, 4])
def test_any_unclean_value_falls_back_to_the_row_path(bad, where):
    good = [b'{"a": 1.5, "y": 2}', b'{"a": -3, "y": 0.5}', b'{"a": 2, "b": "x"}',
            b'{"a": 7.25, "y": null}']
    values = list(good)
    values.insert(where, bad)
    s = fixed("a")
    assert _decode_clean_batch(values, s, 100) is None
    assert_same(decode_batch(values, s, 100), _decode_batch_by_row(values, fixed("a"), 100))


def test_unfixed_schema_falls_back_and_is_fixed_by_the_row_path():
    values = [b'{"a": 1, "b": 2, "y": 3}', b'{"a": 4, "b": 5}']
    s = Schema(target="y")
    assert _decode_clean_batch(values, s, None) is None
    assert s.features is None  # declining never fixes the schema
    batch = decode_batch(values, s, None)
    assert s.features == ("a", "b")
    assert_same(batch, _decode_batch_by_row(values, Schema(target="y", features=("a", "b")),
                                            None))


def test_empty_batch():
    s = fixed("a")
    assert _decode_clean_batch([], s, None) is None
    assert len(decode_batch([], s, None)) == 0


def test_random_batches_match(seed=7):
    rng = np.random.default_rng(seed)
    s = fixed("x0", "x1", "x2")
    for trial in range(30):
        values = clean_values(50, 3, seed=trial)
        if trial % 3 == 0:  # sprinkle one bad value
            values[int(rng.integers(0, 50))] = BAD[int(rng.integers(0, len(BAD)))]
        assert_same(decode_batch(values, s, 100_000), _decode_batch_by_row(values, s, 100_000))


def test_csv_rows_fast_conversion_matches_cell_by_cell(tmp_path):
    """`FileSource` converts all-numeric CSV rows in one pass: same dicts as cell by cell."""
    import csv
    import io

    from consumers.file_source import FileSource, _cell

    text = ("a,b,y\n1,2.5,3\n1,,3\n1,x,3\n nan ,inf,-1e999\n1_000,2,3\n1,2\n1,2,3,4\n"
            "1,2,3,zz\n\n-0,1e308,7\n")
    path = tmp_path / "rows.csv"
    path.write_text(text)
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    expected = [{k: _cell(v) for k, v in zip(header, cells) if v != ""}
                for cells in reader if cells]
    with FileSource(path) as src:
        got = [m.value for m in src.poll(100)]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.keys() == e.keys()
        for k in g:
            assert type(g[k]) is type(e[k])
            assert g[k] == e[k] or (g[k] != g[k] and e[k] != e[k])  # nan == nan here


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("start", [0, 3, 10, 11])
def test_unpaced_poll_in_bulk_matches_paced_row_by_row(tmp_path, fmt, start):
    """Without pacing rows are taken in bulk: same messages, offsets and end as row by row."""
    from consumers.file_source import FileSource

    path = tmp_path / f"log.{fmt}"
    if fmt == "csv":
        path.write_text("t,a,y\n" + "".join(f"{i},{i * 0.5},{i % 3}\n" for i in range(10)))
    else:
        path.write_text("".join(f'{{"t": {i}, "a": {i * 0.5}}}\n\n' for i in range(10)))

    def drain(src, sizes):
        out = []
        for k in range(40):
            got = src.poll(sizes[k % len(sizes)], timeout=0.0)
            if got is None:
                return out, k
            out.append([(m.offset, m.value) for m in got])
        raise AssertionError("no end")

    # a pace field whose times never lie ahead: paced, but every row due at once
    with FileSource(path, start=start) as fast, FileSource(
        path, start=start, pace_field="t", speed=1e12
    ) as slow:
        got_fast, polls_fast = drain(fast, [3, 0, 4])
        got_slow, polls_slow = drain(slow, [3, 0, 4])
    assert got_fast == got_slow
    assert polls_fast == polls_slow
    assert sum(len(b) for b in got_fast) == 10 - min(start, 10)

