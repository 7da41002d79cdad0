"""Turn the runner's snapshots into a progress bar, periodic log lines, a summary and a plot.

Nothing here touches the model or the stream: the runner hands over a `Snapshot` (plain numbers)
and, for the plot, the squared errors of each batch. tqdm and matplotlib are imported only when
a bar or a plot is actually asked for.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["LogLine", "MSECurve", "ProgressBar", "Snapshot", "format_summary", "write_plot"]

logger = logging.getLogger("consumers")


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands. Counts are this run's; ``*_mse`` are the model's (prequential)."""

    messages: int
    learned: int
    predicted_only: int
    bad: int
    diverged: int
    running_mse: float
    rolling_mse: float
    learning_rate: float
    elapsed: float
    lag: int | None = None
    checkpoints: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed > 0 else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "rate": self.rate}


def _fmt(v: float) -> str:
    return f"{v:.6g}" if v == v else "n/a"


def _reasons(s: Snapshot) -> str:
    """`` (empty=1 invalid_json=2)`` after the bad count, or nothing."""
    if not s.bad_by_reason:
        return ""
    return " (" + " ".join(f"{k}={v}" for k, v in sorted(s.bad_by_reason.items())) + ")"


class ProgressBar:
    """A tqdm bar on stderr: rows, rows/s and the running MSE. ``enabled=None``: only on a TTY."""

    def __init__(self, enabled: bool | None = None, desc: str = "replay", total: int | None = None):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        self._last_postfix = 0.0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(desc=desc, unit=" rows", total=total, file=sys.stderr,
                             dynamic_ncols=True, smoothing=0.1)

    def update(self, n: int, snapshot: Callable[[], Snapshot]) -> None:
        if self._bar is None:
            return
        self._bar.update(n)
        now = time.monotonic()
        if now - self._last_postfix >= 0.25:
            self._last_postfix = now
            s = snapshot()
            self._bar.set_postfix_str(f"running MSE {_fmt(s.running_mse)}, bad {s.bad}",
                                      refresh=False)

    def close(self, snapshot: Snapshot | None = None) -> None:
        if self._bar is not None:
            if snapshot is not None:
                self._bar.set_postfix_str(
                    f"running MSE {_fmt(snapshot.running_mse)}, bad {snapshot.bad}", refresh=False
                )
            self._bar.close()
            self._bar = None


class LogLine:
    """One INFO line every ``every`` seconds: rate, running MSE, learning rate, lag, and the
    bad count split by reason."""

    def __init__(self, every: float | None, clock: Callable[[], float] = time.monotonic):
        self.every = every
        self._clock = clock
        self._last = clock()
        self._last_messages = 0

    def maybe(self, snapshot: Callable[[], Snapshot], force: bool = False) -> None:
        if self.every is None:
            return
        now = self._clock()
        if not force and now - self._last < self.every:
            return
        s = snapshot()
        window = max(now - self._last, 1e-9)
        rate = (s.messages - self._last_messages) / window
        self._last, self._last_messages = now, s.messages
        logger.info(
            "messages=%d (%.0f/s) learned=%d predicted_only=%d bad=%d%s running_mse=%s "
            "rolling_mse=%s lr=%s lag=%s",
            s.messages, rate, s.learned, s.predicted_only, s.bad, _reasons(s), _fmt(s.running_mse),
            _fmt(s.rolling_mse), _fmt(s.learning_rate), "n/a" if s.lag is None else s.lag,
        )


class MSECurve:
    """The running MSE after every learned row (decimated to at most ``max_points``)."""

    def __init__(self, n0: int = 0, se0: float = 0.0, max_points: int = 20_000):
        self._n = n0
        self._sum = se0
        self.max_points = max_points
        self._stride = 1
        self._x: list[np.ndarray] = []
        self._y: list[np.ndarray] = []
        self._size = 0

    def add(self, squared_errors: np.ndarray) -> None:
        if squared_errors.size == 0:
            return
        sums = self._sum + np.cumsum(squared_errors)
        xs = self._n + np.arange(1, squared_errors.size + 1)
        self._n, self._sum = int(xs[-1]), float(sums[-1])
        keep = xs % self._stride == 0
        self._x.append(xs[keep])
        self._y.append(sums[keep] / xs[keep])
        self._size += int(keep.sum())
        if self._size > self.max_points:
            x, y = self.points()
            self._stride *= 2
            keep = x % self._stride == 0
            self._x, self._y = [x[keep]], [y[keep]]
            self._size = int(keep.sum())

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._x:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(self._x), np.concatenate(self._y)


def format_summary(s: Snapshot, *, resumed_from: int = 0, reason: str = "") -> str:
    """The end-of-run summary, one ``name: value`` per line."""
    resumed = f" (resumed after {resumed_from})" if resumed_from else ""
    refused = f" ({s.diverged} refused by the model)" if s.diverged else ""
    lines = [
        f"rows:            {s.messages}{resumed}",
        f"learned:         {s.learned}",
        f"predicted-only:  {s.predicted_only}",
        f"bad:             {s.bad}{refused}",
        f"running MSE:     {_fmt(s.running_mse)}",
        f"rolling MSE:     {_fmt(s.rolling_mse)}",
        f"time:            {s.elapsed:.2f} s",
        f"rows/s:          {s.rate:,.0f}",
    ]
    if reason:
        lines.append(f"stopped:         {reason}")
    return "\n".join(lines)


def write_plot(curve: MSECurve, path: str, title: str = "Prequential running MSE") -> None:
    """PNG of the running MSE against rows learned (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = curve.points()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        ax.plot(x, y, lw=1.2)
        ax.set_xlabel("rows learned")
        ax.set_ylabel("running MSE")
        if y.size and y.min() > 0 and y.max() / y.min() > 100:  # early errors dwarf the rest
            ax.set_yscale("log")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
