"""Turn the runner's snapshots into a progress bar, periodic log lines, a summary and a plot.

Nothing here touches the model or the stream: the runner hands over a `Snapshot` (plain numbers,
the errors as the model reports them) and, for the plot, the model's rolling errors after each
batch. tqdm and matplotlib are imported only when a bar or a plot is actually asked for.

Every report shows the model's prequential error beside its *baseline*'s, the error of always
predicting the running mean of the targets: a model worse than that constant has learned nothing
useful, and `baseline_warning` says so, with the likely reasons.

>>> s = Snapshot(messages=5000, learned=5000, predicted_only=0, bad=0, diverged=0,
...              running_mse=5.5e10, rolling_mse=5.1e10, learning_rate=0.01, elapsed=1.0,
...              baseline_running_mse=2.5e10, baseline_rolling_mse=2.4e10, updates=5000)
>>> print(baseline_warning(s))
the model predicts worse than a constant: rolling MSE 5.1e+10 over the last 1000 rows, 2.1x ...
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = [
    "LogLine",
    "MSECurve",
    "ProgressBar",
    "Snapshot",
    "baseline_warning",
    "format_summary",
    "write_plot",
]

#: Rows the model must have learned before it is compared with its baseline (early errors of
#: both are dominated by the first few rows).
MIN_ROWS_COMPARED = 100

logger = logging.getLogger("consumers")


@dataclass(frozen=True)
class Snapshot:
    """Where a run stands. Counts are this run's; ``*_mse`` are the model's (prequential), and
    ``baseline_*_mse`` those of predicting the running mean of the targets; ``updates`` is the
    model's step count (all runs)."""

    messages: int
    learned: int
    predicted_only: int
    bad: int
    diverged: int
    running_mse: float
    rolling_mse: float
    learning_rate: float
    elapsed: float
    baseline_running_mse: float = math.nan
    baseline_rolling_mse: float = math.nan
    updates: int = 0
    window: int = 1000
    lag: int | None = None
    checkpoints: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=dict)
    #: events (since the encoder started, resumed runs included) in which a field had no value
    missing_by_field: dict[str, int] = field(default_factory=dict)
    #: the latest event time (``fields.timestamp``, epoch seconds) of this run, if any
    event_time: float | None = None

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


#: Fields the log line names in its ``missing=`` part (the most often missing first).
MISSING_SHOWN = 5


def _event_time(s: Snapshot) -> str:
    """`` event_time=2026-11-01T10:00:00Z`` (the latest of the run), or nothing."""
    if s.event_time is None:
        return ""
    from datetime import datetime, timezone

    try:
        moment = datetime.fromtimestamp(s.event_time, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f" event_time={s.event_time:g}"
    return f" event_time={moment.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def _missing(s: Snapshot) -> str:
    """`` missing=(floor=2000 city=12 +3 fields)``: the most often missing fields, or nothing."""
    missing = [(k, v) for k, v in s.missing_by_field.items() if v]
    if not missing:
        return ""
    missing.sort(key=lambda kv: (-kv[1], kv[0]))
    more = len(missing) - MISSING_SHOWN
    shown = " ".join(f"{k}={v}" for k, v in missing[:MISSING_SHOWN])
    return f" missing=({shown}{f' +{more} fields' if more > 0 else ''})"


class LogLine:
    """One INFO line every ``every`` seconds: rate, running MSE, learning rate, lag, the bad
    count split by reason and the fields most often missing (events without a value)."""

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
            "rolling_mse=%s baseline_running_mse=%s baseline_rolling_mse=%s lr=%s lag=%s%s%s",
            s.messages, rate, s.learned, s.predicted_only, s.bad, _reasons(s), _fmt(s.running_mse),
            _fmt(s.rolling_mse), _fmt(s.baseline_running_mse), _fmt(s.baseline_rolling_mse),
            _fmt(s.learning_rate), "n/a" if s.lag is None else s.lag, _event_time(s), _missing(s),
        )


class MSECurve:
    """The model's and the baseline's rolling MSE against the model's update count, as the
    model reports them after each batch (decimated to at most ``max_points``)."""

    def __init__(self, max_points: int = 20_000):
        self.max_points = max_points
        self._points: list[tuple[int, float, float]] = []
        self._stride = 1
        self._offered = 0
        self._last_updates = -1

    def add(self, updates: int, rolling_mse: float, baseline_rolling_mse: float) -> None:
        if updates <= self._last_updates:
            return  # nothing learned since the last point
        self._last_updates = updates
        if self._offered % self._stride == 0:
            self._points.append((updates, rolling_mse, baseline_rolling_mse))
        self._offered += 1
        if len(self._points) > self.max_points:
            self._stride *= 2
            self._points = self._points[::2]

    def points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(updates, model rolling MSE, baseline rolling MSE)``."""
        if not self._points:
            return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
        x, model, baseline = zip(*self._points)
        return np.array(x), np.array(model), np.array(baseline)


def baseline_warning(s: Snapshot) -> str | None:
    """Why the model is worse than predicting the mean over its rolling window, or None.

    Only once the model has learned `MIN_ROWS_COMPARED` rows; the reasons suggested depend on
    how much worse it is: far worse means the updates overshoot, a little worse that the model
    learns too slowly or that the features do not predict the target.
    """
    model, baseline = s.rolling_mse, s.baseline_rolling_mse
    if s.updates < MIN_ROWS_COMPARED or not (model > baseline):  # NaN compares False
        return None
    ratio = model / baseline if baseline > 0 else math.inf
    head = (
        f"the model predicts worse than a constant: rolling MSE {model:.2g} over the last "
        f"{min(s.window, s.updates)} rows, {ratio:.2g}x that of always predicting the running mean "
        f"of the target ({baseline:.2g})."
    )
    if ratio >= 10:
        why = (
            " Likely: the updates overshoot - the learning rate is too large for the scale of the "
            "features or of the target. Lower it (--set model.learning_rate=...), scale the "
            "data, or check the features listed at start."
        )
    else:
        why = (
            " Likely: the model learns too slowly for the target's scale (a larger "
            "model.learning_rate, or scaled data), or the features do not predict this target "
            "(check --target and the features listed at start)."
        )
    return head + why


def format_summary(s: Snapshot, *, resumed_from: int = 0, reason: str = "") -> str:
    """The end-of-run summary, one ``name: value`` per line."""
    resumed = f" (resumed after {resumed_from})" if resumed_from else ""
    refused = f" ({s.diverged} refused by the model)" if s.diverged else ""

    def mse(v: float) -> str:
        return _fmt(v) if s.updates else "n/a"  # a model that learned nothing has no error
    lines = [
        f"rows:            {s.messages}{resumed}",
        f"learned:         {s.learned}",
        f"predicted-only:  {s.predicted_only}",
        f"bad:             {s.bad}{refused}",
        f"running MSE:     {mse(s.running_mse)}",
        f"rolling MSE:     {mse(s.rolling_mse)}",
        f"baseline MSE:    {mse(s.baseline_running_mse)} running, "
        f"{mse(s.baseline_rolling_mse)} rolling (always predicting the mean target so far)",
        f"time:            {s.elapsed:.2f} s",
        f"rows/s:          {s.rate:,.0f}",
    ]
    if reason:
        lines.append(f"stopped:         {reason}")
    if baseline_warning(s):
        lines.append("WARNING:         the model is worse than the baseline (see the log above)")
    return "\n".join(lines)


def write_plot(curve: MSECurve, path: str,
               title: str = "Prequential rolling MSE: model vs. predicting the mean") -> None:
    """PNG of the model's and the baseline's rolling MSE against updates (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, model, baseline = curve.points()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        ax.plot(x, model, lw=1.2, label="model")
        ax.plot(x, baseline, lw=1.2, ls="--", label="baseline: running mean of the target")
        ax.set_xlabel("rows learned")
        ax.set_ylabel("rolling MSE")
        values = np.concatenate([model, baseline])
        values = values[np.isfinite(values) & (values > 0)]
        if values.size and values.max() / values.min() > 100:  # one curve dwarfs the other
            ax.set_yscale("log")
        ax.set_title(title)
        ax.legend()
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
