"""Replaying a log at its own pace: when each row may be delivered (``--pace-field``).

A row whose time is ``t`` (read from the pace field as `online_lr.encoding.parse_timestamp`
reads it: epoch seconds or ISO 8601, naive = UTC) is due ``(t - t_first) / speed`` seconds after
the first timed row was seen. A row without a readable time, or whose time goes backwards, is
due with the row before it (at once before the first timed row): pacing never reorders rows.
What ``replay`` (`consumers.columnar.source.ColumnarSource`) and ``produce`` both use.

>>> clock = iter([100.0, 100.0]).__next__
>>> Pacer(speed=2.0, clock=clock).due(["2026-01-01T00:00:00Z", None, "2026-01-01T00:00:10Z",
...                                    1767225605.0, "junk"]).tolist()
[100.0, 100.0, 105.0, 105.0, 105.0]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from online_lr.encoding import parse_timestamp

__all__ = ["Pacer"]


class Pacer:
    """Due times of rows (`due`) and the wait for them (`wait`).

    Parameters
    ----------
    speed
        2.0 replays twice as fast as the log was written.
    clock, sleep
        Injected for tests (defaults: `time.monotonic`, `time.sleep`).
    """

    def __init__(self, speed: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        self.speed = float(speed)
        self._clock = clock
        self._sleep = sleep
        self._t0: tuple[float, float] | None = None  # (log time, wall time) of the first row
        self._last_due = -math.inf

    def due(self, times: Sequence[object], count: int | None = None) -> np.ndarray:
        """The wall-clock time at which each of the next ``count`` rows (default: all of
        ``times``) may be delivered; the rows past ``times`` have no time."""
        count = len(times) if count is None else count
        out = np.empty(count)
        for i in range(count):
            t = parse_timestamp(times[i]) if i < len(times) else None
            if t is not None:
                if self._t0 is None:
                    self._t0 = (t, self._clock())
                self._last_due = max(self._last_due, self._t0[1] + (t - self._t0[0]) / self.speed)
            out[i] = self._last_due
        return out

    def wait(self, until: float, timeout: float = math.inf) -> float:
        """Sleep until the wall-clock time ``until``, at most ``timeout`` seconds; the time
        then."""
        now = self._clock()
        if until > now:
            self._sleep(min(until, now + timeout) - now)
            now = self._clock()
        return now
