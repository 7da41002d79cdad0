"""Shared plumbing of the stream benchmarks: a throw-away broker, fast producing, timed processes.

Not a benchmark itself. Each ``bench_*.py`` imports it from its own directory, starts its own
broker with `broker()` (``scripts/kafka-local`` with a temporary ``--state-dir``, stopped on
exit), fills a topic with `produce_json`, and times whole processes with `run_timed`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"
T = TypeVar("T")
#: The interpreter of this run, and the ``online-lr`` command next to it (its venv's entry
#: point; ``python -m consumers`` when there is none).
PYTHON = sys.executable
_ENTRY = Path(PYTHON).with_name("online-lr")
ONLINE_LR = [str(_ENTRY)] if _ENTRY.exists() else [PYTHON, "-m", "consumers"]


#: A kafka-python consumer script reading ``n`` messages of a topic (argv: bootstrap address,
#: topic, group, n), to run as ``python -c SCRIPT ...``; ``{setup}`` runs first, ``{body}`` on
#: each record ``r`` (indented for the inner loop).
KAFKA_PYTHON_LOOP = """
import json, sys, time
from kafka import KafkaConsumer
address, topic, group, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
{setup}
c = KafkaConsumer(topic, bootstrap_servers=address, group_id=group,
                  auto_offset_reset="earliest", enable_auto_commit=False)
seen, deadline = 0, time.monotonic() + 600
while seen < n and time.monotonic() < deadline:
    for records in c.poll(timeout_ms=1000, max_records=min(500, n - seen)).values():
        for r in records:
{body}
            seen += 1
c.close()
assert seen == n, seen
"""

#: The reference consumer: kafka-python reading the messages and ``json.loads``-ing each.
BARE_READER = KAFKA_PYTHON_LOOP.format(setup="", body="            json.loads(r.value)")


def precompile() -> None:
    """Write the project's ``.pyc`` files, as installing it does (pip compiles what it installs),
    so that start-up is timed as users get it even where ``PYTHONDONTWRITEBYTECODE`` is set:
    otherwise every process compiles the project's modules anew (~0.4 s here)."""
    import compileall

    for package in ("consumers", "online_lr"):
        compileall.compile_dir(str(REPO / package), quiet=1)


def load() -> str:
    """The 1-minute load average, to be printed with every table (the host may be shared)."""
    return os.getloadavg().__repr__() if hasattr(os, "getloadavg") else "n/a"


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """A fresh local Kafka broker for this run; yields its bootstrap address."""
    state = tempfile.mkdtemp(prefix="online-lr-bench-kafka-")
    cmd = [PYTHON, str(KAFKA_LOCAL), "--state-dir", state]
    out = subprocess.run([*cmd, "start"], check=True, stdout=subprocess.PIPE, text=True)
    address = out.stdout.strip().splitlines()[-1]
    try:
        yield address
    finally:
        subprocess.run([*cmd, "stop"], check=False, stdout=subprocess.DEVNULL)
        import shutil

        shutil.rmtree(state, ignore_errors=True)


def parse_args(parser, argv: Sequence[str] | None = None, *, broker_option: bool = True):
    """A benchmark's arguments, with ``--bootstrap-servers`` (a broker to use instead of starting
    one, see `on_broker`) unless ``broker_option`` is False; then `precompile`."""
    if broker_option:
        parser.add_argument("--bootstrap-servers", default=None,
                            help="use this broker instead of starting one (it must be disposable)")
    args = parser.parse_args(argv)
    precompile()
    return args


def on_broker(address: str | None, run: Callable[[str], T]) -> T:
    """``run(address)``, on a fresh `broker` unless ``address`` names one."""
    if address:
        return run(address)
    with broker() as started:
        return run(started)


def json_lines(n: int, d: int, seed: int = 0, chunk: int = 100_000) -> Iterator[list[bytes]]:
    """``n`` JSON objects ``{"x0": .., .., "x{d-1}": .., "y": ..}`` in chunks, as bytes."""
    w = np.random.default_rng(12345).normal(size=d)  # the same true model for every seed
    rng = np.random.default_rng(seed)
    fmt = "{{" + ", ".join(f'"x{j}": {{:.6f}}' for j in range(d)) + ', "y": {:.6f}}}'
    done = 0
    while done < n:
        m = min(chunk, n - done)
        X = rng.normal(size=(m, d))
        y = X @ w + 2.0 + 0.1 * rng.normal(size=m)
        rows = np.column_stack([X, y]).tolist()
        yield [fmt.format(*row).encode() for row in rows]
        done += m


def produce_values(address: str, topic: str, chunks: Iterator[list[bytes]]) -> None:
    """Send every value of ``chunks`` to ``topic`` (which must exist), in order."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=address, acks=1, linger_ms=50,
                             batch_size=1 << 20, max_request_size=8 << 20)
    try:
        for values in chunks:
            for v in values:
                producer.send(topic, v)
        producer.flush(timeout=900)
    finally:
        producer.close(timeout=10)


def create_topic(address: str, topic: str) -> None:
    """Create ``topic`` with one partition."""
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=address)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()


def _produce_part(address: str, topic: str, n: int, d: int, seed: int) -> None:
    produce_values(address, topic, json_lines(n, d, seed))


def produce_json(address: str, topic: str, n: int, d: int, seed: int = 0,
                 workers: int = 1) -> float:
    """Create ``topic`` (one partition) and fill it with ``n`` messages; returns the seconds.

    ``workers`` > 1 produces with that many processes (interleaved in the partition; each
    part is its own seeded stream): kafka-python sends ~50k messages/s per process at best.
    """
    start = time.perf_counter()
    create_topic(address, topic)
    if workers <= 1:
        _produce_part(address, topic, n, d, seed)
    else:
        from concurrent.futures import ProcessPoolExecutor

        parts = [n // workers + (k < n % workers) for k in range(workers)]
        with ProcessPoolExecutor(workers) as pool:
            for done in [pool.submit(_produce_part, address, topic, m, d, seed + k)
                         for k, m in enumerate(parts)]:
                done.result()
    return time.perf_counter() - start


def run_timed(cmd: Sequence[str], *, cwd: str | None = None, env: dict | None = None,
              timeout: float = 900.0) -> tuple[float, float, str]:
    """(wall seconds spawn to exit, CPU seconds user + sys, stdout) of one whole process.

    CPU seconds are reported next to wall time because they hardly move when the host is
    shared; raises if the process fails or outlives ``timeout``.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=out, stderr=err)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"{cmd[:3]}... still running after {timeout:g}s")
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:3]}... exited {proc.returncode}:\n"
                               f"{err.read().decode(errors='replace')[-3000:]}")
        return wall, usage.ru_utime + usage.ru_stime, out.read().decode(errors="replace")


def markdown(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
