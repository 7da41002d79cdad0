"""`online_lr._walk.iso_seconds`, the compiled fast path of the encoder's timestamps: an
implementation of `parse_timestamp` for the usual ISO 8601 form, checked against it bit for bit.
(The twins' loop and walk are checked against each other in test_encoding.py.)"""

from __future__ import annotations

import math
import random

import pytest

from online_lr.encoding import parse_timestamp

compiled = pytest.importorskip("online_lr._walk")
iso_seconds = compiled.iso_seconds


def random_iso(rng: random.Random) -> str:
    """An ISO 8601 date-time, mostly of the fast form, with dates and times that are sometimes
    invalid and forms that only `parse_timestamp` reads."""
    year = rng.choice([rng.randint(1900, 2100), rng.randint(1600, 2400), rng.randint(0, 9999),
                       1970, 1969, 2000, 2024])
    month = rng.choice([rng.randint(1, 12), 2, 0, 13]) if rng.random() < 0.2 else \
        rng.randint(1, 12)
    day = rng.choice([29, 30, 31, 0, 32]) if rng.random() < 0.3 else rng.randint(1, 28)
    hour = rng.choice([0, 23, 24]) if rng.random() < 0.1 else rng.randint(0, 23)
    minute = rng.choice([0, 59, 60]) if rng.random() < 0.1 else rng.randint(0, 59)
    second = rng.choice([0, 59, 60]) if rng.random() < 0.1 else rng.randint(0, 59)
    separator = rng.choice("TTTTt x")
    text = f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
    if rng.random() < 0.4:
        digits = rng.choice([1, 2, 3, 4, 5, 6, 6, 6, 7, 9, 0])
        text += rng.choice("....,") + "".join(rng.choice("0123456789") for _ in range(digits))
    if rng.random() < 0.7:
        off_hours = rng.choice([0, 1, 5, 8, 12, 14, 23, 24]) if rng.random() < 0.5 else \
            rng.randint(0, 23)
        off_minutes = rng.choice([0, 0, 30, 45, 59, 60])
        text += rng.choice([
            "Z", "Z", "z",
            f"+{off_hours:02d}:{off_minutes:02d}", f"-{off_hours:02d}:{off_minutes:02d}",
            f"+{off_hours:02d}{off_minutes:02d}", f"-{off_hours:02d}",
            f"+{off_hours:02d}:{off_minutes:02d}:30",
        ])
    return text


def test_iso_seconds_reads_as_parse_timestamp_bit_for_bit():
    rng = random.Random(0)
    read = 0
    for _ in range(30_000):
        text = random_iso(rng)
        seconds, want = iso_seconds(text), parse_timestamp(text)
        if math.isnan(seconds):
            continue  # not the fast form, or not readable: parse_timestamp decides
        read += 1
        assert want is not None and seconds.hex() == want.hex(), text
    assert read > 5_000  # the fast form is the usual case


@pytest.mark.parametrize("text, seconds", [
    ("2026-01-01T00:01:00Z", 1767225660.0),
    ("2026-01-01T00:01:00+00:00", 1767225660.0),
    ("2026-01-01T00:01:00", 1767225660.0),  # naive = UTC
    ("2026-01-01 00:01:00.25z", 1767225660.25),
    ("2026-01-01t05:31:00+05:30", 1767225660.0),
    ("2025-12-31T16:01:00-08:00", 1767225660.0),
    ("2024-02-29T00:00:00Z", 1709164800.0),  # a leap day
    ("2000-02-29T12:00:00Z", 951825600.0),  # a leap day of a year divisible by 400
    ("1969-12-31T23:59:59.999999Z", -1e-06),
    ("1900-03-01T00:00:00Z", -2203891200.0),
])
def test_iso_seconds_of_the_fast_form(text, seconds):
    assert iso_seconds(text) == seconds == parse_timestamp(text)


@pytest.mark.parametrize("text", [
    " 2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z ", "2026-01-01", "2026-01-01T00:00",
    "2026-01-01T00:00:00,5", "2026-01-01T00:00:00.1234567", "2026-01-01T00:00:00.",
    "2026-01-01T00:00:00+0530", "2026-01-01T00:00:00+05", "2026-01-01T00:00:00+05:30:15",
    "2026-01-01x00:00:00", "2026-1-01T00:00:00", "20260101T000000Z",
    "\u0662\u0660\u0662\u0666-01-01T00:00:00",  # Arabic-Indic digits
    "1500-01-01T00:00:00Z", "2300-01-01T00:00:00Z",  # too far from 1970 to compute exactly here
    "2026-01-01T00:00:00+05:60",  # datetime reads it as +06:00
])
def test_other_forms_fall_back_to_parse_timestamp(text):
    assert math.isnan(iso_seconds(text))


@pytest.mark.parametrize("text", [
    "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z", "2026-01-01T00:00:60Z",
    "0000-01-01T00:00:00Z", "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00ZZ", "yesterday", "",
])
def test_invalid_dates_and_times_are_not_read(text):
    assert math.isnan(iso_seconds(text)) and parse_timestamp(text) is None
