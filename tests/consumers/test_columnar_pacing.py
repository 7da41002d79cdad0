"""consumers.columnar.pacing, and the paced rows ``online-lr produce`` sends
(`consumers.columnar.source.paced_values`)."""

from __future__ import annotations

import math

import pytest
from row_source import read_values

from consumers.columnar.pacing import Pacer
from consumers.columnar.source import paced_values


class FakeTime:
    """A clock whose sleep advances it: pacing tests run instantly."""

    def __init__(self):
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_rows_are_due_at_the_log_times_divided_by_speed(speed):
    t = FakeTime()
    due = Pacer(speed, t.clock, t.sleep).due([0, "10", 20.0])
    assert (due - 100.0).tolist() == [0.0, 10 / speed, 20 / speed]


def test_iso_dates_steps_back_and_rows_without_a_time():
    t = FakeTime()
    pacer = Pacer(60.0, t.clock, t.sleep)
    first = pacer.due([None, "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z"])
    second = pacer.due(["2023-12-31T00:00:00Z", "junk", "2024-01-01T00:02:00Z"], count=4)
    assert first[0] == -math.inf  # before the first time: at once
    assert (first[1:] - 100.0).tolist() == [0.0, 1.0]  # one minute per second
    assert (second - 100.0).tolist() == [1.0, 1.0, 2.0, 2.0]  # never earlier than the row before


def test_wait_sleeps_until_due_or_the_timeout():
    t = FakeTime()
    pacer = Pacer(1.0, t.clock, t.sleep)
    assert pacer.wait(105.0, timeout=1.0) == 101.0
    assert pacer.wait(105.0) == 105.0
    assert pacer.wait(90.0) == 105.0 and t.slept == [1.0, 4.0]  # a past time: no sleep


def test_speed_must_be_positive():
    with pytest.raises(ValueError, match="speed"):
        Pacer(0.0)


def test_produce_sends_each_row_at_its_time(tmp_path):
    t = FakeTime()
    path = tmp_path / "l.csv"
    path.write_text("ts,a\n0,1\n10,2\nx,3\n20,4\n")
    sent = []
    for value in paced_values(path, pace_field="ts", speed=2.0, clock=t.clock, sleep=t.sleep):
        sent.append((value["a"], t.now - 100.0))
    assert sent == [("1", 0.0), ("2", 5.0), ("3", 5.0), ("4", 10.0)]


@pytest.mark.parametrize(
    "raw",
    [b"\xef\xbb\xbfprice,sqm,city\n3.5,70,Lyon\n",  # Excel's "CSV UTF-8": a BOM
     b"price;sqm;city\n3,5;70;Lyon\n",  # Excel in a decimal-comma locale
     b"price\tsqm\tcity\n3.5\t70\tLyon\n"],
    ids=["bom", "semicolon-decimal-comma", "tab"],
)
def test_produce_sends_excel_csv_rows_as_text_cells(tmp_path, raw):
    path = tmp_path / "houses.csv"
    path.write_bytes(raw)
    assert list(paced_values(path)) == [{"price": "3.5", "sqm": "70", "city": "Lyon"}]


def test_produce_sends_csv_cells_as_written_and_skips_malformed_rows(tmp_path, caplog):
    path = tmp_path / "c.csv"
    path.write_text('a,b,y\n1,,3\n nan ,x,-1e999\n"3,5",007,1\n1,2\n')
    assert list(paced_values(path)) == [{"a": "1", "y": "3"},
                                        {"a": " nan ", "b": "x", "y": "-1e999"},
                                        {"a": "3,5", "b": "007", "y": "1"}]
    assert "skipped 1 malformed CSV rows" in caplog.text
    path.write_text("a,b,y\n" + "".join(f"{i},{i * 0.5},{i % 3}\n" for i in range(50)))
    assert list(paced_values(path)) == read_values(path)  # the reference reader's rows


def test_produce_sends_json_lines_as_bytes_without_a_byte_order_mark(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n{"a": 2}\n')
    assert list(paced_values(path)) == [b'{"a": 1}', b'{"a": 2}']
