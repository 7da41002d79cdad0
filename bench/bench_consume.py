"""End-to-end throughput of ``online-lr consume`` on both Kafka clients, against bare readers and River.

Run: ``python bench/bench_consume.py --messages 1000000`` (minutes). It starts its own broker
(``scripts/kafka-local`` with a temporary state dir), produces ``--messages`` JSON messages of
10 numeric features and a target ``y`` to a one-partition topic (not timed), then times six
kinds of *whole processes* (spawn to exit), interleaved round by round, each with a fresh
consumer group, and prints the median and the best of ``--repeat`` rounds:

kafka-python (``kafka.client: kafka-python``, the default)

(a) a bare kafka-python consumer that reads the messages and ``json.loads`` each (what the
    client costs);
(b) ``online-lr consume --max-messages N`` with a fresh checkpoint and the default config
    (predictions not published);
(c) the naive River loop: poll, ``json.loads``, ``LinearRegression.predict_one`` + ``learn_one``.

confluent-kafka (librdkafka)

(d) a bare confluent-kafka consumer: ``consume(500)``, ``orjson.loads`` of each value;
(e) ``online-lr consume --client confluent``, otherwise as (b);
(f) the River loop of (c) on the consumer of (d), with ``orjson.loads``;
(g) the bare reader of (d) with online-lr's librdkafka fetch settings
    (`consumers.confluent_source.FETCH_DEFAULTS`): librdkafka's defaults pause fetching for a
    second whenever 100,000 messages are queued, which bounds (d) and (f), not the client.

Bars, on the median and on the best of the rounds: (e) <= 1.0 x (d), (f) >= 1.5 x (e),
(b) >= 3 x (e); and, for kafka-python, (b) <= 1.25 x (a) and (c) >= 2 x (b); (e) / (g) is
printed beside them (no bar). Then the start-up costs:
``online-lr --help``, ``import consumers.cli`` and the time from process start to the first
batch handled by ``consume`` (its ``-v`` debug line).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import _harness as h

from consumers.confluent_source import FETCH_DEFAULTS

RIVER = h.KAFKA_PYTHON_LOOP.format(
    setup="from river import linear_model\nmodel = linear_model.LinearRegression()",
    body="            x = json.loads(r.value)\n            y = x.pop('y')\n"
         "            model.predict_one(x)\n            model.learn_one(x, y)",
)

#: argv: bootstrap address, topic, group, n, and optionally more librdkafka settings as JSON.
_CONFLUENT_LOOP = """
import json, sys, time, orjson
from confluent_kafka import Consumer
address, topic, group, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
more = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {{}}
{setup}
c = Consumer({{"bootstrap.servers": address, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False, **more}})
c.subscribe([topic])
seen, deadline = 0, time.monotonic() + 600
while seen < n and time.monotonic() < deadline:
    for m in c.consume(min(500, n - seen), 1.0):
        if m.error() is None:
{body}
            seen += 1
c.close()
assert seen == n, seen
"""

BARE_CONFLUENT = _CONFLUENT_LOOP.format(setup="", body="            orjson.loads(m.value())")

RIVER_CONFLUENT = _CONFLUENT_LOOP.format(
    setup="from river import linear_model\nmodel = linear_model.LinearRegression()",
    body="            x = orjson.loads(m.value())\n            y = x.pop('y')\n"
         "            model.predict_one(x)\n            model.learn_one(x, y)",
)

KINDS = {
    "a": "(a) bare kafka-python consumer + `json.loads`",
    "b": "(b) `online-lr consume` (kafka-python, default config, checkpointed)",
    "c": "(c) River `LinearRegression` loop on kafka-python + `json.loads`",
    "d": "(d) bare confluent-kafka consumer + `orjson.loads` per message",
    "e": "(e) `online-lr consume --client confluent` (default config, checkpointed)",
    "f": "(f) River `LinearRegression` loop on confluent-kafka + `orjson.loads`",
    "g": "(g) bare confluent-kafka consumer + `orjson.loads`, online-lr's fetch settings",
}


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
    args = h.parse_args(p, argv)
    n, topic = args.messages, f"bench-{uuid.uuid4().hex[:8]}"
    work = tempfile.mkdtemp(prefix="online-lr-bench-")

    def run(address: str) -> None:
        took = h.produce_json(address, topic, n, 10)
        print(f"produced {n:,} messages to {topic} in {took:.1f}s (not timed)", file=sys.stderr)
        times: dict[str, list[float]] = {k: [] for k in KINDS}
        cpus: dict[str, list[float]] = {k: [] for k in KINDS}
        scripts = {"a": h.BARE_READER, "c": RIVER, "d": BARE_CONFLUENT, "f": RIVER_CONFLUENT,
                   "g": BARE_CONFLUENT}
        more = {"g": [json.dumps(FETCH_DEFAULTS)]}
        for r in range(args.repeat):
            for kind in KINDS:
                group = f"g-{kind}-{r}-{uuid.uuid4().hex[:6]}"
                if kind in scripts:
                    cmd = [h.PYTHON, "-c", scripts[kind], address, topic, group, str(n),
                           *more.get(kind, ())]
                else:
                    ckpt = os.path.join(work, f"{group}.ckpt.json")
                    client = "confluent" if kind == "e" else "kafka-python"
                    cmd = consume_cmd(address, topic, group, n, ckpt, "--client", client)
                wall, cpu, _ = h.run_timed(cmd)
                times[kind].append(wall)
                cpus[kind].append(cpu)
                print(f"  run {r + 1} ({kind}): {wall:.2f}s wall, {cpu:.2f}s CPU", file=sys.stderr)
        best = {k: min(v) for k, v in times.items()}
        median = {k: statistics.median(v) for k, v in times.items()}
        cpu = {k: min(v) for k, v in cpus.items()}
        rows = [[KINDS[k], f"{median[k]:.2f}", f"{best[k]:.2f}", f"{n / best[k]:,.0f}",
                 f"{best[k] / best['d']:.2f}x", f"{cpu[k]:.2f}"] for k in KINDS]
        print(f"\n{n:,} messages, 10 features, one partition; whole processes, median and best "
              f"of {args.repeat}; load average {h.load()}\n")
        print(h.markdown(["process", "median s", "best s", "messages/s (best)", "vs (d)",
                          "CPU s (best)"], rows))
        print("\nCPU s: user + sys of the process (steadier than wall time on a shared host).\n")
        bars = [("(e) <= 1.0 x (d)", "e", "d", 1.0, "<="),
                ("(f) >= 1.5 x (e)", "f", "e", 1.5, ">="),
                ("(b) >= 3 x (e)", "b", "e", 3.0, ">="),
                ("(b) <= 1.25 x (a)", "b", "a", 1.25, "<="),
                ("(c) >= 2 x (b)", "c", "b", 2.0, ">=")]
        met = []
        for label, x, y, bar, sense in bars:
            ratios = {"median": median[x] / median[y], "best": best[x] / best[y]}
            ok = {k: (r <= bar if sense == "<=" else r >= bar) for k, r in ratios.items()}
            met.append(all(ok.values()))
            print(f"bar {label}: " + ", ".join(
                f"{ratios[k]:.2f}x ({k}, {'met' if ok[k] else 'NOT met'})" for k in ratios))
        print(f"(e) / (g), no bar: {median['e'] / median['g']:.2f}x (median), "
              f"{best['e'] / best['g']:.2f}x (best)")
        ok1 = all(met)

        starts = []
        for r in range(args.repeat):
            help_s = h.run_timed([*h.ONLINE_LR, "--help"])[0]
            import_s = h.run_timed([h.PYTHON, "-c", "import consumers.cli"])[0]
            firsts = []
            for client in ("kafka-python", "confluent"):
                group = f"g-first-{r}-{uuid.uuid4().hex[:6]}"
                ckpt = os.path.join(work, f"{group}.ckpt.json")
                firsts += first_batch_seconds(consume_cmd(address, topic, group, 5000, ckpt,
                                                          "-v", "--client", client))
            starts.append((help_s, import_s, *firsts))
        help_s, import_s, first, total, first_c, total_c = (min(col) for col in zip(*starts))
        print(f"\nstart-up (best of {args.repeat}):\n")
        print(h.markdown(["", "wall s"], [
            ["`online-lr --help`", f"{help_s:.3f}"],
            ['`python -c "import consumers.cli"`', f"{import_s:.3f}"],
            ["`online-lr consume`: process start to first batch handled", f"{first:.3f}"],
            ["`online-lr consume --max-messages 5000`: whole process", f"{total:.3f}"],
            ["`online-lr consume --client confluent`: start to first batch", f"{first_c:.3f}"],
            ["`online-lr consume --client confluent --max-messages 5000`: whole process",
             f"{total_c:.3f}"],
        ]))
        print(f"\nbars {'met' if ok1 else 'NOT all met'}")

    try:
        h.on_broker(args.bootstrap_servers, run)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
