"""Scale-out: one `online-lr consume` worker vs two in one group, on a 4-partition topic.

Self-contained: starts its own local broker (``scripts/kafka-local`` with a temporary state
dir, stopped at the end), writes a stationary synthetic stream (d features, y = x·w + b + noise),
produces it once, then drains it

* with 1 worker process (group G1), and
* with 2 concurrent worker processes (group G2, ``--mix-every K`` on a compacted model topic),

timing each from the start of the processes to the moment the last message was learned (the
wall time minus the idle timeout that ends them). It then compares the prequential MSE (summed
over the workers' checkpoints) and the hold-out MSE of the mixed model (``online-lr model``)
with the single worker's, and prints a Markdown table. Run on a quiet machine::

    python bench/bench_scale_out.py [--rows 400000] [--features 10] [--mix-every 5000] [--noise 1]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import orjson

REPO = Path(__file__).resolve().parent.parent
IDLE_S = 3.0


def sh(*args: str, timeout: float = 1200, capture: bool = True) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(list(args), cwd=REPO, env=env, capture_output=capture, text=True,
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


def consume_cmd(bootstrap: str, topic: str, group: str, ckpt: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "consumers", "consume", "-q", "--bootstrap-servers", bootstrap,
            "--topic", topic, "--group", group, "--checkpoint", str(ckpt), "--ignore", "id",
            "--idle-timeout", str(IDLE_S), "--batch-size", "500", *extra]


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


def run_workers(bootstrap: str, group: str, cmds: list[list[str]]) -> tuple[float, float]:
    """(seconds from start to the last message learned, steady-state messages/s).

    Steady state: from the moment the group is stable with every worker (start-up, joins and
    rebalances excluded) to the last message, counting only the messages learned in it (read
    from each worker's ``--metrics-port``).
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ports = [free_port() for _ in cmds]
    start = time.perf_counter()
    procs = [subprocess.Popen([*c, "--metrics-port", str(port)], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for c, port in zip(cmds, ports)]
    wait_stable(bootstrap, group, len(cmds))
    stable = time.perf_counter()
    before = sum(consumed(p) for p in ports)
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode != 0:
            raise SystemExit(f"worker failed ({p.returncode}): {err.decode()[-2000:]}")
    end = time.perf_counter() - IDLE_S
    return end - start, before, end - stable


def prequential(ckpts: list[Path]) -> tuple[int, int, float]:
    """(messages, learned, prequential MSE) over the checkpoints."""
    cs = [json.loads(c.read_text())["counters"] for c in ckpts]
    learned = sum(c["learned"] for c in cs)
    squared_errors = sum(c["squared_error_sum"] for c in cs)
    return sum(c["messages"] for c in cs), learned, squared_errors / learned


def holdout_mse(
    weights: dict, intercept: float, w: np.ndarray, b: float, d: int, noise: float
) -> float:
    rng = np.random.default_rng(99)
    X = rng.normal(size=(20_000, d))
    y = X @ w + b + noise * rng.normal(size=20_000)
    coef = np.array([weights.get(f"x{j}", 0.0) for j in range(d)])
    return float(np.mean((X @ coef + intercept - y) ** 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--mix-every", type=int, default=5000)
    ap.add_argument("--noise", type=float, default=1.0,
                    help="standard deviation of the noise of y (the weights are N(0, 1))")
    args = ap.parse_args()
    d = args.features
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
        tmp_path = Path(tmp)
        state = tmp_path / "kafka"
        launcher = [sys.executable, str(REPO / "scripts" / "kafka-local"), "--state-dir",
                    str(state)]
        bootstrap = sh(*launcher, "start").strip().splitlines()[-1]
        try:
            data = tmp_path / "rows.jsonl"
            w, b = write_stream(data, args.rows, d, args.noise, seed=7)
            topic = "bench-scale"
            t0 = time.perf_counter()
            sh(sys.executable, "-m", "consumers", "produce", str(data), "--topic", topic,
               "--bootstrap-servers", bootstrap, "--partitions", "4", "--key-field", "id", "-q")
            produce_s = time.perf_counter() - t0
            one = [tmp_path / "one.json"]
            t1, before1, s1 = run_workers(bootstrap, "g1",
                                          [consume_cmd(bootstrap, topic, "g1", one[0])])
            two = [tmp_path / "a.json", tmp_path / "b.json"]
            mix = ("--mix-every", str(args.mix_every), "--model-topic", "bench-models")
            t2, before2, s2 = run_workers(bootstrap, "g2",
                                          [consume_cmd(bootstrap, topic, "g2", c, *mix)
                                           for c in two])
            mixed = json.loads(sh(sys.executable, "-m", "consumers", "model", "--topic",
                                  "bench-models", "--bootstrap-servers", bootstrap, "--json"))
        finally:
            sh(*launcher, "stop")
        single_model = json.loads(one[0].read_text())["model"]
        single_w = dict(zip(single_model["features"], single_model["feature_state"]["0"]))
        single_b = single_model["scalars"]["intercept"]
        m1, l1, p1 = prequential(one)
        m2, l2, p2 = prequential(two)
        h1 = holdout_mse(single_w, single_b, w, b, d, args.noise)
        h2 = holdout_mse(mixed["weights"], mixed["intercept"], w, b, d, args.noise)
    load = os.getloadavg()
    print(f"`python bench/bench_scale_out.py --rows {args.rows} --features {d} "
          f"--mix-every {args.mix_every} --noise {args.noise}` — {os.cpu_count()} cores, "
          f"load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; produce took {produce_s:.1f} s\n")
    r1, r2 = (m1 - before1) / s1, (m2 - before2) / s2
    print("| workers | messages | learned | wall time incl. start-up (s) | steady msg/s "
          "| steady speed-up | prequential MSE | hold-out MSE |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| 1 | {m1} | {l1} | {t1:.1f} | {r1:,.0f} | 1.00x | {p1:.5f} | {h1:.5f} |")
    print(f"| 2 (mixed every {args.mix_every}) | {m2} | {l2} | {t2:.1f} | {r2:,.0f} "
          f"| {r2 / r1:.2f}x | {p2:.5f} ({p2 / p1 - 1:+.1%}) | {h2:.5f} ({h2 / h1 - 1:+.1%}) |")


if __name__ == "__main__":
    main()
