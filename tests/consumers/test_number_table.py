"""`consumers._number_table` reads what orjson reads, to the bit, and declines everything else."""

from __future__ import annotations

import doctest
import math
import random
import struct

import numpy as np
import orjson
import pytest

number_table_module = pytest.importorskip("consumers._number_table")
number_table = number_table_module.number_table


def test_doctests():
    assert doctest.testmod(number_table_module).failed == 0


def _number_literals(count: int, seed: int = 1) -> list[str]:
    """JSON number literals and near misses: random doubles, integers up to 20 digits, long
    fractions and exponents at the edges of the double range, and malformed ones."""
    rnd = random.Random(seed)
    edges = ["0", "-0", "-0.0", "0e0", "1E400", "-1e-400", "1e-320", "4.9e-324",
             "2.2250738585072011e-308", "9007199254740993", "18446744073709551615",
             "18446744073709551616", "123456789012345678", "1234567890123456789", "0.1e1",
             "00", "01", "1.", ".5", "+1", "1e", "--1", "1.5e+", "NaN", "Infinity", "-", "1x"]
    literals = list(edges)
    while len(literals) < count:
        kind = rnd.random()
        if kind < 0.25:
            literals.append(repr(struct.unpack("d", struct.pack("Q", rnd.getrandbits(64)))[0]))
        elif kind < 0.5:
            literals.append(str(rnd.randint(-10 ** rnd.randint(0, 20), 10 ** rnd.randint(0, 20))))
        elif kind < 0.75:
            whole = rnd.choice(["0", "-0", str(rnd.randint(1, 10 ** rnd.randint(1, 25)))])
            fraction = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 25)))
            exponent = rnd.choice(["", f"e{rnd.randint(-330, 330)}", f"E+{rnd.randint(0, 30)}",
                                   f"e-{rnd.randint(0, 30)}"])
            literals.append(f"{whole}.{fraction}{exponent}")
        else:
            literals.append(f"{rnd.uniform(-1e3, 1e3):.{rnd.randint(0, 17)}f}")
    return literals


def _orjson_number(value: bytes) -> float | None:
    """The field ``a`` of ``value`` as the orjson path gets it: a finite float, else None."""
    try:
        number = orjson.loads(value)["a"]
    except orjson.JSONDecodeError:
        return None
    if type(number) not in (int, float) or not math.isfinite(float(number)):
        return None
    return float(number)


def test_numbers_are_read_as_orjson_reads_them_to_the_bit():
    accepted = 0
    for literal in _number_literals(30_000):
        value = f'{{"a": {literal}, "y": 1}}'.encode()
        expected, found = _orjson_number(value), number_table([value], None)
        if found is None:
            continue  # declined: the orjson path decides (refuses, or reads it itself)
        accepted += 1
        assert expected is not None, literal
        assert struct.pack("d", found[1][0, 0]) == struct.pack("d", expected), literal
    assert accepted > 20_000  # the fuzz exercises the fast path, not only the declines


def test_doubles_as_json_writers_print_them_are_read_to_the_bit():
    """17 significant digits (repr, orjson.dumps): the extended-precision path, in batches."""
    rnd = random.Random(2)
    numbers = [rnd.gauss(0, 10 ** rnd.randint(-8, 8)) for _ in range(20_000)]
    values = [orjson.dumps({"a": x, "y": 1}) for x in numbers]
    names, table = number_table(values, None)
    assert names == ["a", "y"]
    assert table[:, 0].tobytes() == np.array([orjson.loads(v)["a"] for v in values]).tobytes()


def test_a_batch_is_one_row_per_value_in_the_fields_order():
    values = [b'{"x0": 1.5, "x1": -2, "y": 3e2}', b' {"x0":0.25,"x1":7,"y":-0.0}\n']
    names, table = number_table(values, 100)
    assert names == ["x0", "x1", "y"] and table.shape == (2, 3)
    assert table.tolist() == [[1.5, -2.0, 300.0], [0.25, 7.0, -0.0]]
    assert math.copysign(1.0, table[1, 2]) == -1.0 and math.copysign(1.0, number_table(
        [b'{"a": -0, "y": 1}'], None)[1][0, 0]) == 1.0  # -0 is the integer 0, as float(0)
    assert number_table([b'{"\xc3\xa9t\xc3\xa9": 1, "y": 2}'], None)[0] == ["\u00e9t\u00e9", "y"]


@pytest.mark.parametrize("values", [
    [b'{"a": 1, "y": 2}', b'{"y": 2, "a": 1}'],  # the fields in another order
    [b'{"a": 1, "y": 2}', b'{"a": 1, "b": 2}'],  # other fields
    [b'{"a": 1, "y": 2}', b'{"a": 1}'],  # fewer
    [b'{"a": 1, "y": 2}', b'{"a": 1, "y": 2, "b": 3}'],  # more
    [b'{"a": 1, "a": 2}'],  # a duplicate name
    [b'{"a": "1", "y": 2}'], [b'{"a": true, "y": 2}'], [b'{"a": null, "y": 2}'],
    [b'{"a": [1], "y": 2}'], [b'{"a": {"b": 1}, "y": 2}'],
    [b'{"\\u0061": 1, "y": 2}'],  # an escape in a name
    [b'{"a\tb": 1, "y": 2}'],  # a control character in a name
    [b'{"\xff": 1, "y": 2}'],  # a name that is not UTF-8
    [b'{"a": 1, "y": 2},'], [b'{"a": 1, "y": 2}{"a": 1, "y": 2}'], [b'{"a": 1, "y": 2'],
    [b'{"a": 1 "y": 2}'], [b'{"a" 1, "y": 2}'], [b'{a: 1, "y": 2}'], [b'{}'], [b'[1, 2]'],
    [b''], [b'{"a": 1, "y": 2}', None], ['{"a": 1, "y": 2}'], [bytearray(b'{"a": 1}')],
    [b'{"a": 1e999, "y": 2}'], [b'{"a": ' + b"1" * 70 + b'.5, "y": 2}'],
])
def test_anything_else_is_declined(values):
    assert number_table(values, None) is None


def test_a_value_over_max_bytes_is_declined():
    values = [b'{"a": 1, "y": 2}', b'{"a": 1, "y": 22}']
    assert number_table(values, 17) is not None and number_table(values, 16) is None


def test_the_batch_fast_path_reads_flat_numeric_batches(monkeypatch):
    """`decode_batch` takes the table for a flat numeric batch: the same rows as orjson's way."""
    import consumers.decode as decode
    from online_lr.encoding import FeatureEncoder

    rng = np.random.default_rng(7)
    batches = [[orjson.dumps({"x0": float(rng.normal()), "x1": int(rng.integers(-5, 5)),
                              "y": float(rng.normal())}) for _ in range(30)] for _ in range(3)]
    fast, slow = FeatureEncoder(target="y"), FeatureEncoder(target="y")
    calls = []
    monkeypatch.setattr(decode, "number_table",
                        lambda *a: calls.append(number_table(*a)) or calls[-1])
    got = [decode.decode_batch(values, fast) for values in batches]
    monkeypatch.setattr(decode, "number_table", None)
    want = [decode.decode_batch(values, slow) for values in batches]
    assert len(calls) == 3 and all(found is not None for found in calls)
    for g, w in zip(got, want):
        assert g.rows.tolist() == w.rows.tolist() and not g.bad
        assert g.encoded.values.tolist() == w.encoded.values.tolist()
        assert g.encoded.indices.tolist() == w.encoded.indices.tolist()
        assert g.y.tolist() == w.y.tolist() and g.learn.tolist() == w.learn.tolist()
    assert fast.to_dict() == slow.to_dict()
