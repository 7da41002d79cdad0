"""Replaying a large CSV (and its rows as Parquet): the product, the columnar reader, the limit.

Run: ``python bench/bench_replay.py`` (a few minutes at the default 5M rows). It writes a CSV
of ``--rows`` rows (10 numeric features and a target ``y``) and the same rows as Parquet to a
temporary directory (not timed), then, interleaved, best of ``--repeat``:

* ``online-lr replay FILE --target y --checkpoint PATH`` as a whole process (spawn to exit,
  fresh checkpoint each time, default config otherwise): today's row-by-row replay;
* in this process, timed: ``pyarrow.csv.read_csv(FILE)`` and one
  ``SGDRegressor.learn_sequential`` over all rows with the same model settings: the limit of
  reading and learning (all in memory);
* in this process: `consumers.columnar.ColumnarReader` over the CSV, then over the Parquet
  file, each batch handed to ``learn_sequential`` (streaming);
* once, in a child process: the columnar reader + ``learn_sequential`` streaming the CSV, for
  its peak RSS (bar: 400 MB) and the time from spawn to the first batch learned;
* once: ``river.stream.iter_csv`` + River ``LinearRegression.learn_one`` on the first
  ``--river-rows`` rows, extrapolated to all rows.

It prints a table of wall seconds, rows/s and the ratio to the limit. The models learned in
process are checked to agree (running MSE to 1e-9): the reader learns what the limit learns.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import islice

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


def write_parquet(csv_path: str, path: str) -> None:
    """The CSV's rows as Parquet, in row groups of 128Ki rows (streamed, not all in memory)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    reader = pacsv.open_csv(csv_path)
    with pq.ParquetWriter(path, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch, row_group_size=1 << 17)


def new_model():
    from consumers.config import build_model, load_settings

    return build_model(load_settings("replay", None, {"fields.target": "y"}).model)


def limit_seconds(path: str) -> tuple[float, float]:
    """(seconds, running MSE) of pyarrow read_csv + one learn_sequential over every row."""
    import pyarrow.csv as pacsv

    def learn(rows: int | None):
        table = pacsv.read_csv(path)
        if rows is not None:
            table = table.slice(0, rows)
        y = table.column("y").to_numpy()
        names = [c for c in table.column_names if c != "y"]
        X = np.column_stack([table.column(c).to_numpy() for c in names])
        model = new_model()
        model.learn_sequential(X, y, names)
        return model

    learn(1000)  # the same argument types once, untimed: kernels loaded (or compiled) here
    start = time.perf_counter()
    model = learn(None)
    return time.perf_counter() - start, float(model.running_mse)


def reader_seconds(path: str) -> tuple[float, float]:
    """(seconds, running MSE) of the columnar reader streaming ``path`` into learn_sequential."""
    from consumers.columnar import ColumnarReader
    from consumers.columnar.numeric import Schema

    start = time.perf_counter()
    model = new_model()
    with ColumnarReader(path, Schema(target="y")) as reader:
        for batch in reader:
            d = batch.decoded
            model.learn_sequential(d.X, d.y, d.columns, d.learn)
    return time.perf_counter() - start, float(model.running_mse)


_CHILD = """
import sys, time, json
t0 = float(sys.argv[2])

def peak_mb():  # VmHWM: ru_maxrss would include the parent's peak (kept across exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024

from consumers.columnar import ColumnarReader
from consumers.config import build_model, load_settings
from consumers.columnar.numeric import Schema
model = build_model(load_settings("replay", None, {"fields.target": "y"}).model)
first = None
with ColumnarReader(sys.argv[1], Schema(target="y")) as reader:
    for batch in reader:
        d = batch.decoded
        model.learn_sequential(d.X, d.y, d.columns, d.learn)
        if first is None:
            first = time.time() - t0
            base = peak_mb()
print(json.dumps({"first_batch_s": first, "peak_mb": peak_mb(), "after_first_batch_mb": base}))
"""


def child_rss(path: str) -> dict:
    """Peak RSS (MB) and spawn-to-first-batch seconds of a process streaming ``path``."""
    env = {**os.environ, "PYTHONPATH": str(h.REPO)}
    out = subprocess.run([h.PYTHON, "-c", _CHILD, path, repr(time.time())], env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def river_seconds(path: str, rows: int) -> float:
    """Seconds of river.stream.iter_csv + LinearRegression.learn_one over ``rows`` rows."""
    from river import linear_model, stream

    with open(path) as f:
        floats = dict.fromkeys(f.readline().strip().split(","), float)
    model = linear_model.LinearRegression()
    start = time.perf_counter()
    for x, y in islice(stream.iter_csv(path, target="y", converters=floats), rows):
        model.learn_one(x, y)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--river-rows", type=int, default=100_000)
    p.add_argument("--dir", default=None, help="where to write the data (default: a temp dir)")
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="online-lr-bench-replay-", dir=args.dir)
    path = os.path.join(work, "replay.csv")
    parquet = os.path.join(work, "replay.parquet")
    try:
        t = time.perf_counter()
        write_csv(path, args.rows, 10)
        write_parquet(path, parquet)
        print(f"wrote {args.rows:,} rows ({os.path.getsize(path) / 1e6:.0f} MB CSV, "
              f"{os.path.getsize(parquet) / 1e6:.0f} MB Parquet) in "
              f"{time.perf_counter() - t:.0f}s (not timed)", file=sys.stderr)
        cli, cli_cpu, limit, csv_reader, pq_reader = [], [], [], [], []
        for r in range(args.repeat):
            ckpt = os.path.join(work, f"replay-{r}.ckpt.json")
            wall, cpu, _ = h.run_timed([*h.ONLINE_LR, "replay", path, "--target", "y",
                                          "--checkpoint", ckpt, "--no-progress"])
            cli.append(wall)
            cli_cpu.append(cpu)
            seconds, mse = limit_seconds(path)
            limit.append(seconds)
            csv_s, csv_mse = reader_seconds(path)
            csv_reader.append(csv_s)
            pq_s, pq_mse = reader_seconds(parquet)
            pq_reader.append(pq_s)
            if not np.allclose([csv_mse, pq_mse], mse, rtol=1e-9, atol=0):
                raise SystemExit(f"the models differ: MSE {mse} (limit), {csv_mse} (CSV "
                                 f"reader), {pq_mse} (Parquet reader)")
            print(f"  run {r + 1}: replay {wall:.2f}s, limit {seconds:.2f}s, reader CSV "
                  f"{csv_s:.2f}s, Parquet {pq_s:.2f}s (MSE {mse:.4g})", file=sys.stderr)
        child = child_rss(path)
        river_rows = min(args.river_rows, args.rows)
        river = river_seconds(path, river_rows) * args.rows / river_rows
        n = args.rows
        best_limit = min(limit)

        def row(name: str, seconds: float) -> list[str]:
            return [name, f"{seconds:.2f}", f"{n / seconds:,.0f}", f"{seconds / best_limit:.2f}x"]

        print(f"\n{n:,} rows, 10 features; best of {args.repeat}; load average {h.load()}\n")
        print(h.markdown(["", "wall s", "rows/s", "vs limit"], [
            row("`online-lr replay FILE --target y --checkpoint …` (whole process, row path)",
                min(cli)),
            row("limit: `pyarrow.csv.read_csv` + `learn_sequential` (in process, all in memory)",
                best_limit),
            row("`ColumnarReader` CSV + `learn_sequential` (in process, streaming)",
                min(csv_reader)),
            row("`ColumnarReader` Parquet + `learn_sequential` (in process, streaming)",
                min(pq_reader)),
            row(f"`river.stream.iter_csv` + River `learn_one` ({river_rows:,} rows, "
                "extrapolated)", river),
        ]))
        print(f"\nreplay CPU (user + sys), best: {min(cli_cpu):.2f}s")
        print(f"columnar reader streaming the CSV in a fresh process: peak RSS "
              f"{child['peak_mb']:.0f} MB ({child['after_first_batch_mb']:.0f} MB after the "
              f"first batch); spawn to first batch learned {child['first_batch_s']:.2f}s")
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
