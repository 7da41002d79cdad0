"""``online-lr replay`` of raw events against River's one-hot pipeline, side by side.

Run: ``python bench/bench_events.py`` (a minute or two). It writes ``--events`` house-sale events
(`events.make_events`: a nested object, string fields of cardinality 3 to 200, a boolean, an
ISO timestamp, tags, a feature missing from 20% of the events, one that appears after 10,000) as
JSON Lines, then measures, best and median of ``--repeat`` interleaved rounds:

* ``online-lr replay EVENTS --target price --timestamp ts`` as a whole process, start-up
  included, with the default model and encoding;
* River's pipeline on the same events flattened by hand (`events.flatten`), in this process:
  ``(Select(numeric) | StandardScaler()) + (Select(categorical) | OneHotEncoder())`` then
  ``LinearRegression()``, predict then learn each event.

Accuracy: each side's prequential MSE over the last ``--window`` events, over the noise variance
(1.0 is the best possible).
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


def run_replay(path: str, workdir: str, window: int) -> tuple[float, float]:
    """(seconds, last-window MSE / noise variance) of ``online-lr replay`` as a whole process."""
    predictions = os.path.join(workdir, "predictions.csv")
    command = [*h.ONLINE_LR, "replay", path, "--target", "price", "--timestamp", "ts",
               "--predictions", predictions]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=h.REPO)
    seconds = time.perf_counter() - start
    import pandas as pd

    frame = pd.read_csv(predictions)
    squared_errors = (frame["prediction"] - frame["price"]) ** 2
    return seconds, float(squared_errors.tail(window).mean()) / NOISE_SD**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--window", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="online-lr-bench-events-") as workdir:
        path = os.path.join(workdir, "events.jsonl")
        events = write_events(path, args.events)
        river, ours = [], []
        for _ in range(args.repeat):
            river.append(run_river(events, args.window))
            ours.append(run_replay(path, workdir, args.window))

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
    print(f"\nspeed-up: median {statistics.median(speedups):.1f}x, best {speedups[-1]:.1f}x "
          f"(bar >= 5x)", file=sys.stdout)


if __name__ == "__main__":
    main()
