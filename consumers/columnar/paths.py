"""Which files a replay reads, in which order, and in which format.

A source is ``-`` (stdin), a file, a directory, or a glob (``logs/date=2026-11-*/``), or a list
of them. It expands to a list of inputs in a defined order:

* a glob's matches, and a directory's files (found recursively), are sorted by path, compared
  segment by segment: ``date=2026-11-02/part-0.parquet`` comes after ``date=2026-11-01/…`` and a
  hive-partitioned dataset is read partition by partition, in the order of its partition values
  as text (so zero-padded dates are chronological);
* inside a directory only files with a known extension are read (``_SUCCESS``, ``.crc`` and
  hidden files are skipped); a file named explicitly must have one;
* the sources of a list are read in the order given; each input is read once.

Formats come from the extension (``.gz`` is decompressed): ``.csv``; ``.jsonl``, ``.ndjson``
and ``.json`` (JSON Lines); ``.parquet``, ``.parq`` and ``.pq``. Partition values
(``key=value`` directory names) only order the files: they are not columns.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> parts = ("date=2026-11-02/a.parquet", "date=2026-11-01/b.csv.gz", "date=2026-11-01/_SUCCESS")
>>> for part in parts:
...     os.makedirs(os.path.dirname(os.path.join(d, part)), exist_ok=True)
...     _ = open(os.path.join(d, part), "w").close()
>>> [os.path.relpath(p, d) for p in expand(os.path.join(d, "date=2026-11-*"))]
['date=2026-11-01/b.csv.gz', 'date=2026-11-02/a.parquet']
>>> [format_of(p) for p in expand(d)]
['csv', 'parquet']
>>> import shutil; shutil.rmtree(d)
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

__all__ = ["COLUMNAR_FORMATS", "STDIN", "expand", "format_of"]

#: The formats a columnar reader reads.
COLUMNAR_FORMATS = ("csv", "jsonl", "parquet")
#: The source name that means standard input.
STDIN = "-"
_PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


def format_of(path: str | Path) -> str:
    """``"csv"``, ``"jsonl"`` or ``"parquet"`` from the file name (a trailing ``.gz`` is ignored).

    >>> format_of("a/b.ndjson.gz"), format_of("part-0.pq")
    ('jsonl', 'parquet')
    """
    name = Path(path).name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    name = name.removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise ValueError(
        f"cannot tell the format of {str(path)!r}: expected .csv, .jsonl or .parquet "
        "(CSV and JSON Lines may be gzip'd: .gz)"
    )


def _known(path: str) -> bool:
    name = os.path.basename(path)
    if name.startswith((".", "_")):
        return False
    try:
        format_of(path)
    except ValueError:
        return False
    return True


def _sort_key(path: str) -> tuple[str, ...]:
    return tuple(Path(path).parts)


def _directory_files(directory: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        found.extend(os.path.join(root, f) for f in files if _known(os.path.join(root, f)))
    return sorted(found, key=_sort_key)


def _expand_one(source: str) -> list[str]:
    if source == STDIN:
        return [STDIN]
    if os.path.isdir(source):
        return _directory_files(source)
    if os.path.isfile(source):
        format_of(source)  # a file named explicitly must have a known format
        return [source]
    if glob.has_magic(source):
        out: list[str] = []
        for match in sorted(glob.glob(source, recursive=True), key=_sort_key):
            if os.path.isdir(match):
                out.extend(_directory_files(match))
            elif _known(match):
                out.append(match)
        if not out:
            raise FileNotFoundError(f"no readable file matches {source!r}")
        return out
    raise FileNotFoundError(f"no such file or directory: {source!r}")


def expand(source: str | Path | Sequence[str | Path]) -> list[str]:
    """The inputs of ``source`` in reading order (see the module docstring); never empty."""
    sources = [source] if isinstance(source, (str, Path)) else list(source)
    out: list[str] = []
    seen: set[str] = set()
    for s in sources:
        for path in _expand_one(os.fspath(s)):
            if path not in seen:
                seen.add(path)
                out.append(path)
    if not out:
        raise FileNotFoundError(f"no readable file in {[os.fspath(s) for s in sources]}")
    return out
