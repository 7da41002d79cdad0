"""Log formats of the ``online-lr`` command: human text, or one JSON object per line.

``--log-format json`` is for log shippers (Loki, Elasticsearch, Cloud Logging): each record is
one line ``{"time", "level", "logger", "message"}`` (plus ``"exception"`` with a traceback).
The message is formatted exactly as in the text format, so what the text format masks (a
`consumers.config.Secret` shows as ``'***'`` in any repr) stays masked.

>>> import logging
>>> record = logging.LogRecord("consumers", logging.INFO, "x.py", 1, "lag=%d", (3,), None)
>>> record.created, record.msecs = 0.0, 0.0
>>> JsonFormatter().format(record)
'{"time": "1970-01-01T00:00:00.000Z", "level": "INFO", "logger": "consumers", "message": "lag=3"}'
"""

from __future__ import annotations

import json
import logging
import time

__all__ = ["FORMATS", "JsonFormatter", "TEXT_FORMAT", "formatter"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see module)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        out = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=repr)


def formatter(name: str) -> logging.Formatter:
    """The formatter of ``--log-format name`` (one of `FORMATS`)."""
    if name == "json":
        return JsonFormatter()
    if name == "text":
        return logging.Formatter(TEXT_FORMAT)
    raise ValueError(f"log format must be one of {FORMATS}, got {name!r}")
