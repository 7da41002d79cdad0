"""Memory of ``online-lr consume`` over a long run: RSS must stay flat (growth < 20 MB).

Run: ``python bench/bench_memory.py`` (5,000,000 messages: producing takes a few minutes,
consuming about as long; ``--messages 500000`` for a quick look). It starts its own broker,
produces small JSON messages (4 features + ``y``) to a one-partition topic, runs one
``online-lr consume --max-messages N`` process (``--client``: either Kafka client) with a
checkpoint and the default config
(``--log-interval 1`` so its INFO lines tell how far it is), and samples the process's
``VmRSS`` from ``/proc/PID/status`` every ``--every`` seconds. It reports the RSS once the
first ``--warm-up`` fraction of the messages has been learned, the peak after that, and the
RSS at the end; the bar is: end − warm-up and peak − warm-up both < 20 MB. Linux only
(``/proc``). Not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import _harness as h

BAR_MB = 20.0
_MESSAGES = re.compile(r"messages=(\d+) ")


def rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(cmd: list[str], every: float, timeout: float) -> tuple[list[tuple], float]:
    """Run ``cmd``; samples ``(seconds, messages so far, RSS kB)`` and the wall seconds."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    progress = [0]
    tail: list[str] = []

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            m = _MESSAGES.search(line)
            if m:
                progress[0] = int(m.group(1))
            tail.append(line)
            del tail[:-50]

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    samples = []
    while proc.poll() is None:
        if time.perf_counter() - start > timeout:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"consume still running after {timeout:g}s")
        kb = rss_kb(proc.pid)
        if kb is not None:
            samples.append((time.perf_counter() - start, progress[0], kb))
        time.sleep(every)
    wall = time.perf_counter() - start
    reader.join(timeout=5)
    if proc.returncode != 0:
        raise RuntimeError(f"consume exited {proc.returncode}:\n{''.join(tail)}")
    return samples, wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=5_000_000)
    p.add_argument("--features", type=int, default=4)
    p.add_argument("--warm-up", type=float, default=0.1,
                   help="fraction of the messages after which the reference RSS is taken")
    p.add_argument("--every", type=float, default=0.25, help="seconds between RSS samples")
    p.add_argument("--producers", type=int, default=2, help="producer processes")
    p.add_argument("--client", default="kafka-python", choices=("kafka-python", "confluent"),
                   help="Kafka client library of the consume process")
    args = h.parse_args(p, argv)
    n, topic = args.messages, f"bench-mem-{uuid.uuid4().hex[:8]}"
    work = tempfile.mkdtemp(prefix="online-lr-bench-mem-")

    def run(address: str) -> bool:
        took = h.produce_json(address, topic, n, args.features, workers=args.producers)
        print(f"produced {n:,} messages to {topic} in {took:.0f}s (not measured)",
              file=sys.stderr)
        ckpt = os.path.join(work, "mem.ckpt.json")
        cmd = [*h.ONLINE_LR, "consume", "--topic", topic, "--bootstrap-servers", address,
               "--group", f"mem-{uuid.uuid4().hex[:8]}", "--checkpoint", ckpt,
               "--max-messages", str(n), "--log-interval", "1", "--client", args.client]
        samples, wall = measure(cmd, args.every, timeout=max(600.0, n / 2000))
        warm_at = int(n * args.warm_up)
        after = [s for s in samples if s[1] >= warm_at]
        if len(after) < 2:
            raise RuntimeError("too few RSS samples after the warm-up: use more --messages")
        warm, end = after[0], after[-1]
        peak = max(s[2] for s in after)
        growth = (end[2] - warm[2]) / 1024
        peak_growth = (peak - warm[2]) / 1024
        print(f"\n`online-lr consume --client {args.client}`, {n:,} messages of {args.features} features, one "
              f"partition; {wall:.0f}s ({n / wall:,.0f} messages/s); RSS sampled every "
              f"{args.every:g}s; load average {h.load()}\n")
        print(h.markdown(["", "messages learned", "RSS MB"], [
            ["after warm-up", f"{warm[1]:,}", f"{warm[2] / 1024:.1f}"],
            ["peak after warm-up", "", f"{peak / 1024:.1f}"],
            ["end", f"{end[1]:,}", f"{end[2] / 1024:.1f}"],
            ["**growth**: end − warm-up", "", f"**{growth:+.1f}**"],
            ["**growth**: peak − warm-up", "", f"**{peak_growth:+.1f}**"],
        ]))
        ok = max(growth, peak_growth) < BAR_MB
        print(f"\nbar growth < {BAR_MB:g} MB (end and peak): {'met' if ok else 'NOT met'}")
        return ok

    try:
        ok = h.on_broker(args.bootstrap_servers, run)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
