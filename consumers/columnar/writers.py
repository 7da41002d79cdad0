"""Streaming writers of predictions (or any table of columns): CSV, JSON Lines or Parquet.

`open_writer` picks the format from the extension (``.csv``, ``.jsonl``/``.ndjson``/``.json``,
``.parquet``/``.parq``/``.pq``; CSV and JSON Lines may end in ``.gz``), or writes CSV to stdout
for ``-``. Each `PredictionWriter.write` appends one batch of columns and nothing is held in
memory between batches: a replay of any length writes its predictions as it goes. The first
batch fixes the columns and their types; later batches must have the same columns (their values
are cast to those types). A NaN is written as null (an empty CSV cell).

>>> import os, tempfile
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "pred.jsonl")
>>> with open_writer(p) as out:
...     out.write({"row": [0, 1], "prediction": [1.5, 2.0]})
...     out.write({"row": [2], "prediction": [float("nan")]})
>>> print(open(p).read(), end="")
{"row":0,"prediction":1.5}
{"row":1,"prediction":2.0}
{"row":2,"prediction":null}
>>> os.remove(p); os.rmdir(d)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consumers.columnar.paths import COLUMNAR_FORMATS, STDIN, format_of

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PredictionWriter", "open_writer"]


class PredictionWriter:
    """Append batches of columns to one CSV, JSON Lines or Parquet output (see `open_writer`)."""

    def __init__(self, sink: Any, fmt: str, name: str, *, owns_sink: bool = True):
        self.fmt = fmt
        self.name = name
        self._sink = sink
        self._owns_sink = owns_sink
        self._schema: pa.Schema | None = None
        self._writer: Any = None
        self.rows = 0

    def __enter__(self) -> PredictionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _batch(self, columns: Mapping[str, Any]) -> pa.RecordBatch:
        import pyarrow as pa

        batch = pa.record_batch({k: v if isinstance(v, pa.Array)
                                 else pa.array(v, from_pandas=True)  # NaN -> null
                                 for k, v in columns.items()})
        if self._schema is None:
            self._schema = batch.schema
            self._writer = self._open_format()
        elif batch.schema.names != self._schema.names:
            raise ValueError(f"{self.name}: columns {batch.schema.names} after "
                             f"{self._schema.names}: every batch must have the same columns")
        elif batch.schema != self._schema:
            batch = batch.cast(self._schema)
        return batch

    def _open_format(self) -> Any:
        if self.fmt == "csv":
            return _CsvWriter(self._sink, self._schema.names)
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetWriter(self._sink, self._schema)
        return None  # JSON Lines: written line by line

    def write(self, columns: Mapping[str, Any]) -> None:
        """Append rows: ``columns`` maps each column name to its values (arrays or lists)."""
        batch = self._batch(columns)
        if self._writer is not None:
            self._writer.write_batch(batch)
        else:
            import orjson

            self._sink.write(b"".join(orjson.dumps(row) + b"\n" for row in batch.to_pylist()))
        self.rows += batch.num_rows

    def close(self) -> None:
        """Finish the output (Parquet writes its footer here); safe to call twice."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sink is not None:
            if self._owns_sink:
                self._sink.close()
            else:
                self._sink.flush()
            self._sink = None


class _CsvWriter:
    """CSV as the ``csv`` module writes it (Arrow's quotes every string and the header): a null
    is an empty cell, a float its ``repr``."""

    def __init__(self, sink: Any, names: list[str]):
        import codecs
        import csv

        self._text = codecs.getwriter("utf-8")(sink)
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(names)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        columns = [c.to_pylist() for c in batch.columns]
        self._csv.writerows(zip(*columns))

    def close(self) -> None:
        """Nothing held: every batch is written through."""


def open_writer(path: str | Path, fmt: str = "auto", field: str | None = None
                ) -> PredictionWriter:
    """A `PredictionWriter` to ``path`` (``-``: stdout), format from the extension or ``fmt``.

    With ``field`` (the setting or flag ``path`` comes from), a path that cannot be written
    (an unknown extension, a missing directory) is a `ConfigError` naming it.

    >>> open_writer("scores.txt", field="--output")
    Traceback (most recent call last):
    consumers.errors.ConfigError: config field '--output': cannot tell the format of ...
    """
    import pyarrow as pa

    name = str(path)
    try:
        if fmt == "auto":
            fmt = "csv" if name == STDIN else format_of(name)
        if fmt not in COLUMNAR_FORMATS:
            raise ValueError(f"format must be one of {COLUMNAR_FORMATS} or 'auto', got {fmt!r}")
        gzipped = name.lower().endswith(".gz") and fmt != "parquet"
        if name == STDIN:
            return PredictionWriter(sys.stdout.buffer, fmt, name, owns_sink=False)
        sink = pa.output_stream(name, compression="gzip" if gzipped else None)
    except (OSError, ValueError) as exc:
        if field is None:
            raise
        from consumers.errors import ConfigError

        raise ConfigError(field, str(exc)) from None
    return PredictionWriter(sink, fmt, name)
