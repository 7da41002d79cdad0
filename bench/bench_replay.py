"""Replaying a large CSV (and its rows as Parquet): the whole ``online-lr replay`` vs the limit.

Run: ``python bench/bench_replay.py`` (a few minutes at the default 5M rows). It writes a CSV
of ``--rows`` rows (10 numeric features and a target ``y``) and the same rows as Parquet to a
temporary directory (not timed), then, interleaved, best of ``--repeat``:

* ``online-lr replay FILE --target y --checkpoint PATH`` as a whole process (spawn to exit,
  fresh checkpoint each time, default config otherwise), for the CSV and for the Parquet file:
  wall seconds, peak RSS (the process's own, from ``wait4``) and start-up, the time from spawn
  to the first batch learned (the runner's ``-v`` log line, stamped to the millisecond);
* in this process, timed: ``pyarrow.csv.read_csv(FILE)`` and one
  ``SGDRegressor.learn_sequential`` over all rows with the same model settings: the limit of
  reading and learning (all in memory);
* once: ``river.stream.iter_csv`` + River ``LinearRegression.learn_one`` on the first
  ``--river-rows`` rows, extrapolated to all rows.

It prints a table of wall seconds, rows/s and the ratio to the limit, and checks the bars:
replay >= 50% of the limit's speed, Parquet at least as fast as CSV, peak RSS < 400 MB. The
models the replays learned are checked against the limit's (running MSE to 1e-9).
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


#: ``online-lr`` as its console script runs it, then the process's own peak RSS (VmHWM: the
#: ``ru_maxrss`` of a spawned child counts the parent's peak, inherited through vfork + exec).
_REPLAY = """
import sys
from consumers.cli import main
code = main(sys.argv[1:])
with open("/proc/self/status") as f:
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
sys.stderr.write('{"peak_kb": %d}\\n' % peak)
sys.exit(code)
"""


def replay_process(path: str, ckpt: str) -> dict:
    """Wall and start-up seconds, peak RSS (MB) and model MSE of one ``online-lr replay``."""
    from datetime import datetime

    cmd = [h.PYTHON, "-c", _REPLAY, "replay", path, "--target", "y", "--checkpoint", ckpt,
           "--fresh", "--no-progress", "-v", "--log-format", "json"]
    with tempfile.TemporaryFile() as err:
        spawned = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                env={**os.environ, "PYTHONPATH": str(h.REPO)})
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err.seek(0)
        log = [json.loads(line) for line in err.read().splitlines() if line.startswith(b"{")]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {log[-3:]}")
    first = next(rec["time"] for rec in log if rec["message"].startswith("first batch"))
    learned = datetime.strptime(first, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() - time.timezone
    from consumers.checkpoint import read_checkpoint
    from online_lr import SGDRegressor

    mse = float(SGDRegressor.from_dict(read_checkpoint(ckpt).model).running_mse)
    peak_kb = next(rec["peak_kb"] for rec in log if "peak_kb" in rec)
    return {"wall": wall, "startup": learned - spawned, "peak_mb": peak_kb / 1024, "mse": mse}


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
        runs: dict[str, list[dict]] = {"csv": [], "parquet": []}
        limit = []
        for r in range(args.repeat):
            for fmt, file in (("csv", path), ("parquet", parquet)):
                runs[fmt].append(replay_process(file, os.path.join(work, f"{fmt}.ckpt.json")))
            seconds, mse = limit_seconds(path)
            limit.append(seconds)
            got = [runs[fmt][-1]["mse"] for fmt in runs]
            if not np.allclose(got, mse, rtol=1e-9, atol=0):
                raise SystemExit(f"the models differ: MSE {mse} (limit), {got} (replay CSV, "
                                 "Parquet)")
            print(f"  run {r + 1}: replay CSV {runs['csv'][-1]['wall']:.2f}s, Parquet "
                  f"{runs['parquet'][-1]['wall']:.2f}s, limit {seconds:.2f}s (MSE {mse:.4g})",
                  file=sys.stderr)
        river_rows = min(args.river_rows, args.rows)
        river = river_seconds(path, river_rows) * args.rows / river_rows
        n = args.rows
        best_limit = min(limit)
        best = {fmt: min(runs[fmt], key=lambda run: run["wall"]) for fmt in runs}

        def row(name: str, seconds: float, run: dict | None = None) -> list[str]:
            extra = [f"{run['startup']:.2f}", f"{run['peak_mb']:.0f}"] if run else ["", ""]
            return [name, f"{seconds:.2f}", f"{n / seconds:,.0f}",
                    f"{best_limit / seconds:.0%}", *extra]

        print(f"\n{n:,} rows, 10 features; best of {args.repeat}; load average {h.load()}\n")
        print(h.markdown(["", "wall s", "rows/s", "speed vs limit", "start-up s", "peak RSS MB"], [
            row("`online-lr replay FILE.csv --target y --checkpoint …` (whole process)",
                best["csv"]["wall"], best["csv"]),
            row("`online-lr replay FILE.parquet --target y --checkpoint …` (whole process)",
                best["parquet"]["wall"], best["parquet"]),
            row("limit: `pyarrow.csv.read_csv` + `learn_sequential` (in process, all in memory)",
                best_limit),
            row(f"`river.stream.iter_csv` + River `learn_one` ({river_rows:,} rows, "
                "extrapolated)", river),
        ]))
        bars = {
            "replay CSV >= 50% of the limit's speed": best["csv"]["wall"] <= 2 * best_limit,
            "Parquet at least as fast as CSV": best["parquet"]["wall"] <= best["csv"]["wall"],
            "peak RSS < 400 MB": max(run["peak_mb"] for v in runs.values() for run in v) < 400,
        }
        print("\n" + "; ".join(f"{bar}: {'yes' if ok else 'NO'}" for bar, ok in bars.items()))
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
