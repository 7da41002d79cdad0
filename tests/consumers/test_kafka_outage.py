"""Broker outages against the real broker (fixture ``kafka_broker``: pause / resume).

A consumer waits out a short outage and carries on; past ``--broker-timeout`` it exits 4 and
leaves its last good checkpoint. Both are seen in one outage of the session's broker (a restart
costs seconds), which is resumed even when the test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import kafka_helpers
import orjson
import pytest
from kafka_helpers import client_args

from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from online_lr import SGDRegressor

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("kafka_client")


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def rows_file(path: Path, start: int, n: int) -> Path:
    rows = [{"a": float(i % 7), "b": float(i % 3), "y": 2.0 * (i % 7) - (i % 3) + 1.0}
            for i in range(start, start + n)]
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


def produce(bootstrap: str, path: Path, topic: str) -> None:
    assert main(["produce", str(path), "--topic", topic, "--bootstrap-servers", bootstrap,
                 "-q"]) == 0


#: Reconnection attempts back off to at most 0.5 s (kafka-python's default: 30 s, librdkafka's
#: 10 s), so a consumer is back a moment after the broker is: the recovery is under test, not
#: the length of a backoff.
QUICK_RECONNECT = {
    "kafka-python": ("--set", "kafka.extra={reconnect_backoff_max_ms: 500}"),
    "confluent": ("--set", "kafka.extra={reconnect.backoff.max.ms: 500}"),
}
#: The broker's least session timeout (its group.min.session.timeout.ms), not 10 s: a consumer
#: that gives up during an outage leaves its group when its session ends.
SHORT_SESSION = ("--set", "kafka.session_timeout_ms=6000")


def start_consumer(bootstrap: str, topic: str, ckpt: Path, log: Path,
                   *extra: str) -> subprocess.Popen:
    """`python -m consumers consume ...`, its stderr to ``log`` (to wait on a line)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "consumers", "consume", "--bootstrap-servers", bootstrap,
             "--topic", topic, "--group", name("g"), "--checkpoint", str(ckpt),
             "--checkpoint-interval", "0.3", "--log-interval", "1", *client_args(),
             *QUICK_RECONNECT[kafka_helpers.CLIENT], *extra],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )


def wait_for_offset(ckpt: Path, key: str, offset: int, proc: subprocess.Popen, log: Path,
                    timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ck = read_checkpoint(ckpt) if ckpt.exists() else None
        if ck is not None and ck.offsets.get(key, 0) >= offset:
            return
        assert proc.poll() is None, f"exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)
    raise AssertionError(f"checkpoint never reached offset {offset}")


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until the consumer's log holds ``text``, the consumer still running."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_an_outage_is_waited_out_and_past_the_broker_timeout_ends_the_run_with_4(
    kafka_broker, tmp_path, capsys
):
    """One outage, three consumers. ``patient`` (idle timeout 4 s) waits it out and learns what
    comes after, each row once: an outage longer than the idle timeout is not idleness.
    ``hasty`` (broker timeout 2 s) exits 4 with its last good checkpoint untouched, and one
    started during the outage is refused within its broker timeout. No sleep: the outage lasts
    until both have exited, plus the broker's restart (over 5 s in all, past the 4 s)."""
    bootstrap = kafka_broker.bootstrap
    patient, hasty = tmp_path / "patient", tmp_path / "hasty"
    for d in (patient, hasty):
        d.mkdir()
    topic, ckpt, log = name("blip"), patient / "c.json", patient / "consumer.log"
    hasty_topic, hasty_ckpt, hasty_log = name("outage"), hasty / "c.json", hasty / "consumer.log"
    produce(bootstrap, rows_file(patient / "a.jsonl", 0, 40), topic)
    produce(bootstrap, rows_file(hasty / "r.jsonl", 0, 50), hasty_topic)
    procs = [start_consumer(bootstrap, topic, ckpt, log, "--broker-timeout", "120",
                            "--idle-timeout", "4"),
             start_consumer(bootstrap, hasty_topic, hasty_ckpt, hasty_log,
                            "--broker-timeout", "2", *SHORT_SESSION)]
    proc, hasty_proc = procs
    try:
        wait_for_offset(hasty_ckpt, f"{hasty_topic}:0", 50, hasty_proc, hasty_log)
        wait_for_offset(ckpt, f"{topic}:0", 40, proc, log)
        before = hasty_ckpt.read_bytes()
        with kafka_broker.outage():
            wait_for_line(log, "unreachable", proc)  # it sees the outage, and waits
            hasty_proc.wait(timeout=60)
            # At start, an unreachable broker is refused within the deadline too.
            started = time.monotonic()
            code = main(["consume", "-q", "--bootstrap-servers", bootstrap, "--topic",
                         hasty_topic, "--group", name("g"), "--checkpoint", str(hasty_ckpt),
                         "--broker-timeout", "1", "--idle-timeout", "2", *client_args()])
            assert code == 4 and time.monotonic() - started < 30
            assert "cannot reach Kafka" in capsys.readouterr().err
            assert proc.poll() is None, log.read_text()[-3000:]  # still waiting
        wait_for_line(log, "reachable again", proc)
        produce(bootstrap, rows_file(patient / "b.jsonl", 40, 40), topic)
        wait_for_offset(ckpt, f"{topic}:0", 80, proc, log)
        proc.send_signal(signal.SIGTERM)  # a clean stop: exit 0 after a last checkpoint
        proc.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert hasty_proc.returncode == 4, hasty_log.read_text()[-3000:]
    assert "unreachable" in hasty_log.read_text(), hasty_log.read_text()[-3000:]
    assert read_checkpoint(hasty_ckpt).offsets == {f"{hasty_topic}:0": 50}
    assert hasty_ckpt.read_bytes() == before  # nothing changed: the last good checkpoint stays

    assert proc.returncode == 0, log.read_text()[-3000:]
    ck = read_checkpoint(ckpt)
    assert ck.offsets == {f"{topic}:0": 80} and ck.counters["learned"] == 80
    both = patient / "both.jsonl"
    both.write_bytes((patient / "a.jsonl").read_bytes() + (patient / "b.jsonl").read_bytes())
    replayed = patient / "r.json"
    assert main(["replay", str(both), "--config", str(REPO / "configs" / "kafka.yaml"),
                 "--checkpoint", str(replayed), "-q"]) == 0
    a = SGDRegressor.from_dict(ck.model)
    b = SGDRegressor.from_dict(read_checkpoint(replayed).model)
    assert a.weights == b.weights and a.intercept == b.intercept and a.n_updates == 80
