"""consumers.checkpoint: round trip, refusal of damaged files, atomic writes, the lock."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from consumers.checkpoint import (
    Checkpoint,
    CheckpointStore,
    atomic_write,
    canonical_json,
    dumps,
    loads,
    read_checkpoint,
    write_checkpoint,
)
from consumers.errors import CheckpointError

REPO = Path(__file__).resolve().parents[2]


def sample() -> Checkpoint:
    return Checkpoint(
        model={"weights": {"a": 0.1 + 0.2, "b": -1e-300}, "n": 3, "name": "modèle"},
        offsets={"t:0": 10, "t:1": 0},
        source={"kind": "kafka", "topic": "t", "group": "g"},
        counters={"messages": 10, "squared_error_sum": 1.25},
        schema={"target": "y", "features": ["a", "b"], "ignore": [], "explicit": False},
    )


def test_round_trip(tmp_path):
    path = tmp_path / "m.ckpt.json"
    write_checkpoint(path, sample())
    back = read_checkpoint(path)
    assert back == sample()
    assert back.model["weights"]["a"] == 0.1 + 0.2  # floats survive exactly
    doc = json.loads(path.read_text())
    assert doc["format"] == "online-lr-checkpoint" and doc["version"] == 1
    assert len(doc["checksum"]) == 64
    assert read_checkpoint(tmp_path / "absent.json") is None


def test_checksum_covers_everything_but_itself():
    data = dumps(sample())
    doc = json.loads(data)
    stored = doc.pop("checksum")
    import hashlib

    assert hashlib.sha256(canonical_json(doc)).hexdigest() == stored


def test_every_truncation_is_refused():
    data = dumps(sample())
    for cut in range(0, len(data) - 1, 7):
        with pytest.raises(CheckpointError):
            loads(data[:cut], "x")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: {**d, "offsets": {"t:0": 11, "t:1": 0}}, "checksum mismatch"),
        (lambda d: {**d, "model": {**d["model"], "n": 4}}, "checksum mismatch"),
        (lambda d: {k: v for k, v in d.items() if k != "checksum"}, "no checksum"),
        (lambda d: {k: v for k, v in d.items() if k != "model"}, "missing fields"),
        (lambda d: {**d, "format": "something-else"}, "not an online-lr checkpoint"),
        (lambda d: {**d, "version": 2}, "version 2"),
        (lambda d: [d], "not a JSON object"),
    ],
)
def test_edited_files_are_refused(edit, message):
    doc = json.loads(dumps(sample()))
    with pytest.raises(CheckpointError, match=message):
        loads(json.dumps(edit(doc)).encode(), "x")


def test_garbage_and_pickles_are_refused_never_unpickled(tmp_path):
    path = tmp_path / "m.ckpt.json"
    for data in (b"", b"\n\n", b"\x00\xff" * 10, pickle.dumps({"model": 1})):
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match="corrupt or truncated"):
            read_checkpoint(path)


def test_a_flipped_digit_is_caught(tmp_path):
    path = tmp_path / "m.ckpt.json"
    write_checkpoint(path, sample())
    text = path.read_text()
    assert '"t:0": 10' in text
    path.write_text(text.replace('"t:0": 10', '"t:0": 19'))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        read_checkpoint(path)


def test_non_json_state_is_refused_at_write_time(tmp_path):
    bad = sample()
    bad.model["w"] = float("nan")
    with pytest.raises(CheckpointError, match="cannot serialize"):
        write_checkpoint(tmp_path / "m.json", bad)
    assert not (tmp_path / "m.json").exists()


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "m.ckpt.json"
    write_checkpoint(path, sample())
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    newer = sample()
    newer.offsets["t:0"] = 99
    with pytest.raises(CheckpointError, match="No space left"):
        write_checkpoint(path, newer)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt.json"]  # temp file removed


def test_atomic_write_creates_parent_dirs_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "a" / "b" / "x.json"
    atomic_write(path, b"{}")
    assert path.read_bytes() == b"{}"
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_kill_9_during_writes_never_leaves_a_partial_checkpoint(tmp_path):
    """A writer killed at arbitrary moments leaves the old or the new checkpoint, whole."""
    path = tmp_path / "m.ckpt.json"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        from consumers.checkpoint import Checkpoint, write_checkpoint
        i = 0
        print("ready", flush=True)
        while True:
            i += 1
            write_checkpoint({str(path)!r}, Checkpoint(model={{"i": i, "pad": "x" * 200000}},
                                                      offsets={{"t:0": i}}))
    """)
    for attempt in range(5):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.15 + 0.05 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        ck = read_checkpoint(path)
        assert ck is not None and ck.offsets["t:0"] == ck.model["i"] >= 1


def test_store_lock_refuses_a_second_process(tmp_path):
    path = tmp_path / "m.ckpt.json"
    with CheckpointStore(path) as store:
        store.save(sample())
        assert store.writes == 1
        code = (
            f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
            "from consumers.checkpoint import CheckpointStore\n"
            f"CheckpointStore({str(path)!r}).open()\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode != 0 and "in use by another process" in proc.stderr
    with CheckpointStore(path) as again:  # released on close
        assert again.load() == sample()


def test_a_clean_close_removes_the_lock_file_and_a_stale_one_never_blocks(tmp_path):
    path = tmp_path / "m.ckpt.json"
    lock = tmp_path / "m.ckpt.json.lock"
    with CheckpointStore(path) as store:
        assert lock.read_text() == f"{os.getpid()}\n"
        store.save(sample())
    assert not lock.exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout
    lock.write_text(dead)  # left by a process killed with -9: its flock died with it
    with CheckpointStore(path) as again:
        assert again.load() == sample()
    assert not lock.exists()


def test_a_lock_file_removed_by_its_closing_holder_is_not_locked_twice(tmp_path):
    path = tmp_path / "m.ckpt.json"
    first = CheckpointStore(path).open()
    raced_fd = os.open(first.lock_path, os.O_RDWR)  # a second process, just before the close
    try:
        first.close()  # unlinks the file it held: locking raced_fd would protect nothing
        second = CheckpointStore(path)
        assert not second._is_current(raced_fd)  # so open() retries on a fresh file
        with second:
            assert second._is_current(second._lock_fd)
    finally:
        os.close(raced_fd)
