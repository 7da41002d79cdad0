"""``online-lr replay`` of a large CSV against its limit, ``read_csv`` + ``learn_sequential``.

Run: ``python bench/bench_replay.py`` (about a minute). It writes a CSV of ``--rows`` rows
(10 numeric features and a target ``y``) to a temporary directory, then, interleaved, best of
``--repeat``:

* ``online-lr replay FILE --target y --checkpoint PATH`` as a whole process (spawn to exit,
  fresh checkpoint each time, default config otherwise);
* in this process, timed: ``pandas.read_csv(FILE)`` and one ``SGDRegressor.learn_sequential``
  over all rows with the same model settings: what reading and learning cost at best.

It prints rows/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import _harness as h
import numpy as np


def write_csv(path: str, n: int, d: int, seed: int = 0) -> None:
    header = ",".join([f"x{j}" for j in range(d)] + ["y"])
    fmt = ",".join(["{:.6f}"] * (d + 1))
    with open(path, "w") as f:
        f.write(header + "\n")
        rng = np.random.default_rng(seed)
        w = np.random.default_rng(12345).normal(size=d)  # as in _harness.json_lines
        for start in range(0, n, 100_000):
            m = min(100_000, n - start)
            X = rng.normal(size=(m, d))
            y = X @ w + 2.0 + 0.1 * rng.normal(size=m)
            f.write("\n".join(fmt.format(*row) for row in np.column_stack([X, y]).tolist()))
            f.write("\n")


def limit_seconds(path: str) -> tuple[float, float]:
    """(seconds, running MSE) of read_csv + learn_sequential with the replay config's model."""
    import pandas as pd

    from consumers.config import build_model, load_settings

    settings = load_settings("replay", None, {"fields.target": "y"})

    def learn(nrows: int | None):
        frame = pd.read_csv(path, nrows=nrows)
        y = frame.pop("y").to_numpy(dtype=np.float64)
        model = build_model(settings.model)
        model.learn_sequential(frame.to_numpy(dtype=np.float64), y, list(frame.columns))
        return model

    learn(1000)  # the same argument types once, untimed: kernels loaded (or compiled) here
    start = time.perf_counter()
    model = learn(None)
    return time.perf_counter() - start, float(model.running_mse)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="online-lr-bench-replay-")
    path = os.path.join(work, "replay.csv")
    try:
        t = time.perf_counter()
        write_csv(path, args.rows, 10)
        print(f"wrote {args.rows:,} rows ({os.path.getsize(path) / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t:.0f}s (not timed)", file=sys.stderr)
        cli, cli_cpu, limit = [], [], []
        for r in range(args.repeat):
            ckpt = os.path.join(work, f"replay-{r}.ckpt.json")
            wall, cpu, _ = h.run_timed([*h.ONLINE_LR, "replay", path, "--target", "y",
                                          "--checkpoint", ckpt, "--no-progress"])
            cli.append(wall)
            cli_cpu.append(cpu)
            seconds, mse = limit_seconds(path)
            limit.append(seconds)
            print(f"  run {r + 1}: replay {wall:.2f}s, limit {seconds:.2f}s (MSE {mse:.4g})",
                  file=sys.stderr)
        n = args.rows
        best_cli, best_limit = min(cli), min(limit)
        print(f"\n{n:,} CSV rows, 10 features; best of {args.repeat}; load average "
              f"{h.load()}\n")
        print(h.markdown(["", "wall s", "rows/s", "vs limit"], [
            ["`online-lr replay FILE --target y --checkpoint …` (whole process)", f"{best_cli:.2f}",
             f"{n / best_cli:,.0f}", f"{best_cli / best_limit:.2f}x"],
            ["limit: `pandas.read_csv` + `learn_sequential` (in process)", f"{best_limit:.2f}",
             f"{n / best_limit:,.0f}", "1.00x"],
        ]))
        print(f"\nreplay CPU (user + sys), best: {min(cli_cpu):.2f}s")
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
