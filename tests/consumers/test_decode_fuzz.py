"""consumers.decode under fuzzing: arbitrary bytes never crash it and always get a verdict.

Seeded, so a failure reproduces: random byte strings (raw, and drawn from a JSON-ish alphabet so
that some parse), mutations of valid messages (flipped bytes, cuts, insertions, swapped numbers),
valid messages, and odd but valid JSON (deep nesting, arrays of mixed types, odd keys, duplicate
keys, numbers in strings, huge ints, long strings), shuffled. Every input must decode, one by one
and in batches, to a finite `Row` or to a `BadRecord` whose reason is one of the decoder's codes,
and the two paths must agree, down to the encoder's state.
"""

from __future__ import annotations

import json
import math

import numpy as np
import orjson
import pytest

from decode_helpers import Row, decode_one, row_features

from consumers.decode import decode_batch
from consumers.records import BadRecord, Reason
from online_lr.encoding import FeatureEncoder

SEED = 20240611
N_RANDOM = 2500
N_MUTATED = 2500
N_VALID = 500
N_ODD = 1000
MAX_BYTES = 200

#: What the decoder may answer; the model's reasons (diverged, model_refused) are not its own.
DECODER_REASONS = {
    getattr(Reason, k) for k in dir(Reason)
    if k.isupper() and getattr(Reason, k) not in (Reason.DIVERGED, Reason.MODEL_REFUSED)
}
JSONISH = b'{}[]",:.-+eE0123456789 abyNaIfinitytruefalsenull\\u\xff\xc3\xa9\n'
NASTY_NUMBERS = [b"1e999", b"-1e999", b"NaN", b"Infinity", b"9" * 400, b"1e-400", b"-0",
                 b'"1"', b"true", b"null", b"[1]", b"{}", b"0x10", b"1_000", b".5"]


def random_bytes(rng: np.random.Generator) -> bytes:
    n = int(rng.integers(0, 80))
    if rng.random() < 0.5:
        return rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
    alphabet = np.frombuffer(JSONISH, dtype=np.uint8)
    return alphabet[rng.integers(0, len(alphabet), size=n)].tobytes()


def valid_message(rng: np.random.Generator) -> bytes:
    row = {"a": float(rng.normal()), "b": int(rng.integers(-5, 5)), "id": "x",
           "user": {"age": int(rng.integers(18, 90)), "city": ["lyon", "paris"][rng.integers(2)]},
           "tags": ["t1", "t2"][: int(rng.integers(0, 3))], "flag": bool(rng.random() < 0.5)}
    if rng.random() < 0.8:
        row["y"] = float(rng.normal())
    return orjson.dumps(row)


ODD_SCALARS = [0, -0.0, 1.5, 2**63, -(2**70), 10**400, 1e-320, True, False, None, "", " ", "1.5",
               " 2e3 ", "nan", "inf", "1_000", "0x10", "é", "\u2028", "a=b", "x" * 300, "[1]",
               "2026-11-01T10:00:00Z"]
ODD_KEYS = ["a", "", " ", "a.b", "a[0]", "y", "é", "0", "=", "user", "tags", "k" * 50]


def odd_value(rng: np.random.Generator, depth: int) -> object:
    kind = rng.integers(0, 4 if depth < 6 else 1)
    if kind == 0:
        return ODD_SCALARS[int(rng.integers(0, len(ODD_SCALARS)))]
    if kind == 1:
        return [odd_value(rng, depth + 1) for _ in range(int(rng.integers(0, 4)))]
    return {ODD_KEYS[int(rng.integers(0, len(ODD_KEYS)))]: odd_value(rng, depth + 1)
            for _ in range(int(rng.integers(0, 4)))}


def odd_message(rng: np.random.Generator) -> bytes:
    """Valid JSON an event stream may carry but nobody planned for."""
    obj = {ODD_KEYS[int(rng.integers(0, len(ODD_KEYS)))]: odd_value(rng, 0)
           for _ in range(int(rng.integers(1, 6)))}
    if rng.random() < 0.5:
        obj["y"] = float(rng.normal())
    text = json.dumps(obj, ensure_ascii=bool(rng.random() < 0.5))
    if rng.random() < 0.1:  # a duplicate key: the last one wins
        text = text[:-1] + (', "a": 1}' if len(obj) else '"a": 1}')
    return text.encode("utf-8", "surrogatepass")


def mutate(rng: np.random.Generator, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        op = rng.integers(0, 5)
        at = int(rng.integers(0, len(buf) + 1))
        if op == 0 and buf:  # flip a byte
            buf[min(at, len(buf) - 1)] = int(rng.integers(0, 256))
        elif op == 1:  # cut
            buf = buf[:at]
        elif op == 2:  # insert junk
            junk = rng.integers(0, 256, size=int(rng.integers(1, 5)), dtype=np.uint8)
            buf[at:at] = junk.tobytes()
        elif op == 3:  # replace a value by a nasty token
            token = NASTY_NUMBERS[int(rng.integers(0, len(NASTY_NUMBERS)))]
            colon = bytes(buf).find(b":", at)
            if colon >= 0:
                end = colon + 1
                while end < len(buf) and buf[end] not in b",}":
                    end += 1
                buf[colon + 1 : end] = token
        else:  # pad past the size limit
            buf[at:at] = b" " * MAX_BYTES
    return bytes(buf)


def corpus() -> list[bytes]:
    rng = np.random.default_rng(SEED)
    values = [random_bytes(rng) for _ in range(N_RANDOM)]
    values += [mutate(rng, valid_message(rng)) for _ in range(N_MUTATED)]
    values += [valid_message(rng) for _ in range(N_VALID)]
    values += [odd_message(rng) for _ in range(N_ODD)]
    return [values[i] for i in rng.permutation(len(values))]


def check_verdict(out: object) -> None:
    if isinstance(out, Row):
        assert all(type(v) is float and math.isfinite(v) for v in out.x.values())
        assert out.y is None or (type(out.y) is float and math.isfinite(out.y))
    else:
        assert isinstance(out, BadRecord), out
        assert out.reason in DECODER_REASONS
        str(out).encode("utf-8", "replace")  # printable for a dead-letter header


def encoder(include=None) -> FeatureEncoder:
    return FeatureEncoder(target="y", ignore=["id"], include=include)


@pytest.mark.parametrize("include", [None, ["a", "b", "user.*"]], ids=["all", "include"])
def test_every_fuzzed_value_gets_a_verdict_one_by_one(include):
    enc = encoder(include)
    values = corpus()
    outcomes = [decode_one(v, enc, MAX_BYTES) for v in values]
    for out in outcomes:
        check_verdict(out)
    reasons = {o.reason for o in outcomes if isinstance(o, BadRecord)}
    # The corpus reaches deep into the decoder, not just its first check.
    assert {Reason.EMPTY, Reason.OVERSIZE, Reason.INVALID_UTF8, Reason.INVALID_JSON,
            Reason.NOT_OBJECT, Reason.NONFINITE_FEATURE} <= reasons
    assert sum(isinstance(o, Row) for o in outcomes) > N_VALID + N_ODD // 2
    # the state survives the checkpoint's JSON
    assert FeatureEncoder.from_dict(json.loads(json.dumps(enc.to_dict()))).to_dict() == \
        enc.to_dict()


@pytest.mark.parametrize("batch_size", [1, 37, 500])
def test_fuzzed_batches_agree_with_one_by_one(batch_size):
    values = corpus()
    one, batched = encoder(), encoder()
    singles = [decode_one(v, one, MAX_BYTES) for v in values]
    for start in range(0, len(values), batch_size):
        chunk = values[start : start + batch_size]
        batch = decode_batch(chunk, batched, MAX_BYTES)
        expected = singles[start : start + batch_size]
        assert batch.bad == [(i, r) for i, r in enumerate(expected) if isinstance(r, BadRecord)]
        good = [(i, r) for i, r in enumerate(expected) if isinstance(r, Row)]
        assert batch.rows.tolist() == [i for i, _ in good]
        assert np.isfinite(batch.encoded.values).all() and np.isfinite(batch.y).all()
        for k, (_, r) in enumerate(good):
            assert row_features(batch, k, batched) == r.x
            assert bool(batch.learn[k]) == r.labelled
    assert one.to_dict() == batched.to_dict()
