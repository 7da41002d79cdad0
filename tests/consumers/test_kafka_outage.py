"""Broker outages against the real broker (fixture ``kafka_broker``: pause / resume).

A consumer waits out a short outage and carries on; past ``--broker-timeout`` it exits 4 and
leaves its last good checkpoint. A broker restart costs seconds, so one outage of the session's
broker serves both, for each client library at once (their consumers are separate processes);
the broker is resumed even when the test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from consumers.clients import CLIENTS
from online_lr import SGDRegressor

REPO = Path(__file__).resolve().parents[2]

#: Reconnection attempts back off to at most 0.5 s (kafka-python's default: 30 s, librdkafka's
#: 10 s), so a consumer is back a moment after the broker is: the recovery is under test, not
#: the length of a backoff.
QUICK_RECONNECT = {
    "kafka-python": ("--set", "kafka.extra={reconnect_backoff_max_ms: 500}"),
    "confluent": ("--set", "kafka.extra={reconnect.backoff.max.ms: 500}"),
}
#: A 3 s session (heartbeats every second), not 10 s: a consumer that gives up during an outage
#: waits for its session to end before it exits (confluent: the hand-over commit; the test
#: broker allows sessions this short).
SHORT_SESSION = ("--set", "kafka.session_timeout_ms=3000",
                 "--set", "kafka.heartbeat_interval_ms=1000")


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


@dataclass
class Consumer:
    """A ``python -m consumers consume`` process of one client library, on its own topic."""

    client: str
    topic: str
    ckpt: Path
    log: Path  # its stderr
    proc: subprocess.Popen

    @classmethod
    def start(cls, bootstrap: str, client: str, workdir: Path, topic: str,
              *extra: str) -> Consumer:
        workdir.mkdir()
        ckpt, log = workdir / "c.json", workdir / "consumer.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with log.open("ab") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "consumers", "consume", "--bootstrap-servers", bootstrap,
                 "--topic", topic, "--group", name("g"), "--checkpoint", str(ckpt),
                 "--checkpoint-interval", "0.3", "--log-interval", "1", "--client", client,
                 *QUICK_RECONNECT[client], *extra],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
            )
        return cls(client, topic, ckpt, log, proc)

    def tail(self) -> str:
        return f"{self.client} consumer, exit {self.proc.poll()}:\n{self.log.read_text()[-3000:]}"

    def wait_for_offset(self, offset: int, timeout: float = 60.0) -> None:
        """Until its checkpoint holds ``offset`` (partition 0), the consumer still running."""
        deadline = time.monotonic() + timeout
        while True:
            ck = read_checkpoint(self.ckpt) if self.ckpt.exists() else None
            if ck is not None and ck.offsets.get(f"{self.topic}:0", 0) >= offset:
                return
            assert self.proc.poll() is None, self.tail()
            assert time.monotonic() < deadline, f"no offset {offset}; {self.tail()}"
            time.sleep(0.05)

    def wait_for_line(self, text: str, timeout: float = 60.0) -> None:
        """Until its log holds ``text``, the consumer still running."""
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text():
            assert self.proc.poll() is None, self.tail()
            assert time.monotonic() < deadline, f"no {text!r} in the log; {self.tail()}"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def refused_at_start(bootstrap: str, client: str, topic: str, ckpt: Path, capsys) -> None:
    """A consume started while the broker is down exits 4 within its broker timeout."""
    started = time.monotonic()
    code = main(["consume", "-q", "--bootstrap-servers", bootstrap, "--topic", topic,
                 "--group", name("g"), "--checkpoint", str(ckpt), "--broker-timeout", "1",
                 "--idle-timeout", "2", "--client", client])
    assert code == 4 and time.monotonic() - started < 30, client
    assert "cannot reach Kafka" in capsys.readouterr().err, client


def test_an_outage_is_waited_out_and_past_the_broker_timeout_ends_the_run_with_4(
    kafka_broker, tmp_path, capsys
):
    """One outage; per client library, three consumers. ``patient`` (idle timeout 4 s) waits it
    out and learns what comes after, each row once: an outage longer than the idle timeout is
    not idleness. ``hasty`` (broker timeout 2 s) exits 4 with its last good checkpoint
    untouched, and one started during the outage is refused within its broker timeout. No
    sleep: the outage lasts until those have exited, plus the broker's restart (over 5 s in
    all, past the 4 s)."""
    bootstrap = kafka_broker.bootstrap
    patient: dict[str, Consumer] = {}
    hasty: dict[str, Consumer] = {}
    try:
        for client in CLIENTS:
            topic, hasty_topic = name("blip"), name("outage")
            produce(bootstrap, rows_file(tmp_path / f"{topic}-a.jsonl", 0, 40), topic)
            produce(bootstrap, rows_file(tmp_path / f"{hasty_topic}.jsonl", 0, 50), hasty_topic)
            patient[client] = Consumer.start(bootstrap, client, tmp_path / topic, topic,
                                             "--broker-timeout", "120", "--idle-timeout", "4")
            hasty[client] = Consumer.start(bootstrap, client, tmp_path / hasty_topic,
                                           hasty_topic, "--broker-timeout", "2", *SHORT_SESSION)
        for client in CLIENTS:
            hasty[client].wait_for_offset(50)
            patient[client].wait_for_offset(40)
        before = {client: c.ckpt.read_bytes() for client, c in hasty.items()}
        with kafka_broker.outage():
            for client, c in hasty.items():
                c.proc.wait(timeout=60)
                # Its checkpoint: a refused start leaves it untouched too.
                refused_at_start(bootstrap, client, c.topic, c.ckpt, capsys)
            for c in patient.values():
                c.wait_for_line("unreachable")  # it sees the outage, and waits
        for c in patient.values():
            c.wait_for_line("reachable again")
            produce(bootstrap, rows_file(tmp_path / f"{c.topic}-b.jsonl", 40, 40), c.topic)
        for c in patient.values():
            c.wait_for_offset(80)
            c.proc.send_signal(signal.SIGTERM)  # a clean stop: exit 0 after a last checkpoint
        for c in patient.values():
            c.proc.wait(timeout=60)
    finally:
        for c in [*patient.values(), *hasty.values()]:
            c.kill()

    for client, c in hasty.items():
        assert c.proc.returncode == 4, c.tail()
        assert "unreachable" in c.log.read_text(), c.tail()
        assert read_checkpoint(c.ckpt).offsets == {f"{c.topic}:0": 50}, client
        assert c.ckpt.read_bytes() == before[client]  # the last good checkpoint stays

    for client, c in patient.items():
        assert c.proc.returncode == 0, c.tail()
        ck = read_checkpoint(c.ckpt)
        assert ck.offsets == {f"{c.topic}:0": 80} and ck.counters["learned"] == 80, client
        both = tmp_path / f"{c.topic}-both.jsonl"
        both.write_bytes((tmp_path / f"{c.topic}-a.jsonl").read_bytes()
                         + (tmp_path / f"{c.topic}-b.jsonl").read_bytes())
        replayed = tmp_path / f"{c.topic}-replayed.json"
        assert main(["replay", str(both), "--config", str(REPO / "configs" / "kafka.yaml"),
                     "--checkpoint", str(replayed), "-q"]) == 0
        a = SGDRegressor.from_dict(ck.model)
        b = SGDRegressor.from_dict(read_checkpoint(replayed).model)
        assert a.weights == b.weights and a.intercept == b.intercept, client
        assert a.n_updates == 80, client
