"""The columnar reader as a runner `Source` (what ``online-lr replay`` reads files through),
and as the rows ``online-lr produce`` sends (`paced_values`).

`ColumnarSource` hands the runner (`consumers.runner.Runner`) the records of a
`ColumnarReader` already encoded by the run's `online_lr.encoding.FeatureEncoder`
(`DecodedMessages`: a sequence of `Message` built on demand, carrying its
`consumers.decode.DecodedBatch`), so the runner's one loop predicts, learns, dead-letters and
checkpoints them as it does Kafka messages.

Encoding: a stretch whose fields are all finite numbers, each ignored or already a feature of
its own name, is encoded in bulk (`FeatureEncoder.encode_numbers`: no dict per row). Any other
(the first, which creates the features; one with a string, a nested or list value, a null
feature, a new field, a categorical one, the timestamp...) goes the row path's way: JSON lines through `consumers.decode.decode_batch` as a Kafka message does, CSV and
Parquet rows as dicts (an empty cell or a null is an absent field) through the same call. Both
give the same rows, model and encoder counts.

A poll returns at most ``max_records`` rows of the reader's current stretch (a block of CSV or
JSON Lines, a Parquet batch): a stretch may be delivered in several slices, never one slice
across two stretches. The position a checkpoint stores (`ColumnarSource.describe`) is the
`Position` where the current stretch starts plus ``skip``, the records of that stretch already
processed; resuming re-reads that one stretch and drops them.

Pacing: with ``pace_field`` set, each row is held back until it is due
(`consumers.columnar.pacing`); a poll waits at most its timeout for the first of them.

>>> import os, tempfile
>>> from online_lr.encoding import FeatureEncoder
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "log.csv")
>>> _ = open(p, "w").write("a,y\\n1,2\\nx,3\\n4,\\n")
>>> encoder = FeatureEncoder(target="y")
>>> source = ColumnarSource(p, encoder)
>>> batch = source.poll(2)
>>> [m.offset for m in batch], encoder.feature_names
([0, 1], ['a', 'a=x'])
>>> batch.decode(encoder, None).encoded.indices.tolist()
[0, 1]
>>> source.advance(batch); source.describe()["skip"]
2
>>> [m.value for m in source.poll(10)]
[{'a': '4'}]
>>> source.close(); os.remove(p); os.rmdir(d)
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from consumers.columnar.pacing import Pacer
from consumers.columnar.paths import STDIN, expand, format_of
from consumers.columnar.reader import (
    MALFORMED_ROW,
    ColumnarBatch,
    ColumnarReader,
    Position,
    RawRows,
    unreadable,
)
from consumers.columnar.text import ByteStream, read_csv_header
from consumers.decode import DEFAULT_MAX_BYTES, DecodedBatch, decode_batch
from consumers.errors import CheckpointError
from consumers.records import BadRecord, Message, Value

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ColumnarSource", "DecodedMessages", "input_fields", "paced_values"]

logger = logging.getLogger(__name__)


class DecodedMessages(Sequence[Message]):
    """Records ``first .. first + len - 1`` of one input as messages, already decoded.

    A message's value is its record as read (a dict; the JSON line's bytes), built only when
    asked for (a prediction or a dead letter written, the first row reported).
    """

    def __init__(self, name: str, first: int, raw: RawRows, count: int, decoded: DecodedBatch):
        self.name = name
        self.first = first
        self.count = count
        self._decoded = decoded
        self._raw = raw

    def decode(self, encoder: Any, max_bytes: int | None) -> DecodedBatch:
        """The records as the source decoded them when read: with the encoder and size limit
        it was given, which are the run's (the arguments, the same, are not used again)."""
        return self._decoded

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.count))]
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        return Message(self.name, 0, self.first + i, _record(self._raw, i))


def _record(raw: RawRows, i: int) -> Value:
    """Record ``i`` of a stretch as the row path delivers it."""
    if raw.lines is not None:
        return raw.lines[i]
    if raw.batch is None or i >= raw.batch.num_rows:
        return {}  # a malformed CSV row
    return _row_dicts(raw.batch.slice(i, 1))[0]


def _row_dicts(batch: pa.RecordBatch) -> list[dict]:
    """The rows of an Arrow batch as the row path reads them: a null (empty cell) is absent."""
    return [{k: v for k, v in row.items() if v is not None} for row in batch.to_pylist()]


def _numbers(batch: pa.RecordBatch, target: str | None) -> tuple[list[str], np.ndarray,
                                                                np.ndarray | None] | None:
    """Field names, feature matrix and targets (NaN: none) when every field but the target is
    a number in every row (ints exactly representable), else None."""
    import pyarrow as pa

    names, columns, y = [], [], None
    for name, column in zip(batch.schema.names, batch.columns):
        t = column.type
        if not (pa.types.is_floating(t) or pa.types.is_integer(t)):
            return None
        values = column.to_numpy(zero_copy_only=False)
        if pa.types.is_integer(t):
            if column.null_count or (len(values) and np.abs(values).max() >= 2**53):
                return None
            values = values.astype(np.float64)
        if name == target:
            y = np.asarray(values, dtype=np.float64)  # nulls are NaN: no target
        elif column.null_count:
            return None
        else:
            names.append(name)
            columns.append(values)
    if not columns:
        return None
    return names, np.column_stack(columns), y


def _concat_bad(decoded: DecodedBatch, raw: RawRows, lo: int, hi: int) -> DecodedBatch:
    """``decoded`` with the malformed CSV rows of records ``lo .. hi - 1`` refused."""
    if raw.malformed:
        first = raw.batch.num_rows if raw.batch is not None else 0
        decoded.bad += [(first + k - lo, BadRecord(MALFORMED_ROW, m))
                        for k, m in enumerate(raw.malformed) if lo <= first + k < hi]
    return decoded


class ColumnarSource:
    """A resumable, optionally paced `Source` over files, directories, globs or ``-``.

    Parameters
    ----------
    source
        What `ColumnarReader` reads (see `consumers.columnar.paths`).
    encoder
        The run's `online_lr.encoding.FeatureEncoder` (the runner's).
    fmt
        ``"auto"``, ``"csv"``, ``"jsonl"`` or ``"parquet"``.
    start
        A checkpoint's ``describe()`` (its ``position`` and ``skip``); ``None``: the beginning.
    pace_field, speed
        Pacing (see the module docstring).
    block_bytes
        Bytes of CSV / JSON Lines read at once (Parquet: rows, one per 16 bytes).
    clock, sleep
        Injected for tests.
    """

    kind = "file"
    end_reason = None
    lock: threading.RLock

    def __init__(
        self,
        source: str | Path | Sequence[str | Path],
        encoder: Any,
        *,
        fmt: str = "auto",
        start: dict | None = None,
        pace_field: str | None = None,
        speed: float = 1.0,
        max_message_bytes: int | None = DEFAULT_MAX_BYTES,
        block_bytes: int = 1 << 20,
        stdin: BinaryIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._pacer = Pacer(speed, clock, sleep) if pace_field else None
        position, self._skip = _resume_point(start)
        self.reader = ColumnarReader(
            source, fmt=fmt, start=position,
            block_bytes=block_bytes, batch_rows=max(1, block_bytes // 16),
            extra_columns=(pace_field,) if pace_field else (), stdin=stdin)
        self.encoder = encoder
        self.max_message_bytes = max_message_bytes
        self.name = Path(str(source)).name if isinstance(source, (str, Path)) else "inputs"
        self.pace_field = pace_field
        self._batches: Iterator[ColumnarBatch] | None = None
        self._current: ColumnarBatch | None = None
        self._due: np.ndarray | None = None  # wall time each row of the stretch is due
        self._handed = 0  # records of the current stretch handed out by poll()
        self._done = 0  # ... and processed (advance)
        self.lock = threading.RLock()

    def __enter__(self) -> ColumnarSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()

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
        """Up to ``max_records`` rows that are due; none if none is due yet; None at the end."""
        stretch = self._stretch()
        if stretch is None:
            return None
        lo = self._handed
        hi = min(stretch.records, lo + max_records)
        if self._pacer is not None:
            hi = self._due_until(self._pacer, stretch, lo, hi, timeout)
        self._handed = hi
        raw = _slice(stretch.raw, lo, hi)
        return DecodedMessages(Path(stretch.start.path).name, stretch.start.row + lo, raw,
                               hi - lo, self._encode(raw, hi - lo))

    def _encode(self, raw: RawRows, n: int) -> DecodedBatch:
        """The records of ``raw`` encoded (see the module docstring)."""
        encoder = self.encoder
        batch = raw.batch
        fits = raw.lines is None or self.max_message_bytes is None or \
            max(map(len, raw.lines), default=0) <= self.max_message_bytes
        numbers = _numbers(batch, encoder.target) if batch is not None and fits else None
        if numbers is not None:
            encoded = encoder.encode_numbers(*numbers)
            if encoded is not None:
                return _concat_bad(DecodedBatch(encoded, encoded.rows), raw, 0, n)
        if raw.lines is not None:
            return decode_batch(raw.lines, encoder, self.max_message_bytes)
        values = _row_dicts(batch) if batch is not None else []
        return _concat_bad(decode_batch(values, encoder, None), raw, 0, n)

    def _due_until(self, pacer: Pacer, stretch: ColumnarBatch, lo: int, hi: int,
                   timeout: float) -> int:
        """The end of the rows from ``lo`` (at most ``hi``) due, waiting up to ``timeout``."""
        if self._due is None:
            self._due = pacer.due(_pace_times(stretch), stretch.records)
        now = pacer.wait(float(self._due[lo]), timeout)
        due = np.flatnonzero(self._due[lo:hi] > now)
        return lo + int(due[0]) if len(due) else hi

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


def paced_values(source: str | Path, fmt: str = "auto", pace_field: str | None = None,
                 speed: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> Iterator[Value]:
    """The records of ``source`` as written, one by one, held back until due with a
    ``pace_field`` (`Pacer`): what ``online-lr produce`` sends, one message each.

    A JSON line is its bytes; a CSV or Parquet row a dict of its cells (CSV cells as text), a
    null or empty cell absent. Malformed CSV rows (the wrong number of cells) are skipped with
    a warning. ``clock`` and ``sleep`` are injected for tests.
    """
    pacer = Pacer(speed, clock, sleep) if pace_field else None
    with ColumnarReader(source, fmt=fmt, extra_columns=(pace_field,) if pace_field else (),
                        text_cells=True) as reader:
        for stretch in reader:
            raw = stretch.raw
            if raw.malformed:
                logger.warning(
                    "skipped %d malformed CSV rows; the first: %s", len(raw.malformed),
                    raw.malformed[0])
            values = raw.lines if raw.lines is not None else \
                _row_dicts(raw.batch) if raw.batch is not None else []
            due = pacer.due(_pace_times(stretch), stretch.records) if pacer else None
            for k, value in enumerate(values):
                if due is not None:
                    pacer.wait(float(due[k]))
                yield value


def _pace_times(stretch: ColumnarBatch) -> list:
    """The pace field's values of a stretch (its first extra column)."""
    return stretch.extra.column(0).to_pylist() if stretch.extra is not None else []


def input_fields(source: str | Path, fmt: str = "auto") -> list[str] | None:
    """The columns of the first input of ``source``: a CSV's header, a Parquet schema; None
    for JSON Lines and stdin (nothing to read before the rows)."""
    path = expand(source)[0]
    if path == STDIN:
        return None
    fmt = format_of(path) if fmt == "auto" else fmt
    if fmt == "jsonl":
        return None
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        with open(path, "rb") as f:
            header = read_csv_header(ByteStream(f))
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise unreadable(path, exc) from exc
    return list(header.names) if header is not None else None


def _slice(raw: RawRows, lo: int, hi: int) -> RawRows:
    """Records ``lo .. hi - 1`` of a stretch (the malformed CSV rows follow the batch's)."""
    batch = raw.batch
    rows = batch.num_rows if batch is not None else 0
    total = len(raw.lines) if raw.lines is not None else rows + len(raw.malformed or ())
    if lo == 0 and hi >= total:
        return raw  # a whole stretch: the usual case
    if batch is not None:
        batch = batch.slice(min(lo, rows), max(0, min(hi, rows) - lo))
    lines = raw.lines[lo:hi] if raw.lines is not None else None
    malformed = [m for k, m in enumerate(raw.malformed or ()) if lo <= rows + k < hi]
    return RawRows(batch, lines, malformed)


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
