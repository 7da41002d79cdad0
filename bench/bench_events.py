"""``online-lr replay`` and ``consume`` of raw events against River's one-hot pipeline and a
bare Kafka reader.

Run: ``python bench/bench_events.py`` (a few minutes; ``--no-kafka`` skips the broker). It writes
``--events`` house-sale events (`events.make_events`: a nested object, string fields of
cardinality 3 to 200, a boolean, an ISO timestamp, tags, a feature missing from 20% of the events,
one that appears after 10,000) as JSON Lines, then measures, best and median of ``--repeat``
interleaved rounds:

* ``online-lr replay EVENTS --target price --timestamp ts`` as a whole process, start-up
  included, with the default model and encoding (plus a checkpoint, to read the accuracy from);
* River's pipeline on the same events flattened by hand (`events.flatten`), in this process:
  ``(Select(numeric) | StandardScaler()) + (Select(categorical) | OneHotEncoder())`` then
  ``LinearRegression()``, predict then learn each event.

Accuracy: each side's prequential MSE over the last ``--window`` events, over the noise variance
(1.0 is the best possible). ``online-lr``'s is the model's own rolling MSE (``mse_window`` set
to the window) read from its checkpoint.

Kafka: with a broker of its own (``scripts/kafka-local``, a temporary state dir), the same events
are produced to a one-partition topic (not timed), then, interleaved, best of ``--repeat``, whole
processes: a bare kafka-python reader that ``json.loads`` each event, and
``online-lr consume --target price --timestamp ts --max-messages N`` (fresh group and checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid

import _harness as h
import numpy as np
from events import CATEGORICAL, NOISE_SD, NUMERIC, flatten, make_events


def write_events(path: str, n: int) -> list[dict]:
    events = list(make_events(n))
    with open(path, "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in events)
    return events


def river_pipeline():
    from river import compose, linear_model, preprocessing

    numeric = compose.Select(*NUMERIC) | preprocessing.StandardScaler()
    categorical = compose.Select(*CATEGORICAL) | preprocessing.OneHotEncoder()
    return (numeric + categorical) | linear_model.LinearRegression()


def run_river(events: list[dict], window: int) -> tuple[float, float]:
    """(seconds, last-window MSE / noise variance) of River's pipeline."""
    model = river_pipeline()
    squared_errors = np.empty(len(events))
    start = time.perf_counter()
    for i, event in enumerate(events):
        x, y = flatten(event)
        squared_errors[i] = (model.predict_one(x) - y) ** 2
        model.learn_one(x, y)
    seconds = time.perf_counter() - start
    return seconds, float(np.mean(squared_errors[-window:])) / NOISE_SD**2


def rolling_mse(checkpoint: str) -> float:
    """The rolling MSE of the model saved in ``checkpoint``."""
    from consumers.checkpoint import read_checkpoint
    from online_lr import SGDRegressor

    return float(SGDRegressor.from_dict(read_checkpoint(checkpoint).model).rolling_mse)


def run_replay(path: str, workdir: str, window: int) -> tuple[float, float]:
    """(seconds, last-window MSE / noise variance) of ``online-lr replay`` as a whole process."""
    checkpoint = os.path.join(workdir, f"replay-{uuid.uuid4().hex[:6]}.ckpt.json")
    command = [*h.ONLINE_LR, "replay", path, "--target", "price", "--timestamp", "ts",
               "--checkpoint", checkpoint, "--set", f"model.mse_window={window}", "-q"]
    seconds = h.run_timed(command, cwd=str(h.REPO))[0]
    return seconds, rolling_mse(checkpoint) / NOISE_SD**2


def run_kafka(path: str, n: int, repeat: int, window: int, workdir: str
              ) -> dict[str, list[tuple[float, float]]]:
    """{"bare"/"consume": [(seconds, last-window MSE / noise variance or NaN), ...]}."""
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "consume": []}
    with h.broker() as address:
        topic = f"events-{uuid.uuid4().hex[:8]}"
        h.create_topic(address, topic)
        with open(path, "rb") as f:
            h.produce_values(address, topic, iter([[line.rstrip(b"\n") for line in f]]))
        for r in range(repeat):
            group = f"g-bare-{r}-{uuid.uuid4().hex[:6]}"
            wall = h.run_timed([h.PYTHON, "-c", h.BARE_READER, address, topic, group,
                                str(n)])[0]
            runs["bare"].append((wall, float("nan")))
            group = f"g-consume-{r}-{uuid.uuid4().hex[:6]}"
            checkpoint = os.path.join(workdir, f"{group}.ckpt.json")
            command = [*h.ONLINE_LR, "consume", "--topic", topic, "--bootstrap-servers", address,
                       "--group", group, "--checkpoint", checkpoint, "--max-messages", str(n),
                       "--target", "price", "--timestamp", "ts",
                       "--set", f"model.mse_window={window}", "-q"]
            wall = h.run_timed(command, cwd=str(h.REPO))[0]
            runs["consume"].append((wall, rolling_mse(checkpoint) / NOISE_SD**2))
            print(f"  kafka round {r + 1}: bare {runs['bare'][-1][0]:.2f}s, consume "
                  f"{wall:.2f}s", file=sys.stderr)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--no-kafka", action="store_true", help="skip the Kafka side")
    args = h.parse_args(parser, broker_option=False)

    with tempfile.TemporaryDirectory(prefix="online-lr-bench-events-") as workdir:
        path = os.path.join(workdir, "events.jsonl")
        events = write_events(path, args.events)
        river, ours = [], []
        for r in range(args.repeat):
            river.append(run_river(events, args.window))
            ours.append(run_replay(path, workdir, args.window))
            print(f"  round {r + 1}: River {river[-1][0]:.2f}s, replay {ours[-1][0]:.2f}s",
                  file=sys.stderr)
        kafka = None if args.no_kafka else run_kafka(path, args.events, args.repeat,
                                                     args.window, workdir)

    def row(name: str, runs: list[tuple[float, float]]) -> str:
        times = [t for t, _ in runs]
        return (f"| {name} | {args.events / min(times):,.0f} | "
                f"{args.events / statistics.median(times):,.0f} | {runs[-1][1]:.3g} |")

    speedups = sorted(r[0] / o[0] for r, o in zip(river, ours))
    print(f"# {args.events:,} events, {args.repeat} rounds, load {h.load()}")
    print("| | events/s (best) | events/s (median) | last-window MSE / noise |")
    print("|---|---:|---:|---:|")
    print(row("River one-hot pipeline (in process)", river))
    print(row("`online-lr replay` (whole process)", ours))
    if kafka is not None:
        print(row("bare kafka-python reader + `json.loads` (whole process)", kafka["bare"]))
        print(row("`online-lr consume` (whole process)", kafka["consume"]))
    print(f"\nspeed-up of replay over River: median {statistics.median(speedups):.1f}x, best "
          f"{speedups[-1]:.1f}x (bar >= 5x)")
    accurate = ours[-1][1] <= river[-1][1]
    print(f"last-window MSE: replay {ours[-1][1]:.3g} vs River {river[-1][1]:.3g} x noise "
          f"(bar <=: {'met' if accurate else 'NOT met'})")
    if kafka is not None:
        for label, pick in (("median", statistics.median), ("best", min)):
            ratio = pick(t for t, _ in kafka["consume"]) / pick(t for t, _ in kafka["bare"])
            print(f"consume / bare reader ({label}): {ratio:.2f}x (bar <= 1.3x: "
                  f"{'met' if ratio <= 1.3 else 'NOT met'})")


if __name__ == "__main__":
    main()
