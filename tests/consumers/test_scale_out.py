"""Scale-out: consumer-group workers against the real broker (the mixing itself: test_mixing).

Workers run as separate ``python -m consumers consume`` processes in one group, each with its own
checkpoint; the group's committed offsets hand partitions over between them. They run until
their checkpoints account for every message produced, then stop on SIGTERM (exit 0).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka_helpers import client_args, name, write_jsonl

from consumers.checkpoint import read_checkpoint
from consumers.cli import main
from consumers.topics import ensure_topic
from online_lr import SGDRegressor

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("kafka_client")


# -- workers against the real broker -------------------------------------------------------------


def produce_rows(bootstrap: str, tmp_path: Path, n: int, topic: str, seed: int = 21) -> int:
    """``n`` rows to the 4-partition ``topic``; the number of labelled ones."""
    path = tmp_path / f"rows-{seed}.jsonl"
    rows = write_jsonl(path, n, seed=seed)
    assert main(["produce", str(path), "--topic", topic, "--bootstrap-servers", bootstrap,
                 "--partitions", "4", "--key-field", "id", "-q"]) == 0
    return sum("y" in r for r in rows)


def wait_for_members(bootstrap: str, group: str, count: int, timeout: float = 25.0) -> None:
    """Until ``group`` is stable with ``count`` members."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                desc = admin.describe_groups([group])[group]
            except KafkaError:  # no coordinator yet (a fresh broker)
                desc = {"group_state": None, "members": []}
            if desc["group_state"] == "Stable" and len(desc["members"]) == count:
                return
            time.sleep(0.2)
    finally:
        admin.close()
    pytest.fail(f"group {group} never had {count} stable members")


#: Members heartbeat every 0.3 s (the clients' default: 3 s), so a join or a leave starts the
#: rebalance at once: the hand-over is under test, not how soon the group notices.
QUICK_REBALANCE = ("--set", "kafka.heartbeat_interval_ms=300")

#: Mixing is under test here, not the default model: the workers learn a model known to converge
#: on these rows (b has 10x a's scale), whatever ``SGDRegressor()``'s defaults are.
MIXED_MODEL = ("--set", "model.update=normalized", "--set", "model.learning_rate=0.5",
               "--set", "model.intercept_lr=0.5")


def worker(bootstrap: str, topic: str, group: str, ckpt: Path, model_topic: str,
           *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "consumers", "consume", "-q", *client_args(),
         "--bootstrap-servers", bootstrap,
         "--topic", topic, "--group", group, "--checkpoint", str(ckpt), "--ignore", "id",
         "--broker-timeout", "30", "--batch-size", "50", "--checkpoint-every", "200",
         "--checkpoint-interval", "0.3", "--mix-every", "100", "--model-topic", model_topic,
         *QUICK_REBALANCE, *MIXED_MODEL, *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def checkpointed_messages(ckpts: list[Path]) -> int:
    """The messages the workers' checkpoints account for, together."""
    return sum(read_checkpoint(c).counters["messages"] for c in ckpts if c.exists())


def finish(procs: list[subprocess.Popen], ckpts: list[Path], n: int | None,
           timeout: float = 60.0) -> None:
    """Once the checkpoints account for ``n`` messages, SIGTERM every worker: each exits 0.

    ``n=None`` (the test failed before it produced its rows): stop them at once.
    """
    deadline = time.monotonic() + timeout
    while n is not None and checkpointed_messages(ckpts) < n and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break  # a worker exited before the end: its exit code tells below
        time.sleep(0.05)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            _, err = p.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        assert p.returncode == 0, err.decode()[-3000:]


def committed(bootstrap: str, group: str, topic: str) -> dict[str, int]:
    from kafka import KafkaConsumer, TopicPartition

    probe = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {f"{topic}:{p}": probe.committed(TopicPartition(topic, p)) for p in range(4)}
    finally:
        probe.close(autocommit=False)


def assert_exactly_once(bootstrap: str, group: str, ckpts: list[Path], topic: str, n: int,
                        labelled: int) -> None:
    cks = [read_checkpoint(c) for c in ckpts]
    models = [SGDRegressor.from_dict(c.model) for c in cks]
    assert sum(m.n_updates for m in models) == labelled
    assert sum(c.counters["learned"] for c in cks) == labelled
    assert sum(c.counters["messages"] for c in cks) == n
    # Every partition was read to its end: by the checkpoints, which the group's committed
    # offsets (the hand-over between workers) agree with.
    ends: dict[str, int] = {}
    for c in cks:
        for key, offset in c.offsets.items():
            ends[key] = max(ends.get(key, 0), offset)
    group_offsets = committed(bootstrap, group, topic)
    assert sum(group_offsets.values()) == n
    for key, offset in ends.items():
        assert offset <= group_offsets[key]
    assert sum(ends.values()) == n or set(ends) < set(group_offsets)


def test_two_workers_learn_every_labelled_row_once_and_publish_their_models(
    kafka_bootstrap, tmp_path, capsys
):
    n = 4000
    topic, group, model_topic = name("scale"), name("g"), name("models")
    ensure_topic({"bootstrap_servers": kafka_bootstrap}, topic, 4)
    ckpts = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = [worker(kafka_bootstrap, topic, group, c, model_topic) for c in ckpts]
    produced = None
    try:
        wait_for_members(kafka_bootstrap, group, 2)
        labelled = produce_rows(kafka_bootstrap, tmp_path, n, topic)
        produced = n
    finally:
        finish(procs, ckpts, produced)
    assert_exactly_once(kafka_bootstrap, group, ckpts, topic, n, labelled)
    cks = [read_checkpoint(c) for c in ckpts]
    assert all(c.counters["learned"] > 0 for c in cks)  # both took part
    capsys.readouterr()
    assert main(["model", "--topic", model_topic, "--bootstrap-servers", kafka_bootstrap,
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["workers"]) == 2
    # The model topic holds each worker's latest model: the mix of them is close to the truth
    # (y = 3a - 0.2b + 0.5), and its sample count is what the workers had learned when they
    # last published (at most the labelled rows).
    models = [SGDRegressor.from_dict(read_checkpoint(c).model) for c in ckpts]
    for feature in ("a", "b"):  # between the two workers' final (mixed) models
        lo, hi = sorted(m.weights[feature] for m in models)
        assert lo - 0.2 <= doc["weights"][feature] <= hi + 0.2
    assert doc["weights"]["a"] > 1.0 and doc["weights"]["b"] < 0.0
    assert 0 < doc["samples"] <= labelled
    assert main(["model", "--topic", model_topic, "--bootstrap-servers", kafka_bootstrap]) == 0
    text = capsys.readouterr().out
    assert "workers:         2" in text and f"total samples:   {doc['samples']}" in text


def test_a_worker_joining_mid_stream_takes_partitions_over_exactly_once(
    kafka_bootstrap, tmp_path
):
    """A learns the first half alone; B joins (rebalance); the second half is shared."""
    half = 3000
    topic, group, model_topic = name("scale"), name("g"), name("models")
    a_ckpt, b_ckpt = tmp_path / "a.json", tmp_path / "b.json"
    labelled = produce_rows(kafka_bootstrap, tmp_path, half, topic, seed=1)
    n, produced = 2 * half, None
    procs = [worker(kafka_bootstrap, topic, group, a_ckpt, model_topic)]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and procs[0].poll() is None:
            if checkpointed_messages([a_ckpt]) == half:
                break
            time.sleep(0.05)
        procs.append(worker(kafka_bootstrap, topic, group, b_ckpt, model_topic))
        wait_for_members(kafka_bootstrap, group, 2)
        labelled += produce_rows(kafka_bootstrap, tmp_path, half, topic, seed=2)
        produced = n
    finally:
        finish(procs, [a_ckpt, b_ckpt], produced)
    a_ck, b_ck = read_checkpoint(a_ckpt), read_checkpoint(b_ckpt)
    assert half < a_ck.counters["messages"] < n, "A learned no second-half row, or all of them"
    assert b_ck.counters["messages"] > 0, "B got nothing: no rebalance happened"
    assert_exactly_once(kafka_bootstrap, group, [a_ckpt, b_ckpt], topic, n, labelled)
