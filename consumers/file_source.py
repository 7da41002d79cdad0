"""A CSV or JSON Lines log (optionally gzip'd) row by row, optionally at its own pace.

What ``online-lr produce`` sends to Kafka (one message per row). ``online-lr replay`` reads files
through `consumers.columnar` instead, with the same cell rules.

The format comes from the extension: ``.csv`` is CSV with a header row; ``.jsonl``, ``.ndjson``
and ``.json`` are JSON Lines (one object per line); a trailing ``.gz`` means gzip. JSON lines are
delivered as their raw bytes, so they go through exactly the decoder a Kafka message goes
through. CSV cells stay strings (an empty cell is an absent field): the encoder reads a number
in a string by the same rule for every source (`online_lr.encoding.parse_number`), so a CSV and
a JSON Lines file of the same rows learn the same model. A file may start with a UTF-8 byte
order mark (Excel's "CSV UTF-8"), which is dropped. A CSV may be separated by ``,``, ``;``, tabs
or ``|``: the separator is the one of these the header line holds most of. With ``;`` or tabs, a
decimal comma (``3,5``) is written with a point (``3.5``), so it reads as a number too (Excel's
CSV in many locales).

The position is a row index: the number of records (non-blank JSON lines, CSV data rows) already
processed. A source built with ``start=k`` skips the first ``k`` records, which is how a replay
resumes from a checkpoint. Blank JSON lines are skipped and not counted.

Pacing: with ``pace_field`` set, each row is held back until ``(t_row - t_first) / speed`` seconds
after the first row was delivered, where ``t`` is read from that field: a number of seconds
(epoch or any other origin: only differences count) or an ISO 8601 date/time (naive = UTC). Rows
whose time cannot be read, or goes backwards, are delivered at once.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "log.csv")
>>> _ = open(p, "w").write("t,a,y\\n0,1.5,2\\n1,x,\\n")
>>> with FileSource(p) as src:
...     [(m.offset, m.value) for m in src.poll(10)]
[(0, {'t': '0', 'a': '1.5', 'y': '2'}), (1, {'t': '1', 'a': 'x'})]
>>> os.remove(p); os.rmdir(d)
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import time
from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from pathlib import Path

import orjson

from consumers.records import Message, Value
from online_lr.encoding import parse_number, parse_timestamp

__all__ = ["FORMATS", "FileSource", "csv_delimiter", "detect_format"]

FORMATS = ("csv", "jsonl")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_DELIMITERS = (",", ";", "\t", "|")


def csv_delimiter(header_line: str) -> str:
    """The separator of a CSV: the candidate the header line holds most of (``,`` on a tie).

    >>> csv_delimiter("price;sqm;city"), csv_delimiter("a|b"), csv_delimiter("y")
    (';', '|', ',')
    """
    counts = [(header_line.count(d), -k) for k, d in enumerate(_DELIMITERS)]
    best, minus_k = max(counts)
    return _DELIMITERS[-minus_k] if best else ","


def detect_format(path: str | Path) -> str:
    """``"csv"`` or ``"jsonl"`` from the file name (a trailing ``.gz`` is ignored)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise ValueError(f"cannot tell the format of {str(path)!r}: expected .csv or .jsonl (+ .gz)")


def _decimal_point(text: str) -> str:
    """``"3,5"`` -> ``"3.5"`` when that is a number; any other cell as it is."""
    if text.count(",") == 1:
        pointed = text.replace(",", ".")
        if parse_number(pointed) is not None:
            return pointed
    return text


class FileSource:
    """A resumable, optionally paced reader of one CSV / JSON Lines file.

    Parameters
    ----------
    path
        The file; ``.gz`` is decompressed.
    fmt
        ``"csv"``, ``"jsonl"`` or ``"auto"`` (from the extension).
    pace_field
        Field holding each row's time; ``None`` replays as fast as possible.
    speed
        Replay speed factor with pacing: 2.0 replays twice as fast as the log was written.
    start
        Row index to resume from (the checkpoint's position).
    clock, sleep
        Injected for tests (defaults: `time.monotonic`, `time.sleep`).
    """

    kind = "file"

    def __init__(
        self,
        path: str | Path,
        *,
        fmt: str = "auto",
        pace_field: str | None = None,
        speed: float = 1.0,
        start: int = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.path = Path(path)
        self.fmt = detect_format(self.path) if fmt == "auto" else fmt
        if self.fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS} or 'auto', got {fmt!r}")
        if not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number, got {speed!r}")
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self.pace_field = pace_field
        self.speed = float(speed)
        self.name = self.path.name
        self._position = start  # rows processed (what a checkpoint stores)
        self._read = start  # rows handed out by poll()
        self._clock = clock
        self._sleep = sleep
        self._file: io.IOBase | None = None
        self._rows: Iterator[Value] | None = None
        self._pending: Message | None = None
        self._pending_due: float | None = None  # computed once per row: pacing has state
        self._eof = False
        self._t0: tuple[float, float] | None = None  # (log time, wall time) of the first row
        self._last_due = -math.inf

    # -- context management -------------------------------------------------------------------

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._rows = None
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- reading ------------------------------------------------------------------------------

    def _open_binary(self) -> io.IOBase:
        gz = self.path.name.lower().endswith(".gz")
        return gzip.open(self.path, "rb") if gz else open(self.path, "rb")

    def _open_text(self) -> io.TextIOWrapper:
        # utf-8-sig: a byte order mark is dropped instead of becoming part of the first name
        return io.TextIOWrapper(self._open_binary(), encoding="utf-8-sig", newline="")

    def _open(self) -> Iterator[Value]:
        if self.fmt == "csv":
            self._file = self._open_text()
            rows: Iterator[Value] = self._csv_rows(self._file)
        else:
            self._file = self._open_binary()
            rows = self._jsonl_rows(self._file)
        for _ in range(self._read):  # resume: skip the rows already processed
            if next(rows, _END) is _END:
                break
        return rows

    @staticmethod
    def _csv_rows(f: io.TextIOWrapper) -> Iterator[Value]:
        first = f.readline()
        if not first:
            return
        delimiter = csv_delimiter(first)
        decimal_comma = delimiter != ","
        header = next(csv.reader([first], delimiter=delimiter), [])
        for cells in csv.reader(f, delimiter=delimiter):
            if not cells:
                continue
            if decimal_comma:
                cells = [_decimal_point(v) if "," in v else v for v in cells]
            yield {k: v for k, v in zip(header, cells) if v != ""}

    @staticmethod
    def _jsonl_rows(f: io.IOBase) -> Iterator[Value]:
        for k, line in enumerate(f):
            line = line.strip()
            if k == 0:
                line = line.removeprefix(codecs.BOM_UTF8)
            if line:
                yield line

    def _next(self) -> Message | None:
        if self._pending is None and not self._eof:
            if self._rows is None:
                self._rows = self._open()
            value = next(self._rows, _END)
            if value is _END:
                self._eof = True
                self.close()
            else:
                self._pending = Message(self.name, 0, self._read, value)
        return self._pending

    def _due(self, message: Message) -> float:
        """Wall-clock time at which ``message`` may be delivered (pacing)."""
        if self.pace_field is None:
            return -math.inf
        value = message.value
        if not isinstance(value, Mapping):
            try:
                value = orjson.loads(value) if value else None
            except orjson.JSONDecodeError:
                value = None
        t = parse_timestamp(value.get(self.pace_field)) if isinstance(value, Mapping) else None
        if t is None:
            return self._last_due
        if self._t0 is None:
            self._t0 = (t, self._clock())
        due = self._t0[1] + (t - self._t0[0]) / self.speed
        self._last_due = max(self._last_due, due)
        return due

    def poll(self, max_records: int, timeout: float = 1.0) -> list[Message] | None:
        """Up to ``max_records`` rows that are due; ``[]`` if none is due yet, ``None`` at the end.

        With pacing this sleeps at most ``timeout`` seconds waiting for the next row.
        """
        if self.pace_field is None:
            return self._poll_unpaced(max_records)
        out: list[Message] = []
        deadline = self._clock() + timeout
        while len(out) < max_records:
            message = self._next()
            if message is None:
                break
            due = self._due(message) if self._pending_due is None else self._pending_due
            now = self._clock()
            if due > now:
                self._pending_due = due
                if out or now >= deadline:
                    break
                self._sleep(min(due, deadline) - now)
                if self._clock() < due:
                    break
            self._pending_due = None
            self._pending = None
            self._read += 1
            out.append(message)
        if not out and self._eof:
            return None
        return out

    def _poll_unpaced(self, max_records: int) -> list[Message] | None:
        """`poll` without pacing: every row is due, so take them in bulk (no per-row clock)."""
        if self._eof:
            return None
        if self._rows is None:
            self._rows = self._open()
        values = list(islice(self._rows, max_records))
        if len(values) < max_records:
            self._eof = True
            self.close()
        first, name = self._read, self.name
        self._read += len(values)
        if not values:
            return None if self._eof else []
        return [Message(name, 0, first + k, v) for k, v in enumerate(values)]

    # -- position -----------------------------------------------------------------------------

    @property
    def position(self) -> int:
        """Rows processed so far: resume with ``FileSource(path, start=position)``."""
        return self._position

    def advance(self, messages: list[Message]) -> None:
        """Mark ``messages`` (the last poll's, in order) as processed."""
        if messages:
            self._position = messages[-1].offset + 1

    def offsets(self) -> dict[str, int]:
        return {}

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "path": str(self.path.resolve()),
                "position": self._position}

    def lag(self) -> int | None:
        return None

    def commit(self, offsets: dict[str, int]) -> None:
        """Nothing to commit: the checkpoint's position is the only record of progress."""


_END = object()
