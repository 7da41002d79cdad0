"""End-to-end throughput of ``online-lr consume`` against a bare Kafka reader and River.

Run: ``python bench/bench_consume.py`` (a few minutes). It starts its own broker
(``scripts/kafka-local`` with a temporary state dir), produces ``--messages`` JSON messages of
10 numeric features and a target ``y`` to a one-partition topic (not timed), then times three
kinds of *whole processes* (spawn to exit), interleaved, best of ``--repeat``, each with a fresh
consumer group:

(a) a bare kafka-python consumer that reads the messages and ``json.loads`` each (the reference:
    what the Kafka client costs);
(b) ``online-lr consume --max-messages N`` with a fresh checkpoint and the default config
    (predictions not published);
(c) the naive River loop: poll, ``json.loads``, ``LinearRegression.predict_one`` + ``learn_one``.

It prints a Markdown table with the bars (b) <= 1.25 x (a) and (c) >= 2 x (b), then the start-up
costs: ``online-lr --help``, ``import consumers.cli`` and the time from process start to the
first batch handled by ``consume`` (its ``-v`` debug line).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

import _harness as h

RIVER = """
import json, sys, time
from kafka import KafkaConsumer
from river import linear_model
address, topic, group, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
model = linear_model.LinearRegression()
c = KafkaConsumer(topic, bootstrap_servers=address, group_id=group,
                  auto_offset_reset="earliest", enable_auto_commit=False)
seen, deadline = 0, time.monotonic() + 600
while seen < n and time.monotonic() < deadline:
    for records in c.poll(timeout_ms=1000, max_records=min(500, n - seen)).values():
        for r in records:
            x = json.loads(r.value)
            y = x.pop("y")
            model.predict_one(x)
            model.learn_one(x, y)
            seen += 1
c.close()
assert seen == n, seen
"""


def consume_cmd(address: str, topic: str, group: str, n: int, ckpt: str, *extra: str) -> list:
    return [*h.ONLINE_LR, "consume", "--topic", topic, "--bootstrap-servers", address,
            "--group", group, "--checkpoint", ckpt, "--max-messages", str(n), *extra]


def first_batch_seconds(cmd: list[str]) -> tuple[float, float]:
    """(seconds to the first batch's debug line, seconds to exit) of one ``consume -v`` run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first: float | None = None
    assert proc.stderr is not None
    for line in proc.stderr:
        if first is None and "first batch" in line:
            first = time.perf_counter() - start
    proc.wait(timeout=600)
    if proc.returncode != 0 or first is None:
        raise RuntimeError(f"consume exited {proc.returncode} (first batch line: {first})")
    return first, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--bootstrap-servers", default=None,
                   help="use this broker instead of starting one (it must be disposable)")
    args = p.parse_args(argv)
    n, topic = args.messages, f"bench-{uuid.uuid4().hex[:8]}"
    work = tempfile.mkdtemp(prefix="online-lr-bench-")

    def run(address: str) -> None:
        took = h.produce_json(address, topic, n, 10)
        print(f"produced {n:,} messages to {topic} in {took:.1f}s (not timed)", file=sys.stderr)
        times: dict[str, list[float]] = {"a": [], "b": [], "c": []}
        cpus: dict[str, list[float]] = {"a": [], "b": [], "c": []}
        for r in range(args.repeat):
            for kind in ("a", "b", "c"):
                group = f"g-{kind}-{r}-{uuid.uuid4().hex[:6]}"
                if kind == "a":
                    cmd = [h.PYTHON, "-c", h.BARE_READER, address, topic, group, str(n)]
                elif kind == "b":
                    ckpt = os.path.join(work, f"{group}.ckpt.json")
                    cmd = consume_cmd(address, topic, group, n, ckpt)
                else:
                    cmd = [h.PYTHON, "-c", RIVER, address, topic, group, str(n)]
                wall, cpu, _ = h.run_timed(cmd)
                times[kind].append(wall)
                cpus[kind].append(cpu)
                print(f"  run {r + 1} ({kind}): {wall:.2f}s wall, {cpu:.2f}s CPU", file=sys.stderr)
        best = {k: min(v) for k, v in times.items()}
        labels = {
            "a": "(a) bare kafka-python consumer + `json.loads` (reference)",
            "b": "(b) `online-lr consume` (default config, checkpointed)",
            "c": "(c) River `LinearRegression` predict_one + learn_one loop",
        }
        cpu = {k: min(v) for k, v in cpus.items()}
        rows = [[labels[k], f"{best[k]:.2f}", f"{n / best[k]:,.0f}", f"{best[k] / best['a']:.2f}x",
                 f"{cpu[k]:.2f}"] for k in ("a", "b", "c")]
        print(f"\n{n:,} messages, 10 features, one partition; whole processes, best of "
              f"{args.repeat}; load average {h.load()}\n")
        print(h.markdown(["process", "wall s", "messages/s", "vs (a)", "CPU s"], rows))
        ok1 = best["b"] <= 1.25 * best["a"]
        ok2 = best["c"] >= 2.0 * best["b"]
        print("\nCPU s: user + sys of the process (steadier than wall time on a shared host).")
        print(f"\nbar (b) <= 1.25 x (a): {best['b'] / best['a']:.2f}x -> "
              f"{'met' if ok1 else 'NOT met'}")
        print(f"bar (c) >= 2 x (b):    {best['c'] / best['b']:.2f}x -> "
              f"{'met' if ok2 else 'NOT met'}")

        starts = []
        for r in range(args.repeat):
            help_s = h.run_timed([*h.ONLINE_LR, "--help"])[0]
            import_s = h.run_timed([h.PYTHON, "-c", "import consumers.cli"])[0]
            group = f"g-first-{r}-{uuid.uuid4().hex[:6]}"
            ckpt = os.path.join(work, f"{group}.ckpt.json")
            first, total = first_batch_seconds(consume_cmd(address, topic, group, 5000, ckpt,
                                                           "-v"))
            starts.append((help_s, import_s, first, total))
        help_s, import_s, first, total = (min(col) for col in zip(*starts))
        print(f"\nstart-up (best of {args.repeat}):\n")
        print(h.markdown(["", "wall s"], [
            ["`online-lr --help`", f"{help_s:.3f}"],
            ['`python -c "import consumers.cli"`', f"{import_s:.3f}"],
            ["`online-lr consume`: process start to first batch handled", f"{first:.3f}"],
            ["`online-lr consume --max-messages 5000`: whole process", f"{total:.3f}"],
        ]))
        print(f"\nbars {'met' if ok1 and ok2 else 'NOT all met'}")

    try:
        if args.bootstrap_servers:
            run(args.bootstrap_servers)
        else:
            with h.broker() as address:
                run(address)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
