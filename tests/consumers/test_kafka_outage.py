"""Broker outages against the real broker (fixture ``kafka_broker``: pause / resume).

A consumer waits out a short outage and carries on; past ``--broker-timeout`` it exits 4 and
leaves its last good checkpoint. Each test pauses the session's broker, and resumes it even when
it fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

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


def start_consumer(bootstrap: str, topic: str, ckpt: Path, *extra: str,
                   log: Path | None = None) -> subprocess.Popen:
    """`python -m consumers consume ...`; its stderr to ``log`` if given (to wait on a line)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    err = subprocess.PIPE if log is None else log.open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "consumers", "consume", "--bootstrap-servers", bootstrap,
             "--topic", topic, "--group", name("g"), "--checkpoint", str(ckpt),
             "--checkpoint-interval", "0.3", "--log-interval", "1", *client_args(), *extra],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
        )
    finally:
        if log is not None:
            err.close()


def wait_for_offset(ckpt: Path, key: str, offset: int, proc: subprocess.Popen,
                    timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ck = read_checkpoint(ckpt) if ckpt.exists() else None
        if ck is not None and ck.offsets.get(key, 0) >= offset:
            return
        assert proc.poll() is None, (proc.communicate()[1] or "")[-3000:]
        time.sleep(0.05)
    raise AssertionError(f"checkpoint never reached offset {offset}")


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until the consumer's log holds ``text``, the consumer still running."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert proc.poll() is None, f"exited {proc.returncode}:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{log.read_text()[-3000:]}"
        time.sleep(0.05)


def test_outage_past_the_broker_timeout_exits_4_and_keeps_the_checkpoint(
    kafka_broker, tmp_path, capsys
):
    topic, ckpt = name("outage"), tmp_path / "c.json"
    produce(kafka_broker.bootstrap, rows_file(tmp_path / "r.jsonl", 0, 50), topic)
    proc = start_consumer(kafka_broker.bootstrap, topic, ckpt, "--broker-timeout", "4")
    try:
        wait_for_offset(ckpt, f"{topic}:0", 50, proc)
        before = ckpt.read_bytes()
        with kafka_broker.outage():
            _, err = proc.communicate(timeout=60)
            # At start, an unreachable broker is refused within the deadline too.
            started = time.monotonic()
            code = main(["consume", "-q", "--bootstrap-servers", kafka_broker.bootstrap,
                         "--topic", topic, "--group", name("g"), "--checkpoint", str(ckpt),
                         "--broker-timeout", "3", "--idle-timeout", "2", *client_args()])
            assert code == 4 and time.monotonic() - started < 30
            assert "cannot reach Kafka" in capsys.readouterr().err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 4, err[-3000:]
    assert "unreachable" in err, err[-3000:]
    assert read_checkpoint(ckpt).offsets == {f"{topic}:0": 50}
    assert ckpt.read_bytes() == before  # nothing changed: the last good checkpoint stays


def test_a_short_outage_is_waited_out(kafka_broker, tmp_path):
    """An outage longer than the idle timeout is not idleness: the consumer waits it out and
    learns what comes after, each row once. No sleep: the outage lasts from the pause until
    the consumer has seen it, plus the broker's restart (about 5 s here, over the 4 s)."""
    topic, ckpt, log = name("blip"), tmp_path / "c.json", tmp_path / "consumer.log"
    produce(kafka_broker.bootstrap, rows_file(tmp_path / "a.jsonl", 0, 40), topic)
    proc = start_consumer(kafka_broker.bootstrap, topic, ckpt, "--broker-timeout", "120",
                          "--idle-timeout", "4", log=log)
    try:
        wait_for_offset(ckpt, f"{topic}:0", 40, proc)
        with kafka_broker.outage():
            wait_for_line(log, "unreachable", proc)  # it sees the outage, and waits
        wait_for_line(log, "reachable again", proc)
        produce(kafka_broker.bootstrap, rows_file(tmp_path / "b.jsonl", 40, 40), topic)
        wait_for_offset(ckpt, f"{topic}:0", 80, proc)
        proc.send_signal(signal.SIGTERM)  # a clean stop: exit 0 after a last checkpoint
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]
    ck = read_checkpoint(ckpt)
    assert ck.offsets == {f"{topic}:0": 80} and ck.counters["learned"] == 80
    both = tmp_path / "both.jsonl"
    both.write_bytes((tmp_path / "a.jsonl").read_bytes() + (tmp_path / "b.jsonl").read_bytes())
    replayed = tmp_path / "r.json"
    assert main(["replay", str(both), "--config", str(REPO / "configs" / "kafka.yaml"),
                 "--checkpoint", str(replayed), "-q"]) == 0
    a = SGDRegressor.from_dict(ck.model)
    b = SGDRegressor.from_dict(read_checkpoint(replayed).model)
    assert a.weights == b.weights and a.intercept == b.intercept and a.n_updates == 80
