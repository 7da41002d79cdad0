"""Stream CSV, JSON Lines and Parquet inputs as batches of records, resumable by position.

`ColumnarReader` reads the inputs of a source (see `consumers.columnar.paths` for which files
and in which order) with Arrow and yields `ColumnarBatch` es: the records of a stretch of one
file as read (`RawRows`: an Arrow batch, the JSON lines, the malformed CSV rows), plus the
`Position` before and after that stretch. Rows come in file order, files in path order. The
reader does not decide what a record means: `consumers.columnar.source` encodes them with the
run's encoder, by the row path's rules.

Formats
-------
* CSV: a header row; the delimiter (``,``, ``;``, tab or ``|``) is sniffed from it, a UTF-8 byte
  order mark is dropped, quoted cells may hold newlines. A block's cells are float64 when every
  one is a finite number, else text (a decimal comma written with a point when the delimiter
  is not a comma); an empty cell is null. With ``text_cells`` every cell stays text, as
  written (what ``online-lr produce`` sends). A row with more or
  fewer cells than the header is listed in ``malformed`` (the source refuses it as
  `MALFORMED_ROW`; the row replay pads or truncates it instead); Arrow does not say where it
  was in its block, so it follows the block's other rows.
* JSON Lines: one object per line; ``lines`` holds the block's non-blank lines, ``batch`` the
  block as Arrow read it when it is a table of numbers (every column integers or floats: the
  only tables a caller reads in bulk), else None (also when Arrow cannot read the block as one
  table). Once a block holds another kind of value (text, objects, arrays, booleans), in its
  first line or in its table, the rest of the file is not parsed by Arrow: its events are
  decoded line by line.
* Parquet: the columns as typed, but for the types JSON has no value of, read as a CSV of the
  table would hold them (`_json_types`): a decimal is a float, a duration its seconds, a date,
  time or timestamp its ISO 8601 text (so a ``--timestamp`` column is parsed, any other is a
  date string); nulls are null.
* ``-`` reads stdin: gzip'd if it starts with gzip's magic bytes (as any CSV/JSON Lines input),
  Parquet if it starts with ``PAR1`` (read whole into memory: Parquet needs its footer), JSON
  Lines if its first non-blank byte is ``{``, CSV otherwise; ``fmt`` overrides.

Positions
---------
A `Position` names a file (index in the input list, and its path to check it is the same
one), the records of that file already read (``row``: data rows, refused ones included, blank
lines not counted) and, for CSV and JSON Lines, the byte offset in the decompressed stream
where the next record starts. ``ColumnarReader(source, start=position)`` resumes there
without decoding what came before: it seeks a plain file to the byte, reads gzip and stdin up to
it without parsing, and skips whole Parquet row groups (and slices the first one it reads).

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "log.csv")
>>> _ = open(p, "w").write("a,b,y\\n1,2,3\\n4,x,5\\n6,7,\\n")
>>> with ColumnarReader(p) as reader:
...     [b.raw.batch.to_pydict() for b in reader]
[{'a': ['1', '4', '6'], 'b': ['2', 'x', '7'], 'y': ['3', '5', None]}]
>>> reader.position
Position(file=0, path='...log.csv', row=3, byte=23)
>>> resume = Position(file=0, path=p, row=2, byte=18)
>>> with ColumnarReader(p, start=resume) as r:
...     [b.raw.batch.to_pydict() for b in r]
[{'a': [6.0], 'b': [7.0], 'y': [None]}]
>>> os.remove(p); os.rmdir(d)
"""

from __future__ import annotations

import io
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from consumers.columnar.paths import COLUMNAR_FORMATS, STDIN, expand, format_of
from consumers.columnar.text import (
    BOM,
    ByteStream,
    CsvHeader,
    CsvHeaderError,
    read_csv_header,
    record_blocks,
)
from consumers.errors import ConfigError, ConsumersError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MALFORMED_ROW", "ColumnarBatch", "ColumnarReader", "Position", "RawRows",
           "unreadable"]


@dataclass
class RawRows:
    """A stretch's records as read, for a caller that encodes them (`consumers.columnar.source`).

    ``batch``: the records as an Arrow batch (CSV cells as float64 when every cell of the block
    is a finite number, else as text; Parquet typed; JSON Lines only a table of numbers), or
    None; ``lines``: the JSON lines (JSON Lines only);
    ``malformed``: the CSV rows with the wrong number of cells, which follow the batch's rows.
    """

    batch: pa.RecordBatch | None = None
    lines: list[bytes] | None = None
    malformed: list[str] | None = None


class _Stretch(NamedTuple):
    """What reading one block (or Parquet batch) gives: rows, how many records, where it ended."""

    raw: RawRows
    records: int
    byte: int
    extra: pa.RecordBatch | None = None

#: Reason code of a CSV row whose number of cells is not the header's (the only code the row
#: path does not have: it pads or truncates such rows).
MALFORMED_ROW = "malformed_row"


@dataclass(frozen=True)
class Position:
    """Where a replay stands: file index and path, records read in it, byte offset of the next."""

    file: int = 0
    path: str = ""
    row: int = 0
    byte: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Position:
        return cls(int(d["file"]), str(d["path"]), int(d["row"]), int(d.get("byte", 0)))


@dataclass
class ColumnarBatch:
    """The records of one stretch of one file.

    Row ``i`` of ``raw.batch`` (or ``raw.lines``; the malformed CSV rows follow the batch's) is
    record ``start.row + i`` of the file. ``extra`` holds the reader's
    ``extra_columns`` for every row of the stretch (valid and refused, null where a row lacks
    one), as Arrow read them: CSV cells as text, JSON values and Parquet columns typed.
    """

    raw: RawRows
    start: Position
    end: Position
    extra: pa.RecordBatch | None = None

    @property
    def records(self) -> int:
        """Input records in this batch (valid and refused)."""
        return self.end.row - self.start.row


class ColumnarReader:
    """Iterate over the inputs of ``source`` as `ColumnarBatch` es (see the module docstring).

    Parameters
    ----------
    source
        A file, directory, glob, ``-`` (stdin), or a list of them.
    fmt
        ``"csv"``, ``"jsonl"``, ``"parquet"`` or ``"auto"`` (from the extension; sniffed on stdin).
    start
        `Position` to resume from (a checkpoint's); default: the beginning.
    block_bytes
        Bytes of CSV / JSON Lines read at once (a batch holds the records of one block).
    batch_rows
        Rows per Parquet batch.
    extra_columns
        Columns delivered as read with each batch (`ColumnarBatch.extra`): an id to write
        beside the predictions, the field pacing reads...
    text_cells
        CSV cells as text, never as numbers (the rows as written: what ``produce`` sends).
    stdin
        Binary stream read for ``-`` (default ``sys.stdin.buffer``).
    """

    def __init__(
        self,
        source: str | Path | Sequence[str | Path],
        *,
        fmt: str = "auto",
        start: Position | None = None,
        block_bytes: int = 1 << 20,
        batch_rows: int = 1 << 16,
        extra_columns: Sequence[str] = (),
        text_cells: bool = False,
        stdin: BinaryIO | None = None,
    ):
        if fmt != "auto" and fmt not in COLUMNAR_FORMATS:
            raise ValueError(f"format must be one of {COLUMNAR_FORMATS} or 'auto', got {fmt!r}")
        if block_bytes < 1 or batch_rows < 1:
            raise ValueError("block_bytes and batch_rows must be >= 1")
        self.paths = expand(source)
        self.fmt = fmt
        self.block_bytes = block_bytes
        self.batch_rows = batch_rows
        self.extra_columns = tuple(extra_columns)
        self.text_cells = text_cells
        self._stdin = stdin
        self._start = self._locate(start or Position(0, self.paths[0]))
        self.position = self._start
        self._open: list[object] = []

    def _locate(self, start: Position) -> Position:
        """``start`` with its file index checked against the inputs' paths."""
        if start.file < len(self.paths) and self.paths[start.file] == start.path:
            return start
        if start.path in self.paths:
            return Position(self.paths.index(start.path), start.path, start.row, start.byte)
        if not start.path and start.row == 0 and start.byte == 0:
            return Position(start.file, self.paths[min(start.file, len(self.paths) - 1)])
        raise ValueError(f"cannot resume: {start.path!r} is not among the inputs {self.paths}")

    # -- context management -------------------------------------------------------------------

    def __enter__(self) -> ColumnarReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for f in self._open:
            f.close()  # type: ignore[attr-defined]
        self._open.clear()

    # -- reading ------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[ColumnarBatch]:
        for index in range(self._start.file, len(self.paths)):
            path = self.paths[index]
            at = self._start if index == self._start.file else Position(index, path)
            try:
                for part in self._read_file(path, at):
                    end = Position(index, path, at.row + part.records, part.byte)
                    batch = ColumnarBatch(part.raw, at, end, part.extra)
                    self.position = at = end
                    yield batch
            except ConsumersError:
                raise
            except (OSError, EOFError, ValueError, zlib.error) as exc:
                raise unreadable(path, exc, at.row) from exc
            finally:
                self.close()
            if index + 1 < len(self.paths):
                self.position = Position(index + 1, self.paths[index + 1])

    def _stream(self, path: str) -> ByteStream:
        if path == STDIN:  # read, never closed: stdin belongs to the process
            return ByteStream(self._stdin if self._stdin is not None else sys.stdin.buffer)
        stream = ByteStream(open(path, "rb"))  # noqa: SIM115 (closed by close())
        self._open.append(stream)
        return stream

    def _format(self, path: str, stream: ByteStream | None) -> str:
        if self.fmt != "auto":
            return self.fmt
        if stream is None:
            return format_of(path)
        head = stream.read(1 << 12)
        stream.unread(head)
        if head.startswith(b"PAR1"):
            return "parquet"
        return "jsonl" if head.lstrip()[:1] == b"{" else "csv"

    def _read_file(self, path: str, at: Position) -> Iterator[_Stretch]:
        """The stretches of one file, from ``at``."""
        stream = self._stream(path) if path == STDIN else None
        fmt = self._format(path, stream)
        if fmt == "parquet":
            yield from self._parquet(path, stream, at.row)
            return
        if stream is None:
            stream = self._stream(path)
        if fmt == "csv":
            yield from self._csv(stream, at.byte)
        else:
            stream.skip_to(at.byte)
            yield from self._jsonl(stream)

    # -- CSV ----------------------------------------------------------------------------------

    def _csv(self, stream: ByteStream, byte: int) -> Iterator[_Stretch]:
        header = read_csv_header(stream)
        if header is None:  # an empty file: no rows, as in the row replay
            return
        stream.skip_to(max(byte, header.end))
        for offset, block in record_blocks(stream, self.block_bytes, quoted=True):
            batch, malformed = _parse_csv_block(block, header, self._csv_types(header))
            raw = _finite_or_text(batch, block, header)
            if header.delimiter != ",":
                raw = _decimal_points(raw)
            yield _Stretch(RawRows(raw, None, malformed), batch.num_rows + len(malformed),
                           offset + len(block), self._extra(batch, len(malformed)))

    def _csv_types(self, header: CsvHeader) -> dict[str, str]:
        """The columns to convert, and to what: ``"number"`` or ``"text"``: all of them as
        numbers (a block with a cell that is not one is parsed again as text; with
        ``text_cells``, as text), the extra columns as text."""
        cells = "text" if self.text_cells else "number"
        return {**dict.fromkeys(header.names, cells), **dict.fromkeys(self.extra_columns, "text")}

    def _extra(self, batch: pa.RecordBatch, pad: int = 0) -> pa.RecordBatch | None:
        """The extra columns of ``batch`` (null where absent), plus ``pad`` rows of nulls."""
        if not self.extra_columns:
            return None
        import pyarrow as pa

        arrays = []
        for name in self.extra_columns:
            index = batch.schema.get_field_index(name)
            column = batch.column(index) if index >= 0 else pa.nulls(batch.num_rows)
            if pad:
                column = pa.concat_arrays([column, pa.nulls(pad, column.type)])
            arrays.append(column)
        return pa.record_batch(arrays, names=list(self.extra_columns))

    # -- JSON Lines ---------------------------------------------------------------------------

    def _jsonl(self, stream: ByteStream) -> Iterator[_Stretch]:
        flat = True  # the file's blocks so far were tables of numbers
        for offset, block in record_blocks(stream, self.block_bytes, quoted=False):
            if offset == 0 and block.startswith(BOM):  # a byte order mark: not part of a line
                block = b" " * len(BOM) + block[len(BOM):]
            lines = [s for s in map(bytes.strip, block.split(b"\n")) if s]
            if flat and lines and _holds_other_values(lines[0]):
                flat = False  # no table of numbers: spare Arrow the block
            batch = _jsonl_table(block, len(lines)) if flat else None
            if batch is not None and not _numeric(batch.schema):
                batch, flat = None, False
            extra = self._extra(batch) if batch is not None else self._jsonl_extra(lines)
            yield _Stretch(RawRows(batch, lines), len(lines), offset + len(block), extra)

    def _jsonl_extra(self, lines: list[bytes]) -> pa.RecordBatch | None:
        """The extra fields of JSON lines decoded one by one (null where a line has none)."""
        if not self.extra_columns:
            return None
        import orjson
        import pyarrow as pa

        objs = []
        for line in lines:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            objs.append(obj if isinstance(obj, dict) else {})
        arrays = []
        for name in self.extra_columns:
            values = [obj.get(name) for obj in objs]
            try:
                arrays.append(pa.array(values))
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: as JSON text
                arrays.append(pa.array([None if v is None else orjson.dumps(v).decode()
                                        for v in values]))
        return pa.record_batch(arrays, names=list(self.extra_columns))

    # -- Parquet ------------------------------------------------------------------------------

    def _parquet(
        self, path: str, stream: ByteStream | None, row: int
    ) -> Iterator[_Stretch]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if stream is not None:  # stdin
            chunks = iter(lambda: stream.read(1 << 20), b"")
            parquet = pq.ParquetFile(pa.BufferReader(b"".join(chunks)))
        else:
            parquet = pq.ParquetFile(path)
        self._open.append(parquet)
        meta = parquet.metadata
        group_rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        first, skipped = 0, 0
        while first < len(group_rows) and skipped + group_rows[first] <= row:
            skipped += group_rows[first]
            first += 1
        drop = row - skipped  # rows of the first group read that were already learned
        # One row group at a time: iter_batches over several keeps every group read allocated
        # until it ends (the whole file, for a long replay).
        batches = (batch for group in range(first, len(group_rows))
                   for batch in parquet.iter_batches(batch_size=self.batch_rows,
                                                     row_groups=[group],
                                                     use_threads=False))
        for batch in batches:
            if drop:
                cut = min(drop, batch.num_rows)
                batch, drop = batch.slice(cut), drop - cut
                if batch.num_rows == 0:
                    continue
            batch = _json_types(batch)
            yield _Stretch(RawRows(batch), batch.num_rows, 0, self._extra(batch))


def unreadable(path: str, exc: BaseException, row: int = 0) -> ConfigError:
    """The error of an input that cannot be read (corrupt, truncated, not what its name says),
    naming it and where: a traceback would name neither.

    >>> print(unreadable("log.csv.gz", EOFError("Compressed file ended early"), 1200))
    config field 'file.path': cannot read 'log.csv.gz' after its row 1200: Compressed file ended
    early (EOFError: a truncated, corrupt or mislabelled file?)
    """
    where = f" after its row {row}" if row else ""
    why = "" if isinstance(exc, CsvHeaderError) else \
        f" ({type(exc).__name__}: a truncated, corrupt or mislabelled file?)"
    return ConfigError("file.path", f"cannot read {path!r}{where}: {exc}{why}")


def _json_types(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with its decimals as floats, its durations as seconds and its dates, times and
    timestamps as ISO 8601 text (a timestamp with a time zone in UTC, marked ``Z``), as a CSV
    of it would hold them: the encoder refuses values JSON has no type for, which would refuse
    every row.

    >>> import datetime, decimal
    >>> import pyarrow as pa
    >>> batch = pa.record_batch([
    ...     pa.array([decimal.Decimal("12.50")], pa.decimal128(6, 2)),
    ...     pa.array([datetime.date(2024, 3, 1)], pa.date32()),
    ...     pa.array([datetime.datetime(2024, 3, 1, 10)], pa.timestamp("ns", "UTC")),
    ...     pa.array([datetime.timedelta(milliseconds=1500)], pa.duration("ms")),
    ...     pa.array([1])], names=["price", "day", "ts", "wait", "n"])
    >>> _json_types(batch).to_pylist()
    [{'price': 12.5, 'day': '2024-03-01', 'ts': '2024-03-01T10:00:00.000000Z', 'wait': 1.5,
      'n': 1}]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    columns, changed = [], False
    for column in batch.columns:
        kind = column.type
        if pa.types.is_decimal(kind):
            column = column.cast(pa.float64())
        elif pa.types.is_date(kind):
            column = pc.strftime(column, format="%Y-%m-%d")
        elif pa.types.is_timestamp(kind):
            # microseconds at most: Python 3.10 reads 3 or 6 digits of a second
            unit = "us" if kind.unit == "ns" else kind.unit
            zone, suffix = (None, "") if kind.tz is None else ("UTC", "Z")
            column = pc.strftime(column.cast(pa.timestamp(unit, zone), safe=False),
                                 format="%Y-%m-%dT%H:%M:%S" + suffix)
        elif pa.types.is_time(kind):
            column = column.cast(pa.string())
        elif pa.types.is_duration(kind):  # a number of seconds
            seconds = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[kind.unit]
            column = pc.multiply(column.cast(pa.int64()).cast(pa.float64()), seconds)
        else:
            columns.append(column)
            continue
        columns.append(column)
        changed = True
    return pa.record_batch(columns, names=batch.schema.names) if changed else batch


def _finite_or_text(batch: pa.RecordBatch, block: bytes, header: CsvHeader) -> pa.RecordBatch:
    """``batch`` if its numbers are all finite, else the block again as text: ``nan`` or ``inf``
    in a CSV cell is text to the row path (`online_lr.encoding.parse_number`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in batch.columns:
        if pa.types.is_floating(column.type) and column.null_count < len(column) and \
                not pc.all(pc.is_finite(column)).as_py():
            names = batch.schema.names
            return _parse_csv_block(block, header, dict.fromkeys(names, "text"))[0]
    return batch


def _decimal_points(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Text cells with a decimal comma (``3,5``) written with a point (`_decimal_point`), in a
    CSV not separated by commas (Excel's CSV in many locales)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in batch.columns:
        if pa.types.is_string(column.type) and pc.any(pc.match_substring(column, ",")).as_py():
            column = pa.array([v if v is None or "," not in v else _decimal_point(v)
                               for v in column.to_pylist()], pa.string())
        columns.append(column)
    return pa.record_batch(columns, names=batch.schema.names)


def _decimal_point(text: str) -> str:
    """``"3,5"`` -> ``"3.5"`` when that is a number; any other cell as it is.

    >>> _decimal_point("3,5"), _decimal_point("1,2,3"), _decimal_point("a,b")
    ('3.5', '1,2,3', 'a,b')
    """
    from online_lr.encoding import parse_number

    if text.count(",") == 1:
        pointed = text.replace(",", ".")
        if parse_number(pointed) is not None:
            return pointed
    return text


def _utf8_rows(table: pa.Table) -> tuple[pa.Table, list[str]]:
    """The rows of a table of bytes whose cells are all UTF-8, as text, and what is wrong with
    each of the others (a cell in another encoding: refused, as a Kafka message is).

    >>> import pyarrow as pa
    >>> table, bad = _utf8_rows(pa.table({"city": [b"Lyon", b"Besan\\xe7on"], "y": [b"1", b"2"]}))
    >>> table.to_pydict(), bad
    ({'city': ['Lyon'], 'y': ['1']}, ["not UTF-8 (a Latin-1 or Windows-1252 file? convert it to
    UTF-8): 'city' is b'Besan\\\\xe7on'"])
    """
    import pyarrow as pa

    problems: dict[int, str] = {}
    for name in table.column_names:
        for i, cell in enumerate(table.column(name).to_pylist()):
            if cell is not None and i not in problems:
                try:
                    cell.decode("utf-8")
                except UnicodeDecodeError:
                    problems[i] = (f"not UTF-8 (a Latin-1 or Windows-1252 file? convert it to "
                                   f"UTF-8): {name!r} is {cell[:80]!r}")
    keep = pa.array([i not in problems for i in range(table.num_rows)])
    good = table.filter(keep)
    text = pa.schema([(name, pa.string()) for name in good.column_names])
    return good.cast(text), [problems[i] for i in sorted(problems)]


def _numeric(schema: pa.Schema) -> bool:
    """Every column holds numbers (integers or floats)."""
    import pyarrow as pa

    return all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in schema.types)


def _holds_other_values(line: bytes) -> bool:
    """The JSON object of ``line`` has a value that is not a number or null (so the table of its
    block, if Arrow can read one, has a column that is not of numbers).

    >>> _holds_other_values(b'{"a": 1, "b": null}'), _holds_other_values(b'{"a": 1, "u": {}}')
    (False, True)
    """
    import orjson

    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return type(obj) is dict and any(type(v) in (str, bool, dict, list) for v in obj.values())


def _jsonl_table(block: bytes, n_lines: int) -> pa.RecordBatch | None:
    """The JSON lines of ``block`` as one Arrow batch, or None (a line Arrow cannot read, two
    objects on a line, or nothing)."""
    import pyarrow as pa
    import pyarrow.json as pajson

    try:
        table = pajson.read_json(io.BytesIO(block), read_options=pajson.ReadOptions(
            use_threads=False, block_size=len(block) + 1))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != n_lines or n_lines == 0:
        return None
    return table.combine_chunks().to_batches()[0]


def _parse_csv_block(
    block: bytes, header: CsvHeader, types: dict[str, str]
) -> tuple[pa.RecordBatch, list[str]]:
    """One block of CSV rows, and the rows with the wrong number of cells.

    ``types`` maps the columns to read to ``"number"`` (parsed straight to float64: the common
    case, and the fastest) or ``"text"``; a block with a cell that is not a number is parsed
    again with every column as text.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    malformed: list[str] = []

    def refuse(row) -> str:
        malformed.append(f"{row.actual_columns} cells, the header has {row.expected_columns}: "
                         f"{row.text[:200]!r}")
        return "skip"

    columns = list(types)

    def parse(numbers: bool, text: pa.DataType | None = None) -> pa.Table:
        column_types = {c: pa.float64() if numbers and t == "number" else text or pa.string()
                        for c, t in types.items()}
        return pacsv.read_csv(
            pa.py_buffer(block),
            read_options=pacsv.ReadOptions(column_names=header.names, use_threads=False,
                                           block_size=len(block) + 1),
            parse_options=pacsv.ParseOptions(delimiter=header.delimiter, newlines_in_values=True,
                                             invalid_row_handler=refuse),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types, include_columns=columns,
                include_missing_columns=True, null_values=[""], strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    try:
        table = None
        if "number" in types.values():
            try:
                table = parse(numbers=True)
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):
                    raise
                malformed.clear()
        if table is None:
            try:
                table = parse(numbers=False)
            except pa.ArrowInvalid as exc:
                if "invalid UTF8" not in str(exc):
                    raise
                malformed.clear()
                table = parse(numbers=False, text=pa.binary())
                table, not_utf8 = _utf8_rows(table)
                malformed += not_utf8
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" not in str(exc):
            raise
        table = pa.table({c: pa.array([], pa.string()) for c in columns})
    batches = table.combine_chunks().to_batches()
    batch = batches[0] if batches else pa.record_batch(
        [pa.array([], pa.string()) for _ in columns], names=columns)
    return batch, malformed
