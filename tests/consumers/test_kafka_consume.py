"""online-lr produce / consume against the real local Kafka broker (fixture ``kafka_bootstrap``).

Each test uses its own topics and group and small data; each run stops at the end of its
partitions (``--stop-at-end``), so each test takes a few seconds. No mock or fake broker: these are the real client against a real Kafka 4.x.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from kafka_helpers import client_args, model_of, name, produce_values, read_topic, write_jsonl

from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from consumers.config import load_settings
from consumers.errors import EXIT_CONFIG, EXIT_NOTHING_LEARNED
from online_lr import SGDRegressor

REPO = Path(__file__).resolve().parents[2]
REPLAY_CONFIG = str(REPO / "configs" / "replay.yaml")
BUNDLED = str(REPO / "consumers" / "data" / "trump_approval.csv.gz")
#: A backstop only: the runs below stop at the end of their partitions (``--stop-at-end``).
BACKSTOP_IDLE = "30"
pytestmark = pytest.mark.usefixtures("kafka_client")


def summary(text: str) -> dict[str, str]:
    parts = (line.partition(":") for line in text.splitlines())
    return {k.strip(): v.strip() for k, sep, v in parts if sep}


def consume(bootstrap: str, topic: str, group: str, ckpt: Path, *extra: str) -> int:
    return main(["consume", "-q", "--bootstrap-servers", bootstrap, "--topic", topic,
                 "--group", group, "--checkpoint", str(ckpt), "--stop-at-end",
                 "--idle-timeout", BACKSTOP_IDLE, "--broker-timeout", "30", *client_args(),
                 *extra])


def same_rows_as_jsonl_and_parquet(csv_path: str, directory: Path) -> list[Path]:
    """The rows of a CSV written again as JSON Lines and as Parquet."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pacsv.read_csv(csv_path)
    jsonl, parquet = directory / "rows.jsonl", directory / "rows.parquet"
    jsonl.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in table.to_pylist()))
    pq.write_table(table, parquet, row_group_size=300)
    return [jsonl, parquet]


def test_consume_learns_the_model_replay_learns(
    kafka_bootstrap, tmp_path, capsys, assert_same_model
):
    """The bundled log through a one-partition topic = the bundled log replayed from the file,
    as CSV, JSON Lines and Parquet."""
    topic = name("trump")
    assert main(["produce", BUNDLED, "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
                 "-q", *client_args()]) == 0
    assert capsys.readouterr().out.strip() == f"1001 messages sent to {topic}"
    consumed, replayed = tmp_path / "consumed.json", tmp_path / "replayed.json"
    assert consume(kafka_bootstrap, topic, name("g"), consumed, "--config", REPLAY_CONFIG,
                   "--batch-size", "64") == 0
    s = summary(capsys.readouterr().out)
    assert (s["rows"], s["learned"], s["bad"]) == ("1001", "1001", "0")
    assert s["stopped"] == "end of partitions"  # --stop-at-end, not the (backstop) idle timeout
    assert main(["replay", "-q", "--checkpoint", str(replayed)]) == 0
    assert_same_model(model_of(consumed), model_of(replayed))
    for copy in same_rows_as_jsonl_and_parquet(BUNDLED, tmp_path):
        ckpt = tmp_path / f"{copy.name}.json"
        assert main(["replay", str(copy), "-q", "--checkpoint", str(ckpt)]) == 0
        assert_same_model(model_of(consumed), model_of(ckpt), tol=1e-9)
    ck = read_checkpoint(consumed)
    assert ck.offsets == {f"{topic}:0": 1001}
    assert ck.source == {"kind": "kafka", "topic": topic, "group": ck.source["group"]}
    assert ck.counters["learned"] == 1001


def test_produce_consume_over_three_partitions_learns_each_labelled_row_once(
    kafka_bootstrap, tmp_path, capsys
):
    path = tmp_path / "rows.jsonl"
    rows = write_jsonl(path, 300)
    labelled = sum("y" in r for r in rows)
    topic, group, ckpt = name("three"), name("g"), tmp_path / "c.json"
    assert main(["produce", str(path), "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
                 "--partitions", "3", "--key-field", "id", "-q"]) == 0
    assert consume(kafka_bootstrap, topic, group, ckpt, "--target", "y", "--ignore", "id",
                   "--batch-size", "40") == 0
    s = summary(capsys.readouterr().out)
    assert (s["rows"], s["learned"], s["predicted-only"]) == ("300", str(labelled),
                                                                str(300 - labelled))
    ck = read_checkpoint(ckpt)
    assert ck.counters["learned"] == labelled and ck.counters["messages"] == 300
    assert model_of(ckpt).n_updates == labelled
    assert sorted(ck.offsets) == [f"{topic}:{p}" for p in range(3)]
    assert sum(ck.offsets.values()) == 300 and min(ck.offsets.values()) > 0
    assert ck.schema["feature_names"] == ["a", "b"]
    # The same offsets were committed to the group, for lag tools.
    from kafka import KafkaConsumer, TopicPartition

    probe = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                          enable_auto_commit=False)
    try:
        for key, offset in ck.offsets.items():
            t, p = key.rsplit(":", 1)
            assert probe.committed(TopicPartition(t, int(p))) == offset
    finally:
        probe.close(autocommit=False)
    # A second run finds nothing new and learns nothing twice.
    assert consume(kafka_bootstrap, topic, group, ckpt, "--target", "y", "--ignore", "id") == 0
    assert summary(capsys.readouterr().out)["rows"].startswith("0 ")
    assert model_of(ckpt).n_updates == labelled


def test_max_messages_then_restart_continues_to_the_same_model(kafka_bootstrap, tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    write_jsonl(path, 250, seed=3)
    topic = name("resume")
    assert main(["produce", str(path), "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
                 "-q"]) == 0
    ckpt, group = tmp_path / "c.json", name("g")
    offsets = []
    for limit in ("100", "75"):
        assert consume(kafka_bootstrap, topic, group, ckpt, "--ignore", "id",
                       "--max-messages", limit, "--batch-size", "30") == 0
        assert summary(capsys.readouterr().out)["stopped"] == "max_messages"
        offsets.append(read_checkpoint(ckpt).offsets[f"{topic}:0"])
    assert offsets == [100, 175]
    assert consume(kafka_bootstrap, topic, group, ckpt, "--ignore", "id") == 0
    assert summary(capsys.readouterr().out)["rows"] == "75 (resumed after 175)"
    replayed = tmp_path / "r.json"
    # Each command with its own default config: no model settings, the same model.
    assert main(["replay", str(path), "--target", "y", "--ignore", "id", "--checkpoint",
                 str(replayed), "-q"]) == 0
    a, b = model_of(ckpt), model_of(replayed)
    assert a.weights == b.weights and a.intercept == b.intercept  # bit for bit
    assert a.running_mse == pytest.approx(b.running_mse, rel=1e-12)


def test_predictions_topic_gets_one_prediction_per_message(kafka_bootstrap, tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    rows = write_jsonl(path, 120, seed=5)
    with path.open("ab") as f:
        f.write(b"not json\n")
    topic, preds_topic = name("in"), name("preds")
    assert main(["produce", str(path), "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
                 "--key-field", "id", "-q"]) == 0
    ckpt = tmp_path / "c.json"
    assert consume(kafka_bootstrap, topic, name("g"), ckpt, "--ignore", "id",
                   "--predictions-topic", preds_topic, "--batch-size", "25") == 0
    capsys.readouterr()
    records = read_topic(kafka_bootstrap, preds_topic, expected=120)
    assert len(records) == 120  # one per valid message, none for the broken line
    payloads = [json.loads(r.value) for r in records]
    assert sorted(p["offset"] for p in payloads) == list(range(120))
    assert {(p["topic"], p["partition"]) for p in payloads} == {(topic, 0)}
    by_offset = {p["offset"]: (p["prediction"], r.key) for p, r in zip(payloads, records)}
    # Prequential predictions: those of a learn_one loop over the same rows, with the model the
    # default config builds (SGDRegressor(), as replay's).
    model = SGDRegressor.from_config(load_settings("kafka", None).model)
    for i, row in enumerate(rows):
        x = {"a": row["a"], "b": row["b"]}
        prediction, key = by_offset[i]
        assert prediction == pytest.approx(model.predict_one(x), rel=1e-9, abs=1e-9)
        assert key == str(row["id"]).encode()
        if "y" in row:
            model.learn_one(x, row["y"])


def test_a_checkpoint_behind_the_group_resumes_where_a_peer_left_off(
    kafka_bootstrap, tmp_path, capsys
):
    """A worker killed without handing over keeps its partitions in its checkpoint; a peer may
    advance them meanwhile. Coming back, it resumes at the group's offset: nothing twice."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    path = tmp_path / "rows.jsonl"
    rows = write_jsonl(path, 300, seed=5)
    topic, group, ckpt = name("peer"), name("g"), tmp_path / "c.json"
    assert main(["produce", str(path), "--topic", topic, "--bootstrap-servers", kafka_bootstrap,
                 "-q"]) == 0
    dynamic = ("--set", "stream.group_instance_id=null")  # leaves the group on exit
    assert consume(kafka_bootstrap, topic, group, ckpt, "--ignore", "id", *dynamic,
                   "--max-messages", "100", "--batch-size", "25") == 0
    assert read_checkpoint(ckpt).offsets == {f"{topic}:0": 100}
    # The peer: it took the partition over at 100, learned up to 200 and committed that.
    peer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                         enable_auto_commit=False)
    try:
        peer.assign([TopicPartition(topic, 0)])
        peer.commit({TopicPartition(topic, 0): OffsetAndMetadata(200, "", -1)})
    finally:
        peer.close(autocommit=False)
    capsys.readouterr()

    assert consume(kafka_bootstrap, topic, group, ckpt, "--ignore", "id", *dynamic) == 0
    assert summary(capsys.readouterr().out)["rows"].startswith("100 ")
    assert read_checkpoint(ckpt).offsets == {f"{topic}:0": 300}
    skipping = tmp_path / "skipping.jsonl"  # what this worker should have learned, in order
    skipping.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows[:100] + rows[200:]))
    replayed = tmp_path / "r.json"
    assert main(["replay", str(skipping), "--config", str(REPO / "configs" / "kafka.yaml"),
                 "--ignore", "id", "--checkpoint", str(replayed), "-q"]) == 0
    a, b = model_of(ckpt), model_of(replayed)
    assert a.weights == b.weights and a.intercept == b.intercept  # bit for bit


def test_consume_says_what_it_learns_and_fails_loudly_when_it_cannot(
    kafka_bootstrap, tmp_path, capsys, caplog
):
    labelled, unlabelled = name("labelled"), name("unlabelled")
    produce_values(kafka_bootstrap, labelled,
                   [orjson.dumps({"Price": float(i), "sqm": 2.0 * i, "city": "Lyon"})
                    for i in range(30)])
    produce_values(kafka_bootstrap, unlabelled,
                   [orjson.dumps({"sqm": 2.0 * i}) for i in range(10)])
    ckpt = tmp_path / "c.json"
    assert consume(kafka_bootstrap, labelled, name("g"), ckpt, "--target", "price") == EXIT_CONFIG
    assert "did you mean 'Price'?" in capsys.readouterr().err
    assert not ckpt.exists()  # nothing learned, nothing saved
    caplog.clear()
    with caplog.at_level("DEBUG", logger="consumers"):
        assert main(["consume", "-v", "--bootstrap-servers", kafka_bootstrap, "--topic",
                     labelled, "--group", name("g"), "--checkpoint", str(ckpt),
                     "--stop-at-end", "--idle-timeout", BACKSTOP_IDLE, "--target", "Price",
                     *client_args()]) == 0
    assert "field 'sqm': sqm" in caplog.text
    assert "field 'city': city=Lyon" in caplog.text
    capsys.readouterr()
    caplog.clear()
    assert consume(kafka_bootstrap, unlabelled, name("g"), tmp_path / "u.json",
                   "--target", "price") == EXIT_NOTHING_LEARNED
    assert "none of the 10 rows had a value for the target 'price'" in caplog.text
    assert not list(tmp_path.glob("*.lock"))
