"""``--log-format json``: one JSON object per log line, secrets still masked."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from consumers.config import Secret
from consumers.logs import JsonFormatter


def test_every_line_of_a_json_run_is_one_json_object(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "consumers", "replay", "--log-format", "json",
         "--checkpoint", str(tmp_path / "c.json")],
        capture_output=True, text=True, check=True,
    )
    lines = out.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert records and all(set(r) >= {"time", "level", "logger", "message"} for r in records)
    assert any(r["level"] == "INFO" and r["logger"].startswith("consumers") for r in records)


def test_a_secret_stays_masked_and_a_traceback_stays_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("consumers", logging.ERROR, "x.py", 1, "kw=%r", None,
                                   sys.exc_info())
    record.args = ({"sasl_plain_password": Secret("hunter2")},)
    line = JsonFormatter().format(record)
    assert "\n" not in line and "hunter2" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "kw={'sasl_plain_password': '***'}"
    assert "ValueError: boom" in parsed["exception"]
