"""Real events (issue R2.3's table) through the library, `online-lr replay` and the real broker.

Each row of the table: a string field, a feature missing from some messages, a field that first
appears late, a nested object, a boolean, ``"1.5"`` in JSON, an epoch timestamp and other label
columns (ignored). The same events learn the same model as a `FeatureEncoder | SGDRegressor`
pipeline, in a replay and in a consumer (to 1e-9), and a resumed run encodes exactly as before.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import orjson
import pytest
from kafka_helpers import client_args, model_of, name, produce_values

from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from consumers.config import FieldsSettings, load_settings
from consumers.errors import ConfigError
from consumers.predict import load_pipeline
from online_lr import SGDRegressor
from online_lr.encoding import FeatureEncoder


def event(i: int) -> dict:
    """One event with every kind of field of the table (``y`` depends on all of them)."""
    rng = np.random.default_rng(i)
    sqm = float(rng.uniform(1, 3))
    city = ("lyon", "paris", "nice")[i % 3]
    premium = i % 4 == 0
    e = {"ts": 1_700_000_000 + 60 * i, "sqm": sqm, "city": city,
         "user": {"age": float(20 + i % 7) / 10, "premium": premium},
         "rate": f"{0.5 + (i % 5) / 10:.1f}", "label_other": 100.0 * i}
    y = 2.0 * sqm + {"lyon": 1.0, "paris": 3.0, "nice": -1.0}[city] + 0.5 * premium
    if i % 5 == 3:
        del e["sqm"]  # missing
        y -= 2.0 * sqm
    if i >= 40:
        e["floor"] = float(i % 3)  # late
        y += 0.3 * e["floor"]
    if i % 11 != 7:
        e["y"] = y
    return e


EVENTS = [event(i) for i in range(120)]
FLAGS = ["--target", "y", "--timestamp", "ts", "--ignore", "label_*"]
FIELDS = FieldsSettings(target="y", timestamp="ts", ignore=("label_*",))
#: The features of the table's rows: string one-hot, nested, boolean, "1.5", late; never the
#: timestamp or the other label column.
FEATURES = {"sqm", "city=lyon", "city=paris", "city=nice", "user.age", "user.premium", "rate",
            "floor"}
MODEL = ["--set", "model.learning_rate=0.05"]


def write_events(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def library_model() -> tuple[FeatureEncoder, SGDRegressor]:
    """The table's events through the library: `FeatureEncoder | SGDRegressor`, learn_one."""
    from consumers.schema import build_encoder

    encoder, model = build_encoder(FIELDS), SGDRegressor(learning_rate=0.05)
    for e in EVENTS:
        row = encoder.encode(e)
        model.predict_one(row.x)
        if row.y is not None:
            model.learn_one(row.x, row.y)
    return encoder, model


def assert_same(a: SGDRegressor, b: SGDRegressor, tol: float = 1e-9) -> None:
    assert set(a.weights) == set(b.weights)
    for k in a.weights:
        assert a.weights[k] == pytest.approx(b.weights[k], rel=tol, abs=tol), k
    assert a.intercept == pytest.approx(b.intercept, rel=tol, abs=tol)


def test_the_library_learns_every_row_of_the_table():
    encoder, model = library_model()
    assert set(encoder.feature_names) == FEATURES
    assert set(model.weights) == FEATURES
    missing = encoder.missing_counts()
    assert missing["sqm"] == sum("sqm" not in e for e in EVENTS)
    assert missing["floor"] == 40  # before it first appeared
    for k in ("city=lyon", "user.premium", "rate", "floor"):
        assert model.weights[k] != 0.0


def test_replay_learns_the_table_as_the_library_does(tmp_path, capsys):
    path = write_events(tmp_path / "events.jsonl", EVENTS)
    ckpt = tmp_path / "c.json"
    assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint", str(ckpt), "-q"]) == 0
    saved = read_checkpoint(ckpt)
    assert set(saved.schema["feature_names"]) == FEATURES
    assert saved.counters["bad"] == 0
    assert_same(model_of(ckpt), library_model()[1])


def test_csv_and_jsonl_of_the_same_rows_learn_the_same_model(tmp_path):
    flat = [{k: v for k, v in e.items() if k != "user"} for e in EVENTS]
    columns = ["ts", "sqm", "city", "rate", "label_other", "floor", "y"]
    lines = [",".join(columns)] + [",".join("" if e.get(c) is None else str(e.get(c))
                                            for c in columns) for e in flat]
    csv_path = tmp_path / "events.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    jsonl = write_events(tmp_path / "events.jsonl", flat)
    for path in (csv_path, jsonl):
        assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint",
                     str(tmp_path / f"{path.suffix}.json"), "-q"]) == 0
    a, b = model_of(tmp_path / ".csv.json"), model_of(tmp_path / ".jsonl.json")
    assert a.weights == b.weights and a.intercept == b.intercept  # bit for bit


def test_a_typed_timestamp_column_is_the_event_time(tmp_path):
    """Parquet (and Arrow) hand a timestamp column over as datetimes, not strings."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = [{k: v for k, v in e.items() if k not in ("user", "y")} | {"y": e.get("y")}
            for e in EVENTS]  # Parquet: a missing label is null
    for e in flat:
        e["ts"] = dt.datetime.fromtimestamp(e["ts"], dt.timezone.utc)
    parquet = tmp_path / "events.parquet"
    columns = dict.fromkeys(k for e in flat for k in e)
    pq.write_table(pa.table({c: [e.get(c) for e in flat] for c in columns}), parquet)
    iso = [e | {"ts": e["ts"].isoformat()} for e in flat]
    jsonl = write_events(tmp_path / "events.jsonl",
                         [{k: v for k, v in e.items() if v is not None} for e in iso])
    for path in (parquet, jsonl):
        ckpt = tmp_path / f"{path.suffix}.json"
        assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint", str(ckpt), "-q"]) == 0
        saved = read_checkpoint(ckpt)
        assert saved.counters["bad"] == 0
        assert "ts" not in saved.schema["feature_names"]
    assert_same(model_of(tmp_path / ".parquet.json"), model_of(tmp_path / ".jsonl.json"))


def test_a_resumed_replay_encodes_exactly_as_one_run(tmp_path):
    path = write_events(tmp_path / "events.jsonl", EVENTS)
    whole, parts = tmp_path / "whole.json", tmp_path / "parts.json"
    assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint", str(whole), "-q"]) == 0
    assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint", str(parts),
                 "--max-messages", "30", "-q"]) == 0  # stops before 'floor' appears
    assert "floor" not in read_checkpoint(parts).schema["feature_names"]
    assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint", str(parts), "-q"]) == 0
    a, b = read_checkpoint(whole), read_checkpoint(parts)
    assert a.schema == b.schema  # columns, counts, missing counts
    assert_same(model_of(whole), model_of(parts), tol=1e-12)


def test_other_encoding_settings_than_the_checkpoints_are_refused(tmp_path, capsys):
    path = write_events(tmp_path / "events.jsonl", EVENTS[:10])
    ckpt = tmp_path / "c.json"
    assert main(["replay", str(path), *FLAGS, "--checkpoint", str(ckpt), "-q"]) == 0
    assert main(["replay", str(path), *FLAGS, "--encoding", "hash", "--checkpoint",
                 str(ckpt), "-q"]) == 2
    assert "fields.encoding" in capsys.readouterr().err


def test_an_old_numeric_checkpoint_resumes_with_its_features(tmp_path):
    from consumers.checkpoint import Checkpoint
    from consumers.wiring import restore

    ck = Checkpoint(model=SGDRegressor().to_dict(), source={"kind": "file", "name": "x"},
                    schema={"target": "y", "features": ["a", "b"], "ignore": [],
                            "explicit": False})
    _, encoder, _ = restore(ck, FieldsSettings(), {}, {"kind": "file"})
    assert encoder.encode({"a": 1, "b": "2", "c": 3, "y": 1}).x == {"a": 1.0, "b": 2.0}
    ck = Checkpoint(model=SGDRegressor().to_dict(), source={"kind": "file", "name": "x"},
                    schema={"target": "z", "features": ["a"]})
    with pytest.raises(ConfigError, match="fields.target"):
        restore(ck, FieldsSettings(), {}, {"kind": "file"})


@pytest.mark.parametrize(
    ("override", "field"),
    [({"fields.encoding": "vw"}, "fields.encoding"),
     ({"fields.hash_bits": 40}, "fields.hash_bits"),
     ({"fields.include": "a"}, "fields.include"),
     ({"fields.transform": "json.loads"}, "fields.transform"),
     ({"fields.transform": "no_such_module_xyz:f"}, "fields.transform"),
     ({"fields.timestamp": "y"}, "fields.timestamp"),
     ({"fields.features": ["a"], "fields.include": ["b"]}, "fields.features")],
)
def test_bad_field_settings_name_the_field(override, field):
    with pytest.raises(ConfigError) as info:
        load_settings("replay", None, {"fields.target": "y", **override})
    assert info.value.field == field


def test_yaml_settings_map_onto_the_encoder(tmp_path):
    from consumers.schema import build_encoder

    config = tmp_path / "c.yaml"
    config.write_text("fields:\n  target: price\n  timestamp: ts\n  categorical: [zip]\n"
                      "  include: ['user.*', zip, city]\n  encoding: hash\n  hash_bits: 4\n"
                      "  max_features: 10\n  overflow: refuse\n  number_strings: keep\n"
                      "  transform: 'json:loads'\n")
    settings = load_settings("replay", str(config), {"fields.transform": None})
    encoder = build_encoder(settings.fields)
    assert (encoder.target, encoder.timestamp, encoder.categorical, encoder.include,
            encoder.encoding, encoder.hash_bits, encoder.max_features, encoder.overflow,
            encoder.number_strings) == ("price", "ts", ["zip"], ["user.*", "zip", "city"],
                                        "hash", 4, 10, "refuse", "keep")


def test_missing_counts_and_event_time_are_in_the_log_line_and_the_metrics(tmp_path, caplog):
    from row_source import RowSource

    from consumers.metrics_server import RunnerCollector
    from consumers.reporting import LogLine
    from consumers.runner import Checkpointing, Reports, Runner
    from consumers.wiring import restore

    path = write_events(tmp_path / "events.jsonl", EVENTS)
    with Runner(restore(None, FIELDS, {}, {}), lambda _: RowSource(path),
                checkpointing=Checkpointing(None, None, None),
                reports=Reports(log_line=LogLine(0.0))) as runner, \
            caplog.at_level(logging.INFO, logger="consumers"):
        runner.run()
    expected = sum("sqm" not in e for e in EVENTS)
    assert f"missing=(floor=40 sqm={expected})" in caplog.text
    assert "event_time=2023-11-15T00:12:20Z" in caplog.text  # the latest 'ts', reported
    families = {f.name: f for f in RunnerCollector(runner).collect()}
    samples = {s.labels["field"]: s.value
               for s in families["online_lr_field_missing_events"].samples}
    assert samples["floor"] == 40 and samples["sqm"] == expected and samples["city"] == 0


def test_a_transform_runs_first_and_its_failures_are_dead_lettered(tmp_path, caplog):
    path = write_events(tmp_path / "events.jsonl",
                        [{"v": json.dumps({"a": i}), "y": float(i)} for i in range(5)] + [{}])
    ckpt = tmp_path / "c.json"
    with caplog.at_level(logging.WARNING):
        assert main(["replay", str(path), "--target", "y", "--transform",
                     "event_transforms:unwrap", "--checkpoint", str(ckpt), "-q"]) == 0
    saved = read_checkpoint(ckpt)
    assert saved.schema["feature_names"] == ["a"]
    assert saved.counters["bad_by_reason"] == {"transform_failed": 1}
    assert "transform_failed" in caplog.text


def test_the_pipeline_of_a_checkpoint_predicts_a_raw_event(tmp_path):
    path = write_events(tmp_path / "events.jsonl", EVENTS)
    ckpt = tmp_path / "c.json"
    assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint", str(ckpt), "-q"]) == 0
    pipeline = load_pipeline(ckpt)
    raw = {**EVENTS[0], "y": "never read", "label_other": "x", "new_field": "z"}
    x = {"sqm": EVENTS[0]["sqm"], "city=lyon": 1.0, "user.age": 2.0, "user.premium": 1.0,
         "rate": 0.5}
    assert pipeline.predict_one(raw) == pytest.approx(model_of(ckpt).predict_one(x), rel=1e-12)


def test_consume_learns_the_table_as_replay_does(kafka_bootstrap, tmp_path, capsys):
    path = write_events(tmp_path / "events.jsonl", EVENTS)
    topic, replayed, consumed = name("events"), tmp_path / "r.json", tmp_path / "c.json"
    produce_values(kafka_bootstrap, topic, [orjson.dumps(e) for e in EVENTS])
    assert main(["replay", str(path), *FLAGS, *MODEL, "--checkpoint", str(replayed), "-q"]) == 0
    assert main(["consume", "-q", "--bootstrap-servers", kafka_bootstrap, "--topic", topic,
                 "--group", name("g"), "--checkpoint", str(consumed), "--stop-at-end",
                 "--batch-size", "17", *FLAGS, *MODEL, *client_args()]) == 0
    a, b = read_checkpoint(replayed), read_checkpoint(consumed)
    assert set(b.schema["feature_names"]) == FEATURES
    assert b.schema["seen"] == a.schema["seen"] and b.counters["bad"] == 0
    assert_same(model_of(consumed), model_of(replayed), tol=1e-9)
