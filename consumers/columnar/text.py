"""Bytes of a CSV or JSON Lines input, cut into blocks of whole records, with their offsets.

Each block ends at a record boundary (a newline outside quotes for CSV; any newline for JSON
Lines), so it can be parsed on its own, and its offset in the (decompressed) stream is known:
that offset is what a checkpoint stores to resume without decoding what came before (a plain
file seeks to it; gzip and stdin are read up to it, decompressed but not parsed).

The input is gzip'd when it starts with gzip's magic bytes, whatever its name. A CSV header
may start with a UTF-8 byte order mark, and its delimiter is sniffed from the header line: the
most frequent of ``,``, ``;``, tab and ``|`` outside quotes (``,`` when none occurs).

>>> import io
>>> stream = ByteStream(io.BytesIO(b"\\xef\\xbb\\xbfa;b;y\\n1;2;3\\n\\"4\\n5\\";6;7\\n"))
>>> header = read_csv_header(stream)
>>> header.names, header.delimiter, header.end
(['a', 'b', 'y'], ';', 9)
>>> [(offset, block) for offset, block in record_blocks(stream, 4, quoted=True)]
[(9, b'1;2;3\\n'), (15, b'"4\\n5";6;7\\n')]
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["BOM", "ByteStream", "CsvHeader", "CsvHeaderError", "read_csv_header", "record_blocks"]

_GZIP_MAGIC = b"\x1f\x8b"
#: A UTF-8 byte order mark (Excel writes one), dropped where an input starts with it.
BOM = b"\xef\xbb\xbf"
_DELIMITERS = (",", ";", "\t", "|")
#: The most a CSV header line may take.
MAX_HEADER_BYTES = 1 << 20


class CsvHeaderError(ValueError):
    """A CSV header line that names its columns unusably (not UTF-8, too long, a name twice)."""


class ByteStream:
    """A binary input (decompressed if gzip'd) that knows its offset and can push bytes back."""

    def __init__(self, raw: BinaryIO):
        buffered = raw if hasattr(raw, "peek") else io.BufferedReader(raw)  # type: ignore[arg-type]
        self._gzip = buffered.peek(2)[:2] == _GZIP_MAGIC
        if self._gzip:
            unzipped = gzip.GzipFile(fileobj=buffered, mode="rb")
            buffered = io.BufferedReader(unzipped, 1 << 16)  # type: ignore[arg-type]
        self._raw = buffered
        self._pending = b""
        self.offset = 0

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; ``b""`` at the end."""
        if self._pending:
            out, self._pending = self._pending[:n], self._pending[n:]
        else:
            out = self._raw.read(n)
        self.offset += len(out)
        return out

    def unread(self, data: bytes) -> None:
        """Push ``data`` (the bytes just read) back: the next `read` returns them first."""
        self._pending = data + self._pending
        self.offset -= len(data)

    def skip_to(self, target: int) -> None:
        """Move forward to offset ``target`` (seek a plain file; read and drop otherwise)."""
        if target < self.offset:
            raise ValueError(f"cannot go back from byte {self.offset} to {target}")
        dropped = min(len(self._pending), target - self.offset)
        self._pending = self._pending[dropped:]
        self.offset += dropped
        if target > self.offset and not self._gzip and self._raw.seekable():
            self._raw.seek(target - self.offset, io.SEEK_CUR)
            self.offset = target
        while target > self.offset:
            if not self.read(min(target - self.offset, 1 << 20)):
                raise ValueError(f"the input ends before byte {target}: was it rewritten?")

    def close(self) -> None:
        self._raw.close()


@dataclass(frozen=True)
class CsvHeader:
    """Column names, the sniffed delimiter, and the offset of the first data row."""

    names: list[str]
    delimiter: str
    end: int


def _last_boundary(buf: bytes, quoted: bool, stop: int | None = None) -> int:
    """Offset just past the last newline of ``buf[:stop]`` that ends a record (0 if none).

    With ``quoted`` (CSV), a newline inside a quoted cell does not end a record: a newline ends
    one when the number of quotes before it is even (RFC 4180 escapes a quote by doubling it).
    """
    end = len(buf) if stop is None else stop
    nl = buf.rfind(b"\n", 0, end)
    if not quoted or nl < 0 or b'"' not in buf:
        return nl + 1
    while nl >= 0 and buf.count(b'"', 0, nl) % 2:
        nl = buf.rfind(b"\n", 0, nl)
    return nl + 1


def _first_boundary(buf: bytes) -> int:
    """Offset just past the first newline outside quotes (0 if none)."""
    quotes = 0
    for pos in range(len(buf)):
        c = buf[pos]
        if c == 0x22:
            quotes += 1
        elif c == 0x0A and quotes % 2 == 0:
            return pos + 1
    return 0


def _sniff_delimiter(line: str) -> str:
    outside = "".join(line.split('"')[::2])
    counts = {d: outside.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv_header(stream: ByteStream) -> CsvHeader | None:
    """Read the header line of ``stream`` (left just after it); None for an empty input."""
    head = b""
    while True:
        chunk = stream.read(1 << 16)
        head += chunk
        end = _first_boundary(head)
        if end or not chunk:
            break
        if len(head) > MAX_HEADER_BYTES:
            raise CsvHeaderError(f"the CSV header line is longer than {MAX_HEADER_BYTES} bytes")
    end = end or len(head)
    stream.unread(head[end:])
    line = head[:end]
    text = line[len(BOM):] if line.startswith(BOM) else line
    try:
        decoded = text.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise CsvHeaderError(f"the CSV header is not UTF-8: {exc}") from None
    if not decoded.strip():
        return None
    delimiter = _sniff_delimiter(decoded)
    names = next(csv.reader([decoded], delimiter=delimiter))
    twice = [name for name, n in Counter(names).items() if n > 1 and name]
    if twice:  # a row as a dict would keep one of them: the other column, silently lost
        raise CsvHeaderError(f"the CSV header names {', '.join(map(repr, twice))} more than "
                             f"once: rename the columns so that each name is unique")
    return CsvHeader(names=names, delimiter=delimiter, end=end)


def record_blocks(
    stream: ByteStream, block_bytes: int, quoted: bool
) -> Iterator[tuple[int, bytes]]:
    """``(offset, block)`` pairs of whole records read from ``stream``, from where it is.

    A block holds about ``block_bytes`` bytes, more when one record is longer; the last one
    may lack its final newline.
    """
    offset = stream.offset
    carry = b""
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            if carry:
                yield offset, carry
            return
        buf = carry + chunk if carry else chunk
        cut = _last_boundary(buf, quoted)
        if cut == 0:  # one record longer than a block: keep reading
            carry = buf
            continue
        yield offset, buf[:cut]
        offset += cut
        carry = buf[cut:]
