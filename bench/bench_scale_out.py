"""Scale-out: one `online-lr consume` worker vs two in one group, on a 4-partition topic.

Self-contained: starts its own local broker (``scripts/kafka-local`` with a temporary state
dir, stopped at the end), writes a stationary synthetic stream (d features, y = x·w + b + noise),
produces it once, warms the broker up (`warm_up`), then, ``--rounds`` times, drains it

* with 1 worker process, and
* with 2 concurrent worker processes (``--mix-every K`` on a compacted model topic of their own),

each run in a fresh group. The runs alternate so that a drift of the machine's speed hits both
alike; the speed-up is the best steady rate of two workers over the best of one (see
`run_workers` for "steady"). Each round also compares the prequential MSE (summed over the
workers' checkpoints) and the hold-out MSE of the mixed model (``online-lr model``) with the
single worker's. Prints a Markdown table, with the cores the workers, the broker and the whole
machine kept busy during each steady window (read from /proc: on 2 cores shared with the
broker, how much a second worker can add is bounded by what is left). Run on a quiet machine::

    python bench/bench_scale_out.py [--rows 1000000] [--features 10] [--mix-every 5000]
                                    [--noise 1] [--rounds 2] [--client confluent]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import _harness as h
import numpy as np
import orjson

REPO = Path(__file__).resolve().parent.parent
IDLE_S = 3.0
SAMPLE_S = 0.1
MIN_WINDOW_S = 2.0  # shorter windows measure the rebalance, not the throughput
WARM_UP_MESSAGES = 60_000  # per worker


def repo_env() -> dict[str, str]:
    """The environment of the commands this script runs: this checkout's packages first."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def sh(*args: str, timeout: float = 1200, capture: bool = True) -> str:
    out = subprocess.run(list(args), cwd=REPO, env=repo_env(), capture_output=capture, text=True,
                         timeout=timeout, check=True)
    return out.stdout if capture else ""


def write_stream(path: Path, n: int, d: int, noise: float, seed: int) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    w, b = rng.normal(size=d), 0.5
    X = rng.normal(size=(n, d))
    y = X @ w + b + noise * rng.normal(size=n)
    with path.open("wb") as f:
        for i in range(n):
            row = {"id": i, **{f"x{j}": float(X[i, j]) for j in range(d)}, "y": float(y[i])}
            f.write(orjson.dumps(row) + b"\n")
    return w, b


def consume_cmd(bootstrap: str, topic: str, group: str, ckpt: Path, client: str,
                *extra: str) -> list[str]:
    return [sys.executable, "-m", "consumers", "consume", "-q", "--bootstrap-servers", bootstrap,
            "--topic", topic, "--group", group, "--checkpoint", str(ckpt), "--ignore", "id",
            "--idle-timeout", str(IDLE_S), "--batch-size", "500", "--client", client, *extra]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def consumed(port: int) -> float:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("online_lr_messages_consumed_total "):
                return float(line.split()[1])
    return 0.0


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, thread: int | None = None) -> float | None:
    """User + system CPU seconds of process ``pid`` (its threads included), or of one of its
    threads; None once gone."""
    where = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        fields = Path(where).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (every process, all cores)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / _TICKS  # minus idle and iowait


@dataclass
class Cores:
    """Cores busy on average over a steady window: the workers (and their main threads, which
    decode and learn under the GIL: librdkafka fetches in threads of its own), the broker, the
    machine."""

    workers: float
    main_threads: float
    broker: float
    machine: float


def wait_stable(bootstrap: str, group: str, members: int) -> None:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        for _ in range(1200):
            try:
                desc = admin.describe_groups([group])[group]
                if desc["group_state"] == "Stable" and len(desc["members"]) == members:
                    return
            except KafkaError:
                pass
            time.sleep(0.05)
    finally:
        admin.close()
    raise SystemExit(f"group {group} never became stable with {members} members")


def run_workers(bootstrap: str, group: str, cmds: list[list[str]], broker_pid: int
                ) -> tuple[float, float, float, Cores]:
    """(seconds from start to the last message learned, steady messages/s, steady window s,
    cores busy in the steady window).

    Steady state: from the moment the group is stable with every worker (start-up, joins and
    rebalances excluded) until the first worker has drained its partitions (after that the
    others finish alone: which partitions are left depends on what the first worker read while
    it was alone, before the others joined). Each worker's consumed count is scraped from its
    ``--metrics-port`` every `SAMPLE_S` seconds, with the CPU seconds of the workers, of the
    broker and of the whole machine (shared with whatever else runs).
    """
    ports = [free_port() for _ in cmds]
    start = time.perf_counter()
    procs = [subprocess.Popen([*c, "--metrics-port", str(port)], cwd=REPO, env=repo_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for c, port in zip(cmds, ports)]
    wait_stable(bootstrap, group, len(cmds))
    samples = []  # (time, [consumed count of each worker], CPU seconds)
    last = [0.0] * len(cmds)
    cpu = [0.0] * len(cmds)
    main = [0.0] * len(cmds)
    while any(p.poll() is None for p in procs):
        now = time.perf_counter()
        cpu = [cpu_seconds(p.pid) or cpu[k] for k, p in enumerate(procs)]
        main = [cpu_seconds(p.pid, p.pid) or main[k] for k, p in enumerate(procs)]
        used = Cores(sum(cpu), sum(main), cpu_seconds(broker_pid) or 0.0,
                     machine_busy_seconds())
        for k, (p, port) in enumerate(zip(procs, ports)):
            if p.poll() is None:
                try:
                    last[k] = consumed(port)
                except OSError:  # exiting: its last scraped count is final (it idled first)
                    pass
        samples.append((now, list(last), used))
        time.sleep(SAMPLE_S)
    for p in procs:
        _, err = p.communicate(timeout=60)
        if p.returncode != 0:
            raise SystemExit(f"worker failed ({p.returncode}): {err.decode()[-2000:]}")
    end = time.perf_counter() - IDLE_S
    # The first sample at which some worker had consumed everything it was going to.
    drained = min(next(i for i, (_, c, _) in enumerate(samples) if c[k] == last[k])
                  for k in range(len(cmds)))
    (t0, c0, u0), (t1, c1, u1) = samples[0], samples[max(drained, 1)]
    if t1 - t0 < MIN_WINDOW_S:
        raise SystemExit(f"group {group}: the steady window lasted {t1 - t0:.1f} s (a worker had "
                         f"little left once all had joined); use more --rows")
    cores = Cores(*((getattr(u1, f) - getattr(u0, f)) / (t1 - t0)
                    for f in ("workers", "main_threads", "broker", "machine")))
    return end - start, (sum(c1) - sum(c0)) / (t1 - t0), t1 - t0, cores


def warm_up(bootstrap: str, topic: str, tmp_path: Path, mix_every: int, client: str) -> None:
    """Run two mixing workers over part of the topic, untimed, in a group of their own.

    The broker is a JVM: until its just-in-time compiler has seen the fetch, produce and
    compaction paths, it spends CPU compiling them, which would burden whichever run comes
    first. A deployed broker is warm.
    """
    mix = ("--mix-every", str(mix_every), "--model-topic", "bench-warm-up-models")
    procs = [subprocess.Popen(consume_cmd(bootstrap, topic, "warm-up", tmp_path / f"warm-{k}.json",
                                          client, *mix, "--max-messages", str(WARM_UP_MESSAGES)),
                              cwd=REPO, env=repo_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
             for k in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        if p.returncode != 0:
            raise SystemExit(f"warm-up worker failed ({p.returncode}): {err.decode()[-2000:]}")


def prequential(ckpts: list[Path]) -> tuple[int, int, float]:
    """(messages, learned, prequential MSE) over the checkpoints: each worker's model's own
    running MSE, weighted by the rows it learned."""
    from online_lr import SGDRegressor

    cs = [json.loads(c.read_text())["counters"] for c in ckpts]
    learned = [c["learned"] for c in cs]
    mses = [SGDRegressor.load(c).running_mse for c in ckpts]
    total = sum(learned)
    return sum(c["messages"] for c in cs), total, sum(m * n for m, n in zip(mses, learned)) / total


def holdout_mse(
    weights: dict, intercept: float, w: np.ndarray, b: float, d: int, noise: float
) -> float:
    rng = np.random.default_rng(99)
    X = rng.normal(size=(20_000, d))
    y = X @ w + b + noise * rng.normal(size=20_000)
    coef = np.array([weights.get(f"x{j}", 0.0) for j in range(d)])
    return float(np.mean((X @ coef + intercept - y) ** 2))


@dataclass
class Run:
    workers: int
    wall_s: float  # from the processes' start to the last message learned
    rate: float  # steady messages/s
    window_s: float  # length of the steady window
    messages: int
    learned: int
    prequential_mse: float
    holdout_mse: float
    cores: Cores


def run_single(bootstrap: str, topic: str, tmp_path: Path, tag: str, truth: tuple,
               client: str, broker_pid: int) -> Run:
    ckpt = tmp_path / f"one-{tag}.json"
    group = f"one-{tag}"
    wall, rate, window, cores = run_workers(
        bootstrap, group, [consume_cmd(bootstrap, topic, group, ckpt, client)], broker_pid)
    from online_lr import SGDRegressor

    model = SGDRegressor.load(ckpt)  # weights and intercept in the data's units
    return Run(1, wall, rate, window, *prequential([ckpt]),
               holdout_mse(model.weights, model.intercept, *truth), cores)


def run_mixed(bootstrap: str, topic: str, tmp_path: Path, tag: str, truth: tuple,
              mix_every: int, client: str, broker_pid: int) -> Run:
    ckpts = [tmp_path / f"two-{tag}-{k}.json" for k in range(2)]
    group, models = f"two-{tag}", f"bench-models-{tag}"
    mix = ("--mix-every", str(mix_every), "--model-topic", models)
    wall, rate, window, cores = run_workers(
        bootstrap, group, [consume_cmd(bootstrap, topic, group, c, client, *mix) for c in ckpts],
        broker_pid)
    mixed = json.loads(sh(sys.executable, "-m", "consumers", "model", "--topic", models,
                          "--bootstrap-servers", bootstrap, "--json"))
    return Run(2, wall, rate, window, *prequential(ckpts),
               holdout_mse(mixed["weights"], mixed["intercept"], *truth), cores)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--mix-every", type=int, default=5000)
    ap.add_argument("--noise", type=float, default=1.0,
                    help="standard deviation of the noise of y (the weights are N(0, 1))")
    ap.add_argument("--client", default="kafka-python", choices=("kafka-python", "confluent"),
                    help="Kafka client library of the workers")
    ap.add_argument("--rounds", type=int, default=2,
                    help="rounds of (1 worker, 2 workers), interleaved; the best of each counts")
    args = h.parse_args(ap, broker_option=False)
    d = args.features
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
        tmp_path = Path(tmp)
        state = tmp_path / "kafka"
        launcher = [sys.executable, str(REPO / "scripts" / "kafka-local"), "--state-dir",
                    str(state)]
        bootstrap = sh(*launcher, "start").strip().splitlines()[-1]
        broker_pid = json.loads((state / "state.json").read_text())["pid"]
        try:
            data = tmp_path / "rows.jsonl"
            w, b = write_stream(data, args.rows, d, args.noise, seed=7)
            truth = (w, b, d, args.noise)
            topic = "bench-scale"
            t0 = time.perf_counter()
            sh(sys.executable, "-m", "consumers", "produce", str(data), "--topic", topic,
               "--bootstrap-servers", bootstrap, "--partitions", "4", "--key-field", "id", "-q")
            produce_s = time.perf_counter() - t0
            warm_up(bootstrap, topic, tmp_path, args.mix_every, args.client)
            for k in range(args.rounds):
                runs.append(run_single(bootstrap, topic, tmp_path, str(k), truth, args.client,
                                       broker_pid))
                runs.append(run_mixed(bootstrap, topic, tmp_path, str(k), truth, args.mix_every,
                                      args.client, broker_pid))
        finally:
            sh(*launcher, "stop")
    load = os.getloadavg()
    print(f"`python bench/bench_scale_out.py --rows {args.rows} --features {d} "
          f"--mix-every {args.mix_every} --noise {args.noise} --rounds {args.rounds} "
          f"--client {args.client}` — "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"produce took {produce_s:.1f} s\n")
    print("| round | workers | messages | learned | wall time incl. start-up (s) "
          "| steady window (s) | steady msg/s | prequential MSE | hold-out MSE "
          "| cores busy: workers (main threads) / broker / machine "
          "| CPU µs per message: workers (main threads) / broker |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, run in enumerate(runs):
        c, us = run.cores, 1e6 / run.rate
        label = "1" if run.workers == 1 else f"2 (mixed every {args.mix_every})"
        print(f"| {k // 2 + 1} | {label} | {run.messages} | {run.learned} | {run.wall_s:.1f} "
              f"| {run.window_s:.1f} | {run.rate:,.0f} | {run.prequential_mse:.5f} "
              f"| {run.holdout_mse:.5f} | {c.workers:.2f} ({c.main_threads:.2f}) / {c.broker:.2f} / "
              f"{c.machine:.2f} | {c.workers * us:.2f} ({c.main_threads * us:.2f}) / "
              f"{c.broker * us:.2f} |")
    ones, twos = runs[0::2], runs[1::2]
    best_one, best_two = max(r.rate for r in ones), max(r.rate for r in twos)
    median_one = statistics.median(r.rate for r in ones)
    median_two = statistics.median(r.rate for r in twos)
    gaps = [two.prequential_mse / one.prequential_mse - 1 for one, two in zip(ones, twos)]
    holdout = [two.holdout_mse / one.holdout_mse - 1 for one, two in zip(ones, twos)]
    bar = 1.8 if args.client == "confluent" else 1.6
    print(f"\nsteady speed-up, best of {args.rounds} each: {best_two / best_one:.2f}x "
          f"({best_two:,.0f} vs {best_one:,.0f} msg/s); median: {median_two / median_one:.2f}x "
          f"({median_two:,.0f} vs {median_one:,.0f} msg/s); bar {bar}x")
    print(f"prequential MSE of the mixed workers vs one worker, round by round: "
          f"{', '.join(f'{g:+.1%}' for g in gaps)} (bar 10%); hold-out MSE: "
          f"{', '.join(f'{g:+.1%}' for g in holdout)}")


if __name__ == "__main__":
    main()
