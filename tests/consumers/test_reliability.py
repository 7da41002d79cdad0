"""Reliability of `online-lr consume` against the real local broker: crashes, poison, rebalances,
damaged checkpoints, secrets.

Each Kafka test has its own topics, group and checkpoint, small data and short timeouts. The
reference model is always `online-lr replay` of the same (valid) rows with the same model config:
one partition, so the order is the topic's.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
import pytest
from kafka_helpers import client_args, model_of, name, produce_values, read_topic

from consumers.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from consumers.cli import main
from consumers.confluent_client import librdkafka_config
from consumers.errors import EXIT_BROKER, EXIT_CHECKPOINT
from consumers.kafka_base import partition_key
from consumers.kafka_source import KafkaSource, client_config
from consumers.records import BadRecord, Message, Reason
from consumers.sinks import KafkaOutputs, make_producer
from consumers.topics import ensure_topic
from online_lr import SGDRegressor

REPO = Path(__file__).resolve().parents[2]
KAFKA_CONFIG = str(REPO / "configs" / "kafka.yaml")
pytestmark = pytest.mark.usefixtures("kafka_client")


def rows(n: int, seed: int, unlabelled_every: int = 9) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a, b = rng.normal(size=2).tolist()
        row = {"a": a, "b": 10.0 * b}
        if i % unlabelled_every != 4:
            row["y"] = 3.0 * a - 0.2 * b + 0.5 + 0.05 * float(rng.normal())
        out.append(row)
    return out


def write_jsonl(path: Path, values: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(values) + b"\n")
    return path


def replay(path: Path, ckpt: Path, *extra: str) -> SGDRegressor:
    assert main(["replay", "-q", str(path), "--config", KAFKA_CONFIG, "--checkpoint", str(ckpt),
                 *extra]) == 0
    return model_of(ckpt)


def consume(bootstrap: str, topic: str, group: str, ckpt: Path, *extra: str) -> int:
    return main(["consume", "--bootstrap-servers", bootstrap, "--topic", topic, "--group", group,
                 "--checkpoint", str(ckpt), "--stop-at-end", "--idle-timeout", "30",
                 "--broker-timeout", "20", *client_args(), *extra])


def spawn(bootstrap: str, topic: str, group: str, ckpt: Path, log: Path,
          *extra: str) -> subprocess.Popen:
    """`python -m consumers consume ...` in a subprocess, its stderr going to ``log``."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "consumers", "consume", "--bootstrap-servers", bootstrap,
             "--topic", topic, "--group", group, "--checkpoint", str(ckpt), *client_args(),
             *extra],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL,
            stderr=err,
        )


def wait_until(condition, proc: subprocess.Popen | None, what: str, log: Path | None = None,
               timeout: float = 30.0, every: float = 0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None else ""
            raise AssertionError(f"consumer exited {proc.returncode} before {what}\n{tail}")
        time.sleep(every)
    tail = log.read_text()[-3000:] if log is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


def checkpointed_offset(ckpt: Path, key: str) -> int:
    ck = read_checkpoint(ckpt) if ckpt.exists() else None
    return ck.offsets.get(key, 0) if ck is not None else 0


def stop(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=30)


# -- exactly-once model state -------------------------------------------------------------------


def test_kill_9_twice_mid_stream_then_finish_equals_an_uninterrupted_run(
    kafka_bootstrap, tmp_path, capsys, assert_same_model
):
    """SIGKILL once right after a checkpoint and once mid-batch; then run to the end."""
    data = rows(5_000, seed=11)  # the second kill comes ~1000 rows in: far from the end
    path = write_jsonl(tmp_path / "rows.jsonl", [orjson.dumps(r) for r in data])
    topic, group, ckpt, log = name("kill2"), name("g"), tmp_path / "c.json", tmp_path / "err"
    produce_values(kafka_bootstrap, topic, [orjson.dumps(r) for r in data])
    key = f"{topic}:0"
    args = ("-q", "--batch-size", "10", "--checkpoint-every", "50", "--stop-at-end",
            "--idle-timeout", "30")
    killed_at = []
    for after in (300, None):
        proc = spawn(kafka_bootstrap, topic, group, ckpt, log, *args)
        try:
            if after is not None:  # just after a checkpoint was written
                wait_until(lambda a=after: checkpointed_offset(ckpt, key) >= a, proc,
                           "a checkpoint", log)
            else:  # between checkpoints, wherever the consumer happens to be
                start = killed_at[-1]
                wait_until(lambda s=start: checkpointed_offset(ckpt, key) > s + 500, proc,
                           "progress after the restart", log)
                time.sleep(0.013)
        finally:
            assert stop(proc) == -signal.SIGKILL, log.read_text()[-3000:]
        killed_at.append(checkpointed_offset(ckpt, key))
    assert 300 <= killed_at[0] < killed_at[1] < len(data)  # both kills were mid-stream
    assert consume(kafka_bootstrap, topic, group, ckpt, "-q") == 0
    assert "(resumed after" in capsys.readouterr().out
    ck = read_checkpoint(ckpt)
    labelled = sum("y" in r for r in data)
    assert ck.offsets == {key: len(data)}
    assert ck.counters["messages"] == len(data) and ck.counters["learned"] == labelled
    reference = replay(path, tmp_path / "replayed.json")
    assert_same_model(model_of(ckpt), reference)
    assert model_of(ckpt).n_updates == labelled


# -- poison messages ----------------------------------------------------------------------------

PLAIN_SGD = ("--set", "model.update=sgd", "--set", "model.learning_rate=0.001",
             "--set", "model.intercept_lr=0.001", "--set", "fields.max_message_bytes=300")

#: Each poison kind, its reason code, and how many of it the stream holds.
POISON = {
    "invalid JSON": (b'{"a": 1, "b": ', Reason.INVALID_JSON, 2),
    "non-object JSON": (b"[1,2]", Reason.NOT_OBJECT, 1),
    "empty value": (b"", Reason.EMPTY, 2),
    "null value (tombstone)": (None, Reason.EMPTY, 1),
    "undecodable bytes": (b"\xff\xfe", Reason.INVALID_UTF8, 2),
    "string target": (b'{"a": 1, "b": 1, "y": "one"}', Reason.NON_NUMERIC_TARGET, 1),
    "NaN feature": (b'{"a": NaN, "b": 1, "y": 1}', Reason.NONFINITE_FEATURE, 1),
    "inf feature": (b'{"a": 1, "b": 1e999, "y": 1}', Reason.NONFINITE_FEATURE, 1),
    "NaN target": (b'{"a": 1, "b": 1, "y": NaN}', Reason.NONFINITE_TARGET, 2),
    "oversize": (b'{"a": 1, "b": 1, "y": 1, "pad": "' + b"x" * 400 + b'"}', Reason.OVERSIZE, 1),
    "diverging update": (b'{"a": 1e300, "b": 1, "y": 1}', Reason.DIVERGED, 2),
}


def poisoned_stream(tmp_path: Path):
    """Valid rows with every poison kind mixed in; the valid rows alone as a JSONL file."""
    good = [orjson.dumps(r) for r in rows(150, seed=5)]
    rng = np.random.default_rng(3)
    bad = [(kind, value) for kind, (value, _, n) in POISON.items() for _ in range(n)]
    values: list = list(good)
    # The first message stays valid: it fixes the schema (a, b) as a real stream would.
    for at, (kind, value) in zip(sorted(rng.choice(np.arange(1, 150), len(bad), replace=False)),
                                 [bad[i] for i in rng.permutation(len(bad))]):
        values.insert(int(at), (kind, value))
    kinds = {i: v[0] for i, v in enumerate(values) if isinstance(v, tuple)}
    values = [v[1] if isinstance(v, tuple) else v for v in values]
    return values, kinds, write_jsonl(tmp_path / "valid.jsonl", good)


def test_every_poison_kind_is_dead_lettered_and_the_model_is_the_valid_rows_model(
    kafka_bootstrap, tmp_path, capsys, assert_same_model
):
    values, kinds, valid = poisoned_stream(tmp_path)
    keys = [f"k{i}".encode() for i in range(len(values))]
    headers = [[("trace", f"t{i}".encode())] for i in range(len(values))]
    topic, dlq, ckpt = name("poison"), name("dlq"), tmp_path / "c.json"
    produce_values(kafka_bootstrap, topic, values, keys=keys, headers=headers)
    assert consume(kafka_bootstrap, topic, name("g"), ckpt, "-q", "--dead-letter-topic", dlq,
                   "--batch-size", "16", *PLAIN_SGD) == 0
    capsys.readouterr()
    expected = {}
    for value, reason, n in POISON.values():
        expected[reason] = expected.get(reason, 0) + n
    dead = read_topic(kafka_bootstrap, dlq, expected=len(kinds))
    got: dict[str, int] = {}
    for record in dead:
        h = dict(record.headers)
        offset = int(h["source_offset"])
        value, reason, _ = POISON[kinds[offset]]
        got[h["reason_code"].decode()] = got.get(h["reason_code"].decode(), 0) + 1
        assert h["reason_code"] == reason.encode() and h["reason"].startswith(reason.encode())
        assert (h["source_topic"], h["source_partition"]) == (topic.encode(), b"0")
        assert h["trace"] == f"t{offset}".encode()  # the input's own headers are kept
        assert record.value == value  # the original bytes (a tombstone's None too)
        assert record.key == f"k{offset}".encode()
    assert got == expected and len(dead) == len(kinds)  # exact counts, no duplicates
    ck = read_checkpoint(ckpt)
    assert ck.counters["bad"] == len(kinds) and ck.counters["bad_by_reason"] == expected
    assert ck.counters["diverged"] == expected[Reason.DIVERGED]
    assert_same_model(model_of(ckpt), replay(valid, tmp_path / "r.json", *PLAIN_SGD))


def test_without_a_dead_letter_topic_poison_is_logged_and_counted_by_reason(
    kafka_bootstrap, tmp_path, capsys, caplog, assert_same_model
):
    values, kinds, valid = poisoned_stream(tmp_path)
    topic, ckpt = name("poison-log"), tmp_path / "c.json"
    produce_values(kafka_bootstrap, topic, values, keys=[b"k"] * len(values))
    with caplog.at_level(logging.INFO, logger="consumers"):
        assert consume(kafka_bootstrap, topic, name("g"), ckpt, *PLAIN_SGD) == 0
    capsys.readouterr()
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("bad message")]
    assert len(warned) == len(kinds)
    for offset, kind in kinds.items():
        assert any(f"{topic}[0]@{offset}: {POISON[kind][1]}" in w for w in warned), kind
    periodic = [r.getMessage() for r in caplog.records if r.getMessage().startswith("messages=")]
    assert periodic, "no periodic log line"
    counts: dict[str, int] = {}
    for _, reason, n in POISON.values():
        counts[reason] = counts.get(reason, 0) + n
    split = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    assert f"bad={len(kinds)} ({split})" in periodic[-1]
    assert_same_model(model_of(ckpt), replay(valid, tmp_path / "r.json", *PLAIN_SGD))


def test_dead_letters_kafka_python_cannot_send_as_is_are_adapted_not_fatal(
    kafka_bootstrap, kafka_client
):
    """A null header value or a keyless null value (legal in Kafka, refused by the producer)."""
    dlq = name("dlq-edge")
    kw = {"bootstrap_servers": kafka_bootstrap, "client": kafka_client}
    ensure_topic(kw, dlq, 1)
    out = KafkaOutputs(make_producer(kw),
                       dead_letter_topic=dlq, flush_timeout=20)
    try:
        out.add([
            (Message("t", 0, 7, None, None, (("h", None),)), BadRecord(Reason.EMPTY, "no value")),
            (Message("t", 0, 8, b"x", b"k", (("h", b"v"),)), BadRecord(Reason.INVALID_JSON)),
        ])
        out.flush()
    finally:
        out.close()
    assert out.errors == 0
    first, second = read_topic(kafka_bootstrap, dlq, expected=2)
    assert (first.value, first.key) == (None, b"")
    assert dict(first.headers)["h"] == b"" and dict(first.headers)["null_key"] == b"true"
    assert (second.value, second.key, dict(second.headers)["h"]) == (b"x", b"k", b"v")


# -- rebalances ---------------------------------------------------------------------------------


def test_a_rebalance_checkpoints_before_letting_go_and_loses_nothing(
    kafka_bootstrap, tmp_path, assert_same_model
):
    """A second member joins the group: the first checkpoints what it learned before revocation.

    Periodic checkpoints are off, so the only checkpoint before the end can come from the
    revocation. The member then leaves, the first gets the partition back, learns more rows, and
    is stopped with SIGTERM: the model is the replay of every row, once.
    """
    from kafka import KafkaConsumer

    first, more = rows(300, seed=21), rows(100, seed=22)
    topic, group, ckpt, log = name("rebalance"), name("g"), tmp_path / "c.json", tmp_path / "err"
    produce_values(kafka_bootstrap, topic, [orjson.dumps(r) for r in first])
    # Heartbeats every 0.3 s (default 3 s): the member's join and leave are noticed at once.
    proc = spawn(kafka_bootstrap, topic, group, ckpt, log, "--batch-size", "50",
                 "--checkpoint-every", "1000000", "--checkpoint-interval", "3600",
                 "--log-interval", "0.2", "--broker-timeout", "30",
                 "--set", "kafka.heartbeat_interval_ms=300")
    member = None
    try:
        wait_until(lambda: "messages=300 " in log.read_text(), proc, "300 messages learned", log)
        assert not ckpt.exists()
        member = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                               enable_auto_commit=False, session_timeout_ms=10_000)
        member.subscribe([topic])
        wait_until(lambda: member.poll(timeout_ms=200) is not None and ckpt.exists(), proc,
                   "the checkpoint written on revocation", log, every=0)
        ck = read_checkpoint(ckpt)
        assert ck.offsets == {f"{topic}:0": 300} and ck.counters["messages"] == 300
        assert SGDRegressor.from_dict(ck.model).n_updates == sum("y" in r for r in first)
        member.close(autocommit=False)
        member = None
        produce_values(kafka_bootstrap, topic, [orjson.dumps(r) for r in more])
        wait_until(lambda: "messages=400 " in log.read_text(), proc, "400 messages learned",
                   log)
    finally:
        if member is not None:
            member.close(autocommit=False)
        code = stop(proc, signal.SIGTERM)
    assert code == 0, log.read_text()[-3000:]
    ck = read_checkpoint(ckpt)
    assert ck.offsets == {f"{topic}:0": 400} and ck.counters["messages"] == 400
    both = write_jsonl(tmp_path / "all.jsonl", [orjson.dumps(r) for r in first + more])
    assert_same_model(model_of(ckpt), replay(both, tmp_path / "r.json"))


def test_aborted_transactions_are_not_learned(
    kafka_bootstrap, kafka_client, tmp_path, assert_same_model
):
    """read_committed: the rows of an aborted transaction never reach the model."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = name("tx")
    ensure_topic({"bootstrap_servers": kafka_bootstrap}, topic, 1)
    committed, aborted = rows(60, seed=11), rows(20, seed=12)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=name("txid"))
    try:
        producer.init_transactions()
        for batch, commit in ((committed[:30], True), (aborted, False), (committed[30:], True)):
            producer.begin_transaction()
            for row in batch:
                producer.send(topic, orjson.dumps(row), partition=0)
            producer.flush()  # the aborted rows are in the log, behind an abort marker
            producer.commit_transaction() if commit else producer.abort_transaction()
    finally:
        producer.close(timeout=5)
    ckpt, group = tmp_path / "c.json", name("g")
    assert consume(kafka_bootstrap, topic, group, ckpt, "-q") == 0
    assert read_checkpoint(ckpt).counters["messages"] == len(committed)
    if kafka_client == "confluent":  # the consumer's position: past the last commit marker
        probe = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                              enable_auto_commit=False)
        try:
            tp = TopicPartition(topic, 0)
            end = probe.end_offsets([tp])[tp]
            assert end == len(committed) + len(aborted) + 3  # 3 transaction markers
            assert probe.committed(tp) == end  # lag 0
        finally:
            probe.close(autocommit=False)
    valid = write_jsonl(tmp_path / "committed.jsonl", [orjson.dumps(r) for r in committed])
    assert_same_model(model_of(ckpt), replay(valid, tmp_path / "r.json"))


@pytest.mark.kafka_python_only  # librdkafka runs rebalance callbacks between batches, on the
# polling thread, and drops the records fetched before them: it has no such race
def test_records_before_the_position_are_never_handed_out_again(kafka_bootstrap, kafka_client):
    """A seek back (a rebalance racing a batch being learned) must not replay learned records."""
    from kafka import TopicPartition

    topic = name("seek")
    produce_values(kafka_bootstrap, topic, [orjson.dumps({"a": i}) for i in range(30)])
    source = KafkaSource(topic, name("g"), {"bootstrap_servers": kafka_bootstrap},
                         broker_timeout=20)
    try:
        got: list[Message] = []
        wait_until(lambda: got.extend(source.poll(100, 0.2) or []) or len(got) >= 30, None,
                   "30 messages", every=0)
        assert [m.offset for m in got] == list(range(30))
        source.advance(got)
        source.consumer.seek(TopicPartition(topic, 0), 0)
        produce_values(kafka_bootstrap, topic, [orjson.dumps({"a": i}) for i in range(30, 35)])
        again: list[Message] = []
        wait_until(lambda: again.extend(source.poll(100, 0.2) or []) or len(again) >= 5, None,
                   "the 5 new messages", every=0)
        assert [m.offset for m in again] == list(range(30, 35))
        source.advance(again)
        assert source.offsets() == {partition_key(topic, 0): 35}
    finally:
        source.close()


# -- checkpoints ---------------------------------------------------------------------------------


def _good_checkpoint(path: Path, topic: str) -> bytes:
    model = SGDRegressor(learning_rate=0.5, intercept_lr=0.5, update="normalized")
    for i in range(20):
        model.learn_one({"a": float(i), "b": 1.0}, 2.0 * i)
    write_checkpoint(path, Checkpoint(
        model=model.to_dict(), offsets={f"{topic}:0": 20},
        source={"kind": "kafka", "topic": topic, "group": "g"},
        counters={"messages": 20}, schema={"target": "y", "features": ["a", "b"], "ignore": [],
                                           "explicit": False},
    ))
    return path.read_bytes()


def _flip_a_bit(data: bytes) -> bytes:
    at = data.index(b'"scalars"')
    while not data[at : at + 1].isdigit():
        at += 1
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _wrong_checksum(data: bytes) -> bytes:
    doc = json.loads(data)
    doc["checksum"] = "0" * 64
    return json.dumps(doc).encode()


DAMAGE = {
    "truncated": (lambda d: d[: len(d) // 2], "not valid JSON"),
    "bit-flipped": (_flip_a_bit, "checksum mismatch"),
    "wrong checksum": (_wrong_checksum, "checksum mismatch"),
    "a pickle": (lambda d: pickle.dumps(json.loads(d)), "not valid JSON"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_before_connecting_and_left_untouched(
    damage, tmp_path, capsys
):
    ckpt, topic = tmp_path / "c.json", "t"
    edit, why = DAMAGE[damage]
    damaged = edit(_good_checkpoint(ckpt, topic))
    ckpt.write_bytes(damaged)
    started = time.monotonic()
    # Nothing listens on port 9: a refusal must come from the checkpoint, not the network.
    code = main(["consume", "-q", "--bootstrap-servers", "127.0.0.1:9", "--topic", topic,
                 "--group", "g", "--checkpoint", str(ckpt), "--broker-timeout", "30"])
    err = capsys.readouterr().err
    assert code == EXIT_CHECKPOINT, err
    assert time.monotonic() - started < 10
    assert f"checkpoint '{ckpt}' is corrupt or truncated ({why}" in err
    assert "refusing to use it" in err
    assert ckpt.read_bytes() == damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]  # the lock file removed


# -- secrets ------------------------------------------------------------------------------------


@pytest.fixture
def restore_log_levels():
    """`main(["-vv"])` turns kafka-python's DEBUG logs on for the process: turn them off after."""
    loggers = [logging.getLogger(n) for n in ("kafka", "consumers")]
    levels = [lg.level for lg in loggers]
    yield
    for lg, level in zip(loggers, levels):
        lg.setLevel(level)


SECRET = "Rel-1abIlity-s3cret-" + uuid.uuid4().hex


def _secure_config(path: Path, bootstrap: str, protocol: str) -> Path:
    path.write_text(Path(KAFKA_CONFIG).read_text())
    import yaml

    config = yaml.safe_load(path.read_text())
    config["kafka"].update(
        bootstrap_servers=bootstrap, security_protocol=protocol, sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="alice", sasl_plain_password_env="OLR_TEST_SCRAM_PASSWORD",
        ssl_check_hostname=False,
    )
    path.write_text(yaml.safe_dump(config))
    return path


def test_sasl_ssl_scram_secret_reaches_the_client_and_nothing_else(
    kafka_bootstrap, tmp_path, monkeypatch, capsys, caplog, restore_log_levels
):
    """SASL_SSL + SCRAM: the password goes to kafka-python's kwargs, never to logs or reprs.

    The session broker speaks PLAINTEXT, so the TLS handshake fails and the run exits 4 after
    --broker-timeout (1 s: the first attempt fails at once); kafka-python's own DEBUG logs are
    captured too (-vv).
    """
    from kafka import KafkaConsumer, KafkaProducer

    from consumers.config import load_settings

    monkeypatch.setenv("OLR_TEST_SCRAM_PASSWORD", SECRET)
    config = _secure_config(tmp_path / "secure.yaml", kafka_bootstrap, "SASL_SSL")
    settings = load_settings("kafka", config)
    kw = settings.kafka.client_kwargs()
    assert SECRET not in repr(kw) and SECRET not in str(kw)  # kafka-python logs such dicts
    for cls in (KafkaConsumer, KafkaProducer):
        passed = client_config(cls, kw)
        assert passed["sasl_plain_password"] == SECRET
        assert (passed["security_protocol"], passed["sasl_mechanism"]) == ("SASL_SSL",
                                                                           "SCRAM-SHA-512")
        assert passed["sasl_plain_username"] == "alice"
    for role in ("consumer", "producer", "admin"):
        passed = librdkafka_config(kw, role)
        assert SECRET not in repr(passed) and passed["sasl.password"] == SECRET
        assert (passed["security.protocol"], passed["sasl.mechanisms"]) == ("SASL_SSL",
                                                                            "SCRAM-SHA-512")
        assert passed["sasl.username"] == "alice"
        assert passed["ssl.endpoint.identification.algorithm"] == "none"
    ckpt = tmp_path / "c.json"
    with caplog.at_level(logging.DEBUG):
        code = main(["consume", "-vv", "--config", str(config), "--topic", name("sec"),
                     "--group", "g", "--checkpoint", str(ckpt), "--broker-timeout", "1",
                     *client_args()])
    out, err = capsys.readouterr()
    assert code == EXIT_BROKER, err
    assert len(caplog.records) > 5  # DEBUG logging really was on
    for text in (caplog.text, out, err, repr(settings), str(settings.kafka)):
        assert SECRET not in text
    assert not ckpt.exists()


def test_a_run_with_a_password_in_its_client_settings_writes_no_secret_anywhere(
    kafka_bootstrap, tmp_path, monkeypatch, capsys, caplog, restore_log_levels
):
    """A full run whose clients get the password (unused by a PLAINTEXT listener)."""
    monkeypatch.setenv("OLR_TEST_SCRAM_PASSWORD", SECRET)
    config = _secure_config(tmp_path / "plain.yaml", kafka_bootstrap, "PLAINTEXT")
    topic, ckpt = name("sec-ok"), tmp_path / "c.json"
    values = [orjson.dumps(r) for r in rows(40, seed=9)] + [b"junk"]
    produce_values(kafka_bootstrap, topic, values)
    with caplog.at_level(logging.DEBUG):
        code = main(["consume", "-vv", "--config", str(config), "--topic", topic,
                     "--group", name("g"), "--checkpoint", str(ckpt), "--stop-at-end",
                     "--dead-letter-topic", name("dlq"), *client_args()])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert read_checkpoint(ckpt).offsets == {f"{topic}:0": 41}
    for text in (caplog.text, out, err):
        assert SECRET not in text
    assert SECRET.encode() not in ckpt.read_bytes()
