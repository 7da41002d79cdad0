from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import zlib

import numpy as np
import pytest
from river import checks, evaluate, metrics

from online_lr import SGDRegressor, _walk_py, encoding
from online_lr.encoding import (
    EncodedRow,
    FeatureEncoder,
    Reason,
    Refusal,
    parse_number,
    parse_timestamp,
    resolve_transform,
)


def x_of(encoder: FeatureEncoder, event: dict) -> dict:
    row = encoder.encode(event)
    assert isinstance(row, EncodedRow), row
    return row.x


def refusal_of(encoder: FeatureEncoder, event: object) -> Refusal:
    out = encoder.encode(event)  # type: ignore[arg-type]
    assert isinstance(out, Refusal), out
    return out


# The table, row by row


def test_a_string_is_one_hot():
    enc = FeatureEncoder()
    assert x_of(enc, {"city": "paris", "a": 1}) == {"city=paris": 1.0, "a": 1.0}
    assert x_of(enc, {"city": "lyon"}) == {"city=lyon": 1.0}
    assert enc.feature_names == ["city=paris", "a", "city=lyon"]


def test_a_missing_feature_is_absent_and_counted_per_field():
    enc = FeatureEncoder()
    enc.encode({"a": 1, "b": 2})
    assert x_of(enc, {"a": 3}) == {"a": 3.0}
    assert x_of(enc, {"a": None, "b": 4, "s": "", "t": "  ", "l": []}) == {"b": 4.0}
    assert enc.n_events == 3
    assert enc.missing_counts() == {"a": 1, "b": 1}


def test_a_late_field_joins_the_index_and_counts_as_missing_before():
    enc = FeatureEncoder()
    first = enc.encode_many([{"a": 1.0}] * 3)
    assert first.feature_names_added == ["a"]
    later = enc.encode_many([{"a": 2.0}, {"a": 3.0, "late": 7.0}])
    assert later.feature_names_added == ["late"]
    assert later.indices.tolist() == [0, 0, 1]
    assert later.values.tolist() == [2.0, 3.0, 7.0]
    assert enc.missing_counts() == {"a": 0, "late": 4}


def test_nested_objects_flatten_to_dotted_paths():
    enc = FeatureEncoder()
    event = {"user": {"age": 31, "premium": True, "address": {"zip": "x1"}}, "top": 1}
    assert x_of(enc, event) == {
        "user.age": 31.0, "user.premium": 1.0, "user.address.zip=x1": 1.0, "top": 1.0,
    }


def test_booleans_are_zero_or_one_and_a_false_is_present():
    enc = FeatureEncoder()
    assert x_of(enc, {"b": True}) == {"b": 1.0}
    assert x_of(enc, {"b": False}) == {"b": 0.0}
    assert x_of(enc, {"b": np.bool_(True)}) == {"b": 1.0}
    assert enc.missing_counts() == {"b": 0}


def test_a_number_in_a_string_is_parsed_by_one_rule():
    enc = FeatureEncoder(target="y")
    row = enc.encode({"a": "1.5", "b": " -2e3 ", "c": "nan", "d": "1_000", "y": "4"})
    assert row.x == {"a": 1.5, "b": -2000.0, "c=nan": 1.0, "d=1_000": 1.0}
    assert row.y == 4.0
    kept = FeatureEncoder(target="y", number_strings="keep")
    assert x_of(kept, {"a": "1.5"}) == {"a=1.5": 1.0}
    assert refusal_of(kept, {"y": "4"}).reason == Reason.NON_NUMERIC_TARGET


@pytest.mark.parametrize("text, number", [
    ("1.5", 1.5), (" 7 ", 7.0), ("-0", 0.0), ("+.5", 0.5), ("1e3", 1000.0),
    ("nan", None), ("inf", None), ("-Infinity", None), ("1e999", None), ("1_0", None),
    ("0x10", None), ("", None), ("1,5", None), ("paris", None),
])
def test_parse_number(text, number):
    assert parse_number(text) == number


def test_the_timestamp_is_parsed_reported_and_never_a_feature():
    enc = FeatureEncoder(timestamp="ts")
    epoch = enc.encode({"ts": 1_700_000_000, "a": 1})
    assert epoch.x == {"a": 1.0} and epoch.timestamp == 1_700_000_000.0
    iso = enc.encode({"ts": "2026-11-01T10:00:00Z", "a": 1})
    assert iso.timestamp == 1793527200.0
    assert enc.encode({"ts": "2026-11-01T11:00:00+01:00"}).timestamp == 1793527200.0
    assert enc.encode({"ts": "2026-11-01T10:00:00"}).timestamp == 1793527200.0  # naive = UTC
    assert enc.encode({"ts": "1793527200.5"}).timestamp == 1793527200.5
    assert enc.encode({"a": 1}).timestamp is None
    assert enc.feature_names == ["a"]
    bad = refusal_of(enc, {"ts": "yesterday", "a": 1})
    assert (bad.reason, bad.detail) == (Reason.INVALID_TIMESTAMP, "'ts' is 'yesterday'")
    assert refusal_of(enc, {"ts": True}).reason == Reason.INVALID_TIMESTAMP


def test_parse_timestamp_reads_numbers_and_iso_strings():
    assert parse_timestamp("123e-1") == 12.3
    assert parse_timestamp(" 2017-01-23T00:00:00Z ") == 1485129600.0
    assert parse_timestamp("2017-01-23T00:00:00.250Z") == 1485129600.25
    assert parse_timestamp(np.float32(2.5)) == 2.5
    for unreadable in (None, math.nan, "2017-13-01", [1], b"1"):
        assert parse_timestamp(unreadable) is None


def test_label_columns_are_left_out_with_ignore_globs():
    enc = FeatureEncoder(target="y", ignore=["label_*", "user.secret*"])
    row = enc.encode({"y": 1, "label_a": 2.0, "label_b": 3.0, "a": 4,
                      "user": {"secret_id": 9, "age": 5}})
    assert row.x == {"a": 4.0, "user.age": 5.0}
    assert row.y == 1.0


# Schema settings


def test_ignore_and_include_cover_subtrees_and_ignore_wins():
    enc = FeatureEncoder(include=["user", "price"], ignore=["user.id"])
    event = {"price": 1, "other": 2, "user": {"age": 3, "id": 4, "tags": ["a"]}}
    assert x_of(enc, event) == {"price": 1.0, "user.age": 3.0, "user.tags=a": 1.0}
    deep = FeatureEncoder(include=["*.age"])
    assert x_of(deep, {"age": 1, "user": {"age": 2, "x": 3}}) == {"user.age": 2.0}


def test_categorical_fields_make_numbers_categories():
    enc = FeatureEncoder(categorical=["zip", "codes"])
    assert x_of(enc, {"zip": 75001}) == {"zip=75001": 1.0}
    assert x_of(enc, {"zip": 75001.0}) == {"zip=75001": 1.0}
    assert x_of(enc, {"zip": "75001"}) == {"zip=75001": 1.0}
    assert x_of(enc, {"zip": 2.5}) == {"zip=2.5": 1.0}
    assert x_of(enc, {"zip": True}) == {"zip=true": 1.0}
    assert x_of(enc, {"codes": [1, "1", 2]}) == {"codes=1": 2.0, "codes=2": 1.0}
    assert enc.feature_names == ["zip=75001", "zip=2.5", "zip=true", "codes=1", "codes=2"]


def test_a_dotted_target_is_found_and_never_a_feature():
    enc = FeatureEncoder(target="label.value")
    row = enc.encode({"label": {"value": 2.5, "source": "x"}, "a": 1})
    assert (row.x, row.y) == ({"label.source=x": 1.0, "a": 1.0}, 2.5)
    literal = enc.encode({"label.value": 3, "a": 1})
    assert (literal.x, literal.y) == ({"a": 1.0}, 3.0)


@pytest.mark.parametrize("y, reason", [
    ("high", Reason.NON_NUMERIC_TARGET), (True, Reason.NON_NUMERIC_TARGET),
    ([1], Reason.NON_NUMERIC_TARGET), (math.inf, Reason.NONFINITE_TARGET),
    (10**400, Reason.NONFINITE_TARGET),
])
def test_a_bad_target_refuses_the_event(y, reason):
    enc = FeatureEncoder(target="y")
    assert refusal_of(enc, {"y": y, "a": 1}).reason == reason
    assert enc.feature_names == [] and enc.n_events == 0
    assert enc.refusal_counts == {reason: 1}


def test_an_event_without_target_is_for_prediction_only():
    enc = FeatureEncoder(target="y")
    assert enc.encode({"a": 1}).y is None
    batch = enc.encode_many([{"a": 1, "y": 2}, {"a": 1}, {"a": 1, "y": None}])
    assert batch.learn_mask.tolist() == [True, False, False]
    assert batch.y.tolist() == [2.0, 0.0, 0.0]


def double_a(event: dict) -> dict:
    return {**event, "a": event["a"] * 2}


def test_the_transform_runs_first_and_its_failures_are_refusals():
    enc = FeatureEncoder(target="y", transform=lambda e: {**e, "y": e["a"] + 1})
    assert enc.encode({"a": 1}).y == 2.0
    failed = refusal_of(enc, {"b": 1})
    assert (failed.reason, failed.detail) == (Reason.TRANSFORM_FAILED, "KeyError: 'a'")
    assert refusal_of(FeatureEncoder(transform=lambda e: [e]), {}).reason == \
        Reason.TRANSFORM_FAILED
    named = FeatureEncoder(transform="builtins:dict")
    assert x_of(named, {"a": 1}) == {"a": 1.0}


def test_resolve_transform_names_the_problem():
    assert resolve_transform("json:loads") is json.loads
    with pytest.raises(ValueError, match="transform: cannot import 'no_such_module_x'"):
        resolve_transform("no_such_module_x:f")
    with pytest.raises(ValueError, match="transform: 'json' has no 'nope'"):
        resolve_transform("json:nope")
    with pytest.raises(ValueError, match="transform: 'json:__doc__' is not callable"):
        resolve_transform("json:__doc__")
    with pytest.raises(ValueError, match="transform: expected 'package.module:function'"):
        FeatureEncoder(transform="json")


@pytest.mark.parametrize("kwargs, message", [
    ({"target": ""}, "target: expected a non-empty field name"),
    ({"timestamp": 3}, "timestamp: expected a non-empty field name"),
    ({"target": "t", "timestamp": "t"}, "timestamp: 't' is also the target"),
    ({"categorical": "zip"}, "categorical: expected a list of field patterns"),
    ({"ignore": ["a", ""]}, "ignore: patterns must be non-empty strings"),
    ({"include": 3}, "include: expected a list of field patterns"),
    ({"transform": 3}, "transform: expected 'package.module:function' or a callable"),
    ({"encoding": "ordinal"}, "encoding: expected one of"),
    ({"overflow": "drop"}, "overflow: expected one of"),
    ({"number_strings": "yes"}, "number_strings: expected one of"),
    ({"hash_bits": 0}, "hash_bits: expected an integer from 1 to 31"),
    ({"hash_bits": 32}, "hash_bits: expected an integer from 1 to 31"),
    ({"max_features": -1}, "max_features: expected a non-negative integer"),
    ({"max_features": 1.5}, "max_features: expected a non-negative integer"),
])
def test_bad_settings_raise_errors_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FeatureEncoder(**kwargs)


# Arrays, type changes, odd values


def test_arrays_of_strings_are_a_bag_and_other_elements_are_positional():
    enc = FeatureEncoder()
    event = {"tags": ["a", "b", "a", None], "v": [1.5, "2", True, {"k": 3}, [4]],
             "mix": ["x", 7]}
    assert x_of(enc, event) == {
        "tags=a": 2.0, "tags=b": 1.0,
        "v[0]": 1.5, "v[1]": 2.0, "v[2]": 1.0, "v[3].k": 3.0, "v[4][0]": 4.0,
        "mix=x": 1.0, "mix[1]": 7.0,
    }
    assert x_of(enc, {"tags": ["b"]}) == {"tags=b": 1.0}
    assert enc.missing_counts()["tags"] == 0


def test_a_field_whose_type_changes_encodes_each_value_by_its_own_type():
    enc = FeatureEncoder()
    assert x_of(enc, {"price": 3.0}) == {"price": 3.0}
    assert x_of(enc, {"price": "n/a"}) == {"price=n/a": 1.0}
    assert x_of(enc, {"price": 4}) == {"price": 4.0}
    assert enc.mixed_fields == ["price"]
    assert enc.missing_counts() == {"price": 0}


def test_mixed_fields_survive_a_resume_and_ignore_refused_events_and_predictions():
    enc = FeatureEncoder()
    enc.encode({"a": 1.0, "b": "x"})
    assert isinstance(enc.encode({"a": "n/a", "bad": math.nan}), Refusal)
    enc.transform_one({"b": 2.0})
    assert enc.mixed_fields == []
    resumed = FeatureEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    resumed.encode({"b": 3.0})
    assert resumed.mixed_fields == ["b"]


@pytest.mark.parametrize("value, reason", [
    (math.nan, Reason.NONFINITE_FEATURE), (-math.inf, Reason.NONFINITE_FEATURE),
    (10**400, Reason.NONFINITE_FEATURE), (b"raw", Reason.UNSUPPORTED_VALUE),
    ({1, 2}, Reason.UNSUPPORTED_VALUE),
])
def test_a_bad_feature_value_refuses_the_event_and_changes_nothing(value, reason):
    enc = FeatureEncoder()
    enc.encode({"a": 1})
    before = enc.to_dict()
    refusal = refusal_of(enc, {"new": "x", "user": {"v": value}})
    assert refusal.reason == reason and "'user.v'" in refusal.detail
    after = enc.to_dict()
    assert after.pop("refused") == {reason: 1}
    before.pop("refused")
    assert after == before


def test_a_non_object_event_is_refused():
    enc = FeatureEncoder()
    assert refusal_of(enc, [1, 2]) == Refusal(Reason.NOT_OBJECT, "got list")
    assert refusal_of(FeatureEncoder(transform="builtins:dict"), "x").reason == Reason.NOT_OBJECT


def test_features_of_one_event_in_the_same_column_add_up():
    enc = FeatureEncoder()
    assert x_of(enc, {"user.age": 1, "user": {"age": 2}}) == {"user.age": 3.0}
    batch = enc.encode_many([{"user": {"age": 5}}, {"user.age": 1, "user": {"age": 2}}])
    assert batch.indices.tolist() == [0, 0] and batch.values.tolist() == [5.0, 3.0]


# Hashing and the feature bound


def bucket(name: str, bits: int) -> int:
    return zlib.crc32(name.encode()) & ((1 << bits) - 1)


def test_hashed_strings_land_in_a_bounded_number_of_stable_buckets():
    bits = 4
    enc = FeatureEncoder(encoding="hash", hash_bits=bits)
    assert x_of(enc, {"city": "paris", "n": 2}) == {f"hash[{bucket('city=paris', bits)}]": 1.0,
                                                    "n": 2.0}
    for i in range(500):
        enc.encode({"city": f"c{i}", "n": 1})
    hashed = [name for name in enc.feature_names if name.startswith("hash[")]
    assert len(hashed) == 2**bits
    assert all(0 <= int(name[5:-1]) < 2**bits for name in hashed)
    assert len(enc.feature_names) == 2**bits + 1


def test_past_max_features_new_features_are_hashed():
    enc = FeatureEncoder(max_features=2, hash_bits=8)
    assert x_of(enc, {"a": 1, "b": 2, "c": 3, "s": "x"}) == {
        "a": 1.0, "b": 2.0, f"hash[{bucket('c', 8)}]": 3.0, f"hash[{bucket('s=x', 8)}]": 1.0,
    }
    assert x_of(enc, {"a": 5}) == {"a": 5.0}
    everything = FeatureEncoder(max_features=0, hash_bits=8)
    assert x_of(everything, {"a": 1}) == {f"hash[{bucket('a', 8)}]": 1.0}


def test_past_max_features_new_features_can_be_refused():
    enc = FeatureEncoder(max_features=2, overflow="refuse")
    enc.encode({"a": 1, "b": 2})
    refusal = refusal_of(enc, {"a": 1, "c": 3})
    assert refusal == Refusal(Reason.TOO_MANY_FEATURES, "'c' is new and max_features=2 are in use")
    assert x_of(enc, {"a": 1, "b": 5}) == {"a": 1.0, "b": 5.0}
    assert enc.feature_names == ["a", "b"]


def test_hash_collisions_inside_one_event_add_up():
    enc = FeatureEncoder(encoding="hash", hash_bits=1)
    names = [f"v{i}" for i in range(6)]
    x = x_of(enc, {"s": names})
    assert sum(x.values()) == 6.0 and set(x) <= {"hash[0]", "hash[1]"}


# State


def test_the_state_round_trips_through_json_and_resumes_identically():
    rng = random.Random(3)
    events = [random_event(rng) for _ in range(400)]
    settings = dict(target="y", timestamp="ts", categorical=["zip"], ignore=["secret"],
                    transform="builtins:dict", max_features=25, hash_bits=6)
    first = FeatureEncoder(**settings)
    first.encode_many(events[:200])
    saved = json.loads(json.dumps(first.to_dict()))
    resumed = FeatureEncoder.from_dict(saved)
    assert resumed.to_dict() == first.to_dict()
    assert_same_batches(first.encode_many(events[200:]), resumed.encode_many(events[200:]))
    assert resumed.to_dict() == first.to_dict()


def test_from_dict_refuses_another_format():
    with pytest.raises(ValueError, match="not a online_lr.FeatureEncoder version 1 state"):
        FeatureEncoder.from_dict({"format": "other", "version": 1})


def test_a_transform_is_saved_by_name_or_not_at_all():
    assert FeatureEncoder(transform=double_a).to_dict()["params"]["transform"] == \
        f"{__name__}:double_a"
    with pytest.raises(ValueError, match="transform: .* cannot be saved"):
        FeatureEncoder(transform=lambda e: e).to_dict()


# encode_many == encode


def random_event(rng: random.Random) -> dict:
    pool = {
        "price": lambda: rng.choice([rng.uniform(-5, 5), rng.randint(0, 9), "3.5", None, "n/a"]),
        "city": lambda: rng.choice(["paris", "lyon", "nice", "", 4]),
        "zip": lambda: rng.choice([75001, "75002", 75001.0]),
        "user": lambda: {"age": rng.randint(1, 99), "premium": rng.random() < 0.5,
                         "nested": {"deep": rng.choice(["a", "b", 1.5])}},
        "tags": lambda: rng.sample("abcd", rng.randint(0, 3)) + rng.choice([[], ["a"]]),
        "vec": lambda: [rng.random(), rng.choice(["x", 2, None])],
        "secret": lambda: 1.0,
        "y": lambda: random_target(rng),
        "ts": lambda: random_time(rng),
        "meta": lambda: {"y": random_target(rng), "ts": random_time(rng)},
        "odd": lambda: rng.choice([math.nan, b"x", "ok", 1.0, "ok2", 2]),
    }
    keys = rng.sample(list(pool), rng.randint(0, len(pool)))
    if rng.random() < 0.2:
        keys.append(f"late{rng.randint(0, 40)}")
    return {k: pool[k]() if k in pool else rng.random() for k in keys}


def random_target(rng: random.Random) -> object:
    return rng.choice([rng.uniform(0, 10), rng.uniform(0, 10), rng.randint(-9, 9), None, "2.5",
                       2**60, 10**400, True, math.inf, "n/a"])


def random_time(rng: random.Random) -> object:
    return rng.choice([
        1.7e9 + rng.randint(0, 100), 1_700_000_000 + rng.randint(0, 100), "1700000000.5",
        f"2026-11-01T10:00:{rng.randint(0, 59):02d}Z", "2026-11-01 11:00:00.25+01:00",
        "2026-11-01T10:00:00", "2026-11-01T10:00:00z", "2026-11-01T11:00:00+0100",
        "2026-02-30T00:00:00Z", "yesterday", math.nan, False,
    ])


def fuzz_transform(event: dict) -> dict:
    """Adds a field; fails on some events and returns a list for others."""
    if event.get("odd") == "ok2":
        raise ValueError("odd")
    if event.get("odd") == 2:
        return [event]  # type: ignore[return-value]
    return {**event, "n_fields": len(event)}


def assert_same_batches(a, b):
    assert a.feature_names_added == b.feature_names_added
    for name in ("indptr", "indices", "values", "y", "learn_mask", "rows"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    assert a.refusals == b.refusals


SETTINGS = [
    {},
    {"target": "y", "timestamp": "ts", "categorical": ["zip"], "ignore": ["secret"]},
    {"target": "y", "encoding": "hash", "hash_bits": 3},
    {"target": "y", "max_features": 12, "overflow": "refuse", "number_strings": "keep"},
    {"target": "y", "max_features": 8, "hash_bits": 4, "include": ["user", "tags", "late*", "odd"]},
    {"target": "meta.y", "timestamp": "meta.ts", "transform": fuzz_transform,
     "max_features": 20, "overflow": "refuse"},
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("settings", SETTINGS)
def test_encode_many_equals_encode_event_by_event(seed, settings):
    rng = random.Random(seed)
    events = [random_event(rng) for _ in range(300)]
    one, many = FeatureEncoder(**settings), FeatureEncoder(**settings)
    rows = [one.encode(e) for e in events]
    batches = [many.encode_many(events[i:i + 64]) for i in range(0, len(events), 64)]
    names = many.feature_names
    got: list = [None] * len(events)
    for offset, batch in zip(range(0, len(events), 64), batches):
        for i, refusal in batch.refusals:
            got[offset + i] = refusal
        for r, i in enumerate(batch.rows):
            lo, hi = batch.indptr[r], batch.indptr[r + 1]
            assert len(set(batch.indices[lo:hi])) == hi - lo  # one entry per column
            x = {names[c]: v for c, v in zip(batch.indices[lo:hi], batch.values[lo:hi])}
            ts = batch.timestamps[r]
            got[offset + i] = EncodedRow(
                x, float(batch.y[r]) if batch.learn_mask[r] else None,
                None if math.isnan(ts) else float(ts))
    assert got == rows
    assert one.to_dict() == many.to_dict()
    assert {type(r) for r in rows} == {Refusal, EncodedRow}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("settings", SETTINGS)
def test_the_compiled_walk_encodes_as_its_python_twin(seed, settings, monkeypatch):
    """`online_lr._walk` (C) and `online_lr._walk_py` are twins: the same batches and state,
    on fuzzed events that hit every branch (cache hits and misses, bags with repeats, shared
    and hashed columns, targets and timestamps of every kind, dotted or not, a transform,
    events that are not objects, refusals, undone when they added columns)."""
    compiled = pytest.importorskip("online_lr._walk")
    assert encoding._walk is compiled  # the build is what the encoder uses
    rng = random.Random(seed)
    batches = [[random_event(rng) for _ in range(64)] for _ in range(5)]
    for event in batches[2]:  # repeated and uncached bag values after cached ones
        event["tags"] = ["a", "a", "b"] if rng.random() < 0.5 else ["a", "zz", 3]
    batches[3][5:8] = [None, [{"a": 1}], "x"]
    fast = FeatureEncoder(**settings)
    expected = [fast.encode_many(batch) for batch in batches]
    monkeypatch.setattr(encoding, "_walk", _walk_py)
    monkeypatch.setattr(encoding, "_Node", _walk_py.Node)
    python = FeatureEncoder(**settings)
    for batch, want in zip(batches, expected):
        assert_same_batches(python.encode_many(batch), want)
    assert python.to_dict() == fast.to_dict()


# River


def test_transform_one_learns_nothing_and_leaves_out_unknown_features():
    enc = FeatureEncoder()
    enc.learn_one({"a": 1, "city": "paris"})
    assert enc.transform_one({"a": 2, "city": "lyon", "b": 3}) == {"a": 2.0}
    assert enc.feature_names == ["a", "city=paris"] and enc.n_events == 1
    with pytest.raises(ValueError, match="nonfinite_feature: 'a' is nan"):
        enc.transform_one({"a": math.nan})


def test_a_river_pipeline_learns_from_raw_nested_events():
    rng = random.Random(0)
    cities = {"paris": 3.0, "lyon": 1.0, "nice": -1.0}

    def event():
        city = rng.choice(list(cities))
        age = rng.randint(20, 60) / 10  # decades: no scaler in this pipeline
        premium = rng.random() < 0.3
        y = cities[city] + 0.5 * age + 2.0 * premium + rng.gauss(0, 0.1)
        return {"city": city, "user": {"age": str(age), "premium": premium},
                "tags": rng.sample(["a", "b", "c"], 2)}, y

    stream = [event() for _ in range(3000)]
    model = FeatureEncoder() | SGDRegressor()
    mae = evaluate.progressive_val_score(stream, model, metrics.MAE())
    constant = evaluate.progressive_val_score(
        stream, FeatureEncoder(include=["none"]) | SGDRegressor(), metrics.MAE())
    assert mae.get() < 0.5 * constant.get()
    assert set(model["FeatureEncoder"].feature_names) == {
        "city=paris", "city=lyon", "city=nice", "user.age", "user.premium",
        "tags=a", "tags=b", "tags=c",
    }


def test_import_online_lr_stays_cheap():
    code = "import sys, online_lr; print('river' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("check", list(checks.yield_checks(FeatureEncoder())),
                         ids=lambda check: check.__name__)
def test_river_estimator_checks(check):
    check(FeatureEncoder())


def test_tiny_caches_encode_exactly_as_the_default_ones(monkeypatch):
    rng = random.Random(7)
    batches = [[random_event(rng) for _ in range(50)] for _ in range(6)]
    settings = {"target": "y", "timestamp": "ts", "max_features": 15, "hash_bits": 5}
    default = FeatureEncoder(**settings)
    expected = [default.encode_many(batch) for batch in batches]
    monkeypatch.setattr(encoding, "_NODE_LIMIT", 3)
    monkeypatch.setattr(encoding, "_VALUES_CACHED_PER_FIELD", 1)
    monkeypatch.setattr(encoding, "_TIMES_CACHED", 1)
    tiny = FeatureEncoder(**settings)
    for batch, want in zip(batches, expected):
        assert_same_batches(tiny.encode_many(batch), want)
    assert tiny.to_dict() == default.to_dict()


def test_keys_that_are_not_strings_are_named_by_str():
    enc = FeatureEncoder()
    assert x_of(enc, {1: 2.0, "m": {2: "x"}}) == {"1": 2.0, "m.2=x": 1.0}
