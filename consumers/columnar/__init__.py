"""Replay logged data at columnar speed: CSV, JSON Lines and Parquet through Arrow.

Modules, in data-flow order (pyarrow is imported only when a file is read or written):

``paths``    which inputs a source names (files, directories, globs, hive partitions, ``-``)
``text``     CSV / JSON Lines bytes cut into blocks of whole records, with their offsets
``reader``   `ColumnarReader`: records as read, in a defined order, resumable by `Position`
``source``   `ColumnarSource`: the reader as the runner's source, encoded by the run's encoder
``writers``  streaming CSV / JSON Lines / Parquet writers of predictions
"""

from consumers.columnar.paths import expand, format_of
from consumers.columnar.reader import MALFORMED_ROW, ColumnarBatch, ColumnarReader, Position
from consumers.columnar.writers import PredictionWriter, open_writer

__all__ = ["MALFORMED_ROW", "ColumnarBatch", "ColumnarReader", "Position", "PredictionWriter",
           "expand", "format_of", "open_writer"]
