"""consumers.file_source: CSV / JSON Lines / gzip, resumable positions, pacing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from consumers.file_source import FileSource, detect_format

CSV = "ts,a,b,y,name\n0,1.5,2,3,x\n10,,nan,4,y\n\n20,3,4,,z\n"
JSONL = b'{"ts": 0, "a": 1}\n\n  {"ts": 10, "a": 2}  \nnot json\n{"ts": 20, "a": 3}'


def write(path: Path, data: str | bytes) -> Path:
    raw = data.encode() if isinstance(data, str) else data
    if path.name.lower().endswith(".gz"):
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def read_all(src: FileSource, batch: int = 100) -> list:
    out = []
    while (messages := src.poll(batch)) is not None:
        out += messages
        src.advance(messages)
    return out


@pytest.mark.parametrize("name", ["log.csv", "log.csv.gz", "LOG.CSV.GZ"])
def test_csv_rows_are_string_cells(tmp_path, name):
    with FileSource(write(tmp_path / name, CSV)) as src:
        rows = read_all(src)
    assert [m.offset for m in rows] == [0, 1, 2]
    assert rows[0].value == {"ts": "0", "a": "1.5", "b": "2", "y": "3", "name": "x"}
    assert rows[1].value == {"ts": "10", "b": "nan", "y": "4", "name": "y"}  # empty = absent
    assert rows[2].value == {"ts": "20", "a": "3", "b": "4", "name": "z"}  # no target
    assert {m.topic for m in rows} == {name} and {m.partition for m in rows} == {0}


@pytest.mark.parametrize("name", ["log.jsonl", "log.ndjson.gz", "log.json"])
def test_jsonl_lines_are_raw_bytes_and_blank_lines_are_skipped(tmp_path, name):
    with FileSource(write(tmp_path / name, JSONL)) as src:
        rows = read_all(src, batch=2)
        assert src.position == 4
    assert [m.value for m in rows] == [
        b'{"ts": 0, "a": 1}', b'{"ts": 10, "a": 2}', b"not json", b'{"ts": 20, "a": 3}',
    ]


def test_resume_from_a_position(tmp_path):
    path = write(tmp_path / "log.jsonl.gz", JSONL)
    with FileSource(path) as src:
        first = src.poll(2)
        src.advance(first)
        assert src.position == 2 and src.describe()["position"] == 2
    with FileSource(path, start=2) as src:
        rest = read_all(src)
    assert [m.offset for m in rest] == [2, 3]
    assert [m.value for m in first + rest] == [m.value for m in read_all(FileSource(path))]
    with FileSource(path, start=10) as src:  # past the end: nothing, no error
        assert src.poll(5) is None


def test_position_only_moves_on_advance(tmp_path):
    with FileSource(write(tmp_path / "l.csv", CSV)) as src:
        batch = src.poll(2)
        assert src.position == 0
        src.advance(batch)
        assert src.position == 2


def test_format_detection_and_override(tmp_path):
    assert detect_format("a/b.CSV") == "csv" and detect_format("x.jsonl.gz") == "jsonl"
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format("x.parquet")
    path = write(tmp_path / "data.txt", "a,y\n1,2\n")
    with FileSource(path, fmt="csv") as src:
        assert src.poll(5)[0].value == {"a": "1", "y": "2"}
    with pytest.raises(ValueError):
        FileSource(path, fmt="xml")
    with pytest.raises(ValueError):
        FileSource(path, fmt="csv", speed=0)


def test_empty_files(tmp_path):
    for name in ("e.csv", "e.jsonl", "e.csv.gz"):
        with FileSource(write(tmp_path / name, "")) as src:
            assert src.poll(10) is None


class FakeTime:
    """A clock whose sleep advances it: pacing tests run instantly."""

    def __init__(self):
        self.now = 100.0
        self.slept = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_pacing_follows_the_log_times_divided_by_speed(tmp_path, speed):
    t = FakeTime()
    path = write(tmp_path / "l.csv", CSV)
    with FileSource(path, pace_field="ts", speed=speed, clock=t.clock, sleep=t.sleep) as src:
        got = []
        while (batch := src.poll(10, timeout=1000.0)) is not None:
            got += [(m.offset, t.now - 100.0) for m in batch]
            src.advance(batch)
    assert got == [(0, 0.0), (1, 10 / speed), (2, 20 / speed)]
    assert sum(t.slept) == pytest.approx(20 / speed)


def test_pacing_returns_early_when_the_timeout_expires(tmp_path):
    t = FakeTime()
    path = write(tmp_path / "l.jsonl", JSONL)
    with FileSource(path, pace_field="ts", speed=2.0, clock=t.clock, sleep=t.sleep) as src:
        assert [m.offset for m in src.poll(10, timeout=1.0)] == [0]
        assert src.poll(10, timeout=1.0) == []  # row 1 is due at +5 s: not yet
        assert t.now - 100.0 == pytest.approx(1.0)
        # "not json" has no time: it comes right after row 1, then row 3 at +10 s.
        assert [m.offset for m in src.poll(10, timeout=10.0)] == [1, 2]
        assert [m.offset for m in src.poll(10, timeout=10.0)] == [3]
        assert t.now - 100.0 == pytest.approx(10.0)
        assert src.poll(10) is None


def test_pacing_with_iso_dates_and_backwards_times(tmp_path):
    t = FakeTime()
    lines = [
        '{"when": "2024-01-01T00:00:00Z", "a": 1}',
        '{"when": "2024-01-01T00:01:00Z", "a": 2}',
        '{"when": "2023-12-31T00:00:00Z", "a": 3}',
        '{"when": "2024-01-01T00:02:00Z", "a": 4}',
    ]
    path = write(tmp_path / "l.jsonl", "\n".join(lines))
    with FileSource(path, pace_field="when", speed=60.0, clock=t.clock, sleep=t.sleep) as src:
        times = []
        while (batch := src.poll(1, timeout=100.0)) is not None:
            times += [round(t.now - 100.0, 6) for _ in batch]
    assert times == [0.0, 1.0, 1.0, 2.0]  # one minute per second; a step back is not waited


def test_real_sleep_pacing_is_bounded(tmp_path):
    """With the real clock: 3 rows 0.1 s apart at speed 1 take about 0.2 s."""
    import time

    path = write(tmp_path / "l.csv", "ts,a\n0,1\n0.1,2\n0.2,3\n")
    start = time.monotonic()
    with FileSource(path, pace_field="ts") as src:
        assert len(read_all(src, batch=10)) == 3
    assert 0.15 <= time.monotonic() - start < 2.0


@pytest.mark.parametrize(
    ("raw", "delimiter"),
    [(b"\xef\xbb\xbfprice,sqm,city\n3.5,70,Lyon\n", ","),  # Excel's "CSV UTF-8": a BOM
     (b"price;sqm;city\n3,5;70;Lyon\n", ";"),  # Excel in a decimal-comma locale
     (b"price\tsqm\tcity\n3.5\t70\tLyon\n", "\t")],
    ids=["bom", "semicolon-decimal-comma", "tab"],
)
def test_excel_csvs_read_like_plain_ones(tmp_path, raw, delimiter):
    from consumers.file_source import csv_delimiter

    path = tmp_path / "houses.csv"
    path.write_bytes(raw)
    with FileSource(path) as src:
        assert [m.value for m in src.poll(10)] == [{"price": "3.5", "sqm": "70", "city": "Lyon"}]
    assert csv_delimiter(raw.decode("utf-8-sig").splitlines()[0]) == delimiter


def test_a_decimal_comma_is_a_number_only_when_commas_do_not_separate(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('a,b\n"3,5",1\n')
    with FileSource(path) as src:
        assert [m.value for m in src.poll(10)] == [{"a": "3,5", "b": "1"}]


def test_a_byte_order_mark_before_json_lines_is_dropped(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')
    with FileSource(path) as src:
        assert [m.value for m in src.poll(10)] == [b'{"a": 1}', b'{"a": 2}']
