"""Speed, accuracy and import cost of `online_lr.SGDRegressor`, side by side with River.

Run: ``python bench/bench_learner.py`` (a few minutes). Prints a Markdown table of the
measurements, the ratio to River (the median of ``--repeat`` rounds in which River and
online_lr take turns, in the same process, beside the best round's) and the bar each ratio must
meet. The speed rows are measured twice: the River-parity configuration
(``standardize=False``) against ``LinearRegression()``, and the default, standardizing model
against ``StandardScaler() | LinearRegression()``.
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


def round_times(funcs: list, repeat: int, least: float = 0.2) -> np.ndarray:
    """Wall time of one call of each function in each of ``repeat`` rounds, the functions
    taking turns: shape ``(repeat, len(funcs))``.

    Taking turns spreads the machine's slow moments over every contender, so the ratios hold
    even when the absolute times drift (a shared 2-core VM drifts by tens of percent). In each
    round a function runs back to back for at least ``least`` seconds (a few ms call once is
    at the mercy of one time slice given to another process) and its mean is kept.
    """
    calls = []
    for func in funcs:
        start = time.perf_counter()
        func()
        calls.append(max(1, int(least / max(time.perf_counter() - start, 1e-9))))
    times = np.empty((repeat, len(funcs)))
    for r in range(repeat):
        for k, func in enumerate(funcs):
            start = time.perf_counter()
            for _ in range(calls[k]):
                func()
            times[r, k] = (time.perf_counter() - start) / calls[k]
    return times


def make_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 2.0 + 0.1 * rng.normal(size=n)
    return X, y


def river_parity():
    return linear_model.LinearRegression(optimizer=optim.SGD(0.01), intercept_lr=0.01)


def ours_parity():
    return SGDRegressor(standardize=False, intercept_init=0.0, learning_rate=0.01,
                        intercept_lr=0.01, update="sgd")


def river_default():
    return preprocessing.StandardScaler() | linear_model.LinearRegression()


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


def sequential(model, X, y, columns):
    return lambda: model().learn_sequential(X, y, columns)


def speed_rows(n: int, d: int, repeat: int) -> list[tuple]:
    X, y = make_data(n, d)
    columns = [f"x{j}" for j in range(d)]
    dicts = [dict(zip(columns, row)) for row in X.tolist()]
    targets = y.tolist()
    frames = [
        (pd.DataFrame(X[i : i + 256], columns=columns), pd.Series(y[i : i + 256]))
        for i in range(0, n, 256)
    ]
    for model in (ours_parity, SGDRegressor):  # compile (or load) the kernels
        model().learn_sequential(X[:10], y[:10], columns)
        model().learn_many(*frames[0])
        model().learn_one(dicts[0], targets[0])

    rows = []
    for label, river, ours in (
        ("parity config vs LinearRegression()", river_parity, ours_parity),
        ("default vs StandardScaler() \\| LinearRegression()", river_default, SGDRegressor),
    ):
        funcs = [one_by_one(river, dicts, targets), one_by_one(ours, dicts, targets),
                 sequential(ours, X, y, columns)]
        if river is river_parity:  # River's pipelines have no learn_many
            funcs += [mini_batches(river, frames), mini_batches(ours, frames)]
        times = round_times(funcs, repeat) * (1e6 / n)
        rows.append((f"predict_one + learn_one, dicts; {label}", times[:, 0], times[:, 1], 1.5))
        rows.append((f"learn_sequential vs River's learn_one loop; {label}", times[:, 0],
                     times[:, 2], 100.0))
        if river is river_parity:
            rows.append((f"learn_many, DataFrame batches of 256; {label}", times[:, 3],
                         times[:, 4], 10.0))
    return [
        (name, float(np.median(r)), float(np.median(o)), float(np.median(r / o)),
         float(np.max(r / o)), bar, "µs/row")
        for name, r, o, bar in rows
    ]


def prequential_mse(dataset, model) -> float:
    return evaluate.progressive_val_score(dataset, model, metrics.MSE()).get()


def accuracy_rows() -> list[tuple]:
    trump_river = prequential_mse(
        datasets.TrumpApproval(),
        preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=0.1),
    )
    chick_river = prequential_mse(
        datasets.ChickWeights(), preprocessing.StandardScaler() | linear_model.LinearRegression()
    )
    rows = []
    for label, make in (
        ("StandardScaler() \\| SGDRegressor()", lambda: preprocessing.StandardScaler()
         | SGDRegressor()),
        ("SGDRegressor() on the raw stream", SGDRegressor),
    ):
        trump = prequential_mse(datasets.TrumpApproval(), make())
        chick = prequential_mse(datasets.ChickWeights(), make())
        rows += [
            (f"TrumpApproval prequential MSE, {label} (River: scaler, intercept_lr=.1; bar: "
             "<= 2.5)", trump_river, trump, trump / trump_river, None, 2.5 / trump_river, "MSE"),
            (f"ChickWeights prequential MSE, {label} (River: scaler, defaults; bar: <= 1371.8)",
             chick_river, chick, chick / chick_river, None, 1371.8 / chick_river, "MSE"),
        ]
    return rows


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
        ("`import online_lr`", river * 1e3, ours * 1e3, river / ours, None, None, "ms"),
        ("`from online_lr import SGDRegressor`", river * 1e3, ours_model * 1e3,
         river / ours_model, None, None, "ms"),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    print(f"| measure ({args.rows} rows, d={args.features}, {args.repeat} rounds) | River | "
          "online_lr | ratio (median) | best round | bar | unit |")
    print("|---|---:|---:|---:|---:|---:|---|")
    failures = 0
    for name, river, ours, ratio, best, bar, unit in (
        speed_rows(args.rows, args.features, args.repeat) + accuracy_rows()
        + import_rows(args.repeat)
    ):
        if bar is None:
            verdict = ""
        elif unit == "MSE":
            verdict = f"<= {bar:.3g}x " + ("ok" if ratio <= bar else "MISSED")
            failures += ratio > bar
        else:
            verdict = f">= {bar:g}x " + ("ok" if ratio >= bar else "MISSED")
            failures += ratio < bar
        best_text = "" if best is None else f"{best:.3g}x"
        print(f"| {name} | {river:.4g} | {ours:.4g} | {ratio:.3g}x | {best_text} | {verdict} | "
              f"{unit} |")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
