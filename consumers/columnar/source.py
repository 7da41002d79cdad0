"""The columnar reader as a runner `Source`: what ``online-lr replay`` reads files through.

`ColumnarSource` hands the runner (`consumers.runner.Runner`) the batches of a
`ColumnarReader` already decoded (`DecodedMessages`: a sequence of `Message` built on demand,
carrying its `DecodedBatch`), so the runner's one loop predicts, learns, dead-letters and
checkpoints them as it does Kafka messages, without a dict per row.

A poll returns at most ``max_records`` rows of the reader's current stretch (a block of CSV or
JSON Lines, a Parquet batch): a stretch may be delivered in several slices, never one slice
across two stretches. The position a checkpoint stores (`ColumnarSource.describe`) is the
`Position` where the current stretch starts plus ``skip``, the records of that stretch already
processed; resuming re-reads that one stretch and drops them.

Pacing: with ``pace_field`` set, each row is held back until ``(t_row - t_first) / speed``
seconds after the first row was delivered, ``t`` read from that field as
`consumers.file_source.parse_time` reads it; a row without a readable time, or whose time
goes backwards, is delivered at once.

>>> import os, tempfile
>>> from consumers.schema import Schema
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "log.csv")
>>> _ = open(p, "w").write("a,y\\n1,2\\nx,3\\n4,\\n")
>>> source = ColumnarSource(p, Schema(target="y"))
>>> batch = source.poll(2)
>>> [m.offset for m in batch], batch.decoded.X.tolist(), [str(r) for _, r in batch.decoded.bad]
([0, 1], [[1.0]], ["non_numeric_feature: 'a' is string"])
>>> source.advance(batch); source.describe()["skip"]
2
>>> [m.value for m in source.poll(10)]
[{'a': 4.0}]
>>> source.close(); os.remove(p); os.rmdir(d)
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from consumers.columnar.paths import STDIN, format_of
from consumers.columnar.reader import ColumnarBatch, ColumnarReader, Position
from consumers.columnar.text import ByteStream, read_csv_header
from consumers.decode import DEFAULT_MAX_BYTES, DecodedBatch
from consumers.errors import CheckpointError
from consumers.file_source import FileSource, parse_time
from consumers.records import Message, Value
from consumers.schema import Schema

__all__ = ["ColumnarSource", "DecodedMessages"]


class DecodedMessages(Sequence[Message]):
    """Rows ``first .. first + count - 1`` of one input, decoded (``decoded``), as messages.

    A message's value is the row as the model sees it (its features, and the target when
    labelled) plus the reader's extra columns; it is only built when asked for (a prediction
    or a dead letter written, the first row reported).
    """

    def __init__(self, name: str, first: int, count: int, decoded: DecodedBatch,
                 target: str = "", extra: object = None,
                 read_row: Callable[[int], Value] | None = None):
        self.name = name
        self._read_row = read_row  # the first batch's: every field of a row, for the report
        self.target = target
        self.first = first
        self.count = count
        self.decoded = decoded
        self._extra = extra
        self._slot: dict[int, int] | None = None

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.count))]
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        return Message(self.name, 0, self.first + i, self._value(i))

    def _value(self, i: int) -> Value:
        if self._read_row is not None:
            return self._read_row(self.first + i)
        d = self.decoded
        if self._slot is None:
            self._slot = {int(r): k for k, r in enumerate(d.rows)}
        value: dict = {}
        k = self._slot.get(i)
        if k is not None:
            value = dict(zip(d.columns, d.X[k].tolist()))
            if d.learn[k]:
                value[self.target] = float(d.y[k])
        if self._extra is not None:
            value.update((n, v) for n, v in self._extra.slice(i, 1).to_pylist()[0].items()
                         if v is not None)
        return value


def _slice(decoded: DecodedBatch, lo: int, hi: int) -> DecodedBatch:
    """The rows ``lo .. hi - 1`` of a decoded stretch, renumbered from 0."""
    keep = (decoded.rows >= lo) & (decoded.rows < hi)
    return replace(decoded, X=decoded.X[keep], y=decoded.y[keep], learn=decoded.learn[keep],
                   rows=decoded.rows[keep] - lo,
                   bad=[(i - lo, r) for i, r in decoded.bad if lo <= i < hi])


class ColumnarSource:
    """A resumable, optionally paced `Source` over files, directories, globs or ``-``.

    Parameters
    ----------
    source
        What `ColumnarReader` reads (see `consumers.columnar.paths`).
    schema
        The run's schema (the runner's: the reader fixes it on the first valid row).
    fmt
        ``"auto"``, ``"csv"``, ``"jsonl"`` or ``"parquet"``.
    start
        A checkpoint's ``describe()`` (its ``position`` and ``skip``); ``None``: the beginning.
    pace_field, speed
        Pacing (see the module docstring).
    clock, sleep
        Injected for tests.
    """

    kind = "file"
    end_reason = None

    def __init__(
        self,
        source: str | Path | Sequence[str | Path],
        schema: Schema,
        *,
        fmt: str = "auto",
        start: dict | None = None,
        pace_field: str | None = None,
        speed: float = 1.0,
        max_message_bytes: int | None = DEFAULT_MAX_BYTES,
        stdin: BinaryIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        position, self._skip = _resume_point(start)
        self.reader = ColumnarReader(
            source, schema, fmt=fmt, start=position, max_message_bytes=max_message_bytes,
            extra_columns=(pace_field,) if pace_field else (), stdin=stdin)
        self.name = Path(str(source)).name if isinstance(source, (str, Path)) else "inputs"
        self.pace_field = pace_field
        self.speed = float(speed)
        self._clock = clock
        self._sleep = sleep
        self._batches: Iterator[ColumnarBatch] | None = None
        self._current: ColumnarBatch | None = None
        self._due: np.ndarray | None = None  # wall time each row of the stretch is due
        self._handed = 0  # records of the current stretch handed out by poll()
        self._done = 0  # ... and processed (advance)
        self._t0: tuple[float, float] | None = None  # (log time, wall time) of the first row
        self._last_due = -math.inf
        self._reported = False

    def __enter__(self) -> ColumnarSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()

    def fields(self) -> list[str] | None:
        """The columns of the first input: a CSV's header, a Parquet schema; else None."""
        path = self.reader.paths[0]
        fmt = format_of(path) if self.reader.fmt == "auto" and path != STDIN else self.reader.fmt
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if fmt != "csv" or path == STDIN:
            return None
        with open(path, "rb") as f:
            header = read_csv_header(ByteStream(f))
        return list(header.names) if header is not None else None

    # -- reading ------------------------------------------------------------------------------

    def _stretch(self) -> ColumnarBatch | None:
        """The stretch rows are handed out of (the next one once this one is all handed out)."""
        while self._current is None or self._handed >= self._current.records:
            if self._batches is None:
                self._batches = iter(self.reader)
            self._current = next(self._batches, None)
            if self._current is None:
                return None
            self._handed = self._done = min(self._skip, self._current.records)
            self._skip = 0
            self._due = None
        return self._current

    def poll(self, max_records: int, timeout: float = 1.0) -> DecodedMessages | None:
        """Up to ``max_records`` rows that are due; ``[]`` if none is due yet, ``None`` at the end."""
        stretch = self._stretch()
        if stretch is None:
            return None
        lo = self._handed
        hi = min(stretch.records, lo + max_records)
        if self.pace_field is not None:
            hi = self._due_until(stretch, lo, hi, timeout)
        self._handed = hi
        whole = lo == 0 and hi == stretch.records
        decoded = stretch.decoded if whole else _slice(stretch.decoded, lo, hi)
        extra = stretch.extra.slice(lo, hi - lo) if stretch.extra is not None else None
        read_row = None
        if not self._reported:  # the runner reports the fields of the first valid row
            self._reported = True
            read_row = functools.partial(_read_row, stretch.start.path, self.reader.fmt)
        return DecodedMessages(Path(stretch.start.path).name, stretch.start.row + lo, hi - lo,
                               decoded, self.reader.schema.target, extra, read_row)

    def _due_until(self, stretch: ColumnarBatch, lo: int, hi: int, timeout: float) -> int:
        """The end of the rows from ``lo`` (at most ``hi``) that are due, waiting up to ``timeout``."""
        if self._due is None:
            self._due = self._due_times(stretch)
        now = self._clock()
        if self._due[lo] > now:
            self._sleep(max(0.0, min(float(self._due[lo]), now + timeout) - now))
            now = self._clock()
        due = np.flatnonzero(self._due[lo:hi] > now)
        return lo + int(due[0]) if len(due) else hi

    def _due_times(self, stretch: ColumnarBatch) -> np.ndarray:
        """Wall-clock time at which each row of ``stretch`` may be delivered."""
        times = stretch.extra.column(0).to_pylist() if stretch.extra is not None else []
        due = np.empty(stretch.records)
        for i in range(stretch.records):
            t = parse_time(times[i]) if i < len(times) else None
            if t is not None:
                if self._t0 is None:
                    self._t0 = (t, self._clock())
                self._last_due = max(self._last_due, self._t0[1] + (t - self._t0[0]) / self.speed)
            due[i] = self._last_due
        return due

    # -- position -----------------------------------------------------------------------------

    def advance(self, messages: Sequence[Message]) -> None:
        """Mark ``messages`` (the last poll's, in order) as processed."""
        self._done += len(messages)

    def position(self) -> tuple[Position, int]:
        """Where to resume: a stretch's start and the records of it already processed."""
        if self._current is None:
            return self.reader.position, self._skip
        if self._done >= self._current.records:
            return self._current.end, 0
        return self._current.start, self._done

    def offsets(self) -> dict[str, int]:
        return {}

    def describe(self) -> dict:
        position, skip = self.position()
        return {"kind": self.kind, "name": self.name, "position": position.to_dict(),
                "skip": skip}

    def lag(self) -> int | None:
        return None

    def commit(self, offsets: dict[str, int]) -> None:
        """Nothing to commit: the checkpoint's position is the only record of progress."""


def _read_row(path: str, fmt: str, row: int) -> Value:
    """Record ``row`` of a file with every field, as the row path reads it (``{}`` on stdin)."""
    fmt = format_of(path) if fmt == "auto" and path != STDIN else fmt
    if path == STDIN:
        return {}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        seen = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            if row < seen + batch.num_rows:
                return batch.slice(row - seen, 1).to_pylist()[0]
            seen += batch.num_rows
        return {}
    with FileSource(path, fmt=fmt, start=row) as source:
        messages = source.poll(1) or [Message("", 0, 0, {})]
    return messages[0].value


def _resume_point(saved: dict | None) -> tuple[Position | None, int]:
    """The `Position` and records to skip a checkpoint's source holds (None: the beginning)."""
    if saved is None:
        return None, 0
    position = saved.get("position")
    if not isinstance(position, dict):
        raise CheckpointError(
            f"the checkpoint was written by an older replay (row position {position!r}), which "
            "this version cannot resume: pass --fresh to start again (or another --checkpoint)")
    try:
        return Position.from_dict(position), int(saved.get("skip", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's file position cannot be read: {exc}") from None
