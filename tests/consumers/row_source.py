"""A reference `consumers.runner.Source` for tests: a small file read row by row.

CSV through the standard library's ``csv`` module (cells as strings, an empty cell absent, a
comma separator), JSON Lines as their raw bytes (the bytes a Kafka message carries); batches
are `consumers.decode.MessageList`s, the Kafka path's. Independent of `consumers.columnar`,
which the tests compare against it. The position is the number of rows processed.
"""

from __future__ import annotations

import csv
import gzip
import threading
from pathlib import Path

from consumers.decode import MessageList
from consumers.records import Message, Value


def read_values(path: Path) -> list[Value]:
    """The rows of ``path`` as a file source delivers them (see the module docstring)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    if ".csv" in path.suffixes:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            return [{k: v for k, v in row.items() if k is not None and v not in ("", None)}
                    for row in csv.DictReader(f)]
    with opener(path, "rb") as f:
        return [line.strip() for line in f if line.strip()]


class RowSource:
    """The rows of one CSV / JSON Lines file, from row ``start``."""

    kind = "file"
    end_reason = None

    def __init__(self, path: str | Path, start: int = 0):
        self.path = Path(path)
        self.name = self.path.name
        self.lock = threading.RLock()
        self._values = read_values(self.path)
        self._read = self._position = start

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def poll(self, max_records: int, timeout: float = 1.0) -> MessageList | None:
        if self._read >= len(self._values):
            return None
        end = min(len(self._values), self._read + max_records)
        batch = MessageList(Message(self.name, 0, i, self._values[i])
                            for i in range(self._read, end))
        self._read = end
        return batch

    def advance(self, messages: MessageList) -> None:
        if messages:
            self._position = messages[-1].offset + 1

    def offsets(self) -> dict[str, int]:
        return {}

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "position": self._position}

    def lag(self) -> None:
        return None

    def commit(self, offsets: dict[str, int]) -> None:
        pass
