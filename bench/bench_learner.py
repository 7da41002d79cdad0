"""Speed, accuracy and import cost of `online_lr.SGDRegressor`, side by side with River.

Run: ``python bench/bench_learner.py`` (about a minute). Prints a Markdown table of the
measurements, the ratio to River and the bar each ratio must meet. Every timing is the best of
``--repeat`` rounds in which River and online_lr take turns, in the same process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from river import datasets, evaluate, linear_model, metrics, optim, preprocessing

from online_lr import SGDRegressor


def best_times(funcs: list, repeat: int) -> list[float]:
    """Best wall time of each function over ``repeat`` rounds, the functions taking turns.

    Taking turns spreads the machine's slow moments over every contender, so the ratios hold
    even when the absolute times drift (a shared 2-core VM drifts by tens of percent).
    """
    best = [float("inf")] * len(funcs)
    for _ in range(repeat):
        for k, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 2.0 + 0.1 * rng.normal(size=n)
    return X, y


def river_model():
    return linear_model.LinearRegression(optimizer=optim.SGD(0.01), intercept_lr=0.01)


def ours_model():
    return SGDRegressor(learning_rate=0.01, intercept_lr=0.01, intercept_init=0.0)


def one_by_one(model, dicts, targets):
    def run():
        m = model()
        for x, y in zip(dicts, targets):
            m.predict_one(x)
            m.learn_one(x, y)

    return run


def mini_batches(model, frames):
    def run():
        m = model()
        for X, y in frames:
            m.learn_many(X, y)

    return run


def speed_rows(n: int, d: int, repeat: int) -> list[tuple]:
    X, y = make_data(n, d)
    columns = [f"x{j}" for j in range(d)]
    dicts = [dict(zip(columns, row)) for row in X.tolist()]
    targets = y.tolist()
    frames = [
        (pd.DataFrame(X[i : i + 256], columns=columns), pd.Series(y[i : i + 256]))
        for i in range(0, n, 256)
    ]
    SGDRegressor().learn_sequential(X[:10], y[:10], columns)  # compile (or load) the kernel

    river_one, ours_one, river_many, ours_many, ours_seq = best_times(
        [
            one_by_one(river_model, dicts, targets),
            one_by_one(ours_model, dicts, targets),
            mini_batches(river_model, frames),
            mini_batches(ours_model, frames),
            lambda: ours_model().learn_sequential(X, y, columns),
        ],
        repeat,
    )
    per_row = 1e6 / n
    return [
        ("predict_one + learn_one, dicts", river_one * per_row, ours_one * per_row,
         river_one / ours_one, 1.5, "µs/row"),
        ("learn_many, DataFrame batches of 256", river_many * per_row, ours_many * per_row,
         river_many / ours_many, 10.0, "µs/row"),
        ("learn_sequential vs River's learn_one loop", river_one * per_row, ours_seq * per_row,
         river_one / ours_seq, 100.0, "µs/row"),
    ]


def prequential_mse(dataset, model) -> float:
    return evaluate.progressive_val_score(dataset, model, metrics.MSE()).get()


def accuracy_rows() -> list[tuple]:
    trump_river = prequential_mse(
        datasets.TrumpApproval(),
        preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=0.1),
    )
    trump_ours = prequential_mse(
        datasets.TrumpApproval(), preprocessing.StandardScaler() | SGDRegressor()
    )
    chick_river = prequential_mse(
        datasets.ChickWeights(), preprocessing.StandardScaler() | linear_model.LinearRegression()
    )
    chick_ours = prequential_mse(
        datasets.ChickWeights(), preprocessing.StandardScaler() | SGDRegressor()
    )
    return [
        ("TrumpApproval prequential MSE (River: intercept_lr=.1)", trump_river, trump_ours,
         trump_ours / trump_river, 0.5, "MSE"),
        ("ChickWeights prequential MSE (River: defaults)", chick_river, chick_ours,
         chick_ours / chick_river, 1.0, "MSE"),
    ]


def import_seconds(statement: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout)
        for _ in range(repeat)
    ]
    return min(runs)


def import_rows(repeat: int) -> list[tuple]:
    ours = import_seconds("import online_lr", repeat)
    ours_model = import_seconds("from online_lr import SGDRegressor", repeat)
    river = import_seconds("from river import linear_model", repeat)
    return [
        ("`import online_lr`", river * 1e3, ours * 1e3, river / ours, None, "ms"),
        ("`from online_lr import SGDRegressor`", river * 1e3, ours_model * 1e3,
         river / ours_model, None, "ms"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"| measure ({args.rows} rows, d={args.features}) | River | online_lr | ratio | bar | "
          "unit |")
    print("|---|---:|---:|---:|---:|---|")
    failures = 0
    for name, river, ours, ratio, bar, unit in (
        speed_rows(args.rows, args.features, args.repeat) + accuracy_rows()
        + import_rows(args.repeat)
    ):
        if bar is None:
            verdict = ""
        elif unit == "MSE":
            verdict = f"<= {bar:g}x " + ("ok" if ratio <= bar else "MISSED")
            failures += ratio > bar
        else:
            verdict = f">= {bar:g}x " + ("ok" if ratio >= bar else "MISSED")
            failures += ratio < bar
        print(f"| {name} | {river:.4g} | {ours:.4g} | {ratio:.3g}x | {verdict} | {unit} |")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
