"""Does the default model learn raw data of any scale? The scale grid, beside River.

Run: ``python bench/bench_scale_grid.py`` (a few minutes; ``--no-replay`` skips the replay
column, the slow one). Every cell is a linear stream, d=6, 6,000 rows, Gaussian noise: the
features are ``scale * z + offset`` (rows of the grid), the target ``scale * (z @ beta + noise)
+ offset`` (columns). Each cell prints the MSE over the last 1,000 rows divided by the noise
variance (1.0 is the best any model can do) for:

- ``ours``: the default ``SGDRegressor()``, ``learn_one`` on dicts (bar: <= 1.2 in every cell);
- ``river``: River's ``StandardScaler() | LinearRegression()``, on the same dicts;
- ``replay``: ``python -m consumers replay FILE --target y`` on the stream written to a CSV
  (the last 1,000 rows' error is the saved model's ``rolling_mse``).

Exit status 1 when a cell of ``ours`` misses the bar.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from river import linear_model, preprocessing

from online_lr import SGDRegressor

N_ROWS, N_FEATURES, LAST, NOISE_SD, BAR = 6000, 6, 1000, 1.0, 1.2

#: name -> (scale of each feature, offset of each feature)
FEATURE_ROWS = {
    "x ~ 1e-4": (np.full(N_FEATURES, 1e-4), np.zeros(N_FEATURES)),
    "x ~ 1": (np.ones(N_FEATURES), np.zeros(N_FEATURES)),
    "x ~ 1e5": (np.full(N_FEATURES, 1e5), np.zeros(N_FEATURES)),
    "x ~ 1 + 1e3": (np.ones(N_FEATURES), np.full(N_FEATURES, 1e3)),
    "x ~ 1e3 + 1e5": (np.full(N_FEATURES, 1e3), np.full(N_FEATURES, 1e5)),
    "mixed 1e-4..1e5": (np.logspace(-4, 5, N_FEATURES), np.zeros(N_FEATURES)),
    "mixed + offsets": (np.logspace(-4, 5, N_FEATURES), np.logspace(-2, 6, N_FEATURES)),
}
#: name -> (scale, offset) of the target
TARGET_COLUMNS = {
    "y ~ 1e-3": (1e-3, 0.0),
    "y ~ 1": (1.0, 0.0),
    "y ~ 1e6": (1e6, 0.0),
    "y ~ 1 + 1e7": (1.0, 1e7),
    "y ~ 1e3 + 1e7": (1e3, 1e7),
}


def make_stream(feature_scale, feature_offset, target_scale, target_offset, seed=0):
    """(X, y, noise variance) of one cell."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(N_ROWS, N_FEATURES))
    beta = rng.normal(size=N_FEATURES)
    noise = NOISE_SD * rng.normal(size=N_ROWS)
    X = z * feature_scale + feature_offset
    y = target_scale * (z @ beta + noise) + target_offset
    return X, y, (target_scale * NOISE_SD) ** 2


def last_mse(model, X, y) -> float:
    names = [f"x{j}" for j in range(X.shape[1])]
    errors = []
    for row, target in zip(X.tolist(), y.tolist()):
        x = dict(zip(names, row))
        errors.append((model.predict_one(x) - target) ** 2)
        model.learn_one(x, target)
    return float(np.mean(errors[-LAST:]))


def replay_mse(X, y, directory: str) -> float:
    path = os.path.join(directory, "stream.csv")
    checkpoint = os.path.join(directory, "run.ckpt.json")
    if os.path.exists(checkpoint):
        os.remove(checkpoint)
    header = ",".join([f"x{j}" for j in range(X.shape[1])] + ["y"])
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=header, comments="",
               fmt="%.17g")
    subprocess.run(
        [sys.executable, "-m", "consumers", "replay", path, "--target", "y", "--checkpoint",
         checkpoint, "-q"],
        check=True, capture_output=True,
    )
    return SGDRegressor.load(checkpoint).rolling_mse  # the last mse_window=1000 rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-replay", action="store_true", help="skip the replay column")
    args = parser.parse_args(argv)
    sides = ["ours", "river"] + ([] if args.no_replay else ["replay"])
    print(f"MSE over the last {LAST} of {N_ROWS} rows / noise variance "
          f"(cells: {' / '.join(sides)}; bar for ours: <= {BAR})\n")
    print("| features \\ target | " + " | ".join(TARGET_COLUMNS) + " |")
    print("|---|" + "---:|" * len(TARGET_COLUMNS))
    worst = 0.0
    with tempfile.TemporaryDirectory() as directory:
        for row_name, (f_scale, f_offset) in FEATURE_ROWS.items():
            cells = []
            for t_scale, t_offset in TARGET_COLUMNS.values():
                X, y, noise_var = make_stream(f_scale, f_offset, t_scale, t_offset)
                ratios = [
                    last_mse(SGDRegressor(), X, y) / noise_var,
                    last_mse(preprocessing.StandardScaler() | linear_model.LinearRegression(),
                             X, y) / noise_var,
                ]
                if not args.no_replay:
                    ratios.append(replay_mse(X, y, directory) / noise_var)
                worst = max(worst, ratios[0])
                cells.append(" / ".join(f"{r:.3f}" for r in ratios))
            print(f"| {row_name} | " + " | ".join(cells) + " |", flush=True)
    verdict = "ok" if worst <= BAR else "MISSED"
    print(f"\nworst cell of SGDRegressor(): {worst:.3f} (bar <= {BAR}: {verdict})")
    return 0 if worst <= BAR else 1


if __name__ == "__main__":
    sys.exit(main())
