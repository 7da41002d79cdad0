"""Checkpoints: the model and the input positions it reflects, saved together, atomically.

A checkpoint is one JSON file::

    {"format": "online-lr-checkpoint", "version": 1,
     "source": {...}, "offsets": {"topic:partition": next_offset, ...},
     "counters": {...}, "schema": <FeatureEncoder.to_dict()>, "model": <SGDRegressor.to_dict()>,
     "checksum": "<sha256 hex>"}

``offsets`` holds, per partition, the offset of the *next* message to read (last processed + 1,
Kafka's commit convention); a file replay keeps its row index in ``source["position"]``.
``checksum`` is the SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of every other
field, so a truncated, edited or half-written file is refused with a clear error, never
silently replaced. Nothing is ever unpickled.

Writes go to a temporary file in the same directory, are fsync'ed, renamed over the old file
with `os.replace` (atomic on POSIX), then the directory is fsync'ed: after a crash at any moment
the path holds either the previous checkpoint or the new one, whole.

A `CheckpointStore` also holds an exclusive ``flock`` on ``<path>.lock`` while it is open, so two
processes can never advance the same checkpoint. The lock dies with its process, even on
``kill -9``: a lock file left by a dead process never blocks. A clean close removes the file.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); path = os.path.join(d, "m.ckpt.json")
>>> ck = Checkpoint(model={"w": 1.5}, offsets={"t:0": 3}, source={"kind": "kafka"}, counters={})
>>> write_checkpoint(path, ck)
>>> read_checkpoint(path) == ck
True
>>> _ = open(path, "r+b").truncate(20)
>>> read_checkpoint(path)
Traceback (most recent call last):
...
consumers.errors.CheckpointError: checkpoint ... is corrupt or truncated (not valid JSON: ...); ...
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from consumers.errors import CheckpointError

__all__ = [
    "FORMAT",
    "VERSION",
    "Checkpoint",
    "CheckpointStore",
    "canonical_json",
    "read_checkpoint",
    "write_checkpoint",
]

FORMAT = "online-lr-checkpoint"
VERSION = 1
_FIELDS = ("format", "version", "written_at", "source", "offsets", "counters", "schema", "model")


@dataclass
class Checkpoint:
    """What a checkpoint holds; ``written_at`` (Unix seconds) is informative only."""

    model: dict
    offsets: dict[str, int] = field(default_factory=dict)
    source: dict = field(default_factory=dict)
    counters: dict = field(default_factory=dict)
    schema: dict | None = None
    written_at: float | None = field(default=None, compare=False)

    def body(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "written_at": self.written_at,
            "source": self.source,
            "offsets": self.offsets,
            "counters": self.counters,
            "schema": self.schema,
            "model": self.model,
        }


def canonical_json(obj: object) -> bytes:
    """The bytes the checksum is computed over: sorted keys, no whitespace, strict JSON."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _checksum(body: dict) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


def dumps(checkpoint: Checkpoint) -> bytes:
    """Serialize ``checkpoint`` (with its checksum) to the bytes written on disk."""
    body = checkpoint.body()
    if body["written_at"] is None:
        body["written_at"] = round(time.time(), 3)
    try:
        body["checksum"] = _checksum(body)
    except (TypeError, ValueError) as exc:  # NaN/inf or a non-JSON type in the state
        raise CheckpointError(f"cannot serialize the checkpoint: {exc}") from exc
    # orjson: the standard library's indented encoder is pure Python, 50x slower (a checkpoint
    # every 100,000 messages); the bytes differ in spacing only, the checksum is the content's.
    return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
                        | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def loads(data: bytes, where: str = "<bytes>") -> Checkpoint:
    """Parse and verify checkpoint bytes; any defect raises `CheckpointError` naming ``where``."""

    def refuse(why: str) -> CheckpointError:
        return CheckpointError(
            f"checkpoint {where} is corrupt or truncated ({why}); refusing to use it "
            "(move it away to start afresh)"
        )

    if not data.strip():
        raise refuse("empty file")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise refuse("not a JSON object")
    if doc.get("format") != FORMAT:
        raise CheckpointError(
            f"{where} is not an online-lr checkpoint (format {doc.get('format')!r}, "
            f"expected {FORMAT!r})"
        )
    if doc.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {where} has version {doc.get('version')!r}; this program reads "
            f"version {VERSION}"
        )
    stored = doc.pop("checksum", None)
    if not isinstance(stored, str):
        raise refuse("no checksum")
    missing = [k for k in _FIELDS if k not in doc]
    if missing:
        raise refuse(f"missing fields {missing}")
    try:
        actual = _checksum(doc)
    except ValueError as exc:
        raise refuse(str(exc)) from None
    if actual != stored:
        raise refuse(f"checksum mismatch: stored {stored[:12]}..., computed {actual[:12]}...")
    offsets = doc["offsets"]
    if not isinstance(offsets, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in offsets.values()
    ):
        raise refuse("offsets must map 'topic:partition' to offsets >= 0")
    if not isinstance(doc["model"], dict):
        raise refuse("model state is not an object")
    return Checkpoint(
        model=doc["model"],
        offsets=offsets,
        source=doc["source"] or {},
        counters=doc["counters"] or {},
        schema=doc["schema"],
        written_at=doc["written_at"],
    )


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is always either old or new, never partial."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def write_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Serialize, checksum and atomically write ``checkpoint`` to ``path``."""
    data = dumps(checkpoint)
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {str(path)!r}: {exc}") from exc


def read_checkpoint(path: str | Path) -> Checkpoint | None:
    """The verified checkpoint at ``path``, or ``None`` if there is no file there."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {exc}") from exc
    return loads(data, repr(str(path)))


class CheckpointStore:
    """One checkpoint path, locked for this process while open.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); path = os.path.join(d, "m.ckpt.json")
    >>> with CheckpointStore(path) as a:
    ...     CheckpointStore(path).open()
    Traceback (most recent call last):
    ...
    consumers.errors.CheckpointError: checkpoint ... is in use by another process (lock ... is held)
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock_fd: int | None = None
        self.writes = 0

    def open(self) -> CheckpointStore:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise CheckpointError(
                    f"checkpoint {str(self.path)!r} is in use by another process "
                    f"(lock {str(self.lock_path)!r} is held)"
                ) from None
            if self._is_current(fd):
                break
            os.close(fd)  # its holder removed it while we waited: lock the new file
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        return self

    def _is_current(self, fd: int) -> bool:
        """Whether ``fd`` is still the file at `lock_path` (a closing holder unlinks it)."""
        try:
            return os.stat(self.lock_path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def close(self) -> None:
        """Release the lock and remove the lock file (while still holding it: no race)."""
        if self._lock_fd is not None:
            if self._is_current(self._lock_fd):
                with contextlib.suppress(OSError):
                    os.unlink(self.lock_path)
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def __enter__(self) -> CheckpointStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(self) -> Checkpoint | None:
        return read_checkpoint(self.path)

    def save(self, checkpoint: Checkpoint) -> None:
        write_checkpoint(self.path, checkpoint)
        self.writes += 1
